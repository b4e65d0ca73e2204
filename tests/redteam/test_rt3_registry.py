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
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return f"127.0.0.1:{server.server_address[1]}", seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# --- finding rt3-1: a tag list whose next page loops back is read 1,000 times ----------------------


def test_rt3_1_a_tag_list_whose_next_page_is_itself_is_refused_at_once(
    registry: Callable[[Handler], tuple[str, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry whose `Link: rel=next` names the page just read (or any page already read) never
    ends its list: baker reads it PAGES_MAX (1,000) times, 48 s on loopback with no latency, hours at
    a slow registry's pace (each page has its own 120 s bound), and then says it lists "more than
    100000 tags", which it does not.  A page already read should end the listing as an error."""

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        body = json.dumps({"name": "team/app", "tags": ["a"]}).encode()
        link = '</v2/team/app/tags/list?n=100>; rel="next"'
        _send(h, 200, body, Content_Type="application/json", Link=link)

    monkeypatch.setattr(walk, "PAGES_MAX", 30)  # the loop shows in 30 pages as in 1,000
    host, seen = registry(answer)
    started = time.monotonic()
    with walk.Reader(parse_ref(f"{host}/team/app")) as reader, pytest.raises(ImageError):
        walk.list_tags(reader)
    pages = sum(1 for line in seen if "tags/list" in line)
    assert pages <= 3, f"{pages} pages read in {time.monotonic() - started:.0f} s"


def test_rt3_1_a_tag_list_that_loops_through_two_pages_is_refused_when_it_comes_back(
    registry: Callable[[Handler], tuple[str, list[str]]],
) -> None:
    """Page 1 names page 2 as next, page 2 names page 1: the second page's link is the loop."""

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        second = "last=a" in h.path
        body = json.dumps({"name": "team/app", "tags": ["b" if second else "a"]}).encode()
        link = "/v2/team/app/tags/list?n=100" + ("" if second else "&last=a")
        _send(h, 200, body, Content_Type="application/json", Link=f'<{link}>; rel="next"')

    host, seen = registry(answer)
    with walk.Reader(parse_ref(f"{host}/team/app")) as reader, pytest.raises(ImageError, match="loops"):
        walk.list_tags(reader)
    assert sum(1 for line in seen if "tags/list" in line) == 2


# --- finding rt3-2: find trusts HEAD alone: a tag HEAD says is gone (or names another digest) ------

SECRET = "db-password"
VERSION = "0123456789abcdef0123456789abcdef"


def _blob(document: dict[str, Any]) -> tuple[bytes, str]:
    raw = json.dumps(document).encode()
    return raw, "sha256:" + hashlib.sha256(raw).hexdigest()


def _image(labels: dict[str, str]) -> tuple[bytes, str, bytes, str]:
    config, config_digest = _blob(
        {"architecture": "amd64", "os": "linux", "config": {"Env": ["A=b"], "Labels": labels}, "rootfs": {}}
    )
    manifest, digest = _blob(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": len(config),
            },
            "layers": [],
        }
    )
    return manifest, digest, config, config_digest


LEAKED = _image(
    {
        LABEL: encode(
            (
                Origin(
                    env="DB_PASSWORD",
                    kind="secret",
                    credential="kv",
                    vault_url="https://kv.vault.azure.net",
                    secret=SECRET,
                    version=VERSION,
                ),
            )
        )
    }
)
CLEAN = _image({})


def _lying_head(head: str) -> Handler:
    """Tag `leak` names LEAKED (GET by tag, what `docker pull` reads); HEAD says otherwise: `gone`
    answers 404, `other` names CLEAN's digest (a cache in front of the registry with a stale HEAD)."""

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        manifest_type = {"Content_Type": "application/vnd.oci.image.manifest.v1+json"}
        path = h.path.split("?")[0]
        if path == "/v2/team/app/tags/list":
            _send(h, 200, json.dumps({"name": "team/app", "tags": ["leak"]}).encode())
        elif path == "/v2/team/app/manifests/leak":
            if h.command == "HEAD" and head == "gone":
                _send(h, 404)
            elif h.command == "HEAD" and head == "other":
                _send(h, 200, CLEAN[0], Docker_Content_Digest=CLEAN[1], **manifest_type)
            else:
                _send(h, 200, LEAKED[0], Docker_Content_Digest=LEAKED[1], **manifest_type)
        elif path.startswith("/v2/team/app/manifests/"):
            found = {LEAKED[1]: LEAKED[0], CLEAN[1]: CLEAN[0]}.get(path.rpartition("/")[2])
            _send(h, 200 if found else 404, found or b"", **manifest_type)
        elif path.startswith("/v2/team/app/blobs/"):
            found = {LEAKED[3]: LEAKED[2], CLEAN[3]: CLEAN[2]}.get(path.rpartition("/")[2])
            _send(h, 200 if found else 404, found or b"")
        else:
            _send(h, 200, b"{}")

    return answer


@pytest.mark.parametrize("head", ["gone", "other"])
def test_rt3_2_find_never_says_all_clear_when_head_and_get_disagree(
    registry: Callable[[Handler], tuple[str, list[str]]], capsys: pytest.CaptureFixture[str], head: str
) -> None:
    """The tag `leak` serves (GET, what every `docker pull` reads) an image baked from the leaked
    version; the registry's HEAD for it says 404 (`gone`: find counts it as deleted since the
    listing and says nothing) or names a clean image's digest (`other`).  `find` must not exit 0
    with "no match": it should read what it judges (GET) or name the tag as not read."""
    host, _ = registry(_lying_head(head))
    code = main(["find", "--secret", f"{SECRET}@{VERSION}", f"{host}/team/app"])
    out = capsys.readouterr()
    assert code != 0 or "leak" in out.out, out.out + out.err


def test_rt3_2_control_find_names_the_tag_when_head_tells_the_truth(
    registry: Callable[[Handler], tuple[str, list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    """The stand-in of rt3-2 is a registry `find` reads: with an honest HEAD, the tag is named."""
    host, _ = registry(_lying_head("honest"))
    code = main(["find", "--secret", f"{SECRET}@{VERSION}", f"{host}/team/app"])
    out = capsys.readouterr().out
    assert code == 0 and "leak" in out and "1 tag" in out


# --- finding rt3-4: a tag page's Link header is searched in quadratic time -------------------------


def test_rt3_4_a_long_link_header_is_read_in_bounded_time(
    registry: Callable[[Handler], tuple[str, list[str]]],
) -> None:
    """`_NEXT` (`<([^>]*)>\\s*;\\s*rel="?next"?`) is tried from every `<` and runs to the next `>`
    each time: a Link header of n `<` then one real next link costs O(n^2).  http.client lets a
    header line reach 64 KiB: 60,000 `<` cost 50 s of CPU per page, outside every request deadline
    (the search runs after the answer was read), and a page that names itself as next repeats it up
    to PAGES_MAX (1,000) times.  Here 24,000 `<`: about 8 s; a linear parse takes milliseconds."""

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        body = json.dumps({"name": "team/app", "tags": ["a"]}).encode()
        if "last=" in h.path:
            _send(h, 200, body, Content_Type="application/json")
            return
        link = "<" * 24000 + '> , </v2/team/app/tags/list?n=100&last=a>; rel="next"'
        _send(h, 200, body, Content_Type="application/json", Link=link)

    host, _ = registry(answer)
    started = time.monotonic()
    with walk.Reader(parse_ref(f"{host}/team/app")) as reader:
        assert walk.list_tags(reader) == ["a"]
    assert time.monotonic() - started < 2


# --- finding rt3-5: a 401's WWW-Authenticate is parsed in quadratic time ---------------------------


def test_rt3_5_a_long_www_authenticate_challenge_is_read_in_bounded_time(
    registry: Callable[[Handler], tuple[str, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`auth.challenge` runs `(\\w+)="([^"]*)"` over the challenge's parameters: from each start in
    a run of n word characters with no `=` it consumes the run and backtracks, O(n^2).  A registry
    that answers 401 with `WWW-Authenticate: Bearer aaaa...` (64 KiB, what http.client takes) costs
    about 140 s of CPU per 401, after the answer arrived (no deadline covers it), on every road
    (check, build --in-registry, find's requests).  Here 20,000 characters and a 1 s deadline."""
    from baker.image.registry import client as registry_client
    from baker.image.registry import read

    monkeypatch.setattr(registry_client, "DEADLINE", 1.0)

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        _send(h, 401, b"{}", WWW_Authenticate="Bearer " + "a" * 20000)

    host, _ = registry(answer)
    started = time.monotonic()
    with pytest.raises(ImageError):
        read.fetch_config(f"{host}/team/app:t")
    assert time.monotonic() - started < 3


# --- finding rt3-6: tag lists are held whole, any tag name of any length ---------------------------


def test_rt3_6_a_tag_list_of_huge_names_is_refused_not_held(
    registry: Callable[[Handler], tuple[str, list[str]]],
) -> None:
    """A tag is at most 128 characters (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, the distribution
    spec); `list_tags` keeps whatever a page lists, up to `TAGS_MAX` (4 MiB) a page for `PAGES_MAX`
    (1,000) pages: 4 GiB held before a single tag is read.  Measured: 100 pages of one 4 MiB name
    each took `find`'s reader to 449 MiB of memory in 11 s.  A name outside the grammar should be
    refused (or at least not held)."""

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        page = int(h.path.split("last=")[1]) if "last=" in h.path else 0
        body = json.dumps({"name": "team/app", "tags": [f"t{page}-" + "x" * (4 * 1024 * 1024 - 64)]}).encode()
        link = {"Link": f'</v2/team/app/tags/list?n=100&last={page + 1}>; rel="next"'} if page < 4 else {}
        _send(h, 200, body, Content_Type="application/json", **link)

    host, _ = registry(answer)
    with walk.Reader(parse_ref(f"{host}/team/app")) as reader:
        try:
            tags = walk.list_tags(reader)
        except ImageError:
            return
    assert all(len(tag) <= 128 for tag in tags), f"{sum(map(len, tags)) >> 20} MiB of tag names held"


@pytest.mark.parametrize(
    "name", ["../../other/manifests/x", "a" * 129, "-leading-dash", "tag with space", ""]
)
def test_rt3_6_a_listed_name_outside_the_tag_grammar_is_refused_and_never_asked_for(
    registry: Callable[[Handler], tuple[str, list[str]]], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        if h.path.startswith("/v2/team/app/tags/list"):
            _send(h, 200, json.dumps({"name": "team/app", "tags": ["good", name]}).encode())
        else:
            _send(h, 404)

    host, seen = registry(answer)
    code = main(["find", "--secret", SECRET, f"{host}/team/app"])
    err = capsys.readouterr().err
    assert code == 1 and "not a tag" in err, err
    assert [line for line in seen if "/manifests/" in line] == []
