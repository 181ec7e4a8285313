"""Run the app under waitress: the production WSGI server, pure Python, fine on a small ARM board.

`python -m edge_face.api.server` serves with load_config() (file + EDGE_FACE_* variables).
"""
from __future__ import annotations

import logging

from flask import Flask
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from edge_face.api.app import create_app
from edge_face.api.state import FaceServiceLike
from edge_face.config import Config, load_config

log = logging.getLogger("edge_face.api")

# Waitress buffers a whole body before the app sees it; it refuses (plain-text 413) anything this far over the
# app's own limit, so that only slightly-too-large bodies reach the app and get the JSON 413 / 2004.
_WAITRESS_SLACK = 1024 * 1024


def make_server(config: Config, app: Flask | None = None,
                service: FaceServiceLike | None = None) -> BaseWSGIServer | MultiSocketServer:
    """A bound, not yet running waitress server (port 0 picks a free port: see .effective_port)."""
    app = app or create_app(config, service)
    return create_server(
        app,
        host=config.host,
        port=config.port,
        threads=config.server_threads,
        max_request_body_size=config.limits.max_body_bytes + _WAITRESS_SLACK,
        ident="edge_face",
        clear_untrusted_proxy_headers=True,
    )


def serve(config: Config, service: FaceServiceLike | None = None) -> None:
    """Serve until interrupted; the models load in the background (see /readyz)."""
    server = make_server(config, service=service)
    log.info("edge_face listening on http://%s:%s (%d threads)", server.effective_host, server.effective_port,
             config.server_threads)
    try:
        server.run()
    finally:
        server.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    serve(load_config())


if __name__ == "__main__":
    main()
