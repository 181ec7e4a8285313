"""Arm Ethos-U NPU (NXP i.MX 93) through the Ethos-U delegate."""
from edge_face.backends.delegates.spec import DelegateSpec

SPEC = DelegateSpec(
    name="ethosu",
    library="libethosu_delegate.so",
    model_requirement="a full-int8 model compiled with Vela (PyPI ethos-u-vela) for the device's NPU configuration",
    install_hint="part of NXP's Yocto BSP (ethos-u-driver-stack); /dev/ethosu0 must be accessible to the service",
)
