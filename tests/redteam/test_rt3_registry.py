"""Red-team round 3 follow-up (rt3, on 8124e99): the registry road after issue 20's fixes, played
by small hostile registries on loopback where a real one cannot misbehave that way.

Each test states what should hold; it is xfail(strict) until the finding is fixed."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from baker.cli import main
from baker.errors import ImageError
from baker.image.registry import walk
from baker.image.registry.refs import parse_ref
from baker.provenance import LABEL, Origin, encode

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


def _send(h: http.server.BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str) -> None:
    h.send_response(status)
    for name, value in headers.items():
        h.send_header(name.replace("_", "-"), value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)


@pytest.fixture
def registry() -> Iterator[Callable[[Handler], tuple[str, list[str]]]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(answer: Handler) -> tuple[str, list[str]]:
        seen: list[str] = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                seen.append(f"{self.command} {self.path}")
                answer(self)

            do_GET = do_HEAD = do_DELETE = _any

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# --- finding rt3-1: a tag list whose next page loops back is read 1,000 times ----------------------


@pytest.mark.xfail(strict=True, reason="rt3-1: list_tags has no loop detection (PAGES_MAX pages read)")
def test_rt3_1_a_tag_list_whose_next_page_is_itself_is_refused_at_once(
    registry: Callable[[Handler], tuple[str, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry whose `Link: rel=next` names the page just read (or any page already read) never
    ends its list: baker reads it PAGES_MAX (1,000) times, 48 s on loopback with no latency, hours at
    a slow registry's pace (each page has its own 120 s bound), and then says it lists "more than
    100000 tags", which it does not.  A page already read should end the listing as an error."""

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        body = json.dumps({"name": "team/app", "tags": ["a"]}).encode()
        _send(h, 200, body, Content_Type="application/json", Link='</v2/team/app/tags/list?n=100>; rel="next"')

    monkeypatch.setattr(walk, "PAGES_MAX", 30)  # the loop shows in 30 pages as in 1,000
    host, seen = registry(answer)
    started = time.monotonic()
    with walk.Reader(parse_ref(f"{host}/team/app")) as reader, pytest.raises(ImageError):
        walk.list_tags(reader)
    pages = sum(1 for line in seen if "tags/list" in line)
    assert pages <= 3, f"{pages} pages read in {time.monotonic() - started:.0f} s"
