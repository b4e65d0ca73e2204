"""`files:` in the manifest (baker.manifest.files and its walk in baker.manifest.checks): paths,
mode, uid, gid, the value forms `env:` takes, every problem at once; and the resolver keeping files
apart from Env."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from baker.errors import ManifestError
from baker.manifest.checks import load
from baker.manifest.files import nested, parents, path_problem
from baker.model import FileEntry, LiteralValue, SecretRef
from baker.resolver import resolve
from tests.support.fakes import FakeProvider
from tests.support.manifests import azure_credential, write_manifest


def _load(tmp_path: Path, files: str) -> object:
    path = write_manifest(
        tmp_path,
        base="busybox",
        credentials={"kv": azure_credential("https://v.vault.azure.net", "t", "c", client_secret="${SP}")},
        env={"A": "b"},
        files=textwrap.indent(textwrap.dedent(files), "  "),
    )
    return load(path, environ={"SP": "client-secret-value"})


def test_a_file_takes_a_secret_a_json_key_or_a_literal_with_mode_and_owner(tmp_path: Path) -> None:
    manifest = _load(
        tmp_path,
        """\
        /run/secrets/tls.pem: {secret: web-tls, mode: "0400", uid: 1000}
        /etc/app/token: {secret: "creds#token", mode: 0440, gid: 5}
        /etc/app/flag: "literal text"
        """,
    )
    files = manifest.files  # type: ignore[attr-defined]
    assert [(f.path, f.mode, f.uid, f.gid) for f in files] == [
        ("/run/secrets/tls.pem", 0o400, 1000, 0),
        ("/etc/app/token", 0o440, 0, 5),  # an unquoted 0440 is read as written: octal
        ("/etc/app/flag", 0o444, 0, 0),  # the default: Docker's for secrets
    ]
    assert files[0].source == SecretRef("web-tls", "web-tls", None, None, "kv")
    assert files[1].source == SecretRef("creds#token", "creds", "token", None, "kv")
    assert files[2].source == LiteralValue("literal text")
    assert [name for name, _ in manifest.references] == ["/run/secrets/tls.pem", "/etc/app/token"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("run/x", "not an absolute path"),
        ("/run//x", "not a normalised path"),
        ("/run/./x", "not a normalised path"),
        ("/run/../etc/passwd", "not a normalised path"),
        ("/run/x/", "not a normalised path"),
        ("/", "not a normalised path"),
        ("/run/a\nb", "control character"),
        ("/run/a\tb", "control character"),
        ("/run/.wh.passwd", "whiteout"),
        ("/run/.wh..wh..opq", "whiteout"),
        ("/tmp/key", "sticky"),
        ("/var/tmp/key", "sticky"),
        ("/proc/key", "runtime mounts"),
        ("/dev/shm/key", "runtime mounts"),
        ("/run/" + "x" * 256, "longer than"),
    ],
)
def test_a_path_that_cannot_name_a_baked_file_is_refused(path: str, words: str) -> None:
    problem = path_problem(path)
    assert problem is not None and words in problem


@pytest.mark.parametrize("path", ["/run/secrets/tls.pem", "/etc/app/é.txt", "/a", "/run/..x", "/tmpx/key"])
def test_a_normal_absolute_path_is_accepted(path: str) -> None:
    assert path_problem(path) is None


def test_every_problem_of_files_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        _load(
            tmp_path,
            """\
            /run/../x: a
            /run/a: {secret: s, mode: "4755"}
            /run/b: {secret: s, mode: "0999"}
            /run/c: {secret: s, uid: bob, gid: -1}
            /run/d: {secret: s, owner: root}
            /run/e: {mode: "0400"}
            """,
        )
    text = str(caught.value.message)
    for words in (
        ":9: files./run/../x",
        ":10: files./run/a.mode: mode '4755' is not octal permission bits",
        ":11: files./run/b.mode",
        ":12: files./run/c.uid: uid 'bob' is not a numeric id",
        ":12: files./run/c.gid",
        ":13: files./run/d.owner: unknown key 'owner'",
        ":14: files./run/e.secret: a reference needs `secret: NAME`",
    ):
        assert words in text, words


def test_one_file_cannot_be_the_directory_of_another(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        _load(tmp_path, "/etc/app: a\n/etc/app/x: b\n")
    assert "'/etc/app' is a file here, so it cannot be a directory of '/etc/app/x'" in caught.value.message
    assert nested(["/a/b", "/a", "/c"]) == [("/a", "/a/b")]
    assert parents("/run/secrets/x") == ["/run", "/run/secrets"]


def test_files_resolve_apart_from_env_each_value_named_by_its_path(tmp_path: Path) -> None:
    manifest = _load(tmp_path, '/run/k: {secret: "creds#key"}\n/run/l: text\n')
    provider = FakeProvider(manifest.credentials["kv"], {"creds": ('{"key": "v-key-value"}', "ver1")})  # type: ignore[attr-defined]
    resolved = resolve(manifest, providers={"kv": provider})  # type: ignore[arg-type]
    assert [e.env for e in resolved.entries] == ["A"]
    assert [(f.env, f.value.reveal(), f.version) for f in resolved.files] == [
        ("/run/k", "v-key-value", "ver1"),
        ("/run/l", "text", None),
    ]
    assert isinstance(manifest.files[0], FileEntry)  # type: ignore[attr-defined]


def test_the_files_example_plans_each_file_with_its_form_mode_and_owner(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from baker.cli import main

    example = Path(__file__).resolve().parents[2] / "examples" / "files.yaml"
    assert main(["plan", "-f", str(example), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    rows = {(r["file"], r["source"], r["mode"], r["uid"], r["gid"]) for r in document["files"]}
    assert rows == {
        ("/run/secrets/tls.pem", "certificate", "0400", 1000, 0),
        ("/etc/app/database-password", "secret", "0440", 0, 1000),
        ("/etc/app/database.url", "template", "0400", 1000, 0),
        ("/etc/app/region", "literal", "0444", 0, 0),
    }
    assert [row["env"] for row in document["env"]] == ["TLS_KEY_FILE"]
