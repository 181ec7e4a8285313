"""Logging of the running service: to the journal with structured fields when systemd runs us, else text lines on
stderr; every record carries the request_id of the request that logged it, and no configured secret survives into a
log line (a second line of defence: the code logs no field contents in the first place)."""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from flask import g, has_request_context

from edge_face.config import Config, secret_values
from edge_face.systemd import JOURNAL_SOCKET, JournalHandler, stderr_is_journal

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
REDACTED = "[redacted]"


class RequestIdFilter(logging.Filter):
    """record.request_id from the Flask request being served by this thread (None outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id") if has_request_context() else None
        return True


class RedactFilter(logging.Filter):
    """Replaces every configured secret in the message and the traceback text by [redacted]."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True


def configure_logging(config: Config, env: Mapping[str, str] | None = None,
                      journal_socket: str = JOURNAL_SOCKET) -> logging.Handler:
    """Replace the root logger's handlers with one journal or stderr handler carrying both filters."""
    env = os.environ if env is None else env
    use_journal = config.log_format == "journal" or (
        config.log_format == "auto" and stderr_is_journal(env) and os.path.exists(journal_socket))
    if use_journal:
        handler: logging.Handler = JournalHandler("edge-face", journal_socket)
        handler.setFormatter(logging.Formatter("%(message)s"))  # the journal stamps time, level and unit itself
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactFilter(secret_values(config)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.log_level.upper())
    return handler
