"""The logging filter never lets build args through: the engine's build request carries every value in
its query string, and a value too short to mask would otherwise be printed by urllib3's request line."""

from __future__ import annotations

import logging

import pytest

from baker.logs import RedactingFilter
from baker.secret import Redactor, scrub

BUILD_LINE = (
    'http://localhost:None "POST /v1.41/build?q=False&rm=True&buildargs=%7B%22baker_x_PIN%22%3A+%22ab1%22%7D'
    '&labels=%7B%7D HTTP/1.1" 200 None'
)


def _filtered(name: str, msg: str, *args: object) -> str:
    record = logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args or None, None)
    assert RedactingFilter(Redactor()).filter(record)
    return record.getMessage()


def test_urllib3_request_lines_never_carry_a_query_string() -> None:
    target = "/v1.41/build?buildargs=%7B%22A%22%3A+%22ab1%22%7D"
    request_line = '%s://%s:%s "%s %s %s" %s %s'  # urllib3.connectionpool's own format
    shown = _filtered(
        "urllib3.connectionpool",
        request_line,
        "http",
        "localhost",
        None,
        "POST",
        target,
        "HTTP/1.1",
        200,
        None,
    )
    assert "ab1" not in shown and "buildargs" not in shown
    assert "POST /v1.41/build?<query not logged> HTTP/1.1" in shown
    retry = _filtered("urllib3.connectionpool", "Retrying after connection broken: %s", "/images/x?tag=ab1")
    assert "ab1" not in retry


@pytest.mark.parametrize("logger", ["docker.api.build", "baker.image.engine.build", "root", "azure.core"])
def test_a_build_query_is_dropped_whoever_logs_it(logger: str) -> None:
    shown = _filtered(logger, "request: %s", BUILD_LINE)
    assert "ab1" not in shown and "buildargs" not in shown


def test_a_record_naming_build_args_in_any_other_shape_is_dropped_whole() -> None:
    shown = _filtered("docker.api.build", "params: %r", {"buildargs": {"PIN": "ab1"}})
    assert "ab1" not in shown
    assert shown == "(a log record naming the build arguments was dropped)"


def test_other_loggers_keep_harmless_query_strings() -> None:
    shown = _filtered("baker.image.registry.read", "PUT %s", "/v2/app/blobs/uploads/1?digest=sha256:abc")
    assert shown == "PUT /v2/app/blobs/uploads/1?digest=sha256:abc"


def test_scrub_drops_a_build_query_from_a_traceback_text() -> None:
    text = f"urllib3.exceptions.ProtocolError: ('Connection broken', url={BUILD_LINE})\nWhat? a question"
    shown = scrub(text, Redactor())
    assert "ab1" not in shown and "buildargs" not in shown
    assert "What? a question" in shown  # prose question marks are not queries


def test_a_log_record_quoting_a_server_never_carries_a_ci_command_or_escape() -> None:
    import logging

    from baker.logs import RedactingFilter

    record = logging.LogRecord(
        "azure.core", logging.DEBUG, __file__, 1, "got %s", ("a\n::error::x ##vso[y]\x1b[2J",), None
    )
    RedactingFilter(Redactor()).filter(record)
    text = record.getMessage()
    assert "\x1b" not in text and "##vso[" not in text
    assert not any(line.lstrip().startswith("::") for line in text.splitlines())
