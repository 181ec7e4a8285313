"""NXP i.MX 8M Plus NPU through the VX delegate (VeriSilicon)."""
from edge_face.backends.delegates.spec import DelegateSpec

SPEC = DelegateSpec(
    name="vx",
    library="libvx_delegate.so",
    model_requirement="a full-int8 model, per-tensor quantization preferred",
    install_hint="part of NXP's Yocto BSP (tflite-vx-delegate); the first run compiles the graph and is slow",
)
