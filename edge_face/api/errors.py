"""The SenseID error table as data (API.md "Error codes"), and the one exception the routes raise.

Keeping the table here means a route says *which* rule was broken (a code) and never picks an HTTP status itself.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSpec:
    code: int
    message: str
    status: int


_TABLE = (
    ErrorSpec(1200, "invalid argument", 400),  # 401 when the API key is wrong (see ApiError callers)
    ErrorSpec(2003, "invalid image size", 400),
    ErrorSpec(2004, "invalid content length", 400),  # 413 when the whole body is over the limit
    ErrorSpec(2005, "invalid image type or corrupted", 400),
    ErrorSpec(2006, "corrupted image error", 400),
    ErrorSpec(2007, "corrupted liveness data error", 400),
    ErrorSpec(2008, "invalid video error", 400),
    ErrorSpec(4000, "detection failed", 400),
    ErrorSpec(4004, "face occlusion", 400),
    ErrorSpec(4007, "liveness silent check failed", 400),
    ErrorSpec(5000, "internal error", 500),
    # edge_face's own camera endpoints (no vendor code exists for a camera): 503, try again later.
    ErrorSpec(6000, "camera unavailable", 503),  # owned by another process or failed to open; 404 when none is configured
    ErrorSpec(6001, "camera timeout", 503),  # no frame in time; the camera is reopened for the next session
)
ERRORS: dict[int, ErrorSpec] = {spec.code: spec for spec in _TABLE}

SUCCESS = 1000
INVALID_ARGUMENT = 1200
INVALID_IMAGE_SIZE = 2003
INVALID_CONTENT_LENGTH = 2004
INVALID_IMAGE_TYPE = 2005
CORRUPTED_IMAGE = 2006
CORRUPTED_LIVENESS_DATA = 2007
INVALID_VIDEO = 2008
DETECTION_FAILED = 4000
FACE_OCCLUSION = 4004
LIVENESS_FAILED = 4007
INTERNAL_ERROR = 5000
CAMERA_UNAVAILABLE = 6000
CAMERA_TIMEOUT = 6001


class ApiError(Exception):
    """A documented failure of a request: rendered as {"code", "message", "request_id"} with the table's status.

    The message is always the vendor's field value for the code, then a colon and `detail` (which field, which
    limit): clients that match the vendor's text ("invalid argument", ...) keep working, and no caller can forget
    it. A detail that already starts with the vendor's text is kept as it is. `status` overrides the table's HTTP
    status for the documented exceptions (401 wrong key, 404/405, 411, 413 body too large, 503 not ready).
    """

    def __init__(self, code: int, detail: str | None = None, status: int | None = None) -> None:
        spec = ERRORS[code]  # an unknown code is a programming error: fail loudly
        self.code = code
        self.message = vendor_message(code, detail)
        self.detail = self.message.removeprefix(spec.message).removeprefix(":").strip()  # for the FRS shape
        self.status = status or spec.status
        super().__init__(f"{self.code} {self.message}")

    def body(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message}


def vendor_message(code: int, detail: str | None = None) -> str:
    """"<vendor field value>: <detail>" (API.md "Responses"); the bare vendor text when there is no detail."""
    text = ERRORS[code].message
    if not detail or detail == text or detail.startswith(text + ":"):
        return detail or text
    return f"{text}: {detail}"
