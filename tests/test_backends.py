"""Backends as plug-ins: an accelerator that cannot load says why and what to do; a fallback runs, and says so."""
from __future__ import annotations

import ctypes.util
from dataclasses import replace

import pytest

from edge_face.backends.delegates import KNOWN
from edge_face.config import BackendConfig, Config, ConfigError, load_config
from edge_face.imaging import decode_image
from edge_face.models import ModelError
from edge_face.services import wire_faces


def _config(**backend) -> Config:
    return replace(Config(), backend=BackendConfig(**backend))


def test_a_missing_delegate_library_gives_an_actionable_error():
    with pytest.raises(ModelError) as err:
        wire_faces(_config(kind="edgetpu", library="/nonexistent/libedgetpu.so.1"))
    text = str(err.value)
    assert "does not exist" in text and "libedgetpu1-std" in text


def test_a_library_that_is_not_a_delegate_is_refused_with_the_fix():
    libm = ctypes.util.find_library("m")
    assert libm, "the C maths library is on every Linux"
    with pytest.raises(ModelError) as err:
        wire_faces(_config(kind="delegate", library=libm))
    assert "cannot load delegate" in str(err.value) and "backend.kind" in str(err.value)


def test_a_configured_fallback_runs_on_the_cpu_and_says_so(photos):
    service = wire_faces(_config(kind="teflon", fallback_to_cpu=True, models=("yunet",)))
    obama, obama2 = (decode_image((photos / n).read_bytes()) for n in ("obama.jpg", "obama2.jpg"))
    assert service.verify_pair(obama, obama2).score > 0.7
    models = service.describe()["models"]
    assert models["yunet"]["backend"].startswith("cpu")
    assert "delegate-teflon" in models["yunet"]["fallback_from"]
    others = [m for m in models if m != "yunet"]
    assert others and all("fallback_from" not in models[m] for m in others), \
        "models not given to the accelerator are plain CPU models"


def test_backend_configuration_from_file_and_environment(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[backend]\nkind = "edgetpu"\noptions = { device = "pci:0" }\nfallback_to_cpu = true\n')
    cfg = load_config(f, env={"EDGE_FACE_BACKEND_MODELS": "sface_int8,mobilefacenet_b1_int8"})
    assert cfg.backend.kind == "edgetpu" and cfg.backend.options == {"device": "pci:0"}
    assert cfg.backend.models == ("sface_int8", "mobilefacenet_b1_int8") and cfg.backend.fallback_to_cpu
    assert load_config(env={"EDGE_FACE_BACKEND_OPTIONS": "a=1, b=2"}).backend.options == {"a": "1", "b": "2"}
    with pytest.raises(ConfigError, match="backend.kind"):
        load_config(env={"EDGE_FACE_BACKEND_KIND": "tpu9000"})
    with pytest.raises(ConfigError, match="library"):
        load_config(env={"EDGE_FACE_BACKEND_KIND": "delegate"})


def test_every_known_accelerator_says_what_it_needs():
    assert set(KNOWN) == {"edgetpu", "vx", "ethosu", "teflon", "armnn"}
    for spec in KNOWN.values():
        assert spec.library.endswith((".so", ".so.1")) and spec.install_hint and spec.model_requirement
