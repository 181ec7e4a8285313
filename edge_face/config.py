"""One typed configuration: embedded defaults, then a TOML file, then EDGE_FACE_* environment variables.

Validated once at start so that a bad value stops the service with a message naming it, not a request later.
"""
from __future__ import annotations

import os
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
class Config:
    host: str = "127.0.0.1"
    port: int = 3000
    # Vendor defaults of the SenseID client (API.md); a deployment overrides them in its secrets file.
    aes_key: str = "dcbbad6765e14139a07d34b92292a672"
    aes_iv: str = "df25d188a061"
    api_keys: tuple[str, ...] = ()
    # Huawei FRS face (API.md §2): accepted X-Auth-Token values (empty: the header is still required, any value
    # passes, as with api_keys); image*_url is refused unless it names a file inside frs_image_dir (empty: off).
    frs_tokens: tuple[str, ...] = ()
    frs_image_dir: str = ""
    # Seconds a request may spend waiting for the models before it is answered 503 (0: no limit). See api/timeout.py.
    request_timeout: float = 30.0
    models_dir: Path = DEFAULT_MODELS_DIR
    model_variant: str = "float32"  # a file models/verification/<variant>.json: embedders + calibration
    threads: int = 2
    server_threads: int = 4
    limits: Limits = field(default_factory=Limits)
    backend: BackendConfig = field(default_factory=BackendConfig)

    def validate(self) -> "Config":
        if len(self.aes_key.encode()) != 32:
            raise ConfigError("aes_key must be a 32-character string (AES-256 key as UTF-8 bytes)")
        if len(self.aes_iv.encode()) != 12:
            raise ConfigError("aes_iv must be a 12-character string (GCM nonce as UTF-8 bytes)")
        if not (0 < self.port < 65536):
            raise ConfigError(f"port must be 1..65535, got {self.port}")
        if self.threads < 1 or self.server_threads < 1:
            raise ConfigError("threads and server_threads must be >= 1")
        if self.backend.kind != "cpu" and self.backend.kind != "delegate":
            from edge_face.backends.delegates import KNOWN

            if self.backend.kind not in KNOWN:
                raise ConfigError(f"backend.kind {self.backend.kind!r} is not cpu, delegate or one of "
                                  f"{', '.join(sorted(KNOWN))}")
        if self.backend.kind == "delegate" and not self.backend.library:
            raise ConfigError("backend.kind = \"delegate\" needs backend.library (the delegate's .so path)")
        if self.request_timeout < 0:
            raise ConfigError("request_timeout must be >= 0 seconds (0: no limit)")
        if self.frs_image_dir and not Path(self.frs_image_dir).is_dir():
            raise ConfigError(f"frs_image_dir {self.frs_image_dir} is not a directory")
        if not Path(self.models_dir).is_dir():
            raise ConfigError(f"models_dir {self.models_dir} is not a directory")
        return self


_ENV_PREFIX = "EDGE_FACE_"


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
            return tuple(str(v) for v in value)  # type: ignore[union-attr]
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r}: cannot use {value!r} ({exc})") from None


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
    """Defaults <- TOML file (`path`, or $EDGE_FACE_CONFIG) <- EDGE_FACE_<SETTING> variables."""
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
