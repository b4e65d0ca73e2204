"""The value shapes (issue 19) through the real Azure SDK against the emulator: `env_from:` prefix
sets (paging, collisions, disabled secrets, the list permission, `added`/`removed` in `check`),
`template:` + `from:` (byte-exact whatever the parts hold; each part's version checked), and
`certificate:` (EC and RSA, PKCS#12 and PEM, with a chain, checked with `cryptography`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from baker.check.gather import check_all
from baker.check.record import BakedImage
from baker.diagnose import Diagnosis
from baker.emulator import Emulator
from baker.errors import ManifestError, ResolutionFailed
from baker.model import Manifest
from baker.provenance import from_label, to_label
from baker.resolver import ResolvedEnv, resolve
from baker.secret import REDACTOR
from tests.integration.shapes_world import (
    AWKWARD,
    BULK,
    Shapes,
    certificates,
    shapes_fixture,  # noqa: F401 - the `shapes` fixture
)
from tests.support.fixtures_docker import ImageNames

pytestmark = pytest.mark.emulator


def _check(
    manifest: Manifest, resolved: ResolvedEnv, baked_from: Manifest | None = None
) -> dict[str, tuple[str, str]]:
    """`check` of `manifest` against an image baked from `resolved` (of `baked_from`):
    env -> (status, detail)."""
    origins = from_label(to_label(resolved, baked_from or manifest))
    literals = {e.env: e.value.reveal() for e in resolved.entries if e.properties is None and not e.parts}
    record = BakedImage("shapes/app:baked", None, "local", origins, literals)
    [checked] = check_all([(manifest, "shapes/app:baked")], records=[record])
    assert checked.error is None, checked.error
    assert checked.report is not None
    return {e.env: (e.status, e.detail) for e in checked.report.entries}


# --- env_from ---------------------------------------------------------------------------------------


def test_env_from_takes_every_enabled_secret_of_the_prefix_past_one_list_page(shapes: Shapes) -> None:
    m = shapes.manifest("env:\n  LOG_LEVEL: info\nenv_from:\n  - {prefix: bulk-}\n")
    resolved = resolve(m)
    values = resolved.build_args()
    expected = {f"ITEM_{i:02d}": f"bulk-value-{i:02d}-abcdef" for i in range(BULK)}
    assert values == {"LOG_LEVEL": "info", "MIXED_CASE": "bulk-mixed-case-value-777", **expected}
    assert shapes.list_requests() >= 2  # 33 secrets with the prefix and more: more than one page
    assert resolved.warnings == ("env_from skipped bulk-off (disabled; env_from[0] (prefix bulk-))",)
    assert all(e.prefix == "bulk-" for e in resolved.entries if e.env != "LOG_LEVEL")


def test_env_from_name_that_an_env_entry_sets_is_an_error_naming_both(shapes: Shapes) -> None:
    m = shapes.manifest("env:\n  LOG_LEVEL: info\nenv_from:\n  - {prefix: clash-}\n")
    with pytest.raises(ManifestError) as caught:
        resolve(m)
    text = str(caught.value)
    assert "clash-log-level" in text and "LOG_LEVEL" in text and "env.LOG_LEVEL" in text
    assert "env_from[0]" in text and "clash-value" not in text


def test_env_from_name_two_prefixes_give_is_an_error_naming_both(shapes: Shapes) -> None:
    m = shapes.manifest("env_from:\n  - {prefix: one-}\n  - {prefix: two-}\n")
    with pytest.raises(ManifestError) as caught:
        resolve(m)
    text = str(caught.value)
    assert "env_from[1] (prefix two-)'s secret two-x-y gives X_Y" in text
    assert "env_from[0] (prefix one-)'s secret one-x-y" in text


def test_env_from_secret_whose_name_is_no_env_var_name_is_an_error(shapes: Shapes) -> None:
    m = shapes.manifest("env_from:\n  - {prefix: bad-}\n")
    with pytest.raises(ManifestError, match="bad-9lives gives '9LIVES', which is not an env var name"):
        resolve(m)


def test_env_from_with_a_role_on_single_secrets_gets_missing_role_saying_list_is_needed(
    shapes: Shapes,
) -> None:
    m = shapes.manifest("env_from:\n  - {prefix: app-}\n", vault="narrow")
    with pytest.raises(ResolutionFailed) as caught:
        resolve(m)
    [failure] = caught.value.failures
    assert failure.error.diagnosis == Diagnosis.MISSING_ROLE
    assert "listing the vault" in failure.error.message
    assert failure.error.hint is not None and "on the VAULT" in failure.error.hint
    # The same identity reads the secret it holds a role on: only the list is refused.
    one = shapes.manifest("env:\n  ONE: {secret: app-one}\n", vault="narrow", name="one.yaml")
    assert resolve(one).build_args() == {"ONE": "narrow-value-111"}


def test_check_reports_added_removed_rotated_and_disabled_as_the_vault_set_changes(shapes: Shapes) -> None:
    m = shapes.manifest("env:\n  LOG_LEVEL: info\nenv_from:\n  - {prefix: bulk-}\n")
    resolved = resolve(m)
    assert {s for s, _ in _check(m, resolved).values()} == {"current", "literal"}
    shapes.emu.set_secret("shapes", "bulk-new-one", "bulk-new-value-123")
    shapes.emu.delete_secret("shapes", "bulk-item-03")
    shapes.emu.set_secret("shapes", "bulk-item-05", "bulk-rotated-value-555")
    shapes.emu.set_enabled("shapes", "bulk-item-07", False)
    statuses = _check(m, resolved)
    assert statuses["NEW_ONE"][0] == "added"
    assert statuses["ITEM_03"][0] == "removed"
    assert statuses["ITEM_05"][0] == "rotated"
    assert statuses["ITEM_07"][0] == "disabled"
    assert statuses["ITEM_00"][0] == "current"


# --- templates ----------------------------------------------------------------------------------


def test_template_is_byte_exact_whatever_each_part_holds(shapes: Shapes) -> None:
    template = 'a:{{ user }}|b:{{pass}}|c:{{  host }}|lit:{{ lit }}|"$HOME" \\\\ # = \\t'
    m = shapes.manifest(
        f"""\
        env:
          URL:
            template: '{template.replace("'", "''")}'
            from:
              user: {{secret: tpl-user}}
              pass: {{secret: tpl-pass}}
              host: {{secret: tpl-host}}
              lit: "{{{{ user }}}} literal"
        """
    )
    value = resolve(m).build_args()["URL"]
    expected = (
        f"a:{AWKWARD['tpl-user']}|b:{AWKWARD['tpl-pass']}|c:{AWKWARD['tpl-host']}|lit:{{{{ user }}}} literal"
        '|"$HOME" \\\\ # = \\t'
    )
    assert value == expected
    assert REDACTOR.redact(f"x {value} y") != f"x {value} y"


def test_template_reports_rotated_when_any_part_rotated_and_changed_when_its_text_changed(
    shapes: Shapes,
) -> None:
    body = """\
        env:
          URL:
            template: "{{ user }}:{{ pass }}"
            from:
              user: {secret: tpl-user}
              pass: {secret: tpl-pass}
        """
    m = shapes.manifest(body)
    resolved = resolve(m)
    assert _check(m, resolved)["URL"][0] == "current"
    shapes.emu.set_secret("shapes", "tpl-pass", "rotated-pass-value-1")
    status, detail = _check(m, resolved)["URL"]
    assert status == "rotated" and detail.startswith("part pass: ")
    edited = shapes.manifest(body.replace("{{ user }}:", "{{ user }}@"), name="edited.yaml")
    assert _check(edited, resolved, m)["URL"][0] == "changed"


# --- certificates -------------------------------------------------------------------------------


def _public(key: object) -> bytes:
    return key.public_key().public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize("name", ["cert-ec-pkcs12", "cert-rsa-pkcs12", "cert-ec-pem", "cert-rsa-pem"])
def test_certificate_gives_each_form_with_the_key_matching_and_the_chain_in_order(
    shapes: Shapes, name: str
) -> None:
    made = certificates()[name]
    m = shapes.manifest(
        "env:\n"
        + "".join(
            f"  {f.upper().replace('-', '_')}: {{certificate: {name}, format: {f}}}\n"
            for f in ("pem", "cert", "key", "pfx-base64")
        )
    )
    got = resolve(m).build_args()
    subjects = [c.subject for c in made.chain]
    chain = x509.load_pem_x509_certificates(got["CERT"].encode())
    assert [c.subject for c in chain] == subjects  # leaf, intermediate, root: as stored
    assert chain == list(made.chain)
    key = serialization.load_pem_private_key(got["KEY"].encode(), None)
    assert got["KEY"].startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    assert _public(key) == chain[0].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert got["PEM"] == got["KEY"] + got["CERT"]
    pfx_key, pfx_leaf, pfx_others = pkcs12.load_key_and_certificates(
        base64.b64decode(got["PFX_BASE64"]), None
    )
    assert pfx_leaf == chain[0] and list(pfx_others) == chain[1:]
    assert pfx_key is not None and _public(pfx_key) == _public(key)
    if made.content_type == "application/x-pkcs12":
        assert got["PFX_BASE64"] == made.value  # as stored


def test_certificate_naming_a_plain_secret_is_not_a_certificate_naming_its_content_type(
    shapes: Shapes,
) -> None:
    m = shapes.manifest(
        "env:\n  TLS: {certificate: not-cert, format: pem}\n  X: {certificate: tpl-user, format: key}\n"
    )
    with pytest.raises(ResolutionFailed) as caught:
        resolve(m)
    failures = {f.env: f.error for f in caught.value.failures}
    assert failures["TLS"].diagnosis == Diagnosis.NOT_A_CERTIFICATE
    assert "'text/plain'" in failures["TLS"].message
    assert "content type is none" in failures["X"].message
    assert "plain-not-a-cert-value" not in str(caught.value)


def test_world_file_certificates_are_served_with_their_content_type(
    shapes: Shapes, emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.shapes_world import APP, APP_SECRET, TENANT

    world = {
        "tenants": {TENANT: {"apps": {APP: {"secrets": [APP_SECRET]}}}},
        "vaults": {
            "certs": {
                "tenant": TENANT,
                "grants": [{"app": APP, "scope": "vault"}],
                "certificates": {"web-tls": {"key": "rsa", "format": "pem"}, "api-tls": {}},
            }
        },
    }
    emu = emulator_factory(world)
    shapes.emu = emu
    for name, value in emu.client_env().items():
        shapes.environ[name] = value
        monkeypatch.setenv(name, value)
    m = shapes.manifest(
        "env:\n  WEB: {certificate: web-tls, format: cert}\n  API: {certificate: api-tls, format: key}\n",
        vault="certs",
    )
    got = resolve(m)
    types = {e.env: e.properties.content_type for e in got.entries if e.properties}
    assert types == {"WEB": "application/x-pem-file", "API": "application/x-pkcs12"}
    assert (
        x509.load_pem_x509_certificates(got.build_args()["WEB"].encode())[0].subject.rfc4514_string()
        == "CN=web-tls"
    )


def test_test_connection_fails_an_env_from_credential_that_cannot_list(
    shapes: Shapes, capsys: pytest.CaptureFixture[str]
) -> None:
    from baker.cli import main

    shapes.manifest("env:\n  ONE: {secret: app-one}\nenv_from:\n  - {prefix: app-}\n", vault="narrow")
    assert main(["test-connection", "-f", str(shapes.tmp / "baker.yaml")]) == 1
    text = capsys.readouterr().out
    assert "env_from (prefix app-) needs the vault's list" in text and "missing-role" in text
    shapes.manifest("env:\n  ONE: {secret: app-one}\n", vault="narrow")
    assert main(["test-connection", "-f", str(shapes.tmp / "baker.yaml")]) == 0


@pytest.mark.docker
def test_check_of_an_engine_baked_prefix_set_exits_3_naming_added_and_removed(
    shapes: Shapes,
    busybox_base: str,
    image_names: ImageNames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from baker.cli import main

    tag = image_names()
    path = shapes.tmp / "baker.yaml"
    path.write_text(
        shapes.text("env_from:\n  - {prefix: one-}\n  - {prefix: bulk-}\n").replace("alpine:3", busybox_base),
        encoding="utf-8",
    )
    assert main(["build", "-f", str(path), "--tag", tag, "--json"]) == 0
    image_names.track(json.loads(capsys.readouterr().out)["image_id"])
    assert main(["check", "-f", str(path), "--image", tag, "--json"]) == 0
    capsys.readouterr()
    shapes.emu.set_secret("shapes", "one-z", "one-z-value-123456")
    shapes.emu.delete_secret("shapes", "bulk-item-04")
    assert main(["check", "-f", str(path), "--image", tag, "--json"]) == 3
    document = json.loads(capsys.readouterr().out)
    got = {e["env"]: e["status"] for e in document["entries"]}
    assert document["stale"] is True
    items = {f"ITEM_{i:02d}": "current" for i in range(BULK) if i != 4}
    assert got == {"X_Y": "current", "Z": "added", "MIXED_CASE": "current", "ITEM_04": "removed", **items}
