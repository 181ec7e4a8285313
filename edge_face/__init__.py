"""edge_face: on-device face verification and silent liveness behind the SenseID / Huawei FRS HTTP API."""

__version__ = "0.1.0"
