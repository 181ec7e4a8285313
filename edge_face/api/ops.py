"""Operations endpoints outside the vendor API: liveness of the process, readiness of the models, metrics.

No API key here: they reveal no face data, and a supervisor must reach them without the key.
"""
from __future__ import annotations

from flask import Blueprint, Response

from edge_face import routes, tuning
from edge_face.api.metrics import CONTENT_TYPE
from edge_face.api.state import respond, state

bp = Blueprint("ops", __name__)


@bp.get(routes.HEALTHZ)
def healthz() -> Response:
    """The process answers HTTP; says nothing about the models."""
    return respond({"status": "ok"})


@bp.get(routes.READYZ)
def readyz() -> Response:
    """200 with the models (warmed, backend of each), thresholds and camera state once loaded; 503 while loading
    or after a failed load."""
    services = state().services
    models = services.peek()
    camera = services.camera.describe()  # this app's own camera ("none" without one)
    if models is None:
        return respond({"status": services.status, "camera": camera}, 503)
    faces = models.faces
    return respond({"status": "ready", "warmed": bool(getattr(faces, "warmed", False)), **faces.describe(),
                    "camera": camera, "scheduler": state().runner.describe(),
                    **({"tuning": tuned} if (tuned := tuning.summary(state().config)) else {})})


@bp.get(routes.METRICS)
def metrics() -> Response:
    st = state()
    models = st.services.peek()
    ready = 1.0 if models is not None else 0.0
    text = st.metrics.render({"edge_face_ready": ("1 once the face models are loaded.", ready)},
                             models=models.faces.describe()["models"] if models is not None else None)
    return Response(text, content_type=CONTENT_TYPE)
