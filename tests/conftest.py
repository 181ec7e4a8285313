from __future__ import annotations

from pathlib import Path

import pytest

from tests import fixtures


@pytest.fixture(scope="session")
def photos() -> Path:
    """Folder of real test photos (obama*.jpg, biden.jpg, t1.jpg: a group of four, ...)."""
    return fixtures.ensure()


# --- HTTP API tests: real waitress servers on free ports, sharing one real FaceService -------------------------

VERIFY = "/identity/image_verification/stateless"
ALL_PAIRS = "/identity/multiface_image_omni_verification/stateless"


class ApiClient:
    """A test's view of one running server: its URL, its config, and raw HTTP helpers (requests, not our client,
    so that malformed requests can be sent too)."""

    def __init__(self, url: str, config) -> None:
        from edge_face.crypto import VendorCipher

        self.url = url
        self.config = config
        self.cipher = VendorCipher(config.aes_key, config.aes_iv)
        self._alive_pair: dict | None = None

    def encrypt(self, data: bytes) -> str:
        return self.cipher.encrypt(data)

    def pair(self, first: bytes, second: bytes, **extra) -> dict:
        return {"first_encrypted_image": self.encrypt(first), "second_encrypted_image": self.encrypt(second), **extra}

    def post(self, path: str, data=None, **kwargs):
        import requests

        return requests.post(self.url + path, data=data, timeout=120, **kwargs)

    def get(self, path: str, **kwargs):
        import requests

        return requests.get(self.url + path, timeout=30, **kwargs)

    def assert_alive(self, photos: Path, **kwargs) -> None:
        """The server still verifies a valid pair (after an error, nothing is left broken)."""
        if self._alive_pair is None:
            self._alive_pair = self.pair((photos / "obama.jpg").read_bytes(), (photos / "obama2.jpg").read_bytes())
        resp = self.post(VERIFY, self._alive_pair, **kwargs)
        body = resp.json()
        assert resp.status_code == 200 and body["code"] == 1000, body
        assert body["verification_score"] > 0.7


@pytest.fixture(scope="session")
def api_config(tmp_path_factory):
    """The configuration of the test servers: the deployment's (models_dir etc.), on 127.0.0.1:<free port>, with a
    state directory of their own (the used liveness packages)."""
    from dataclasses import replace

    from edge_face.config import load_config

    return replace(load_config(), host="127.0.0.1", port=0, api_keys=(),
                   state_dir=str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session")
def face_service(api_config):
    """The real FaceService, models loaded and warmed once for the whole session."""
    from edge_face.services import wire_faces

    service = wire_faces(api_config)
    service.warm_up()
    return service


@pytest.fixture(scope="session")
def api_server(api_config, face_service):
    """api_server(service=..., **config_changes) -> ApiClient of a running server (one per distinct set-up).

    By default the server uses the shared FaceService; service=None makes it load its own in the background."""
    import threading
    from dataclasses import replace

    from edge_face.api.server import make_server

    servers: dict = {}

    def start(service=face_service, **changes):
        key = (id(service), repr(sorted(changes.items())))
        if key not in servers:
            config = replace(api_config, **changes)
            server = make_server(config, faces=service)
            thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
            thread.start()
            servers[key] = (server, thread, ApiClient(f"http://127.0.0.1:{server.effective_port}", config))
        return servers[key][2]

    yield start
    for server, thread, _ in servers.values():
        stop_server(server, thread)


def stop_server(server, thread) -> None:
    """Close a waitress server's sockets from inside its own loop (closing them from here races its select())."""
    from waitress import wasyncore

    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(timeout=5)
    server.task_dispatcher.shutdown()


@pytest.fixture(scope="session")
def api(api_server):
    """The default test server (deployment limits, no API key)."""
    return api_server()
