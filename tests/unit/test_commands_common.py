from __future__ import annotations

import io
from pathlib import Path

import pytest

from baker.commands._common import check_references, load_manifest
from baker.errors import UsageError
from baker.output import Output


def test_every_command_shows_the_manifests_warnings_when_loading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "s3cret-value-x")
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage: {from: 'base:1'}\ncredentials:\n"
        "  used: {provider: azure-key-vault, vault_url: 'https://a.vault.azure.net', tenant_id: t,\n"
        "         client_id: c, default: true}\n"
        "  spare: {provider: azure-key-vault, vault_url: 'https://b.vault.azure.net', tenant_id: t,\n"
        "          client_id: c, client_secret: '${SPARE_SECRET}'}\n"
        "env:\n  X: {secret: x}\n"
    )
    stderr = io.StringIO()
    loaded = load_manifest(Output(stdout=io.StringIO(), stderr=stderr), manifest)
    assert loaded.used_credentials == ("used",)
    assert "warning:" in stderr.getvalue() and "SPARE_SECRET" in stderr.getvalue()


@pytest.mark.parametrize(
    ("base", "tags"), [("bad base", []), ("base:1", ["UPPER/Case:tag"]), (None, ["a\nb"])]
)
def test_bad_image_references_are_usage_errors(base: str | None, tags: list[str]) -> None:
    with pytest.raises(UsageError):
        check_references(base, tags)
