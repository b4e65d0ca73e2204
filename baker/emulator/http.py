"""The request and response values the handlers pass around (no sockets here)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from baker.record import Record, field


class Request(Record):
    method: str
    host: str  # the Host header's name, lower-case, without the port
    path: str  # percent-decoded, without the query
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""

    def form(self) -> dict[str, str]:
        fields = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in fields.items()}

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


class Response(Record, frozen=False):
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False  # close the connection without answering (fault injection)


def json_response(status: int, document: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(document, separators=(",", ":")).encode()
    return Response(status, body, [("Content-Type", "application/json; charset=utf-8"), *(headers or [])])
