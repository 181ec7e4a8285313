"""Operations endpoints outside the vendor API: liveness of the process, readiness of the models, metrics.

/healthz never needs a key (systemd's and a supervisor's probe of the process). /readyz and /metrics show the
configuration (models, backends, thresholds, camera): with ops_require_key they need an API key like every other
route (the watchdog presents one); without it they stay open, for a loopback-only device.
"""
from __future__ import annotations

from flask import Blueprint, Response, request

from edge_face import routes, tuning
from edge_face.api.auth import check_api_key
from edge_face.api.metrics import CONTENT_TYPE
from edge_face.api.state import respond, state

bp = Blueprint("ops", __name__)


@bp.before_request
def _authenticate() -> None:
    config = state().config
    if config.ops_require_key and request.path != routes.HEALTHZ:
        check_api_key(config.api_keys)


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
