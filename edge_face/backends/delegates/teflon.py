"""Mesa Teflon: the open NPU driver for Amlogic and Rockchip boards (Etnaviv, Rocket)."""
from edge_face.backends.delegates.spec import DelegateSpec

SPEC = DelegateSpec(
    name="teflon",
    library="libteflon.so",
    model_requirement="a full-int8 model; unsupported ops stay on the CPU (check the partition count)",
    install_hint="Debian trixie's mesa-teflon-delegate package; the NPU's /dev/dri/renderD* must be accessible",
)
