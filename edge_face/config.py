"""One typed configuration: embedded defaults, then a TOML file, then EDGE_FACE_* environment variables.

Validated once at start so that a bad value stops the service with a message naming it, not a request later.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path

# The repository's models/ when running from a checkout or an editable install.
DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the setting."""


@dataclass(frozen=True)
class Limits:
    """Input limits (API.md decisions), enforced before any decoding."""

    max_image_bytes: int = 5 * 1024 * 1024
    min_image_side: int = 8
    max_image_side: int = 5000
    max_image_pixels: int = 25_000_000
    # A JPEG with more pixels is decoded reduced 2, 4 or 8 times per side in the DCT domain (0: never): what a
    # face needs is far below it, and the full-size picture never exists in memory (imaging/decode.py).
    decode_pixel_budget: int = 12_000_000
    max_video_bytes: int = 20 * 1024 * 1024
    max_video_seconds: float = 30.0
    max_body_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True)
class BackendConfig:
    """Where the models run: "cpu" (XNNPACK), an accelerator (edgetpu, vx, ethosu, teflon, armnn) or "delegate"
    with an explicit library path. `models` limits the accelerator to some models (empty: all of them)."""

    kind: str = "cpu"
    library: str = ""
    options: dict[str, str] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    fallback_to_cpu: bool = False


@dataclass(frozen=True)
class CameraConfig:
    """The live camera of the kiosk (edge_face.camera) and the liveness packages its sessions seal.

    source: "none" (no camera: the camera endpoints answer 6000), "file" (a video file played as a camera: tests,
    demos), "opencv" (V4L2 through OpenCV) or "picamera2" (a Raspberry Pi camera). `path`: the video file, or the
    V4L2 device ("/dev/video0" or an index "0")."""

    source: str = "none"
    path: str = ""
    width: int = 640
    height: int = 480
    fps: float = 15.0
    speed: float = 1.0  # file source: 1 plays in real time, 2 twice as fast, 0 as fast as frames decode
    session_seconds: float = 2.5  # live frames one session analyses (the analysis needs a face for 2 s)
    capture_timeout: float = 2.0  # seconds one frame may take before the session fails with 6001
    open_timeout: float = 5.0  # seconds the first frame after (re)opening the source may take
    idle_seconds: float = 30.0  # the source is closed after this long without a session or a preview
    lock_dir: str = ""  # the single-owner lock file's folder ("": $RUNTIME_DIRECTORY, $XDG_RUNTIME_DIR, /tmp)
    # Seconds a sealed liveness package is accepted by 1.3 after its capture: a kiosk flow takes seconds, and a
    # package is single use anyway (its id is remembered under state_dir until it expires).
    package_ttl: float = 60.0
    clock_skew: float = 5.0  # seconds of clock difference tolerated on a package's times
    # "turn": the kiosk page asks the person to turn their head a little (left or right, drawn per session) and
    # the session checks the turn and its 3-D parallax (liveness/challenge.py); "none": silent liveness only.
    challenge: str = "none"


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 3000
    # Vendor defaults of the SenseID client (API.md); a deployment overrides them in its secrets file.
    # repr=False: secrets never show up in a repr, a traceback's locals or a log line.
    aes_key: str = field(default="dcbbad6765e14139a07d34b92292a672", repr=False)
    aes_iv: str = field(default="df25d188a061", repr=False)
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    # A TOML file with the SECRET_SETTINGS only, mode 0600, owned by the service user (see load_config).
    secrets_file: str = ""
    log_level: str = "info"
    log_format: str = "auto"  # auto: journal fields when stderr is the journal, else text; or "journal", "text"
    # Huawei FRS face (API.md §2): accepted X-Auth-Token values (empty: the header is still required, any value
    # passes, as with api_keys); image*_url is refused unless it names a file inside frs_image_dir (empty: off).
    frs_tokens: tuple[str, ...] = field(default=(), repr=False)
    frs_image_dir: str = ""
    # AK/SK signatures of Huawei's SDKs (api/aksk.py): access key -> secret key, in the secrets file. Tokens and
    # credentials are optional together: with either configured, a request needs a configured token or a signature
    # by a configured key. frs_signature_skew: seconds X-Sdk-Date may be away from this device's clock (Huawei's
    # gateway: 15 minutes); a captured request is refused after it. frs_project_id: when set, requests for another
    # project id are refused (FRS.0028); empty: any project id.
    frs_credentials: dict[str, str] = field(default_factory=dict, repr=False)
    frs_signature_skew: float = 900.0
    frs_project_id: str = ""
    # Seals the liveness packages of camera sessions (1.3): 64 hex digits (AES-256). Empty: a random key per
    # process, so packages stop opening after a restart. device_id names this device inside its packages
    # (empty: derived from /etc/machine-id, else the host name).
    device_key: str = field(default="", repr=False)
    device_id: str = ""
    # Where the ids of used liveness packages are kept across restarts ("": $STATE_DIRECTORY, which systemd's
    # StateDirectory= sets, else $XDG_STATE_HOME/edge-face or ~/.local/state/edge-face). Never any image.
    state_dir: str = ""
    # Exposure (api/exposure.py): on an address other than loopback the service refuses to start without api_keys,
    # and warns when aes_key is the vendor's published one; allow_insecure = true allows both (labs only).
    allow_insecure: bool = False
    # /readyz and /metrics need an API key too (/healthz stays open). Needs api_keys; the watchdog presents one.
    ops_require_key: bool = False
    # Host header names accepted (IP literals always are: DNS rebinding needs a name); "*" accepts any.
    allowed_hosts: tuple[str, ...] = ("localhost",)
    # The WSGI server (api/connections.py): open connections at most; seconds a client may take to send one whole
    # request (and stay idle); bytes of request bodies held in memory at once (over it: 503 before the body is read).
    max_connections: int = 256
    client_timeout: float = 30.0
    max_buffered_bytes: int = 256 * 1024 * 1024
    # Seconds a request may spend waiting for the models before it is answered 503 (0: no limit). See runtime/lanes.py.
    request_timeout: float = 30.0
    models_dir: Path = DEFAULT_MODELS_DIR
    # models/verification/<variant>.json: detector, embedders, calibration. "fast" meets 99.3% LFW at <= 10 ms
    # per photo on 2 x86 cores; "float32" is the most accurate (99.43%), "int8" the smallest (NPUs).
    model_variant: str = "fast"
    # "auto": the variant `edge-face tune` chose on this machine, read from tune_file ("": $STATE_DIRECTORY/tune.json
    # under systemd, else ~/.cache/edge_face/tune.json); see edge_face/tuning.py.
    tune_file: str = ""
    # The inference lanes (edge_face.runtime.lanes): `lanes` worker threads run the model work (0: one per core),
    # each interpreter with `threads` XNNPACK threads (0: cores / lanes), so that lanes x threads = cores; at most
    # `queue_depth` requests wait for a lane (0: what `memory_budget_mb` holds at two decoded photos of
    # max_image_pixels per request, running ones included, and at most server_threads - 1 - lanes, so that a
    # server thread is always free for /readyz), one more is answered 503 + Retry-After at once.
    threads: int = 0
    lanes: int = 0
    queue_depth: int = 0
    memory_budget_mb: int = 768
    server_threads: int = 6  # lanes + waiting requests + 1 for /readyz (see queue_depth)
    limits: Limits = field(default_factory=Limits)
    backend: BackendConfig = field(default_factory=BackendConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)

    def validate(self) -> "Config":
        if len(self.aes_key.encode()) != 32:
            raise ConfigError("aes_key must be a 32-character string (AES-256 key as UTF-8 bytes)")
        if len(self.aes_iv.encode()) != 12:
            raise ConfigError("aes_iv must be a 12-character string (GCM nonce as UTF-8 bytes)")
        if not (0 < self.port < 65536):
            raise ConfigError(f"port must be 1..65535, got {self.port}")
        if self.server_threads < 1:
            raise ConfigError("server_threads must be >= 1")
        if min(self.threads, self.lanes, self.queue_depth) < 0 or self.memory_budget_mb < 1:
            raise ConfigError("threads, lanes and queue_depth must be >= 0 (0: automatic), memory_budget_mb >= 1")
        if self.backend.kind != "cpu" and self.backend.kind != "delegate":
            from edge_face.backends.delegates import KNOWN

            if self.backend.kind not in KNOWN:
                raise ConfigError(f"backend.kind {self.backend.kind!r} is not cpu, delegate or one of "
                                  f"{', '.join(sorted(KNOWN))}")
        if self.backend.kind == "delegate" and not self.backend.library:
            raise ConfigError("backend.kind = \"delegate\" needs backend.library (the delegate's .so path)")
        if self.request_timeout < 0:
            raise ConfigError("request_timeout must be >= 0 seconds (0: no limit)")
        for access, secret in self.frs_credentials.items():
            if not _ACCESS_KEY.fullmatch(access) or not secret:  # quotes neither: a key may be a misplaced secret
                raise ConfigError("frs_credentials: each access key must be 1..128 letters, digits, '-', '_' or "
                                  "'.', with a non-empty secret key")
        if self.ops_require_key and not self.api_keys:
            raise ConfigError("ops_require_key = true needs api_keys (the key /readyz and /metrics will require)")
        if self.max_connections < 8 or self.client_timeout <= 0:
            raise ConfigError("max_connections must be >= 8 and client_timeout > 0 seconds")
        if self.max_buffered_bytes < self.limits.max_body_bytes:
            raise ConfigError("max_buffered_bytes must hold at least one body of limits.max_body_bytes")
        if not self.allowed_hosts:
            raise ConfigError('allowed_hosts must name at least one host ("*" accepts any)')
        if self.frs_signature_skew <= 0:
            raise ConfigError("frs_signature_skew must be > 0 seconds")
        if self.frs_image_dir and not Path(self.frs_image_dir).is_dir():
            raise ConfigError(f"frs_image_dir {self.frs_image_dir} is not a directory")
        if self.log_level.lower() not in ("debug", "info", "warning", "error"):
            raise ConfigError(f"log_level must be debug, info, warning or error, got {self.log_level!r}")
        if self.log_format not in ("auto", "journal", "text"):
            raise ConfigError(f"log_format must be auto, journal or text, got {self.log_format!r}")
        if not Path(self.models_dir).is_dir():
            raise ConfigError(f"models_dir {self.models_dir} is not a directory")
        if self.device_key:
            try:
                if len(bytes.fromhex(self.device_key)) != 32:
                    raise ValueError
            except ValueError:
                raise ConfigError("device_key must be 64 hexadecimal digits (a 32-byte AES-256 key)") from None
        self._validate_camera()
        return self

    def _validate_camera(self) -> None:
        cam = self.camera
        if cam.source not in ("none", "file", "opencv", "picamera2"):
            raise ConfigError(f"camera.source must be none, file, opencv or picamera2, got {cam.source!r}")
        if cam.source == "file" and not cam.path:
            raise ConfigError("camera.source = \"file\" needs camera.path (the video file to play)")
        if not (2.0 <= cam.session_seconds <= 10.0):
            raise ConfigError("camera.session_seconds must be 2..10 (the analysis needs a face for 2 s)")
        if cam.width < 16 or cam.height < 16 or cam.fps <= 0 or cam.speed < 0:
            raise ConfigError("camera.width/height must be >= 16, camera.fps > 0 and camera.speed >= 0")
        if cam.capture_timeout <= 0 or cam.open_timeout <= 0 or cam.idle_seconds <= 0:
            raise ConfigError("camera.capture_timeout, open_timeout and idle_seconds must be > 0 seconds")
        if cam.challenge not in ("none", "turn"):
            raise ConfigError(f"camera.challenge must be none or turn, got {cam.challenge!r}")
        if cam.package_ttl <= 0 or cam.clock_skew < 0:
            raise ConfigError("camera.package_ttl must be > 0 and camera.clock_skew >= 0 seconds")


_ENV_PREFIX = "EDGE_FACE_"
# An access key goes into "Authorization: SDK-HMAC-SHA256 Access=<ak>, ...": no separators, no spaces.
_ACCESS_KEY = re.compile(r"[A-Za-z0-9._-]{1,128}")

# What the secrets file may hold: the keys of the vendor cipher, API keys, and (where those features exist)
# FRS tokens and AK/SK credentials, and the device sealing key. Anything else there is refused, so it stays a file
# of secrets only.
SECRET_SETTINGS = ("aes_key", "aes_iv", "api_keys", "frs_tokens", "frs_credentials", "device_key")


def secret_values(config: Config) -> list[str]:
    """Every secret string of `config` (for log redaction), longest first."""
    values: list[str] = []
    for name in SECRET_SETTINGS:
        value = getattr(config, name, None)
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, (tuple, list)):
            values += [str(v) for v in value]
        elif isinstance(value, dict):
            values += [str(v) for v in value.values()]
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


def _read_secrets(path: str) -> dict:
    """The secrets file, refused unless it belongs to the service's user and only that user can read it (like ssh
    does with private keys)."""
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            mode = st.st_mode
            if st.st_uid != os.geteuid():  # another account could rewrite it, or was never meant to share it
                raise ConfigError(f"secrets file {path} is owned by uid {st.st_uid}, not by the user the service runs "
                                  f"as (uid {os.geteuid()}); run: chown <service user> {path}")
            if mode & 0o077:
                raise ConfigError(f"secrets file {path} is readable or writable by group or others (mode "
                                  f"{mode & 0o777:04o}); run: chmod 600 {path}")
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"secrets file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        # The parser's message quotes no values, only positions.
        raise ConfigError(f"secrets file {path}: not valid TOML ({exc})") from None
    known = {f.name for f in fields(Config)}
    for key in data:
        if key not in SECRET_SETTINGS:
            raise ConfigError(f"secrets file {path}: {key!r} is not a secret setting (allowed: "
                              f"{', '.join(SECRET_SETTINGS)}); put it in the configuration file")
        if key not in known:
            raise ConfigError(f"secrets file {path}: {key!r} is not used by this version of edge_face")
    return data


def _coerce(name: str, value: object, current: object) -> object:
    try:
        if isinstance(current, bool):
            if isinstance(value, bool):
                return value
            return str(value).strip().lower() in ("1", "true", "yes", "on")
        if isinstance(current, int):
            return int(value)  # type: ignore[arg-type]
        if isinstance(current, float):
            return float(value)  # type: ignore[arg-type]
        if isinstance(current, Path):
            return Path(str(value))
        if isinstance(current, dict):
            if isinstance(value, str):  # "k=v,k2=v2" from the environment
                pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
                if any(len(p) != 2 for p in pairs):
                    raise ValueError("expected key=value pairs separated by commas")
                return {k.strip(): v.strip() for k, v in pairs}
            if not isinstance(value, dict):
                raise ValueError("expected a table")
            return {str(k): str(v) for k, v in value.items()}
        if isinstance(current, tuple):
            if isinstance(value, str):
                return tuple(v.strip() for v in value.split(",") if v.strip())
            if not isinstance(value, (list, tuple)):
                raise ValueError("expected a list")
            return tuple(str(v) for v in value)
        return str(value)
    except (TypeError, ValueError) as exc:
        shown = "this value" if name in SECRET_SETTINGS else repr(value)  # never echo a secret
        raise ConfigError(f"setting {name!r}: cannot use {shown} ({type(exc).__name__})"
                          if name in SECRET_SETTINGS else f"setting {name!r}: cannot use {shown} ({exc})") from None


def _apply(obj, values: dict, where: str):
    known = {f.name: f for f in fields(obj)}
    changes = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown setting {key!r}")
        current = getattr(obj, key)
        if is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table")
            changes[key] = _apply(current, value, f"{where} [{key}]")
        else:
            changes[key] = _coerce(key, value, current)
    return replace(obj, **changes)


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Defaults <- TOML file (`path`, or $EDGE_FACE_CONFIG) <- secrets file (`secrets_file`) <- EDGE_FACE_<SETTING>
    variables."""
    env = dict(os.environ if env is None else env)
    cfg = Config()
    path = path or env.get(_ENV_PREFIX + "CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        cfg = _apply(cfg, data, str(path))
    secrets_path = env.get(_ENV_PREFIX + "SECRETS_FILE", cfg.secrets_file)
    if secrets_path:
        cfg = _apply(replace(cfg, secrets_file=secrets_path), _read_secrets(secrets_path), secrets_path)
    overrides: dict[str, object] = {}
    for f in fields(Config):
        current = getattr(cfg, f.name)
        if is_dataclass(current):
            # [limits] settings keep their bare names (EDGE_FACE_MAX_BODY_BYTES); other tables are prefixed
            # (EDGE_FACE_BACKEND_KIND).
            prefix = _ENV_PREFIX + ("" if f.name == "limits" else f.name.upper() + "_")
            section = {g.name: env[prefix + g.name.upper()] for g in fields(current) if prefix + g.name.upper() in env}
            if section:
                overrides[f.name] = section
        elif _ENV_PREFIX + f.name.upper() in env:
            overrides[f.name] = env[_ENV_PREFIX + f.name.upper()]
    cfg = _apply(cfg, overrides, "environment")
    return cfg.validate()
