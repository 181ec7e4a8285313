"""Huawei's own Python SDK (huaweicloudsdkfrs 3.1.219 + huaweicloudsdkcore) calls the FRS face of the real server
over real HTTP, unchanged: AK/SK-signed compare_face_by_base64 and compare_face_by_file, a token client, and the
refusals (wrong secret, unknown key, stale date, wrong project) as the SDK's own exceptions."""
from __future__ import annotations

import base64
import time

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.formdata import FormFile
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkfrs.v2 import (
    CompareFaceByBase64Request,
    CompareFaceByFileRequest,
    CompareFaceByFileRequestBody,
    FaceCompareBase64Req,
    FrsClient,
)

AK, SK = "EDGEFACEAK000001", "sdk-secret-key-0123456789abcdef01"
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
TOKEN = "frs-sdk-token-0123456789"


@pytest.fixture(scope="module")
def device(api_server):
    """A device configured like a Huawei project: one AK/SK pair, one token, one project id."""
    return api_server(frs_credentials={AK: SK}, frs_tokens=(TOKEN,), frs_project_id=PROJECT)


def frs_client(url: str, ak: str = AK, sk: str = SK, project_id: str = PROJECT,
               http_handler: HttpHandler | None = None) -> FrsClient:
    """FrsClient built as Huawei's FRS documentation builds it, with the device's URL as the endpoint."""
    config = HttpConfig.get_default_config()
    config.timeout = (10, 120)
    builder = FrsClient.new_builder() \
        .with_http_config(config) \
        .with_credentials(BasicCredentials(ak, sk, project_id)) \
        .with_endpoint(url)
    if http_handler is not None:
        builder = builder.with_http_handler(http_handler)
    return builder.build()


def by_base64(client: FrsClient, photos, first: str, second: str):
    body = FaceCompareBase64Req(image1_base64=base64.b64encode((photos / first).read_bytes()).decode(),
                                image2_base64=base64.b64encode((photos / second).read_bytes()).decode())
    return client.compare_face_by_base64(CompareFaceByBase64Request(body=body))


def by_file(client: FrsClient, photos, first: str, second: str):
    body = CompareFaceByFileRequestBody(image1_file=FormFile(str(photos / first)),
                                        image2_file=FormFile(str(photos / second)))
    return client.compare_face_by_file(CompareFaceByFileRequest(body=body))


def refusal(call) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as info:
        call()
    print(f"SDK refusal: status={info.value.status_code} error_code={info.value.error_code} "
          f"error_msg={info.value.error_msg!r} request_id={info.value.request_id}")
    return info.value


def test_aksk_compare_face_by_base64(device, photos):
    client = frs_client(device.url)
    same = by_base64(client, photos, "obama.jpg", "obama2.jpg")
    other = by_base64(client, photos, "obama.jpg", "biden.jpg")
    print(f"SDK compare_face_by_base64 (AK/SK): same person {same.similarity}, other person {other.similarity}, "
          f"image1_face {same.image1_face.bounding_box}, X-Request-Id {same.x_request_id}")
    assert same.similarity > 0.93 and other.similarity < 0.7
    assert same.image1_face.bounding_box.width > 80 and same.image2_face.bounding_box.height > 80
    assert same.x_request_id


def test_aksk_compare_face_by_file(device, photos):
    """multipart/form-data: the SDK signs it with X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD."""
    sent: list[dict] = []
    client = frs_client(device.url, http_handler=HttpHandler().add_request_handler(
        lambda request, **_: sent.append(dict(request.header_params))))
    same = by_file(client, photos, "obama.jpg", "obama3.jpg")
    assert sent[0]["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert sent[0]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert sent[0]["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;")
    other = by_file(client, photos, "biden.jpg", "obama2.jpg")
    print(f"SDK compare_face_by_file (AK/SK): same person {same.similarity}, other person {other.similarity}")
    assert same.similarity > 0.93 and other.similarity < 0.7


def test_token_client(device, photos):
    """The SDK has no token credentials: a request handler (the SDK's hook, run just before sending) replaces the
    signature with X-Auth-Token, as the hand-written token clients send it."""
    def with_token(token):
        def handler(request, **_):
            for name in ("Authorization", "X-Sdk-Date"):
                request.header_params.pop(name, None)
            request.header_params["X-Auth-Token"] = token
        return HttpHandler().add_request_handler(handler)

    client = frs_client(device.url, ak="unused", sk="unused", http_handler=with_token(TOKEN))
    same = by_base64(client, photos, "obama.jpg", "obama2.jpg")
    print(f"SDK compare_face_by_base64 (X-Auth-Token): same person {same.similarity}")
    assert same.similarity > 0.93
    assert by_file(client, photos, "obama.jpg", "biden.jpg").similarity < 0.7
    wrong = refusal(lambda: by_base64(frs_client(device.url, http_handler=with_token("wrong-token")), photos,
                                      "obama.jpg", "obama2.jpg"))
    assert (wrong.status_code, wrong.error_code) == (403, "FRS.0002")


def test_wrong_secret_and_unknown_key_are_frs_0002(device, photos):
    wrong = refusal(lambda: by_base64(frs_client(device.url, sk="not-the-secret"), photos, "obama.jpg",
                                      "obama2.jpg"))
    assert (wrong.status_code, wrong.error_code) == (403, "FRS.0002")
    assert "signature does not match" in wrong.error_msg and "not-the-secret" not in wrong.error_msg
    unknown = refusal(lambda: by_file(frs_client(device.url, ak="NOSUCHAK"), photos, "obama.jpg", "obama2.jpg"))
    assert (unknown.status_code, unknown.error_code) == (403, "FRS.0002")
    assert "access key" in unknown.error_msg


def test_stale_date_is_refused_and_a_date_within_the_skew_is_not(device, photos):
    """The SDK signs with an X-Sdk-Date it is given (its preset headers): 20 minutes old is outside the 15 minutes
    of frs_signature_skew (a replay of an old request), 10 minutes old is within it."""
    def dated(offset: float) -> FrsClient:
        client = frs_client(device.url)
        client.preset_headers = {"X-Sdk-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + offset))}
        return client

    stale = refusal(lambda: by_base64(dated(-20 * 60), photos, "obama.jpg", "obama2.jpg"))
    assert (stale.status_code, stale.error_code) == (403, "FRS.0002") and "X-Sdk-Date" in stale.error_msg
    future = refusal(lambda: by_file(dated(20 * 60), photos, "obama.jpg", "obama2.jpg"))
    assert (future.status_code, future.error_code) == (403, "FRS.0002")
    assert by_base64(dated(-10 * 60), photos, "obama.jpg", "obama2.jpg").similarity > 0.93


def test_wrong_project_is_refused(device, photos):
    other = refusal(lambda: by_base64(frs_client(device.url, project_id="ffffffffffffffffffffffffffffffff"),
                                      photos, "obama.jpg", "obama2.jpg"))
    assert (other.status_code, other.error_code) == (403, "FRS.0028")


def test_unconfigured_device_answers_the_sdk(api, photos):
    """The issue's report: on a device with no FRS credentials or tokens configured, the SDK got FRS.0010
    'X-Auth-Token is required'. Now any signature passes there, as any token does."""
    client = frs_client(api.url, ak="ANY", sk="any", project_id="any-project")
    assert by_base64(client, photos, "obama.jpg", "obama2.jpg").similarity > 0.93
