"""`build --in-registry` asks its tags' registries before any value is fetched (rtf-4): what each tag
names now is read (with the push's credentials) by the pipeline before resolution
(`inregistry.check_targets`) and handed to the bake, which reads it again when handed a check made
for other tags or options, and reads each tag once more just before it moves it (the undo puts
back what the tag named then).  Debian's docker-registry, fronted by the loopback proxy of
tests/redteam/proxy.py (it records every request and acts at an exact moment), values from the
emulator over TLS."""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import baker
from baker.emulator import Emulator
from baker.errors import ImageError
from baker.image import inregistry
from baker.model import EnvEntry, ImageSpec, LiteralValue, Manifest
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import Secret
from tests.integration.test_build_inregistry import SECRETS, bake, inregistry_manifest, vault
from tests.integration.test_build_inregistry_undo import _fronted, _refuse_tag
from tests.redteam.proxy import Proxy, proxies
from tests.support import oci_bases
from tests.support.oci_bases import StartRegistry, push_base

__all__ = ["proxies", "vault"]  # fixtures
pytestmark = [pytest.mark.docker, pytest.mark.emulator]
registries = oci_bases.registries  # the fixture
REVOKE = ("--revoke-superseded",)
WRITES = ("PUT", "POST", "PATCH", "DELETE")


def _nobody() -> str:
    """host:port on loopback where nothing listens (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        return f"127.0.0.2:{probe.getsockname()[1]}"


def _fetched(vault: Emulator) -> Counter[str]:
    """How many times each secret was read from the vault."""
    return Counter(r.path.split("/")[2] for r in vault.requests() if r.path.startswith("/secrets/"))


@pytest.mark.parametrize("extra", [(), REVOKE], ids=["bake", "revoke"])
def test_a_tag_on_a_registry_nobody_answers_is_refused_before_any_value_is_fetched_and_nothing_is_written(
    extra: tuple[str, ...],
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    assert bake(capsys, manifest, f"{proxy.host}/team/app:baked")[0] == 0
    old = registry.api.tag_digest("team/app", "baked")
    vault.reset_stats()
    proxy.seen.clear()
    code, document = bake(
        capsys, manifest, f"{proxy.host}/team/app:baked", f"{_nobody()}/team/app:baked", extra=extra
    )
    assert code == 1, document
    assert document["error"] == "ImageError"
    assert vault.requests() == []  # not even a sign-in: resolution never started
    assert proxy.seen and not [(m, p) for m, p in proxy.seen if m in WRITES]
    assert registry.api.tag_digest("team/app", "baked") == old


@pytest.mark.parametrize("extra", [(), REVOKE], ids=["bake", "revoke"])
def test_every_tag_is_read_before_the_first_value_is_fetched_and_each_value_is_fetched_once(
    extra: tuple[str, ...],
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    tags = (f"{proxy.host}/team/app:baked", f"{proxy.host}/team/web:baked")
    assert bake(capsys, manifest, *tags)[0] == 0
    vault.reset_stats()
    fetched_at_first_read: dict[str, int] = {}

    def count_at_first_read(method: str, path: str, status: int) -> None:
        if (method, status) == ("GET", 200) and path.endswith("/manifests/baked"):
            fetched_at_first_read.setdefault(path, sum(_fetched(vault).values()))

    proxy.after = count_at_first_read
    code, document = bake(capsys, manifest, *tags, extra=extra)
    assert code == 0, document
    assert fetched_at_first_read == {"/v2/team/app/manifests/baked": 0, "/v2/team/web/manifests/baked": 0}
    assert _fetched(vault) == Counter({f"inreg-{name.lower()}": 1 for name in SECRETS})
    for name in ("team/app", "team/web"):
        assert registry.api.tag_digest(name, "baked") == document["digest"]


def test_a_tag_moved_after_the_first_read_is_put_back_to_what_it_named_just_before_the_bake_moved_it(
    registries: StartRegistry,
    proxies: Any,
    vault: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The first read is made before resolution; someone moves the tag meanwhile; the bake moves it
    # and then fails on its second tag.  The undo must put back the image the tag named just before
    # this bake moved it, not the older one the first read saw (which would drop the other move).
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest = inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref)
    first, second = f"{proxy.host}/team/app:first", f"{proxy.host}/team/app:second"
    assert bake(capsys, manifest, first)[0] == 0
    old = registry.api.tag_digest("team/app", "first")
    other = push_base(registry.api, "team/app")  # what someone else puts under the tag meanwhile
    raw, media_type = registry.api.manifest("team/app", other.digest)
    moved: list[str] = []

    def move_after_the_first_read(method: str, path: str, status: int) -> None:
        if not moved and (method, path, status) == ("GET", "/v2/team/app/manifests/first", 200):
            moved.append(registry.api.put_manifest("team/app", "first", raw, media_type))

    proxy.after = move_after_the_first_read
    _refuse_tag(proxy, "second")
    code, document = bake(capsys, manifest, first, second)
    assert code == 1, document
    assert (document["left"], document["not_restored"]) == ([], [])
    assert moved == [other.digest] != [old]
    assert registry.api.tag_digest("team/app", "first") == other.digest


def _literal_bake(base: str) -> tuple[Manifest, ResolvedEnv]:
    literal = LiteralValue("rtf4-literal-value")
    manifest = Manifest(
        path="baker.yaml",
        image=ImageSpec(base=base, build=None),
        credentials={},
        env=(EnvEntry("A", literal),),
    )
    resolved = ResolvedEnv(
        (
            Resolved(
                env="A", value=Secret("rtf4-literal-value"), source=literal, version=None, properties=None
            ),
        )
    )
    return manifest, resolved


def _tag_reads_before_the_first_write(proxy: Proxy, tag_path: str) -> int:
    """The GETs of the tag (a 401's challenge included) before the bake wrote anything."""
    first_write = next(i for i, (method, _) in enumerate(proxy.seen) if method in WRITES)
    return sum(1 for method, path in proxy.seen[:first_write] if (method, path) == ("GET", tag_path))


@pytest.mark.parametrize(
    ("checked_for", "read_again"),
    [
        ((("baked",), False), False),  # made for this bake: taken, the tag not read again before a push
        ((("baked",), True), True),  # made with --revoke-superseded, for a bake without: made again
        ((("other",), False), True),  # made for another tag: made again
    ],
)
def test_python_api_takes_a_check_made_for_its_own_tags_and_options_only(
    checked_for: tuple[tuple[str, ...], bool],
    read_again: bool,
    registries: StartRegistry,
    proxies: Any,
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest, resolved = _literal_bake(base.ref)
    names, revoking = checked_for
    checked = inregistry.check_targets(
        manifest, [f"{proxy.host}/team/app:{name}" for name in names], revoke_superseded=revoking
    )
    proxy.seen.clear()
    tag = f"{proxy.host}/team/app:baked"
    result = inregistry.bake_in_registry(
        manifest, resolved, tags=[tag], on_line=lambda line: None, checked=checked
    )
    assert result.revocation is None
    assert bool(_tag_reads_before_the_first_write(proxy, "/v2/team/app/manifests/baked")) is read_again
    assert registry.api.tag_digest("team/app", "baked") == result.digest


def test_python_api_build_in_registry_refuses_an_unanswered_tag_before_any_value_is_fetched(
    registries: StartRegistry, proxies: Any, vault: Emulator, tmp_path: Path
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=True)
    base = push_base(registry.api, "team/app")
    manifest = baker.load(inregistry_manifest(tmp_path / "baker.yaml", vault, base.ref))
    vault.reset_stats()
    proxy.seen.clear()
    with pytest.raises(ImageError):
        baker.build_in_registry(manifest, tags=[f"{proxy.host}/team/app:baked", f"{_nobody()}/app:baked"])
    assert vault.requests() == []
    assert not [(m, p) for m, p in proxy.seen if m in WRITES]
    assert registry.api.tag_digest("team/app", "baked") is None
