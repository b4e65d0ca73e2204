"""`baker.urls`, the one URL parse (issue 20, item 3): for every URL it accepts, the host and port it
reports (the ones the loopback, origin and realm checks go by) are the ones requests and urllib3
would connect to, for the URL as written and for its normalised text; a URL two parsers could read
differently is refused, never quoted."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest
import requests
import requests.adapters
import urllib3.exceptions
import urllib3.util
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from baker import loopback, urls
from baker.errors import ImageError, ManifestError
from baker.image.registry.client import RegistryClient
from baker.image.registry.refs import parse_ref
from baker.manifest.checks import load

_ADAPTER = requests.adapters.HTTPAdapter()


def connected(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of the connection pool requests would send `url` through: requests'
    own `prepare()`, then its adapter's choice of urllib3 pool (no connection is made)."""
    prepared = requests.Request("GET", url).prepare()
    pool = _ADAPTER.get_connection_with_tls_context(prepared, verify=True)
    assert pool.port is not None
    return pool.scheme, str(pool.host).strip("[]"), pool.port


def urllib3_verdict(url: str) -> urls.Url | str:
    """The oracle for `baker.urls`' own grammar: what `urls.parse` decided while urllib3's
    `parse_url` read every URL (before issue 17), as the `Url` read or the reason refused: the same
    first checks, then urllib3's reading, then the same host rule and agreement."""
    try:
        scheme_match = urls._SCHEME_RE.match(url)
        authority = re.split(r"[/?#]", url[scheme_match.end() + 2 :] if scheme_match else "", maxsplit=1)[0]
        if (
            urls._ODD_CHAR_RE.search(url)
            or scheme_match is None
            or scheme_match.group(1).lower() not in ("http", "https")
            or not url[scheme_match.end() :].startswith("//")
            or "@" in authority
            or "%" in authority
            or not authority
        ):
            urls.parse(url)  # the first checks are unchanged: they raise, saying which
            raise AssertionError("the first checks passed a URL they refuse")
        urls._check_port(authority)
        try:
            parsed = urllib3.util.parse_url(url)
        except (urllib3.exceptions.LocationParseError, ValueError):
            return "it does not parse as a URL"
        scheme, host = (parsed.scheme or "").lower(), (parsed.host or "").lower()
        if not host:
            return "it has no host"
        urls._check_host(host)
        port = parsed.port or {"http": 80, "https": 443}[scheme]
        written = f":{parsed.port}" if parsed.port is not None else ""
        text = f"{scheme}://{host}{written}{parsed.path or '/'}"
        if parsed.query is not None:
            text += f"?{parsed.query}"
        again = urllib3.util.parse_url(text)
        readings = [(again.scheme or "", (again.host or "").strip("[]"), again.port or port)]
        for each in (text, url) if url.isascii() else (text,):
            split = urllib.parse.urlsplit(each)
            try:
                split_port = split.port
            except ValueError:
                return "two URL parsers read it differently"
            if split.username is not None or split.password is not None:
                return "two URL parsers read it differently"
            readings.append((split.scheme.lower(), split.hostname or "", split_port or port))
        if any(reading != (scheme, host.strip("[]"), port) for reading in readings):
            return "two URL parsers read it differently"
        return urls.Url(scheme, host, port, text)
    except urls.UrlError as exc:
        return exc.reason


def verdict(url: str) -> urls.Url | str:
    """What `urls.parse` decides (no urllib3): the `Url` read, or the reason refused.  `urls.target`,
    which also has urllib3 read the URL before a request, decides the same."""
    try:
        parsed = urls.parse(url)
    except urls.UrlError as exc:
        with pytest.raises(urls.UrlError):
            urls.target(url)
        return exc.reason
    assert urls.target(url) == parsed
    return parsed


SCHEMES = st.one_of(
    st.sampled_from(["http", "https"]), st.sampled_from(["HTTP", "HtTpS", "ftp", "http:", ""])
)
HOSTS = st.sampled_from(
    [
        "127.0.0.1",
        "127.0.0.2",
        "localhost",
        "LocalHost",
        "a.localhost",
        "example.com",
        "EXAMPLE.com",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[fe80::1%25eth0]",
        "[fe80::1%eth0]",
        "0x7f.1",
        "2130706433",
        "127.1",
        "münchen.de",
        "a_b.example",
        "127.0.0.1.",
        "%31%32%37.0.0.1",
        "exa%6dple.com",
        "",
    ]
)
PORTS = st.sampled_from(
    ["", ":", ":0", ":80", ":0080", ":5000", ":65535", ":65536", ":+80", ":\uff18\uff10", ": 80"]
)
ODD = st.sampled_from(
    ["\\", "@", "%", "%5C", "%40", "%2F", "\t", "\n", "\r", " ", "\x00", "\x7f", "#", "?", "/", ":", "[", "]"]
)
PIECE = st.one_of(HOSTS, PORTS, ODD, st.text(alphabet="abc:/.@\\%?#[]0189 ", max_size=6))


def _mostly_plain(odd: st.SearchStrategy[str], plain: str = "") -> st.SearchStrategy[str]:
    """`plain` three times in four, else an odd piece: enough URLs are accepted to prove something."""
    return st.one_of(st.just(plain), st.just(plain), st.just(plain), odd)


@st.composite
def url_shapes(draw: st.DrawFn) -> str:
    """A URL from the shapes parsers disagree on: user info, a second host after a backslash or an
    `@`, percent-escapes, IPv6 (with zones), odd ports, control characters, mixed-case schemes."""
    scheme = draw(SCHEMES)
    slashes = draw(_mostly_plain(st.sampled_from(["/", "\\\\", "///", "/\\"]), "//"))
    userinfo = draw(
        _mostly_plain(st.sampled_from(["user@", "user:pw@", "@", "a\\@", "127.0.0.1@", "u%40v@"]))
    )
    host = draw(st.one_of(st.sampled_from(["127.0.0.1", "localhost", "registry.example", "[::1]"]), HOSTS))
    port = draw(_mostly_plain(PORTS, ":5000"))
    infix = draw(_mostly_plain(st.lists(PIECE, min_size=1, max_size=3).map("".join)))
    path = draw(
        st.sampled_from(["", "/", "/v2/", "/x?y=1", "/a\\b", "/@c", "/%2e%2e/x", "#frag", "?q", "/a b"])
    )
    return f"{scheme}:{slashes}{userinfo}{host}{port}{infix}{path}"


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(url_shapes())
def test_what_is_checked_is_what_requests_would_connect_to(url: str) -> None:
    decided = verdict(url)
    assert decided == urllib3_verdict(url)  # baker's grammar decides as urllib3's reading did
    if isinstance(decided, str):
        event(f"refused: {decided}")
        assert url not in decided
        return
    parsed = decided
    event("accepted")
    checked = (parsed.scheme, parsed.host.strip("[]"), parsed.port)
    assert connected(parsed.text) == checked
    assert connected(url) == checked  # azure-identity connects to the variable's value as written
    assert urls.parse(parsed.text) == parsed
    assert loopback.in_clear(url) == (parsed.scheme != "https" and not loopback.is_loopback(parsed.host))


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(["http://", "https://", "HTTP://", "http:/", ""]),
    st.text(alphabet="htps:/\\@%[]:.0127abc# \t\x00\u00fc\uff0e\uff20\uff0f\uff3c\u3002", max_size=30),
)
def test_any_text_accepted_is_connected_to_as_checked(prefix: str, rest: str) -> None:
    """Text with few rules (non-ASCII dots, slashes, `@` and backslashes among it)."""
    url = prefix + rest
    parsed = verdict(url)
    assert parsed == urllib3_verdict(url)  # baker's grammar decides as urllib3's reading did
    if isinstance(parsed, str):
        return
    event("accepted")
    assert connected(url) == connected(parsed.text) == (parsed.scheme, parsed.host.strip("[]"), parsed.port)


@given(
    url_shapes(),
    st.sampled_from(["//127.0.0.2\\@127.0.0.1/x", "http://127.0.0.2:1\\@127.0.0.1:2/", "/v2/x", "x", "?n=1"]),
)
@settings(max_examples=300, deadline=None)
def test_a_location_joined_to_a_base_is_connected_to_as_checked(base: str, location: str) -> None:
    try:
        read = urls.parse(base)
    except urls.UrlError:
        return
    as_urllib3_read = urllib3_verdict(urllib.parse.urljoin(read.text, location))
    try:
        joined = urls.join(read, location)
    except urls.UrlError as exc:
        assert "\\" in location or as_urllib3_read == exc.reason
        return
    assert as_urllib3_read == joined  # baker's grammar decides as urllib3's reading did
    assert "\\" not in joined.text
    assert connected(joined.text) == (joined.scheme, joined.host.strip("[]"), joined.port)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.2:1\\@127.0.0.1:2/x", "backslash"),
        ("http://evil.example\\@127.0.0.1/", "backslash"),
        ("http://127.0.0.1@evil.example/x", "user name or password"),
        ("https://user:pw@registry.example/v2/", "user name or password"),
        ("http://127.0.0.1\t.evil.example/", "control character"),
        ("http://127.0.0.1:80\n/", "control character"),
        (" http://127.0.0.1/", "control character"),
        ("http://[fe80::1%25eth0]/", "percent-escape"),
        ("http://exa%6dple.com/", "percent-escape"),
        ("http://127.0.0.1:0080/", "port"),
        ("http://127.0.0.1:0/", "port"),
        ("http://127.0.0.1:65536/", "port"),
        ("http://127.0.0.1:/", "port"),
        ("http://0x7f.1/", "plain name or address"),
        ("http://2130706433/", "plain name or address"),
        ("http://127.1/", "plain name or address"),
        ("http://localhost./", "plain name or address"),
        ("ftp://localhost/", "not an http"),
        ("registry.example/v2/", "not an http"),
        ("http:/127.0.0.1/", "no host"),
        ("https:///x", "no host"),
    ],
)
def test_a_url_two_parsers_could_read_differently_is_refused_saying_why(url: str, reason: str) -> None:
    with pytest.raises(urls.UrlError) as info:
        urls.parse(url)
    assert reason in info.value.reason
    assert url.strip() not in info.value.reason


@pytest.mark.parametrize(
    ("url", "origin", "text"),
    [
        ("HTTP://LocalHost:5000/v2/", ("http", "localhost", 5000), "http://localhost:5000/v2/"),
        ("https://registry.example", ("https", "registry.example", 443), "https://registry.example/"),
        ("http://[::1]:8080/x?y=1#f", ("http", "[::1]", 8080), "http://[::1]:8080/x?y=1"),
        ("https://münchen.de/x", ("https", "xn--mnchen-3ya.de", 443), "https://xn--mnchen-3ya.de/x"),
        (
            "https://r.example/v2/a/blobs/uploads/u?_state=x%2Fy",
            ("https", "r.example", 443),
            "https://r.example/v2/a/blobs/uploads/u?_state=x%2Fy",
        ),
    ],
)
def test_a_plain_url_is_read_once_and_normalised(url: str, origin: tuple[str, str, int], text: str) -> None:
    parsed = urls.parse(url)
    assert (parsed.origin, parsed.text) == (origin, text)


def test_a_backslash_url_is_in_clear_and_its_refusal_names_the_variable_not_the_url() -> None:
    url = "http://127.0.0.2:1\\@127.0.0.1:2/token"
    assert loopback.in_clear(url)
    refusal = loopback.refusal("ACTIONS_ID_TOKEN_REQUEST_URL", url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    assert refusal is not None and "ACTIONS_ID_TOKEN_REQUEST_URL" in refusal and "backslash" in refusal
    assert "127.0.0.2" not in refusal


def test_the_oracle_sees_the_red_teams_url_as_the_attack_it_is() -> None:
    """What the property tests compare with: requests connects to the host before the backslash,
    where `urllib.parse` (the old check) reads the host after the `@`."""
    url = "http://127.0.0.2:1\\@127.0.0.1:2/token"
    assert connected(url) == ("http", "127.0.0.2", 1)
    assert urllib.parse.urlsplit(url).hostname == "127.0.0.1"
    with pytest.raises(urls.UrlError):
        urls.parse(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example\\.vault.azure.net",
        "https://my-vault.vault.azure.net:0443",
        "https://exa%6dple.com",
    ],
)
def test_a_vault_url_two_parsers_could_read_differently_is_a_manifest_problem(
    tmp_path: Path, url: str
) -> None:
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage: {from: busybox}\ncredentials:\n  kv:\n    provider: azure-key-vault\n"
        f"    vault_url: {json.dumps(url)}\nenv:\n  A: kv/a\n"
    )
    with pytest.raises(ManifestError) as info:
        load(
            manifest,
            environ={"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s3cret-x"},
        )
    assert "credentials.kv.vault_url" in info.value.message and "one way only" in info.value.message


@pytest.mark.parametrize("ref", ["localhost:0080/team/app:t", "localhost:99999/team/app:t"])
def test_a_registry_address_with_an_odd_port_is_refused_before_any_connection(ref: str) -> None:
    with pytest.raises(ImageError) as info:
        RegistryClient(parse_ref(ref))
    assert "port is not a number from 1 to 65535" in info.value.message


GRAMMAR_HOSTS = st.sampled_from(
    [
        "localhost",
        "Registry.Example",
        "127.0.0.1",
        "0X7F.1",
        "[::1]",
        "[::FFFF:127.0.0.1]",
        "[1:2:3:4:5:6:7:8]",
        "[1:2:3:4:5:6:7:8:9]",
        "[1::2::3]",
        "[::ffff:999.1.1.1]",
        "[::1:2:3:4:5:6:7]",
        "[12345::1]",
        "[zz]",
        "[]",
        "[::1",
        "a[b",
        "a]b",
        "münchen.de",
        "MÜNCHEN.de",
        "xn--mnchen-3ya.de",
        "straße.de",
        "\u0130stanbul.example",
        "a\u3002b",
        "a\uff0eb",
        "\u00e9.\u00e9",
        "\U0001f600.example",
        "a..b",
        "-a.example",
        "a_b.example",
        "a!b.example",
        'a"b',
        "",
    ]
)
SEGMENTS = st.sampled_from(
    [
        ".",
        "..",
        "",
        "a",
        "%2e",
        "%2E%2e",
        "%2f",
        "%zz",
        "%",
        "~u",
        "ü",
        "\u3002",
        "\ud800",
        '"',
        "<>",
        "^`{|}",
        "[x]",
        "a;b=c",
        "@",
        ":",
    ]
)


@st.composite
def grammar_shapes(draw: st.DrawFn) -> str:
    """URLs past the first checks, to compare the grammar with urllib3 where it has work left: IPv6
    forms one of urllib3 and `ipaddress` reads and the other refuses, non-ASCII and odd names, and
    paths and queries with dot segments, escapes (good and bad) and characters to encode."""
    scheme = draw(st.sampled_from(["http", "HTTPS"]))
    host = draw(GRAMMAR_HOSTS)
    port = draw(st.sampled_from(["", ":5000", ":443"]))
    path = "".join("/" + part for part in draw(st.lists(SEGMENTS, max_size=4)))
    query = draw(
        st.one_of(st.just(""), st.lists(SEGMENTS, max_size=3).map(lambda parts: "?" + "&".join(parts)))
    )
    fragment = draw(st.sampled_from(["", "#", "#f/../x"]))
    return f"{scheme}://{host}{port}{path}{query}{fragment}"


@settings(max_examples=600, deadline=None)
@given(grammar_shapes())
def test_baker_reads_a_url_as_urllib3_reads_it_without_importing_urllib3(url: str) -> None:
    """Issue 17: `parse` is a grammar of its own (validate and plan import no urllib3); it decides
    what urllib3's reading decided, the normalised text included, and `target` agrees."""
    decided = verdict(url)
    event("accepted" if isinstance(decided, urls.Url) else f"refused: {decided}")
    assert decided == urllib3_verdict(url)


@pytest.mark.parametrize(
    ("url", "decided"),
    [
        ("http://[::1]/a/./b/../c?x=%2f y", "it holds a control character or space"),
        ("http://[::1]/a/./b/../c/..", "http://[::1]/a/"),
        ("http://h/%7e/ü?q=<%zz>", "http://h/%7E/%C3%BC?q=%3C%25zz%3E"),
        ("http://h/..//x", "http://h/x"),
        ("http://H:5000?q", "http://h:5000/?q"),
        ("https://straße.de/", "https://xn--strae-oqa.de/"),
        ("http://[zz]/", "it does not parse as a URL"),
        ("http://[1:2:3:4:5:6:7:8:9]/", "it does not parse as a URL"),
        ("http://[::ffff:999.1.1.1]/", "its host is not a plain name or address"),
        ("http://a[b/", "it does not parse as a URL"),
        ("http://a\uff0eb/", "it does not parse as a URL"),
    ],
)
def test_the_grammar_normalises_and_refuses_as_urllib3_does(url: str, decided: str) -> None:
    result = verdict(url)
    assert (result.text if isinstance(result, urls.Url) else result) == decided
    assert result == urllib3_verdict(url)


def test_a_url_urllib3_would_read_otherwise_is_refused_before_a_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`target` has urllib3 read the URL too: were it ever to read another host than the grammar
    did (an urllib3 release that changed), the request is not made."""
    url = "https://registry.example/v2/"
    assert urls.target(url).host == "registry.example"
    real = urllib3.util.parse_url
    monkeypatch.setattr(urllib3.util, "parse_url", lambda text: real(text.replace("registry", "other")))
    assert urls.parse(url).host == "registry.example"  # the offline check: no urllib3
    with pytest.raises(urls.UrlError) as info:
        urls.target(url)
    assert info.value.reason == "two URL parsers read it differently"


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("https://corp-v\u0430ult.example", "https://xn--corp-vult-5yh.example"),
        ("https://Demo.Vault.Azure.NET/", "https://demo.vault.azure.net/"),
        ("https://demo.vault.localhost:8443", "https://demo.vault.localhost:8443"),
        ("https://a\\@b.example", "https://a\\@b.example"),  # refused by the checks already: as written
    ],
)
def test_a_url_is_shown_as_connected_to(written: str, shown: str) -> None:
    assert urls.as_connected(written) == shown
