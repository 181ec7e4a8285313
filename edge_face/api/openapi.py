"""GET /openapi.json: the OpenAPI 3 document of the service, kept in the repository beside this module.

The document is data (openapi.json, shipped in the package), written by hand from API.md; tests check that its
`paths` are exactly the app's routes, and the fuzz run (benchmarks/fuzz.py) drives the live server from it.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from flask import Blueprint, Response

from edge_face import routes

bp = Blueprint("openapi", __name__)


@lru_cache(maxsize=1)
def document() -> dict:
    return json.loads(resources.files("edge_face.api").joinpath("openapi.json").read_text("utf-8"))


@bp.get(routes.OPENAPI)
def openapi() -> Response:
    return Response(json.dumps(document(), indent=1), content_type="application/json")
