"""Operations endpoints outside the vendor API: liveness of the process, readiness of the models, metrics.

No API key here: they reveal no face data, and a supervisor must reach them without the key.
"""
from __future__ import annotations

from flask import Blueprint, Response

from edge_face.api import camera as camera_api
from edge_face.api.metrics import CONTENT_TYPE
from edge_face.api.state import respond, state

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers HTTP; says nothing about the models."""
    return respond({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """200 with the models (warmed, backend of each), thresholds and camera state once loaded; 503 while loading
    or after a failed load."""
    services = state().services
    service = services.peek()
    camera = camera_api.describe() or {"state": "none"}  # "none": no camera configured on this app
    if service is None:
        return respond({"status": services.status, "camera": camera}, 503)
    return respond({"status": "ready", "warmed": bool(getattr(service, "warmed", False)), **service.describe(),
                    "camera": camera})


@bp.get("/metrics")
def metrics() -> Response:
    st = state()
    service = st.services.peek()
    ready = 1.0 if service is not None else 0.0
    text = st.metrics.render({"edge_face_ready": ("1 once the face models are loaded.", ready)},
                             models=service.describe()["models"] if service is not None else None)
    return Response(text, content_type=CONTENT_TYPE)
