"""systemd/install.sh staged into a temporary root, the units checked by systemd-analyze, and the staged appliance
(its config.toml, 0600 secrets and copied models) serving a real verification with MemoryDenyWriteExecute's
kernel equivalent switched on (PR_SET_MDWE), so that the unit's MemoryDenyWriteExecute=yes cannot break LiteRT."""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
UNITS = ("edge-face.service", "edge-face.socket")


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("appliance")
    run = subprocess.run(["sh", str(ROOT / "systemd" / "install.sh"), "--destdir", str(dest), "--venv",
                          str(Path(sys.prefix))], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return dest


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_stages_code_models_configuration_and_units(staged):
    opt, etc = staged / "opt/edge-face", staged / "etc/edge-face"
    assert (opt / "venv/bin/edge-face").exists() and (opt / "README.md").is_file()
    assert (opt / "models/yunet/manifest.json").is_file()
    assert not list((opt / "models").rglob("*.py")) and not (opt / "models/.build").exists()
    assert _mode(etc) == 0o750 and _mode(etc / "config.toml") == 0o640 and _mode(etc / "secrets.toml") == 0o600
    for unit in UNITS:
        assert (staged / "etc/systemd/system" / unit).read_text() == (ROOT / "systemd" / unit).read_text()


def test_staged_secrets_are_fresh_valid_and_kept_on_reinstall(staged):
    from edge_face.config import load_config

    secrets = staged / "etc/edge-face/secrets.toml"
    text = secrets.read_text()
    cfg = load_config(staged / "etc/edge-face/config.toml",
                      env={"EDGE_FACE_SECRETS_FILE": str(secrets), "EDGE_FACE_MODELS_DIR": str(staged / "opt/edge-face/models")})
    assert len(cfg.aes_key) == 32 and len(cfg.aes_iv) == 12 and len(cfg.api_keys) == 1 and len(cfg.device_key) == 64
    assert cfg.aes_key != "dcbbad6765e14139a07d34b92292a672"  # not the vendor's published default
    # One key policy: FRS gets a token of its own, /readyz and /metrics want a key; used packages have a state dir.
    assert len(cfg.frs_tokens) == 1 and cfg.frs_tokens[0] not in cfg.api_keys and cfg.ops_require_key
    assert _mode(staged / "var/lib/edge-face") == 0o700
    assert "\nMemorySwapMax=0\n" in (staged / "etc/systemd/system/edge-face.service").read_text()
    run = subprocess.run(["sh", str(ROOT / "systemd" / "install.sh"), "--destdir", str(staged), "--venv",
                          str(Path(sys.prefix))], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and secrets.read_text() == text
    assert cfg.aes_key not in run.stdout + run.stderr  # the script never prints a key


def test_install_refuses_unknown_options_and_non_root_live_installs():
    run = subprocess.run(["sh", str(ROOT / "systemd" / "install.sh"), "--bogus"], capture_output=True, text=True)
    assert run.returncode == 2 and "unknown option --bogus" in run.stderr


def _analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    return path


def test_systemd_analyze_verify_passes_on_the_staged_units(staged, tmp_path):
    # The units name /opt/edge-face; point them at the staged tree so verify can check the executables exist.
    for unit in UNITS:
        text = (staged / "etc/systemd/system" / unit).read_text()
        (tmp_path / unit).write_text(text.replace("/opt/edge-face", str(staged / "opt/edge-face")))
    run = subprocess.run([_analyze(), "verify", *(str(tmp_path / u) for u in UNITS)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr


def test_systemd_analyze_security_rates_the_service_ok_or_better():
    run = subprocess.run([_analyze(), "security", "--offline=true", str(ROOT / "systemd/edge-face.service")],
                         capture_output=True, text=True, timeout=120)
    if "--offline" in run.stderr and "unrecognized" in run.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    match = re.search(r"Overall exposure level for edge-face\.service: ([\d.]+) (\w+)", run.stdout)
    assert match, run.stdout[-500:] + run.stderr
    score, rating = float(match.group(1)), match.group(2)
    assert rating in ("OK", "SAFE", "PERFECT") and score < 2.0, (score, rating)


MDWE = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN: kept across execve
    sys.exit(77)
import mmap
try:  # proof that it is enforced: a writable+executable mapping must now be refused
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit(78)
except PermissionError:
    pass
os.execv(sys.executable, [sys.executable, "-m", "edge_face.cli", "serve", "--port", sys.argv[1]])
"""


def test_staged_appliance_serves_under_memory_deny_write_execute(staged, photos):
    from edge_face.config import load_config
    from edge_face.crypto import VendorCipher
    from tests.test_config_secrets import _free_port

    etc, models = staged / "etc/edge-face", staged / "opt/edge-face/models"
    env = {**os.environ, "EDGE_FACE_CONFIG": str(etc / "config.toml"), "EDGE_FACE_SECRETS_FILE": str(etc / "secrets.toml"),
           "EDGE_FACE_MODELS_DIR": str(models), "EDGE_FACE_LOG_FORMAT": "text",
           "STATE_DIRECTORY": str(staged / "var/lib/edge-face")}
    cfg = load_config(None, env=env)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", MDWE, str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            code = proc.poll()
            if code == 77:
                pytest.skip("kernel without PR_SET_MDWE (Linux < 6.3)")
            assert code != 78, "PR_SET_MDWE did not refuse a writable+executable mapping"
            assert code is None, proc.communicate()[0][-3000:]
            assert time.monotonic() < deadline
            try:
                if requests.get(url + "/readyz", timeout=2,  # ops_require_key = true in the installed config
                                headers={"X-API-Key": cfg.api_keys[0]}).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        cipher = VendorCipher(cfg.aes_key, cfg.aes_iv)
        resp = requests.post(url + "/identity/image_verification/stateless", timeout=120,
                             headers={"Authorization": f"Bearer {cfg.api_keys[0]}"},
                             data={"first_encrypted_image": cipher.encrypt((photos / "obama.jpg").read_bytes()),
                                   "second_encrypted_image": cipher.encrypt((photos / "obama2.jpg").read_bytes())})
        assert resp.status_code == 200 and resp.json()["verification_score"] > 0.7, resp.text
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert cfg.aes_key not in out and cfg.api_keys[0] not in out
