"""The Huawei FRS error table as data (API.md §2, Huawei's "Error Codes" page), and its one exception.

The codes FRS.0002, FRS.0010-0015, FRS.0028 and FRS.0501 are Huawei's. Huawei's manual names no code for a
server-side failure of an on-device service, so FRS.0500 (internal error, 500/503) is an edge_face **decision**;
unknown paths and methods under /v2/ get the API gateway's APIGW.0101 (404/405), as Huawei's gateway answers them.
FRS.0028 is "the project ID does not match the token" in Huawei's FAQ, which gives no status: 403 like FRS.0002 is a
decision. So is FRS.0002 (403) for a refused AK/SK signature (api/aksk.py), which Huawei's gateway answers with
APIGW.0301 (401): FRS clients already handle FRS.0002.
Every FRS response is Huawei's shape: {"error_code": "FRS.xxxx", "error_msg": "..."}; the request id is only in
the X-Request-Id header, so strict clients see exactly the keys they expect.
"""
from __future__ import annotations

from dataclasses import dataclass

from edge_face.api.errors import INTERNAL_ERROR, INVALID_CONTENT_LENGTH, ApiError


PREFIX = "/v2/"


def owns(path: str) -> bool:
    """Paths answered in Huawei's error shape, even when no route matches them."""
    return path.startswith(PREFIX)


@dataclass(frozen=True)
class FrsErrorSpec:
    code: str
    message: str
    status: int


_TABLE = (
    FrsErrorSpec("FRS.0002", "Token authentication failed. The user token is incorrect or has expired.", 403),
    FrsErrorSpec("FRS.0010", "The request header is missing or empty.", 400),
    FrsErrorSpec("FRS.0011", "A parameter is missing.", 400),
    FrsErrorSpec("FRS.0012", "Request parameters are in incorrect formats.", 400),
    FrsErrorSpec("FRS.0013", "The face image size is too large or too small.", 400),
    FrsErrorSpec("FRS.0014", "The input is not in JSON format.", 400),
    FrsErrorSpec("FRS.0015", "An error occurred when parsing the Base64 image.", 400),
    FrsErrorSpec("FRS.0028", "The project ID does not match the credentials.", 403),
    FrsErrorSpec("FRS.0500", "Internal error.", 500),  # decision: Huawei names no code for this
    FrsErrorSpec("FRS.0501", "Detect no face, check out your picture.", 400),
    FrsErrorSpec("APIGW.0101", "The API does not exist or has not been published in the environment.", 404),
)
FRS_ERRORS: dict[str, FrsErrorSpec] = {spec.code: spec for spec in _TABLE}

BAD_TOKEN = "FRS.0002"
MISSING_HEADER = "FRS.0010"
MISSING_PARAMETER = "FRS.0011"
BAD_PARAMETER = "FRS.0012"
BAD_SIZE = "FRS.0013"
NOT_JSON = "FRS.0014"
BAD_BASE64 = "FRS.0015"
WRONG_PROJECT = "FRS.0028"
INTERNAL = "FRS.0500"
NO_FACE = "FRS.0501"
NO_SUCH_API = "APIGW.0101"


class FrsError(Exception):
    """A documented failure of an FRS request; `detail` (which field, which limit) follows Huawei's message."""

    def __init__(self, code: str, detail: str = "", status: int | None = None) -> None:
        spec = FRS_ERRORS[code]  # an unknown code is a programming error: fail loudly
        self.code = code
        self.message = f"{spec.message} {detail}".strip() if detail else spec.message
        self.status = status or spec.status
        super().__init__(f"{code} {self.message}")

    def body(self) -> dict[str, str]:
        return {"error_code": self.code, "error_msg": self.message}


def from_api_error(exc: ApiError) -> FrsError:
    """The FRS form of an error raised by the shared HTTP layer (body limit, missing length, not ready, timeout)."""
    if exc.code == INVALID_CONTENT_LENGTH:
        return FrsError(BAD_SIZE, exc.detail, exc.status)
    if exc.code == INTERNAL_ERROR:
        return FrsError(INTERNAL, exc.detail, exc.status)
    if exc.status == 411:
        return FrsError(MISSING_HEADER, exc.detail, 411)
    return FrsError(BAD_PARAMETER, exc.detail, exc.status)
