"""Arm NN's TFLite delegate (Mali GPU or Neon CPU back-ends)."""
from edge_face.backends.delegates.spec import DelegateSpec

SPEC = DelegateSpec(
    name="armnn",
    library="libarmnnDelegate.so",
    options={"backends": "GpuAcc,CpuAcc"},
    model_requirement="float32 or int8 models",
    install_hint="Debian/Ubuntu's libarmnn-delegate package or Arm's release; options backends=GpuAcc,CpuAcc",
)
