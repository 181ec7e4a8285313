"""Safe defaults when the service is reachable from other machines (API.md: one key policy).

On loopback only this device's processes can call; on any other address the network can. There the service refuses
to start without api_keys, because every route would answer anyone; and whenever aes_key is the vendor's published
default it says so loudly, because then the "encryption" of photos protects nothing. allow_insecure = true lets a
lab start anyway (with the warnings).
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import fields

from edge_face.config import Config, ConfigError

log = logging.getLogger("edge_face.security")

VENDOR_AES_KEY = next(f.default for f in fields(Config) if f.name == "aes_key")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


def listen_addresses(config: Config, sockets: list[socket.socket] | None) -> list[str]:
    """The addresses the service will answer on: the activated sockets', else host."""
    if not sockets:
        return [config.host]
    return [str(s.getsockname()[0]) for s in sockets if s.family in (socket.AF_INET, socket.AF_INET6)]


def check_exposure(config: Config, addresses: list[str]) -> None:
    """ConfigError for an exposed address without api_keys (unless allow_insecure); warnings otherwise."""
    exposed = [a for a in addresses if not is_loopback(a)]
    if config.aes_key == VENDOR_AES_KEY:
        level = logging.ERROR if exposed else logging.WARNING
        log.log(level, "SECURITY: aes_key is the vendor's published default key: anyone can decrypt and forge the "
                       "photos of this deployment; set aes_key and aes_iv in the secrets file")
    if exposed and not config.api_keys:
        if not config.allow_insecure:
            raise ConfigError(f"refusing to serve on {', '.join(exposed)} without api_keys: anyone on the network "
                              "could call every route; set api_keys in the secrets file, bind to 127.0.0.1, or "
                              "set allow_insecure = true (labs only)")
        log.error("SECURITY: serving on %s without api_keys (allow_insecure = true): every route answers anyone",
                  ", ".join(exposed))
