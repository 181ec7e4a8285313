#!/bin/sh
# Install edge_face as a systemd appliance: user, code (a venv in /opt/edge-face), models, configuration, secrets,
# units. Run as root from a checkout: `sudo make install-appliance` (or `sudo systemd/install.sh`).
#
#   --destdir DIR   stage everything under DIR instead of / (no user, no chown, no systemctl): for packaging and
#                   for the tests, which then run `systemd-analyze verify --root=DIR` on the staged units
#   --venv DIR      use an existing virtual environment (a symlink) instead of creating one and `pip install .`
#   --python PY     interpreter for the new venv (default: python3; needs 3.11+)
#   --no-start      install and enable, but do not start now
#
# Never overwrites an existing config.toml or secrets.toml: an upgrade keeps the operator's settings and keys.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=""
VENV=""
PYTHON=python3
START=1
while [ $# -gt 0 ]; do
    case "$1" in
        --destdir) DESTDIR=$(realpath -m "$2"); shift 2 ;;
        --venv) VENV=$(realpath "$2"); shift 2 ;;
        --python) PYTHON=$2; shift 2 ;;
        --no-start) START=0; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

PREFIX=/opt/edge-face
ETC=/etc/edge-face
UNITS=/etc/systemd/system
USER_NAME=edge-face
ROOT=${DESTDIR:-}
LIVE=0
[ -z "$DESTDIR" ] && LIVE=1

say() { echo "install.sh: $*"; }

if [ "$LIVE" = 1 ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (or stage with --destdir DIR)" >&2
    exit 1
fi

# 1. The service user: a system account without a shell or a home of its own (state lives in StateDirectory=).
if [ "$LIVE" = 1 ]; then
    if ! getent passwd "$USER_NAME" >/dev/null; then
        useradd --system --user-group --home-dir /var/lib/edge-face --no-create-home \
            --shell /usr/sbin/nologin --comment "edge_face service" "$USER_NAME"
        say "created system user $USER_NAME"
    fi
fi

# 2. Code: a dedicated venv with the project installed (not editable), byte-compiled because /opt is read-only
#    to the service (ProtectSystem=strict).
install -d -m 0755 "$ROOT$PREFIX"
if [ -n "$VENV" ]; then
    ln -sfn "$VENV" "$ROOT$PREFIX/venv"
    say "using the existing venv $VENV"
else
    "$PYTHON" -m venv --clear "$ROOT$PREFIX/venv"
    "$ROOT$PREFIX/venv/bin/python" -m pip install --quiet --upgrade "pip==26.3"
    "$ROOT$PREFIX/venv/bin/python" -m pip install --quiet "$SRC"
    "$ROOT$PREFIX/venv/bin/python" -m compileall -q "$ROOT$PREFIX/venv" >/dev/null || true
    say "installed edge_face into $ROOT$PREFIX/venv"
fi
install -m 0644 "$SRC/README.md" "$ROOT$PREFIX/README.md"

# 3. Models: the committed artefacts only (no build scratch, no caches), read-only to everyone but root.
rm -rf "$ROOT$PREFIX/models.new"
install -d -m 0755 "$ROOT$PREFIX/models.new"
(cd "$SRC/models" && tar --exclude=.build --exclude=__pycache__ --exclude='*.py' --exclude='*.pyc' \
    --exclude=requirements-build.txt -cf - .) | (cd "$ROOT$PREFIX/models.new" && tar -xf - --no-same-owner)
chmod -R u=rwX,go=rX "$ROOT$PREFIX/models.new"
rm -rf "$ROOT$PREFIX/models"
mv "$ROOT$PREFIX/models.new" "$ROOT$PREFIX/models"
say "copied the models to $ROOT$PREFIX/models"

# 4. Configuration (readable by the service group) and secrets (0600, owner edge-face), kept if present.
install -d -m 0750 "$ROOT$ETC"
if [ ! -e "$ROOT$ETC/config.toml" ]; then
    install -m 0640 "$SRC/systemd/config.toml" "$ROOT$ETC/config.toml"
    say "wrote $ETC/config.toml"
fi
if [ ! -e "$ROOT$ETC/secrets.toml" ]; then
    umask 077
    # Fresh keys for this device; the vendor's published defaults are no secret. Clients get them from the
    # operator, never from a log: this script does not print them.
    KEY=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    IV=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    API=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    FRS=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    DEV=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
    cat > "$ROOT$ETC/secrets.toml" <<EOF
# edge_face secrets: mode 0600, owner edge-face (the service refuses to start if group or others can read it).
# aes_key: 32 characters, aes_iv: 12 characters, shared with the SenseID clients of this device.
aes_key = "$KEY"
aes_iv = "$IV"
# Clients send "Authorization: Bearer <key>" or "X-API-Key: <key>"; an empty list turns the check off.
api_keys = ["$API"]
# Huawei FRS clients: accepted X-Auth-Token values (the API keys above are accepted too), and the AK/SK pairs of
# Huawei's SDKs (access key = secret key). Every FRS request needs a token, an API key or a signature.
frs_tokens = ["$FRS"]
# frs_credentials = { EXAMPLEACCESSKEY = "..." }
# Seals the liveness packages of camera sessions (SenseID 1.3): 64 hex digits, never shared with clients.
device_key = "$DEV"
EOF
    chmod 0600 "$ROOT$ETC/secrets.toml"
    umask 022
    say "wrote $ETC/secrets.toml with fresh keys (mode 0600)"
fi
# The state directory (ids of used liveness packages) is systemd's StateDirectory=/var/lib/edge-face; staged here
# so that a first start finds it with the right owner and mode even outside systemd.
install -d -m 0700 "$ROOT/var/lib/edge-face"
if [ "$LIVE" = 1 ]; then
    chown "$USER_NAME":"$USER_NAME" /var/lib/edge-face
    chown root:"$USER_NAME" "$ETC" "$ETC/config.toml"
    chown "$USER_NAME":"$USER_NAME" "$ETC/secrets.toml"
fi

# 4b. The model variant for this CPU (model_variant = "auto"): each variant timed here, the fastest accurate one
#     recorded in the state directory, where the service reads it. Re-run after moving the disk to another board.
if [ "$LIVE" = 1 ]; then
    install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" /var/lib/edge-face
    if EDGE_FACE_CONFIG="$ETC/config.toml" EDGE_FACE_MODELS_DIR="$PREFIX/models" \
        "$PREFIX/venv/bin/edge-face" tune --json --output /var/lib/edge-face/tune.json >/dev/null; then
        chown "$USER_NAME":"$USER_NAME" /var/lib/edge-face/tune.json
        say "tuned the model variant for this CPU (/var/lib/edge-face/tune.json)"
    else
        say "edge-face tune failed: model_variant = auto falls back to the default variant"
    fi
fi

# 5. Units.
install -d -m 0755 "$ROOT$UNITS"
install -m 0644 "$SRC/systemd/edge-face.service" "$SRC/systemd/edge-face.socket" "$ROOT$UNITS/"
say "installed edge-face.service and edge-face.socket in $UNITS"

if [ "$LIVE" = 1 ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable edge-face.socket edge-face.service
    if [ "$START" = 1 ]; then
        systemctl restart edge-face.socket edge-face.service
        say "started; check: systemctl status edge-face, curl -s http://127.0.0.1:3000/readyz"
    fi
elif [ "$LIVE" = 1 ]; then
    say "systemd is not running here: units installed, not enabled"
fi
