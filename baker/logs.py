"""Logging that can never emit a value.

Every record passes a filter that renders the message, masks registered values and anything shaped
like a bearer token, and drops the record's args.  The Azure SDK's network trace (which logs response
bodies, i.e. secret values, before baker could register them) is never enabled; at --debug its
header/URL logging and the Docker SDK's logs are shown, masked.

Build arguments (every value) travel in the engine's build request's query string, and urllib3 logs
each request line at DEBUG (and a retried URL at WARNING).  Masking is not enough there: a value under
the Redactor's minimum length is not masked.  So the query string of every URL urllib3 logs is
dropped, any query naming `buildargs` is dropped wherever it appears (tracebacks, messages), and a
record that still names `buildargs` is replaced whole.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from baker.output import terminal_safe
from baker.secret import QUERY, QUERY_DROPPED, REDACTOR, Redactor, scrub

# Loggers whose records quote the URLs of HTTP requests, the engine's build request among them.
_URL_LOGGERS = ("urllib3",)


class RedactingFilter(logging.Filter):
    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must not crash baker, nor show its args
            message = str(record.msg)
        if record.name.partition(".")[0] in _URL_LOGGERS:
            message = QUERY.sub(QUERY_DROPPED, message)
        message = scrub(message, self.redactor)
        if "buildargs" in message.lower():  # in a shape no rule above knows: never log build args
            message = "(a log record naming the build arguments was dropped)"
        # An SDK's log line may quote what a server sent: no workflow command, no terminal escape.
        record.msg = terminal_safe(message)
        record.args = None
        if record.exc_info:
            text = scrub(logging.Formatter().formatException(record.exc_info), self.redactor)
            record.exc_text = terminal_safe(text)
            record.exc_info = None
        return True


_HANDLER_NAME = "baker-redacting"


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at emit time, not at setup: a program (or a test) that
    calls `baker.cli.main` in-process and swaps stderr gets baker's log lines where it expects."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def setup_logging(*, debug: bool, stream: TextIO | None = None, redactor: Redactor = REDACTOR) -> None:
    """Route every log record through the redacting filter; `debug` shows the SDKs' own logs."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactingFilter(redactor))
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    # azure-identity logs its own WARNING for every failed sign-in; baker reports the same failure
    # once, with a diagnosis, so that line is noise unless --debug asks for everything.
    logging.getLogger("azure.identity").setLevel(logging.DEBUG if debug else logging.ERROR)
    # Network trace would log bodies (values); it is only on when a client passes logging_enable,
    # which baker never does.  Keep it off even if someone sets it on the logger.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(
        logging.DEBUG if debug else logging.WARNING
    )
