"""Which Host a request may name, and which Origin may POST to the kiosk (DNS rebinding, CSRF).

A web page on evil.example whose name is re-pointed at 127.0.0.1 reaches this service from the kiosk's browser with
`Host: evil.example`: refusing names that are not ours stops it. An IP literal is always accepted, because a
browser sends the name it resolved, never the address, so rebinding cannot produce one; names must be listed in
allowed_hosts ("localhost" by default, "*" for any). The kiosk's POSTs also need an Origin equal to the request's
own (a browser sends one with every POST; a cross-site form or fetch sends another).
"""
from __future__ import annotations

import ipaddress

from flask import Request

from edge_face.api.errors import INVALID_ARGUMENT, ApiError


def host_name(host_header: str) -> str:
    """The name of a Host header, without port or IPv6 brackets, lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host_header: str, allowed: tuple[str, ...]) -> bool:
    name = host_name(host_header)
    if not name:
        return False
    if "*" in allowed or name in (a.lower() for a in allowed):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def check_host(request: Request, allowed: tuple[str, ...]) -> None:
    """400 / 1200 for a Host this service does not answer to. No Host header at all (HTTP/1.0) is no browser's
    request, and passes."""
    if "HTTP_HOST" in request.environ and not host_allowed(request.host, allowed):
        raise ApiError(INVALID_ARGUMENT, "this service does not answer to that Host (allowed_hosts)", 400)


def check_same_origin(request: Request) -> None:
    """403 / 1200 unless the request says it comes from a page of this very origin."""
    origin = request.headers.get("Origin", "")
    site = request.headers.get("Sec-Fetch-Site", "same-origin")
    if origin != f"{request.scheme}://{request.host}" or site != "same-origin":
        raise ApiError(INVALID_ARGUMENT, "the kiosk accepts requests from its own page only", 403)
