"""Run the app under waitress: the production WSGI server, pure Python, fine on a small ARM board.

`python -m edge_face.api.server` serves with load_config() (file + EDGE_FACE_* variables).
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys

from flask import Flask
from waitress import wasyncore
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from edge_face.api.app import create_app
from edge_face.api.connections import guard, server_settings
from edge_face.api.exposure import check_exposure, listen_addresses
from edge_face.api.logs import configure_logging
from edge_face.api.watchdog import InferenceProbe, Watchdog, readyz_probe
from edge_face.config import Config, ConfigError, load_config
from edge_face.services import FaceService
from edge_face.systemd import listen_sockets, notify, watchdog_seconds

log = logging.getLogger("edge_face.api")

def make_server(config: Config, app: Flask | None = None, faces: FaceService | None = None,
                sockets: list[socket.socket] | None = None) -> BaseWSGIServer | MultiSocketServer:
    """A bound, not yet running waitress server (port 0 picks a free port: see .effective_port). With `sockets`
    (socket activation) it serves those instead of binding host:port. Bodies stay in memory, within limits
    (api/connections.py)."""
    app = app or create_app(config, faces)
    where = {"sockets": sockets} if sockets else {"host": config.host, "port": config.port}
    server = create_server(
        app,
        **where,
        threads=config.server_threads,
        ident="edge_face",
        clear_untrusted_proxy_headers=True,
        **server_settings(config),
    )
    guard(server, config)
    return server


def serve(config: Config) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit status. The models load in the background (see /readyz).

    Under systemd (Type=notify): READY=1 once the service really answers, WATCHDOG=1 only while it still does, and
    exit status 1 when the models cannot load, so that Restart= tries again."""
    sockets = listen_sockets()
    check_exposure(config, listen_addresses(config, sockets))  # ConfigError: exit status 2, before any model loads
    app = create_app(config)
    server = make_server(config, app, sockets=sockets)
    log.info("edge_face listening on http://%s:%s (%d threads%s)", server.effective_host, server.effective_port,
             config.server_threads, ", socket-activated" if sockets else "")
    status = {"code": 0}
    watchdog = None
    if os.environ.get("NOTIFY_SOCKET"):
        services = app.extensions["edge_face"].services

        def fatal(reason: str) -> None:
            log.error("stopping: %s", reason)
            status["code"] = 1
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))  # ends server.run()

        host, port = server.effective_host, server.effective_port
        key = config.api_keys[0] if config.ops_require_key else None
        watchdog = Watchdog(services, [lambda t: readyz_probe(str(host), int(port), t, key), InferenceProbe(services)],
                            watchdog_seconds=watchdog_seconds(), on_fatal=fatal)
        watchdog.start()

    def stop(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
        notify("STOPPING=1")
        log.info("stopping on signal %d", signum)
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.run()  # returns on SystemExit/KeyboardInterrupt (after draining the workers) or after fatal()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if watchdog is not None:
            watchdog.stop()
        server.task_dispatcher.shutdown()
    return status["code"]


def main() -> None:
    try:
        config = load_config()
        configure_logging(config)
        raise SystemExit(serve(config))
    except ConfigError as exc:  # a message naming the setting, not a traceback (as `edge-face serve` does)
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
