"""The conformance table (tests/support/conformance.py) against a real server over real HTTP: every endpoint's
fields and every documented code, each row one request; the message of every SenseID error starts with the
vendor's field value for its code (API.md "Responses")."""
from __future__ import annotations

import json
import re
from dataclasses import replace
from importlib import resources

import pytest
import requests

from edge_face.api.errors import ERRORS
from tests.support import conformance as table
from tests.support.media import DEVICE_ID, DEVICE_KEY, Media

# The message pattern the OpenAPI document promises (vendor text, then ": detail"): the served errors must match it.
MESSAGE = re.compile(json.loads(resources.files("edge_face.api").joinpath("openapi.json").read_text("utf-8"))
                     ["components"]["schemas"]["SenseIdError"]["properties"]["message"]["pattern"])
BODY_LIMIT = 16 * 1024 * 1024  # over a 5-MB photo's form (the 2004 rows), small enough for the 413 row


@pytest.fixture(scope="module")
def kit(api_server, api_config, photos, face_service, tmp_path_factory):
    api = api_server(api_keys=(table.API_KEY,), frs_tokens=(table.FRS_TOKEN,), device_key=DEVICE_KEY.hex(),
                     device_id=DEVICE_ID, limits=replace(api_config.limits, max_body_bytes=BODY_LIMIT))
    return table.Kit(api, Media(photos, tmp_path_factory.mktemp("conformance"), face_service))


@pytest.mark.parametrize("row", table.ROWS, ids=[row.id for row in table.ROWS])
def test_row(kit, row):
    kwargs = row.request(kit)
    headers = {**row.headers, **kwargs.pop("headers", {})}
    resp = requests.request(row.method, kit.api.url + row.path, headers=headers, timeout=120, **kwargs)
    body = resp.json()
    if row.section == "FRS":
        assert resp.status_code == row.status, body
        if row.status != 200:
            assert list(body) == ["error_code", "error_msg"] and body["error_code"] == row.code, body
            assert row.detail in body["error_msg"], body
    else:
        assert (resp.status_code, body["code"]) == (row.status, row.code), body
        assert body["request_id"] == resp.headers["X-Request-Id"]
        if row.status != 200:
            assert list(body) == ["code", "message", "request_id"], body
            assert body["message"].startswith(ERRORS[row.code].message + ": ") and MESSAGE.match(body["message"]), body
            assert row.detail in body["message"], body
    if row.check is not None:
        assert row.check(body), body


def test_every_documented_code_has_a_row():
    covered = {(row.section, row.status if row.section == "HTTP" else row.code) for row in table.ROWS}
    missing = [(section, code) for section, codes in table.MANUAL.items() for code in codes
               if (section, code) not in covered]
    assert missing == []


def test_every_field_of_every_endpoint_has_its_rows():
    ids = {row.id for row in table.ROWS}
    for e in table.ENDPOINTS:
        for name in e.required:
            assert {f"{e.section}-missing-{name}", f"{e.section}-repeated-{name}"} <= ids
        for name in e.optional:
            assert f"{e.section}-bad-boolean-{name}" in ids
        assert f"{e.section}-unknown-field-ignored" in ids


def test_server_still_serves_after_the_table(kit, photos):
    kit.api.assert_alive(photos, headers={"X-API-Key": table.API_KEY})
