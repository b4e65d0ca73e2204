"""`baker.proxies`: a request to a loopback host never goes through a proxy (Go's rule, whatever
NO_PROXY says); a request to any other host honours the environment's proxy as requests reads it.
(The red team's rtu-3 reproductions in tests/redteam/test_rtu_urls.py show the loopback side end to
end: the registry client, a managed identity endpoint, a tcp:// engine.)"""

from __future__ import annotations

import pytest
import requests

from baker.loopback import is_loopback
from baker.proxies import DirectToLoopback, baker_session, for_url
from tests.support.listeners import Recorder

PROXIES = {"http": "http://proxy.example:3128", "https": "http://proxy.example:3128"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5000/v2/",
        "http://127.8.9.10/",
        "http://localhost:80/msi/token",
        "https://demo.vault.localhost:8443/secrets/x",
        "http://[::1]:5000/v2/",
        "http+docker://localhost/v1.41/_ping",
    ],
)
def test_a_loopback_destination_goes_through_no_proxy(url: str) -> None:
    assert for_url(url, PROXIES) == {}


@pytest.mark.parametrize(
    "url",
    [
        "https://myvault.vault.azure.net/secrets/x",
        "http://registry.example:5000/v2/",
        "https://localhost.example/",  # a name that merely begins with localhost
        "http://128.0.0.1/",
        "http://[::2]/",
    ],
)
def test_any_other_destination_keeps_the_environments_proxies(url: str) -> None:
    assert for_url(url, PROXIES) == PROXIES


def test_no_proxies_stay_none_for_any_destination() -> None:
    assert for_url("https://myvault.vault.azure.net/", None) == {}


def _recording_proxy() -> Recorder:
    """A forward proxy stand-in on 127.0.0.3: keeps each request's head, answers 204."""
    return Recorder("127.0.0.3", lambda head: b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")


def test_a_session_still_sends_a_request_for_another_host_through_the_environments_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A corporate proxy keeps working: the request for a non-loopback host reaches the proxy (a
    stand-in on loopback, which never resolves the name), in the absolute form a proxy is asked."""
    proxy = _recording_proxy()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    session = baker_session(requests.Session())
    try:
        assert session.get("http://registry.example/v2/", timeout=5).status_code == 204
    finally:
        session.close()
        proxy.close()
    assert [head.split(b"\r\n", 1)[0] for head in proxy.heads] == [
        b"GET http://registry.example/v2/ HTTP/1.1"
    ]


def test_every_adapter_a_session_has_is_wrapped_once() -> None:
    session = requests.Session()
    baker_session(baker_session(session))
    assert all(isinstance(a, DirectToLoopback) for a in session.adapters.values())
    assert not any(isinstance(a.inner, DirectToLoopback) for a in session.adapters.values())
    session.close()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.1", True),  # inet_aton's short form: the resolver connects to 127.0.0.1
        ("2130706433", True),
        ("[::ffff:127.0.0.1]:2375", True),  # IPv4-mapped: Go's IsLoopback says yes too
        ("localhost.", True),
        ("LOCALHOST.:80", True),
        ("128.1", False),
        ("[::ffff:10.0.0.1]", False),
        ("0x7f.1", True),
        ("127.1.example", False),
        ("", False),
    ],
)
def test_loopback_reads_every_form_the_kernel_reaches_as_loopback(host: str, loopback: bool) -> None:
    """rtf-1: a DOCKER_HOST on 127.1 or ::ffff:127.0.0.1 went through the environment's proxy."""
    assert is_loopback(host) is loopback
