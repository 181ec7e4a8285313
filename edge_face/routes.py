"""Every HTTP path edge_face serves, in one place: the routes, the client, the tools and the tests read them here."""
from __future__ import annotations

# SenseID (API.md §1)
VERIFY = "/identity/image_verification/stateless"  # 1.1
ALL_PAIRS = "/identity/multiface_image_omni_verification/stateless"  # 1.2
PACKAGE_VERIFY = "/identity/liveness_image_verification/stateless"  # 1.3
VIDEO_VERIFY = "/identity/silent_image_verification/stateless"  # 1.4
QUALITY = "/quality/face/stateless"  # 2.1
LIVENESS = "/liveness/silent_detection/stateless"  # 3.1

# Huawei FRS (API.md §2); Flask's form of the same path is FRS_COMPARE_RULE
FRS_COMPARE = "/v2/{project_id}/face-compare"
FRS_COMPARE_RULE = "/v2/<project_id>/face-compare"

# edge_face's own
CAMERA_SESSION = "/camera/liveness_session"
CAMERA_STATUS = "/camera/status"
CAMERA_FRAME = "/camera/frame.jpg"
KIOSK = "/kiosk"
HEALTHZ = "/healthz"
READYZ = "/readyz"
METRICS = "/metrics"
OPENAPI = "/openapi.json"
