"""AK/SK signatures (edge_face/api/aksk.py): requests signed by Huawei's own signer (huaweicloudsdkcore) verify, and
every alteration of a signed request is refused; then the same over real HTTP against the real server."""
from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import unquote

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from edge_face.api import aksk

AK, SK = "EDGEAK0123456789", "edge-secret-key-0123456789abcdef"
CREDENTIALS = {AK: SK, "OTHERAK": "other-secret"}
HOST = "127.0.0.1:3000"
SKEW = 900.0


class HashingSigner(Signer):
    """Huawei's signer, but hashing every body: it sends UNSIGNED-PAYLOAD for all but JSON and BSON bodies."""

    @classmethod
    def _process_content_header(cls, request):
        pass


def sdk_sign(method="POST", path="/v2/edge-project/face-compare", query=(), headers=None, body=b"", ak=AK, sk=SK,
             date: str | None = None, signer=Signer, host=HOST) -> dict:
    """A request signed by huaweicloudsdkcore's Signer, as it goes on the wire: method, decoded path, raw query
    string, headers, body."""
    header_params = {"Content-Type": "application/json", "X-Project-Id": "edge-project", **(headers or {})}
    if date:
        header_params["X-Sdk-Date"] = date
    request = SdkRequest(method=method, schema="http", host=host, resource_path=path, query_params=list(query),
                         header_params=header_params, body=body or None)
    signer(BasicCredentials(ak, sk, "edge-project")).sign(request)
    wire_path, _, wire_query = request.uri.partition("?")
    return {"method": method, "path": unquote(wire_path), "query": wire_query,
            "headers": dict(request.header_params), "body": body}


def verify(req: dict, credentials=CREDENTIALS, now: float | None = None, skew: float = SKEW) -> str:
    return aksk.verify(req["method"], req["path"], req["query"], req["headers"], req["body"], credentials,
                       time.time() if now is None else now, skew)


def refused(req: dict, reason: str, **kwargs) -> aksk.SignatureError:
    with pytest.raises(aksk.SignatureError) as info:
        verify(req, **kwargs)
    assert info.value.reason == reason, str(info.value)
    assert SK not in str(info.value)
    return info.value


def sdk_date(offset: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + offset))


# --- the algorithm against Huawei's signer --------------------------------------------------------------------


@pytest.mark.parametrize("path, query", [
    ("/v2/edge-project/face-sets", ()),
    ("/v2/edge-project/face-sets/", ()),  # the trailing-slash rule: signed the same either way
    ("/", ()),
    ("/v2/edge-project/face-sets/my set/faces", [("offset", 0), ("limit", 10)]),
    ("/v2/p/x", [("name", "a b+c/é~*'"), ("empty", ""), ("flag", True), ("multi", ["z", "y", "a"]),
                 ("ünï", "çødé"), ("a", "1")]),
])
def test_get_signed_by_the_sdk_verifies(path, query):
    req = sdk_sign("GET", path, query)
    assert req["headers"]["Authorization"].startswith("SDK-HMAC-SHA256 Access=EDGEAK0123456789, SignedHeaders=")
    assert verify(req) == AK


def test_post_json_signed_by_the_sdk_verifies_and_any_change_is_refused():
    body = b'{"image1_base64": "AAAA", "image2_base64": "BBBB"}'
    req = sdk_sign(body=body)
    signed = req["headers"]["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert signed == ["content-type", "host", "x-project-id", "x-sdk-date"]
    assert verify(req) == AK
    # Header names in any case, extra unsigned headers: still the same request.
    assert verify({**req, "headers": {**{k.upper(): v for k, v in req["headers"].items()}, "X-Extra": "1"}}) == AK
    for changed in ({"body": body.replace(b"AAAA", b"AAAB")}, {"body": body + b" "}, {"body": b""},
                    {"method": "PUT"}, {"path": "/v2/other-project/face-compare"}, {"path": req["path"] + "/x"},
                    {"query": "a=1"},
                    {"headers": {**req["headers"], "Host": "evil.example:3000"}},
                    {"headers": {**req["headers"], "X-Project-Id": "other-project"}},
                    {"headers": {**req["headers"], "Content-Type": "text/plain"}}):
        refused({**req, **changed}, "bad_signature")


def test_query_is_canonical_whatever_its_order_or_encoding():
    req = sdk_sign("GET", "/v2/p/x", [("b", "2"), ("a", "x y"), ("c", "é")])
    assert req["query"] == "a=x%20y&b=2&c=%C3%A9"
    assert verify({**req, "query": "c=%c3%a9&b=2&a=x%20y"}) == AK  # other order, lower-case escapes
    assert verify({**req, "query": b"b=2&a=x%20y&c=\xc3\xa9"}) == AK  # raw bytes as WSGI hands them over
    refused({**req, "query": "a=x+y&b=2&c=%C3%A9"}, "bad_signature")  # "+" is a plus sign, not a space
    refused({**req, "query": "a=x%20y&b=2&c=%C3%A9&d=1"}, "bad_signature")


def test_header_values_sent_as_utf8_verify():
    req = sdk_sign(headers={"X-Note": " café "})
    # The SDK sends the value as UTF-8 bytes; WSGI hands them over as ISO-8859-1 text, stripped.
    assert req["headers"]["X-Note"] == "café".encode().decode("latin-1")
    assert verify(req) == AK


def test_wrong_secret_unknown_key_and_no_credentials():
    req = sdk_sign(sk="not-the-secret")
    refused(req, "bad_signature")
    refused(sdk_sign(ak="UNKNOWNAK"), "unknown_key")
    refused(sdk_sign(), "unknown_key", credentials={})
    assert verify(sdk_sign(ak="OTHERAK", sk="other-secret")) == "OTHERAK"


def test_date_within_the_skew_only():
    now = time.time()
    assert verify(sdk_sign(date=sdk_date(-SKEW + 60)), now=now) == AK
    assert verify(sdk_sign(date=sdk_date(SKEW - 60)), now=now) == AK
    stale = refused(sdk_sign(date=sdk_date(-SKEW - 60)), "stale", now=now)
    assert "900 seconds" in str(stale)
    refused(sdk_sign(date=sdk_date(SKEW + 60)), "stale", now=now)  # from the future
    # The same request, verified later: a replay outside the window is refused.
    req = sdk_sign()
    assert verify(req, now=now) == AK
    refused(req, "stale", now=now + SKEW + 1)
    refused(req, "stale", now=now + 31, skew=30)


def test_multipart_unsigned_payload_and_hashed_payload():
    body = b"--b\r\nContent-Disposition: form-data; name=\"image1_file\"; filename=\"a.jpg\"\r\n\r\nJPEG\r\n--b--\r\n"
    multipart = {"Content-Type": "multipart/form-data; boundary=b"}
    req = sdk_sign(headers=multipart, body=body)
    assert req["headers"]["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert verify(req) == AK
    assert verify({**req, "body": body.replace(b"JPEG", b"JPEH")}) == AK  # unsigned: the body is not covered
    hashed = sdk_sign(headers=multipart, body=body, signer=HashingSigner)
    assert "X-Sdk-Content-Sha256" not in hashed["headers"]
    assert verify(hashed) == AK
    refused({**hashed, "body": body.replace(b"JPEG", b"JPEH")}, "bad_signature")
    # A declared hash is a claim about the body: it must be the body's.
    declared = sdk_sign(headers={"X-Sdk-Content-Sha256": hashlib.sha256(body).hexdigest()}, body=body)
    assert verify(declared) == AK
    refused({**declared, "body": body + b"x"}, "body_hash")
    # UNSIGNED-PAYLOAD slipped into a signed JSON request does not verify.
    json_req = sdk_sign(body=b'{"a": "b"}')
    refused({**json_req, "headers": {**json_req["headers"], "X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}},
            "unsigned")


def test_required_headers_and_malformed_authorization():
    req = sdk_sign()
    headers = req["headers"]
    auth = headers["Authorization"]
    with pytest.raises(aksk.MissingHeader, match="X-Sdk-Date"):
        verify({**req, "headers": {k: v for k, v in headers.items() if k != "X-Sdk-Date"}})
    with pytest.raises(aksk.MissingHeader, match="signed header host"):
        verify({**req, "headers": {k: v for k, v in headers.items() if k != "Host"}})
    with pytest.raises(aksk.MissingHeader, match="Authorization"):
        verify({**req, "headers": {k: v for k, v in headers.items() if k != "Authorization"}})
    for value, reason in [
        (auth.replace("SignedHeaders=content-type;host;", "SignedHeaders=content-type;"), "unsigned"),
        (auth.replace(";x-sdk-date", ""), "unsigned"),
        (auth.replace("Signature=", "Signature=0"), "malformed"),
        (auth.replace("Signature=", "Signature=zz")[:-2], "malformed"),
        (auth.replace("Access=EDGEAK0123456789, ", ""), "malformed"),
        (auth + ", Access=OTHERAK", "malformed"),
        (auth.replace("SignedHeaders=content-type", "SignedHeaders=Content-Type"), "malformed"),
        (auth.replace("SignedHeaders=content-type", "SignedHeaders=host;content-type"), "malformed"),
        ("SDK-HMAC-SHA256", "malformed"),
        ("SDK-HMAC-SHA256 garbage", "malformed"),
    ]:
        refused({**req, "headers": {**headers, "Authorization": value}}, reason)
    for date in ("2025-01-01T00:00:00Z", "20251301T000000Z", "20250231T000000Z", "20250101T240000Z",
                 "20250101T000000", "yesterday"):
        refused({**req, "headers": {**headers, "X-Sdk-Date": date}}, "malformed")
    assert aksk.is_signed(auth) and aksk.is_signed(" sdk-hmac-sha256 Access=x")
    assert not aksk.is_signed("Bearer x") and not aksk.is_signed("") and not aksk.is_signed(None)


# --- over real HTTP: the real server, requests signed by Huawei's signer -------------------------------------

PATH = "/v2/edge-project/face-compare"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def send(api, req: dict, keep_host: bool = True):
    """The signed request over HTTP, with the Host header it signed (else the one requests derives from the URL)."""
    import requests

    url = api.url + req["path"] + (f"?{req['query']}" if req["query"] else "")
    headers = {k: v for k, v in req["headers"].items() if k != "Host" or keep_host}
    resp = requests.request(req["method"], url, headers=headers, data=req["body"], timeout=120)
    return resp.status_code, resp.json()


def signed_pair(api, photos, first="obama.jpg", second="obama2.jpg", **kwargs) -> dict:
    import json

    body = json.dumps({"image1_base64": b64((photos / first).read_bytes()),
                       "image2_base64": b64((photos / second).read_bytes())}).encode()
    return sdk_sign(body=body, **{"host": api.url.split("://")[1], **kwargs})


@pytest.fixture(scope="module")
def guarded(api_server):
    return api_server(frs_credentials=dict(CREDENTIALS), frs_tokens=("frs-token",))


def test_http_signed_json_and_tampering(guarded, photos):
    status, body = send(guarded, signed_pair(guarded, photos))
    assert status == 200 and body["similarity"] > 0.93, body
    req = signed_pair(guarded, photos, second="biden.jpg")
    status, body = send(guarded, req)
    assert status == 200 and body["similarity"] < 0.7, body
    tampered = {**req, "body": req["body"].replace(b'"image2_base64": "', b'"image2_base64": "  ')}
    status, body = send(guarded, tampered)
    assert (status, body["error_code"]) == (403, "FRS.0002") and "signature does not match" in body["error_msg"]
    assert list(body) == ["error_code", "error_msg"]
    status, body = send(guarded, signed_pair(guarded, photos, sk="wrong"))
    assert (status, body["error_code"]) == (403, "FRS.0002")
    status, body = send(guarded, signed_pair(guarded, photos, date=sdk_date(-SKEW - 5)))
    assert (status, body["error_code"]) == (403, "FRS.0002") and "X-Sdk-Date" in body["error_msg"]
    # The Host the client signed is the Host the server received.
    status, body = send(guarded, signed_pair(guarded, photos, host="face.cn-north-4.myhuaweicloud.com"),
                        keep_host=False)
    assert (status, body["error_code"]) == (403, "FRS.0002")
    no_date = signed_pair(guarded, photos)
    no_date["headers"].pop("X-Sdk-Date")
    status, body = send(guarded, no_date)
    assert (status, body["error_code"]) == (400, "FRS.0010") and "X-Sdk-Date" in body["error_msg"]


def test_http_multipart_hashed_by_the_server_from_the_exact_body(guarded, photos):
    """A multipart body signed with its hash: the server hashes the raw bytes, then still parses the form."""
    import requests

    prepared = requests.Request("POST", guarded.url + PATH, files={
        "image1_file": ("a.jpg", (photos / "obama.jpg").read_bytes()),
        "image2_file": ("b.jpg", (photos / "obama2.jpg").read_bytes())}).prepare()
    headers = {"Content-Type": prepared.headers["Content-Type"]}
    host = guarded.url.split("://")[1]
    req = sdk_sign(headers=headers, body=prepared.body, signer=HashingSigner, host=host)
    status, body = send(guarded, req)
    assert status == 200 and body["similarity"] > 0.93, body
    flipped = bytearray(prepared.body)
    flipped[len(flipped) // 2] ^= 1
    status, body = send(guarded, {**req, "body": bytes(flipped)})
    assert (status, body["error_code"]) == (403, "FRS.0002")
    # As the SDK sends it (UNSIGNED-PAYLOAD): the form is read, the body is not covered.
    status, body = send(guarded, sdk_sign(headers=headers, body=prepared.body, host=host))
    assert status == 200 and body["similarity"] > 0.93, body


def test_http_tokens_keep_working_beside_credentials(api_server, guarded, photos):
    pair = {"image1_base64": b64((photos / "obama.jpg").read_bytes()),
            "image2_base64": b64((photos / "obama2.jpg").read_bytes())}
    ok = guarded.post(PATH, json=pair, headers={"X-Auth-Token": "frs-token"})
    assert ok.status_code == 200 and ok.json()["similarity"] > 0.93
    wrong = guarded.post(PATH, json=pair, headers={"X-Auth-Token": "other"})
    assert (wrong.status_code, wrong.json()["error_code"]) == (403, "FRS.0002")
    # Credentials without tokens: a token is no way around the signature.
    signed_only = api_server(frs_credentials=dict(CREDENTIALS))
    resp = signed_only.post(PATH, json=pair, headers={"X-Auth-Token": "anything"})
    assert (resp.status_code, resp.json()["error_code"]) == (403, "FRS.0002")
    assert send(signed_only, signed_pair(signed_only, photos))[0] == 200
    # Tokens without credentials: a signature is no way around the tokens.
    tokens_only = api_server(frs_tokens=("frs-token",))
    status, body = send(tokens_only, signed_pair(tokens_only, photos))
    assert (status, body["error_code"]) == (403, "FRS.0002")


def test_http_open_device_accepts_any_signature(api, photos):
    """Neither tokens nor credentials configured: as any token passes, any signature does (the issue's SDK)."""
    status, body = send(api, signed_pair(api, photos, ak="ANYAK", sk="any"))
    assert status == 200 and body["similarity"] > 0.93, body


def test_http_project_id(api_server, photos):
    fixed = api_server(frs_credentials=dict(CREDENTIALS), frs_tokens=("frs-token",), frs_project_id="edge-project")
    assert send(fixed, signed_pair(fixed, photos))[0] == 200
    pair = {"image1_base64": b64((photos / "obama.jpg").read_bytes()),
            "image2_base64": b64((photos / "obama2.jpg").read_bytes())}
    token = {"X-Auth-Token": "frs-token"}
    assert fixed.post(PATH, json=pair, headers=token).status_code == 200
    for path, headers in (("/v2/other-project/face-compare", token),
                          (PATH, {**token, "X-Project-Id": "other-project"})):
        resp = fixed.post(path, json=pair, headers=headers)
        assert (resp.status_code, resp.json()["error_code"]) == (403, "FRS.0028"), resp.json()
    # A signature for another project: refused for the project, not for the signature.
    req = sdk_sign(path="/v2/other-project/face-compare", body=b"{}", host=fixed.url.split("://")[1])
    status, body = send(fixed, req)
    assert (status, body["error_code"]) == (403, "FRS.0028")


# --- configuration: frs_credentials lives in the secrets file -------------------------------------------------


def test_credentials_from_the_secrets_file_are_secret(tmp_path):
    from edge_face.config import load_config, secret_values

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'frs_tokens = ["tok-1"]\n[frs_credentials]\n{AK} = "{SK}"\nOTHERAK = "other-secret"\n')
    secrets.chmod(0o600)
    conf = tmp_path / "config.toml"
    conf.write_text(f'secrets_file = "{secrets}"\nfrs_project_id = "edge-project"\nfrs_signature_skew = 300\n')
    cfg = load_config(conf, env={})
    assert cfg.frs_credentials == CREDENTIALS and cfg.frs_tokens == ("tok-1",)
    assert (cfg.frs_project_id, cfg.frs_signature_skew) == ("edge-project", 300.0)
    assert SK in secret_values(cfg) and "other-secret" in secret_values(cfg)
    assert SK not in repr(cfg) and "other-secret" not in repr(cfg)
    # The environment wins, as for every setting ("ak=sk,ak2=sk2").
    cfg = load_config(conf, env={"EDGE_FACE_FRS_CREDENTIALS": "ENVAK=env-secret"})
    assert cfg.frs_credentials == {"ENVAK": "env-secret"}
    assert load_config(None, env={}).frs_credentials == {} and load_config(None, env={}).frs_signature_skew == 900


@pytest.mark.parametrize("env, message", [
    ({"EDGE_FACE_FRS_CREDENTIALS": "bad key=the-secret-value"}, "each access key must be"),
    ({"EDGE_FACE_FRS_CREDENTIALS": "AK1="}, "non-empty secret key"),
    ({"EDGE_FACE_FRS_SIGNATURE_SKEW": "0"}, "frs_signature_skew must be > 0"),
])
def test_bad_credentials_settings_are_named_not_shown(env, message):
    from edge_face.config import ConfigError, load_config

    with pytest.raises(ConfigError, match=message) as info:
        load_config(None, env=env)
    assert "the-secret-value" not in str(info.value)
