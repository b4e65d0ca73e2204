"""`baker find` on repositories with many tags sharing a few digests (issue 20, items 4 and 6): each
distinct index, manifest and config is read once, every request has its own bound (not one for the
whole scan), and a scan that could not read everything exits 1 naming what it could not read.

Debian's docker-registry holds baked-looking indexes (their configs carry baker's provenance label),
pushed over the registry API; a loopback proxy (tests/redteam/proxy.py) in front counts requests,
slows them or refuses some."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from typing import Any

import pytest

from baker.cli import main
from baker.image.registry import walk
from tests.integration.test_build_inregistry_undo import _fronted
from tests.redteam.proxy import proxies
from tests.support import oci_bases
from tests.support.oci_bases import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, Api, StartRegistry

__all__ = ["proxies"]  # the fixture
registries = oci_bases.registries  # the fixture

SECRET = "db-password"
VERSIONS = ("0" * 31 + "a", "0" * 31 + "b")
ERROR = (500, {"Content-Type": "application/json"}, b'{"errors":[{"code":"UNKNOWN","message":"boom"}]}')


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _label(version: str) -> str:
    record = {"ref": SECRET, "credential": "kv", "version": version}
    return json.dumps({"v": 1, "credentials": {}, "env": {"DB_PASSWORD": record}}, separators=(",", ":"))


def push_baked_index(api: Api, repo: str, version: str, architectures: tuple[str, ...]) -> bytes:
    """An index of one image per architecture, each config labelled as baker labels a bake of
    `version`; the index's bytes (put it under any number of tags)."""
    entries = []
    for arch in architectures:
        config = json.dumps(
            {
                "architecture": arch,
                "os": "linux",
                "config": {"Labels": {"dev.baker.provenance": _label(version)}},
                "rootfs": {"type": "layers", "diff_ids": []},
            }
        ).encode()
        api.put_blob(repo, config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": _digest(config), "size": len(config)},
                "layers": [],
            }
        ).encode()
        digest = api.put_manifest(repo, _digest(manifest), manifest, OCI_MANIFEST)
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": len(manifest),
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    api.put_manifest(repo, _digest(index), index, OCI_INDEX)
    return index


def _find(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["find", "--json", "--secret", SECRET, *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def _human(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["find", "--secret", SECRET, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


ARCHES = ("amd64", "arm64", "ppc64le")


@pytest.fixture
def world(registries: StartRegistry, proxies: Any) -> Any:
    """40 tags over two distinct 3-platform indexes, fronted by a counting proxy."""
    registry, proxy = _fronted(registries, proxies, deletes=False)
    indexes = [push_baked_index(registry.api, "team/app", v, ARCHES) for v in VERSIONS]
    for n in range(40):
        index = indexes[n % 2]
        registry.api.put_manifest("team/app", f"t{n:02d}", index, OCI_INDEX)
    proxy.seen.clear()
    return registry, proxy, [_digest(i) for i in indexes]


def test_shared_digests_are_read_once_whatever_number_of_tags_name_them(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, proxy, digests = world
    code, document, _ = _find(capsys, f"{proxy.host}/team/app")
    assert code == 0, document
    assert document["scanned"] == 40 and len(document["matches"]) == 40
    assert {m["digest"] for m in document["matches"]} == set(digests)
    gets = Counter(path for method, path in proxy.seen if method == "GET" and "/v2/team/app/" in path)
    repeated = {path: n for path, n in gets.items() if n > 1 and "/tags/list" not in path}
    assert repeated == {}  # every index, platform manifest and config: one GET
    per_tag = Counter(path.rsplit("/", 1)[1] for _, path in proxy.seen if "/manifests/t" in path)
    assert set(per_tag.values()) == {1}  # one request per tag (its digest)
    reads = [p for m, p in proxy.seen if m in ("GET", "HEAD") and "/v2/team/app/" in p]
    # the tag list (twice: its first answer asks for credentials), a GET a tag, the rest once
    assert len(reads) == 2 + 40 + 2 * (1 + 2 * len(ARCHES)), reads


def test_a_scan_longer_than_one_requests_bound_completes(
    world: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, proxy, _ = world
    monkeypatch.setattr(walk, "REQUEST_DEADLINE", 1.0, raising=False)
    monkeypatch.setattr("baker.image.registry.client.DEADLINE", 1.0)
    proxy.rewrite = lambda method, path: (time.sleep(0.15), path)[1]
    started = time.monotonic()
    code, document, _ = _find(capsys, f"{proxy.host}/team/app")
    assert time.monotonic() - started > 1.0  # the whole scan outlasted any one request's bound
    assert (code, document["scanned"], len(document["matches"]), document["unreadable"]) == (0, 40, 40, [])


def test_a_tag_that_cannot_be_read_makes_the_scan_exit_1_naming_it(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, proxy, _ = world
    proxy.rewrite = lambda method, path: ERROR if path.endswith("/manifests/t07") else path
    code, document, err = _find(capsys, f"{proxy.host}/team/app")
    assert code == 1, document
    assert document["unreadable"] == [f"{proxy.host}/team/app:t07"]
    assert len(document["matches"]) == 39
    assert f"{proxy.host}/team/app:t07" in err


def test_a_request_that_outlasts_its_bound_is_named_and_the_scan_exits_1(
    world: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, proxy, digests = world
    monkeypatch.setattr(walk, "REQUEST_DEADLINE", 1.0, raising=False)
    monkeypatch.setattr("baker.image.registry.client.DEADLINE", 1.0)
    slow = f"/manifests/{digests[1]}"
    proxy.rewrite = lambda method, path: (time.sleep(3) if path.endswith(slow) else None, path)[1]
    code, out, err = _human(capsys, f"{proxy.host}/team/app")
    assert code == 1
    assert "20 tags of 40 baked" in out  # the index that answered in time
    odd = [f"{proxy.host}/team/app:t{n:02d}" for n in range(1, 40, 2)]
    assert all(name in err for name in odd)
    assert "did not answer within 1 s" in err


def test_a_registry_platform_name_cannot_forge_report_lines(
    registries: StartRegistry, proxies: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    registry, proxy = _fronted(registries, proxies, deletes=False)
    forged = "amd64\n0 tags of 1 baked from db-password (any version)\nall clear"
    index = push_baked_index(registry.api, "team/odd", VERSIONS[0], (forged,))
    registry.api.put_manifest("team/odd", "latest", index, OCI_INDEX)
    code, out, err = _human(capsys, f"{proxy.host}/team/odd")
    assert code == 0, err
    lines = out.splitlines()
    assert "all clear" not in lines
    assert [line for line in lines if line.startswith("0 tags")] == []
    assert lines[-1] == "1 tag of 1 baked from db-password (any version)"


def test_one_tag_named_alone_reads_that_tag_and_a_missing_one_is_named(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, proxy, digests = world
    code, document, _ = _find(capsys, f"{proxy.host}/team/app:t03")
    assert (code, [m["digest"] for m in document["matches"]]) == (0, [digests[1]])
    code, document, err = _find(capsys, f"{proxy.host}/team/app:no-such-tag")
    assert (code, document["unreadable"]) == (1, [f"{proxy.host}/team/app:no-such-tag"])
    assert "has no such tag" in err


def test_a_registry_that_stops_answering_is_not_asked_tag_after_tag(
    world: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, proxy, _ = world
    monkeypatch.setattr(walk, "REQUEST_DEADLINE", 0.5)
    slow = "/v2/team/app/manifests/t"  # what each tag names (a GET by tag)
    proxy.rewrite = lambda method, path: (time.sleep(1.5) if slow in path else None, path)[1]
    code, document, err = _find(capsys, f"{proxy.host}/team/app")
    assert code == 1
    assert len(document["unreadable"]) == 40 and document["matches"] == []
    assert "stopped answering" in err
    asked = [p for _, p in proxy.seen if slow in p]
    assert len(asked) < 40  # once walk.WORKERS requests ran out their bound, the rest were not sent
