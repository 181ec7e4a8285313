"""Google Coral Edge TPU (USB or PCIe)."""
from edge_face.backends.delegates.spec import DelegateSpec

SPEC = DelegateSpec(
    name="edgetpu",
    library="libedgetpu.so.1",
    options={"device": "usb"},
    model_requirement="a full-int8 model compiled with edgetpu_compiler (*_edgetpu.tflite)",
    install_hint="install Coral's libedgetpu1-std package and plug the device in; options device=usb or pci:0",
)
