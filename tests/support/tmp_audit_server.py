"""A real edge_face server process that reports every file it opens under $TMPDIR (test_no_disk).

An audit hook sees every open() and os.open() of the interpreter, also tempfile.TemporaryFile's O_TMPFILE opens of
the folder itself, which leave no name behind: an empty folder afterwards alone would prove nothing.
`--legacy` serves with waitress's and Werkzeug's default spooling (the control that shows the hook would see it).
Prints "PORT <n>" once listening, "TMPOPEN <path>" for each open under $TMPDIR.
"""
from __future__ import annotations

import os
import sys
import tempfile

TMP = os.path.realpath(os.environ["TMPDIR"])


def _hook(event: str, args: tuple) -> None:
    if event in ("open", "tempfile.mkstemp", "tempfile.mkdtemp") and args and isinstance(args[0], (str, bytes)):
        path = os.fsdecode(args[0])
        if os.path.realpath(path).startswith(TMP):
            sys.__stdout__.write(f"TMPOPEN {path}\n")
            sys.__stdout__.flush()


def main() -> None:
    import flask

    from edge_face.api import server as srv
    from edge_face.config import load_config

    assert tempfile.gettempdir() == TMP
    sys.addaudithook(_hook)
    config = load_config()
    app = srv.create_app(config)
    if "--legacy" in sys.argv:
        app.request_class = flask.Request
        srv.server_settings = lambda c: {"max_request_body_size": c.limits.max_body_bytes + 1024 * 1024}
        srv.guard = lambda server, c: None
    server = srv.make_server(config, app)
    print("PORT", server.effective_port, flush=True)
    server.run()


if __name__ == "__main__":
    main()
