"""Shared test setup.

- An autouse guard makes any name resolution outside loopback fail loudly, so no test can reach a
  real cloud by accident, and no test sends a DNS query at all: `*.localhost` resolves locally
  (libnss-myhostname), and `.invalid` names (the DNS-failure tests) get the immediate negative answer
  RFC 6761 asks resolver libraries to give, without asking the machine's resolver.
- `unavailable(reason)`: a test that needs Docker or the emulator and cannot get it skips on a
  developer's machine but FAILS in CI (`CI=true`); tests never skip to go green.
- Fixture plugins: `tests.support.fixtures_emulator` (the emulator, real SDK clients) and
  `tests.support.fixtures_docker` (a real engine, base images made with `docker import`).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

pytest_plugins = ["tests.support.fixtures_emulator", "tests.support.fixtures_docker"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

_real_getaddrinfo = socket.getaddrinfo


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C is Python's default in every test process, whoever started the suite: a shell without
    job control starts a background job (`make test &`, nohup) with SIGINT ignored, every child
    inherits that, and the tests that stop baker (or the emulator) with Ctrl-C would then wait out
    their timeouts and fail.  A handler set here is reset to the default in every child at exec."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"required in CI but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def _allowed(host: Any) -> bool:
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    name = name.rstrip(".").lower()
    if name in {"localhost", ""} or name.endswith(".localhost"):
        return True
    from baker.loopback import is_loopback  # 127.1, ::ffff:127.0.0.1: the kernel's loopback too

    try:
        return ipaddress.ip_address(name).is_loopback or is_loopback(name)
    except ValueError:
        return is_loopback(name)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = (host.decode() if isinstance(host, bytes) else str(host or "")).rstrip(".").lower()
    if name == "invalid" or name.endswith(".invalid"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    if not _allowed(host):
        raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve non-loopback host {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_real_cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    # Never pick up a developer's real Azure identity from the environment.
    for var in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST"):
        monkeypatch.delenv(var, raising=False)
    yield


@pytest.fixture(autouse=True)
def _fresh_redactor() -> Iterator[None]:
    """Each test starts with an empty process-wide Redactor, so a leak test can never pass because an
    earlier test happened to register the same value."""
    from baker.secret import REDACTOR

    REDACTOR.__init__()  # type: ignore[misc]
    yield


@pytest.fixture(autouse=True)
def _fresh_registry_logins() -> Iterator[None]:
    """Each test is a run of its own: no registry login or token kept from an earlier test's run
    (baker keeps them for the life of one process, `baker.image.registry.auth`)."""
    from baker.image.registry import auth

    auth.forget()
    yield


# The suite's long poles (minutes of engine work and signal timing each, measured with --durations).
# Under pytest-xdist (`make test`) they are handed out first, so each runs beside the rest of the
# suite instead of after it; a run on one process keeps the plain order.  test_build_interrupt goes
# last instead: beside the trials (both stop bakes on the one engine) its bakes slowed past its 60 s
# wait for a build step.
LONG_POLES = (
    "tests/integration/test_build_interrupt_trials.py",
    "tests/integration/test_examples_ci_run.py",
    "tests/integration/test_ci_install.py",
    "tests/integration/test_ci_act.py",
    "tests/integration/test_canaries_swapped.py",
    "tests/integration/test_demo.py",
    "tests/redteam/test_rt5_registry_probes.py",
    "tests/redteam/test_rt7_authority.py",
)
LAST = ("tests/integration/test_build_interrupt.py",)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[Any]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    root = config.rootpath

    def pole(item: Any) -> int:
        path = Path(str(item.path)).resolve()
        relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else ""
        if relative in LONG_POLES:
            return LONG_POLES.index(relative)
        return len(LONG_POLES) + (1 if relative in LAST else 0)

    items.sort(key=pole)  # stable: every file keeps its own order, every worker the same order
