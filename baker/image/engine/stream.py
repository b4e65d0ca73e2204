"""The engine's JSON progress stream, turned into redacted lines.

The build and push endpoints answer with a stream of JSON objects (`stream`, `status`, `aux`,
`error`).  A `stream` text may end mid-line and a value may be split across two objects, so text is
buffered to line boundaries and only whole lines are redacted and handed on: the Redactor masks a
value and each line of a multi-line value, and no masked form spans a newline.

Pure: imports no docker (the messages are plain dicts).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from baker.record import Record, field
from baker.secret import REDACTOR, Redactor

_URL = re.compile(r"(?:https?|http\+docker|unix|tcp|npipe)://\S+")
_STEP = re.compile(r"^Step (\d+)/\d+ :")
_LAYER = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$")
_SUCCESS = re.compile(r"^Successfully built ([0-9a-f]{12,64})\s*$")
_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


def clean(text: str, redactor: Redactor = REDACTOR) -> str:
    """Engine text fit for a message: values masked, URLs (whose query strings carry the build
    arguments) dropped, one line."""
    text = redactor.redact(text)
    text = _URL.sub("<url>", text)
    return " ".join(text.split())


class LineSink:
    """Buffers text to whole lines, redacts each, and passes it to `on_line` (without the newline)."""

    def __init__(self, on_line: Callable[[str], None], redactor: Redactor = REDACTOR) -> None:
        self._on_line = on_line
        self._redactor = redactor
        self._buffer = ""

    def feed(self, text: str) -> None:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self._emit(line)

    def flush(self) -> None:
        if self._buffer:
            line, self._buffer = self._buffer, ""
            self._emit(line)

    def _emit(self, line: str) -> None:
        line = self._redactor.redact(line.rstrip("\r"))
        if line.strip():
            self._on_line(line)


class StreamState(Record, frozen=False):
    """What a build or push stream told us."""

    image_id: str | None = None
    short_id: str | None = None
    digest: str | None = None
    error: str | None = None
    last_step: str | None = None
    step: int = 0
    # Images the classic builder made for steps after FROM: on failure they are left behind, and
    # after an ENV step they hold values.
    produced: list[str] = field(default_factory=list)


def consume(
    messages: Any, sink: LineSink, redactor: Redactor = REDACTOR, state: StreamState | None = None
) -> StreamState:
    """Read the engine's messages to the end (or the first error), streaming text to `sink`."""
    state = state if state is not None else StreamState()
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        if "error" in message or "errorDetail" in message:
            detail = message.get("errorDetail")
            text = message.get("error") or (detail.get("message") if isinstance(detail, Mapping) else "")
            state.error = clean(str(text or "unknown error"), redactor)
            break
        if isinstance(message.get("stream"), str):
            text = message["stream"]
            sink.feed(text)
            for line in text.splitlines():
                step = _STEP.match(line)
                if step:
                    state.step = int(step.group(1))
                    state.last_step = clean(line, redactor)
                layer = _LAYER.match(line)
                if layer and state.step >= 2:
                    state.produced.append(layer.group(1))
                found = _SUCCESS.match(line)
                if found:
                    state.short_id = found.group(1)
        status = message.get("status")
        if isinstance(status, str):
            ident = message.get("id")
            progress = message.get("progress")
            # Per-layer progress bars arrive many times a second; the steps themselves are enough.
            if not progress:
                sink.feed(f"{ident}: {status}\n" if ident else f"{status}\n")
            found = _DIGEST.search(status)
            if found:
                state.digest = found.group(1)
        aux = message.get("aux")
        if isinstance(aux, Mapping):
            if isinstance(aux.get("ID"), str):
                state.image_id = aux["ID"]
            if isinstance(aux.get("Digest"), str):
                state.digest = aux["Digest"]
    sink.flush()
    return state
