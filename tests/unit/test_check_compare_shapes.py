"""staleness.compare on the value shapes: a template speaks with its worst part; a certificate's
format and a template's text are part of where a value points."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from baker.check.compare import compare, wanted
from baker.diagnose import Diagnosis
from baker.errors import ProviderError
from baker.manifest.checks import load
from baker.model import Manifest
from baker.provenance import Origin, from_resolved
from baker.providers.base import SecretProperties
from baker.record import replace
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import Secret

BODY = """\
version: 1
image: {from: alpine:3}
credentials:
  kv: {provider: azure-key-vault, vault_url: https://kv.vault.azure.net, tenant_id: t, client_id: c,
       default: true}
env:
  URL:
    template: "{{ a }}-{{ b }}-{{ c }}"
    from: {a: {secret: sa}, b: {secret: sb}, c: lit}
  TLS: {certificate: web-tls, format: FORMAT}
"""


def manifest(tmp_path: Path, body: str = BODY, form: str = "pem") -> Manifest:
    path = tmp_path / f"{form}.yaml"
    path.write_text(textwrap.dedent(body).replace("FORMAT", form), encoding="utf-8")
    return load(path, environ={"AZURE_CLIENT_SECRET": "x-client-secret-1"})


def baked(m: Manifest) -> tuple[Origin, ...]:
    resolved = ResolvedEnv(
        (
            Resolved(
                "URL",
                Secret("v"),
                m.env[0].source,
                None,
                None,
                (("a", SecretProperties("sa", "a1")), ("b", SecretProperties("sb", "b1")), ("c", None)),
            ),
            Resolved("TLS", Secret("c"), m.env[1].source, "t1", SecretProperties("web-tls", "t1")),
        )
    )
    return from_resolved(resolved, m)


def answers(
    **versions: str | ProviderError,
) -> dict[tuple[str, str, str | None], SecretProperties | ProviderError]:
    out: dict[tuple[str, str, str | None], SecretProperties | ProviderError] = {}
    for name, version in versions.items():
        out[("kv", name.replace("_", "-"), None)] = (
            version if isinstance(version, ProviderError) else SecretProperties(name, version)
        )
    return out


def statuses(
    m: Manifest, origins: tuple[Origin, ...], **versions: str | ProviderError
) -> dict[str, tuple[str, str]]:
    report = compare(m, origins, answers(**versions), {})
    return {e.env: (e.status, e.detail) for e in report.entries}


def test_wanted_reads_each_part_of_a_template_and_the_certificate(tmp_path: Path) -> None:
    m = manifest(tmp_path)
    assert sorted(wanted(m, baked(m))) == [("kv", "sa", None), ("kv", "sb", None), ("kv", "web-tls", None)]


@pytest.mark.parametrize(
    ("sa", "sb", "status", "detail"),
    [
        ("a1", "b1", "current", "2 parts, none rotated"),
        ("a1", "b2", "rotated", "part b: v b1 -> b2"),
        ("a2", "b2", "rotated", "part a: v a1 -> a2"),
        (
            ProviderError("gone", diagnosis=Diagnosis.SECRET_NOT_FOUND),
            "b2",
            "deleted",
            "part a: no longer in the vault",
        ),
    ],
)
def test_a_template_is_as_stale_as_its_worst_part(
    tmp_path: Path, sa: str | ProviderError, sb: str, status: str, detail: str
) -> None:
    m = manifest(tmp_path)
    got = statuses(m, baked(m), sa=sa, sb=sb, web_tls="t1")
    assert got["URL"] == (status, detail)
    assert got["TLS"][0] == "current"


def test_a_changed_template_text_literal_part_or_certificate_format_is_changed(tmp_path: Path) -> None:
    m = manifest(tmp_path)
    origins = baked(m)
    edited = manifest(tmp_path, BODY.replace("c: lit", "c: other"), form="key")
    got = statuses(edited, origins, sa="a1", sb="b1", web_tls="t1")
    assert got["URL"] == ("changed", "the template's text or literal parts changed")
    assert got["TLS"] == ("changed", "certificate format pem -> key")
    swapped = manifest(tmp_path, BODY.replace("b: {secret: sb}", "b: {secret: sc}"), form="pem")
    assert statuses(swapped, origins, sa="a1", sb="b1", web_tls="t1")["URL"] == (
        "changed",
        "part b: secret sb -> sc",
    )


def test_a_template_part_pinned_is_never_rotated(tmp_path: Path) -> None:
    body = BODY.replace("b: {secret: sb}", "b: {secret: sb, version: 0123456789abcdef0123456789abcdef}")
    m = manifest(tmp_path, body)
    origins = baked(m)
    [url] = [o for o in origins if o.env == "URL"]
    pinned = replace(url.parts[1], version="0123456789abcdef0123456789abcdef")
    origins = (replace(url, parts=(url.parts[0], pinned, url.parts[2])), origins[1])
    report = compare(
        m,
        origins,
        {
            ("kv", "sa", None): SecretProperties("sa", "a1"),
            ("kv", "sb", "0123456789abcdef0123456789abcdef"): SecretProperties(
                "sb", "0123456789abcdef0123456789abcdef"
            ),
            ("kv", "web-tls", None): SecretProperties("web-tls", "t1"),
        },
        {},
    )
    assert report.entries[0].status == "current"
