"""`baker.urls`, the one URL parse (issue 20, item 3): for every URL it accepts, the host and port it
reports (the ones the loopback, origin and realm checks go by) are the ones requests and urllib3
would connect to, for the URL as written and for its normalised text; a URL two parsers could read
differently is refused, never quoted."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest
import requests
import requests.adapters
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
    try:
        parsed = urls.parse(url)
    except urls.UrlError as exc:
        event(f"refused: {exc.reason}")
        assert url not in exc.reason
        return
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
    try:
        parsed = urls.parse(url)
    except urls.UrlError:
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
        joined = urls.join(urls.parse(base), location)
    except urls.UrlError:
        return
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
