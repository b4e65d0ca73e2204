"""`files:` take every value form (r19a's shapes): a certificate as a PEM file whose key matches its
certificate, a template composed of awkward parts, byte for byte; a container of the engine-baked
image reads them; `check` names a rotated template part behind a file."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from baker.check.gather import check_all
from baker.check.record import BakedImage
from baker.image.bake import bake
from baker.provenance import from_label, to_label
from baker.record import replace
from baker.resolver import resolve
from tests.integration.shapes_world import (
    AWKWARD,
    Shapes,
    certificates,
    shapes_fixture,  # noqa: F401 - the `shapes` fixture
)
from tests.support.fixtures_docker import ImageNames

pytestmark = pytest.mark.emulator
ENGINE = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
BODY = """\
env: {PLAIN: text}
files:
  /run/secrets/tls.pem: {certificate: cert-rsa-pkcs12, format: pem, mode: "0400", uid: 1000}
  /etc/app/url:
    template: "u={{ user }}|p={{ pass }}"
    from:
      user: {secret: tpl-user}
      pass: {secret: tpl-pass}
    mode: "0440"
    gid: 7
"""


def _public(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def test_a_certificate_and_a_template_resolve_into_files_byte_exact(shapes: Shapes) -> None:
    manifest = shapes.manifest(BODY)
    resolved = resolve(manifest)
    assert [e.env for e in resolved.entries] == ["PLAIN"]
    files = {f.env: f.value.reveal() for f in resolved.files}
    assert files["/etc/app/url"] == f"u={AWKWARD['tpl-user']}|p={AWKWARD['tpl-pass']}"
    pem = files["/run/secrets/tls.pem"].encode()
    chain = x509.load_pem_x509_certificates(pem)
    assert chain == list(certificates()["cert-rsa-pkcs12"].chain)
    key = serialization.load_pem_private_key(pem, None)
    assert _public(key) == chain[0].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (entry,) = [f for f in manifest.files if f.path == "/etc/app/url"]
    assert (entry.mode, entry.uid, entry.gid) == (0o440, 0, 7)


def test_check_names_a_rotated_template_part_behind_a_file(shapes: Shapes) -> None:
    manifest = shapes.manifest(BODY)
    origins = from_label(to_label(resolve(manifest), manifest))
    record = BakedImage("shapes/app:baked", None, "local", origins, {"PLAIN": "text"})
    shapes.emu.set_secret("shapes", "tpl-pass", "rotated-pass-value-123")
    [checked] = check_all([(manifest, "shapes/app:baked")], records=[record])
    assert checked.report is not None
    statuses = {e.env: e.status for e in checked.report.entries}
    assert statuses == {"PLAIN": "literal", "/run/secrets/tls.pem": "current", "/etc/app/url": "rotated"}
    assert {e.env: e.to_json().get("file") for e in checked.report.entries}["/etc/app/url"] == "/etc/app/url"


@pytest.mark.docker
def test_the_engine_bakes_the_certificate_file_and_a_container_reads_it(
    shapes: Shapes, busybox_base: str, image_names: ImageNames, docker_client: Any
) -> None:
    loaded = shapes.manifest(BODY)
    manifest = replace(loaded, image=replace(loaded.image, base=busybox_base))
    resolved = resolve(manifest)
    name = image_names("files-shapes")
    result = bake(
        manifest, resolved, tags=[name], push=False, on_line=lambda line: None, client=docker_client
    )
    image_names.track(result.image_id)
    expected = {f.env: f.value.reveal().encode() for f in resolved.files}
    for path, user in (("/run/secrets/tls.pem", "1000"), ("/etc/app/url", "1000:7")):
        seen = subprocess.run(
            ["docker", "--host", ENGINE, "run", "--rm", "--network", "none", "--user", user,
             "--entrypoint", "/bin/cat", name, path],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        assert seen.returncode == 0 and seen.stdout == expected[path], (path, seen.stderr)
