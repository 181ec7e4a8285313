"""The secrets file: owner-only, secrets only, layered under the environment, and never echoed."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_face.config import ConfigError, load_config, secret_values

KEY = "0123456789abcdef0123456789ABCDEF"  # 32 characters
IV = "nonce-twelve"  # 12 characters


def _secrets(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_secrets_file_sets_the_keys(tmp_path):
    secrets = _secrets(tmp_path, f'aes_key = "{KEY}"\naes_iv = "{IV}"\napi_keys = ["k-1", "k-2"]\n'
                                 'frs_tokens = ["tok-1"]\n')
    conf = tmp_path / "config.toml"
    conf.write_text(f'port = 3100\nsecrets_file = "{secrets}"\n')
    cfg = load_config(conf, env={})
    assert (cfg.aes_key, cfg.aes_iv, cfg.api_keys, cfg.frs_tokens, cfg.port) == (KEY, IV, ("k-1", "k-2"),
                                                                                  ("tok-1",), 3100)
    # The environment still wins, and can name the secrets file itself.
    cfg = load_config(None, env={"EDGE_FACE_SECRETS_FILE": str(secrets), "EDGE_FACE_API_KEYS": "k-env"})
    assert cfg.aes_key == KEY and cfg.api_keys == ("k-env",)
    assert set(secret_values(cfg)) >= {KEY, IV, "k-env", "tok-1"}


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o620])
def test_secrets_file_readable_by_others_is_refused(tmp_path, mode):
    secrets = _secrets(tmp_path, f'aes_key = "{KEY}"\n', mode)
    with pytest.raises(ConfigError, match=rf"readable or writable by group or others \(mode 0{mode:o}\); "
                                          rf"run: chmod 600 {secrets}"):
        load_config(None, env={"EDGE_FACE_SECRETS_FILE": str(secrets)})


def test_secrets_file_holds_secrets_only(tmp_path):
    secrets = _secrets(tmp_path, f'aes_key = "{KEY}"\nport = 1\n')
    with pytest.raises(ConfigError, match="'port' is not a secret setting"):
        load_config(None, env={"EDGE_FACE_SECRETS_FILE": str(secrets)})


def test_missing_or_broken_secrets_file(tmp_path):
    with pytest.raises(ConfigError, match="secrets file .*missing.toml: No such file"):
        load_config(None, env={"EDGE_FACE_SECRETS_FILE": str(tmp_path / "missing.toml")})
    broken = _secrets(tmp_path, f'aes_key = "{KEY}\n')
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(None, env={"EDGE_FACE_SECRETS_FILE": str(broken)})
    assert KEY not in str(info.value)


def test_bad_secret_values_are_named_not_shown(tmp_path):
    secrets = _secrets(tmp_path, 'aes_key = "short-secret-value"\n')
    with pytest.raises(ConfigError, match="aes_key must be a 32-character") as info:
        load_config(None, env={"EDGE_FACE_SECRETS_FILE": str(secrets)})
    assert "short-secret-value" not in str(info.value)
    secrets = _secrets(tmp_path, 'api_keys = { nested = "table-secret" }\n')
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"EDGE_FACE_SECRETS_FILE": str(secrets)})
    assert "table-secret" not in str(info.value)


def test_secrets_never_in_repr(tmp_path):
    secrets = _secrets(tmp_path, f'aes_key = "{KEY}"\napi_keys = ["api-key-secret"]\nfrs_tokens = ["frs-secret"]\n')
    text = repr(load_config(None, env={"EDGE_FACE_SECRETS_FILE": str(secrets)}))
    assert KEY not in text and "api-key-secret" not in text and "frs-secret" not in text


def test_log_settings_are_validated():
    with pytest.raises(ConfigError, match="log_level must be"):
        load_config(None, env={"EDGE_FACE_LOG_LEVEL": "chatty"})
    with pytest.raises(ConfigError, match="log_format must be"):
        load_config(None, env={"EDGE_FACE_LOG_FORMAT": "xml"})


def _edge_face(*args: str, env: dict, timeout: float = 60) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edge_face.cli", *args], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_start_with_secrets_never_prints_them(tmp_path):
    """A real `edge-face serve` start (models loaded, one request served, one error logged) and a refused start:
    neither prints a key, a token or the IV."""
    import requests

    from edge_face.crypto import VendorCipher

    secrets = _secrets(tmp_path, f'aes_key = "{KEY}"\naes_iv = "{IV}"\napi_keys = ["api-key-0123456789"]\n'
                                 'frs_tokens = ["frs-token-0123456789"]\n')
    conf = tmp_path / "config.toml"
    conf.write_text(f'secrets_file = "{secrets}"\nlog_level = "debug"\nlog_format = "text"\n')
    port = _free_port()
    proc = _edge_face("--config", str(conf), "serve", "--port", str(port), env={})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline and proc.poll() is None
            try:
                if requests.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        cipher = VendorCipher(KEY, IV)
        ok = requests.post(url + "/identity/image_verification/stateless", timeout=60,
                           headers={"Authorization": "Bearer api-key-0123456789"},
                           data={"first_encrypted_image": cipher.encrypt(b"\xff\xd8 not really a jpeg"),
                                 "second_encrypted_image": cipher.encrypt(b"x")})
        assert ok.status_code == 400
        wrong = requests.post(url + "/identity/image_verification/stateless", timeout=60,
                              headers={"Authorization": "Bearer wrong-key"}, data={"first_encrypted_image": "a"})
        assert wrong.status_code == 401
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert "listening on" in output and "request_id=" in output
    for secret in (KEY, IV, "api-key-0123456789", "frs-token-0123456789"):
        assert secret not in output
    # A refused start (world-readable secrets) says why without the content.
    secrets.chmod(0o644)
    refused = _edge_face("--config", str(conf), "serve", "--port", str(port), env={})
    output = refused.communicate(timeout=60)[0]
    assert refused.returncode == 2 and "chmod 600" in output and KEY not in output and IV not in output


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
