"""The OpenAPI document is exact: its paths are the app's routes (both ways), it is what /openapi.json serves,
and the stdlib client has a method for every operation in it, each tried here over real HTTP."""
from __future__ import annotations

import json
import re
from importlib import resources

from edge_face.api.app import create_app
from edge_face.client import EdgeFaceClient, EdgeFaceClientError

DOC = json.loads(resources.files("edge_face.api").joinpath("openapi.json").read_text("utf-8"))


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_route_is_documented_and_every_documented_path_is_served(api_config, face_service):
    app = create_app(api_config, faces=face_service)
    served = {(_openapi_path(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
              if rule.endpoint != "static" and not rule.endpoint.startswith("kiosk.")  # the page's own calls
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in DOC["paths"].items() for method in item}
    assert served - documented == set(), "routes missing from edge_face/api/openapi.json"
    assert documented - served == set(), ("documented but not served: move them to x-edge-face-planned, "
                                           "or add the route")
    assert not set(DOC["x-edge-face-planned"]) & set(DOC["paths"]), "an endpoint is both planned and served"


def test_references_resolve_and_operations_are_complete():
    text = json.dumps(DOC)
    for name in re.findall(r'"#/components/schemas/([^"]+)"', text):
        assert name in DOC["components"]["schemas"], name
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            assert op["operationId"] and op["responses"] and "security" in op, (path, method)
            if method == "post":
                assert {"400", "500", "503"} <= set(op["responses"]), (path, method)


def test_served_document_is_the_file(api):
    resp = api.get("/openapi.json")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == DOC


CLIENT_METHODS = {
    "/identity/image_verification/stateless": "verify",
    "/identity/multiface_image_omni_verification/stateless": "verify_all_pairs",
    "/v2/{project_id}/face-compare": "frs_compare",
    "/quality/face/stateless": "quality",
    "/liveness/silent_detection/stateless": "liveness",
    "/identity/silent_image_verification/stateless": "verify_video",
    "/identity/liveness_image_verification/stateless": "verify_liveness_file",
    "/camera/liveness_session": "camera_session",
    "/camera/status": "camera_status",
    "/camera/frame.jpg": "camera_frame",
    "/healthz": "healthz",
    "/readyz": "readyz",
    "/metrics": "metrics",
    "/openapi.json": "openapi",
}


def test_client_covers_every_documented_endpoint(api, photos):
    assert set(CLIENT_METHODS) == set(DOC["paths"]), "add a client method for the new endpoint"
    client = EdgeFaceClient(api.url, key=api.config.aes_key, iv=api.config.aes_iv)
    obama, obama2 = photos / "obama.jpg", photos / "obama2.jpg"
    assert client.verify(obama, obama2)["verification_score"] > 0.7
    assert client.verify_all_pairs(photos / "t1.jpg", obama)["code"] == 1000
    assert client.frs_compare(obama, obama2)["similarity"] > 0.93
    assert client.frs_compare(obama, photos / "biden.jpg", multipart=True)["similarity"] < 0.7
    faces = client.quality(obama)["faces"]
    assert len(faces) == 1 and faces[0]["rect"]["left"] < faces[0]["rect"]["right"]
    # Not a video: the endpoints answer their documented 2008 (a real video's path is tested in the liveness tests).
    assert client.liveness(b"not a video", return_status=True)["code"] == 2008
    assert client.verify_video(b"not a video", obama)["code"] == 2008
    # No camera on the default server (the camera's own paths are tested in test_camera with a file camera).
    assert client.camera_session()["code"] == 6000 and client.camera_status()["state"] == "none"
    try:
        client.camera_frame()
        raise AssertionError("a frame without a camera")
    except EdgeFaceClientError as exc:
        assert exc.status == 404
    assert client.verify_liveness_file(b"not a package", obama)["code"] == 2007
    assert client.healthz()["status"] == "ok"
    assert client.readyz()["status"] == "ready"
    assert "edge_face_http_requests_total" in client.metrics()
    assert client.openapi() == DOC


def test_client_frs_token(api_server, photos):
    guarded = api_server(frs_tokens=("t0ken",))
    obama, obama2 = photos / "obama.jpg", photos / "obama2.jpg"
    assert EdgeFaceClient(guarded.url, frs_token="t0ken").frs_compare(obama, obama2)["similarity"] > 0.93
    assert EdgeFaceClient(guarded.url, frs_token="wrong").frs_compare(obama, obama2)["error_code"] == "FRS.0002"
