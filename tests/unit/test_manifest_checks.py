"""baker.manifest.checks: YAML -> Manifest, with every offline check reported at once."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import baker.manifest.credentials
import baker.output
import baker.secret
from baker.errors import EXIT_USAGE, ManifestError, Problem
from baker.manifest.checks import load
from baker.model import LiteralValue, Manifest, SecretRef
from baker.secret import Redactor
from tests.support.manifests import azure_credential, write_manifest


@pytest.fixture(autouse=True)
def fresh_redactor(monkeypatch: pytest.MonkeyPatch) -> Redactor:
    """A redactor of this test's own, so values registered here never mask another test's output."""
    redactor = Redactor()
    for module in (baker.secret, baker.output, baker.manifest.credentials):
        monkeypatch.setattr(module, "REDACTOR", redactor)
    return redactor


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "baker.yaml"
ENV = {"AZURE_CLIENT_SECRET": "client-secret-value-123"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "baker.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Manifest:
    return load(write(tmp_path, text), environ=ENV if environ is None else environ)


def problems_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> tuple[Problem, ...]:
    with pytest.raises(ManifestError) as info:
        load_text(tmp_path, text, environ)
    assert info.value.exit_code == EXIT_USAGE
    return info.value.problems


def problem_at(problems: tuple[Problem, ...], key: str) -> Problem:
    matches = [p for p in problems if p.key == key]
    assert matches, f"no problem at {key!r} in {[str(p) for p in problems]}"
    return matches[0]


GOOD = """\
version: 1
image:
  from: app:1
credentials:
  main:
    provider: azure-key-vault
    vault_url: https://v.vault.azure.net
    tenant_id: t
    client_id: c
    default: true
env:
  A: x
  B:
    secret: b
"""


def test_good_manifest_loads(tmp_path: Path) -> None:
    manifest = load_text(tmp_path, GOOD)
    assert manifest.image.base == "app:1"
    assert manifest.env[0].source == LiteralValue("x")
    assert manifest.env[1].source == SecretRef("b", "b", None, None, "main")
    cred = manifest.credentials["main"]
    assert (cred.tenant_id, cred.client_id, cred.vault_url) == ("t", "c", "https://v.vault.azure.net")
    assert cred.client_secret is not None and cred.client_secret.reveal() == ENV["AZURE_CLIENT_SECRET"]
    assert manifest.warnings == ()


def test_example_manifest_loads(tmp_path: Path) -> None:
    manifest = load(EXAMPLE, environ={"AZURE_CLIENT_SECRET": "demo-client-secret-Q7v2"})
    assert manifest.image.base == "baker-demo/base:1"
    assert manifest.image.tags == ("baker-demo/app:baked",)
    assert [e.name for e in manifest.env] == [
        "LOG_LEVEL",
        "OPENAI_API_KEY",
        "DB_USER",
        "DB_PASSWORD",
        "DB_PORT",
        "db_password",
        "LEGACY_KEY",
        "TLS_KEY",
    ]
    refs = dict(manifest.references)
    assert refs["db_password"].name == "db-password"
    assert refs["DB_PASSWORD"].key == "password"
    assert refs["LEGACY_KEY"].version == "4c5e2a0b9d8f4e6a8c1b2d3e4f5a6b7c"
    demo = manifest.credentials["demo"]
    assert demo.tenant_id == "6f1c0d2e-7a3b-4c5d-9e8f-0a1b2c3d4e5f"
    assert demo.client_id == "1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516"
    assert demo.vault_url == "https://demo.vault.localhost:8443"
    assert demo.is_default
    assert manifest.warnings == ()


BAD = [
    # (name, yaml, problem key, line, message fragment)
    ("version missing", GOOD.replace("version: 1\n", ""), "version", 1, "`version: 1` is required"),
    ("version 2", GOOD.replace("version: 1", "version: 2"), "version", 1, "must be 1"),
    ("version text", GOOD.replace("version: 1", 'version: "1"'), "version", 1, "must be 1"),
    ("unknown top key", GOOD + "envs: {}\n", "envs", 15, "did you mean 'env'?"),
    ("image missing", GOOD.replace("image:\n  from: app:1\n", ""), "image", 1, "required"),
    (
        "image both",
        GOOD.replace("  from: app:1\n", "  from: app:1\n  build: {context: .}\n"),
        "image",
        2,
        "both",
    ),
    ("image neither", GOOD.replace("  from: app:1\n", "  tag: x\n"), "image", 2, "needs one of"),
    (
        "image scalar",
        GOOD.replace("image:\n  from: app:1\n", "image: app:1\n"),
        "image",
        2,
        "must be a mapping",
    ),
    (
        "image typo",
        GOOD.replace("  from: app:1\n", "  from: app:1\n  tags: [x]\n"),
        "image.tags",
        4,
        "'tag'?",
    ),
    (
        "tag mapping",
        GOOD.replace("  from: app:1\n", "  from: app:1\n  tag: {a: b}\n"),
        "image.tag",
        4,
        "list",
    ),
    (
        "tag with space",
        GOOD.replace("  from: app:1\n", "  from: app:1\n  tag: [ok, 'a b']\n"),
        "image.tag[1]",
        4,
        "",
    ),
    (
        "build typo",
        GOOD.replace("  from: app:1\n", "  build:\n    dockerfil: D\n"),
        "image.build.dockerfil",
        4,
        "did you mean 'dockerfile'?",
    ),
    (
        "build arg list",
        GOOD.replace("  from: app:1\n", "  build:\n    args:\n      X: [1]\n"),
        "image.build.args.X",
        5,
        "not a list",
    ),
    (
        "provider typo",
        GOOD.replace("provider: azure-key-vault", "provider: azure-keyvault"),
        "credentials.main.provider",
        6,
        "did you mean 'azure-key-vault'?",
    ),
    (
        "provider missing",
        GOOD.replace("    provider: azure-key-vault\n", ""),
        "credentials.main.provider",
        5,
        "",
    ),
    (
        "http vault",
        GOOD.replace("https://v.vault", "http://v.vault"),
        "credentials.main.vault_url",
        7,
        "https://",
    ),
    (
        "vault path",
        GOOD.replace("azure.net", "azure.net/secrets/x"),
        "credentials.main.vault_url",
        7,
        "no path",
    ),
    ("vault query", GOOD.replace("azure.net", "azure.net/?a=b"), "credentials.main.vault_url", 7, "query"),
    (
        "vault no host",
        GOOD.replace("https://v.vault.azure.net", "https://"),
        "credentials.main.vault_url",
        7,
        "host",
    ),
    (
        "vault bare",
        GOOD.replace("https://v.vault.azure.net", "my-vault"),
        "credentials.main.vault_url",
        7,
        "https",
    ),
    (
        "vault variable unset",
        GOOD.replace("https://v.vault.azure.net", "${VAULT}"),
        "credentials.main.vault_url",
        7,
        "VAULT",
    ),
    (
        "vault missing",
        GOOD.replace("    vault_url: https://v.vault.azure.net\n", ""),
        "credentials.main.vault_url",
        5,
        "",
    ),
    (
        "authority http",
        GOOD.replace("    default: true\n", "    default: true\n    authority_host: http://login.x\n"),
        "credentials.main.authority_host",
        11,
        "https://",
    ),
    (
        "default text",
        GOOD.replace("default: true", 'default: "true"'),
        "credentials.main.default",
        10,
        "true or false",
    ),
    (
        "credential key typo",
        GOOD.replace("    client_id: c\n", "    client_id: c\n    client_secert: ${S}\n"),
        "credentials.main.client_secert",
        10,
        "did you mean 'client_secret'?",
    ),
    (
        "partial interpolation",
        GOOD.replace("tenant_id: t", "tenant_id: pre-${T}"),
        "credentials.main.tenant_id",
        8,
        "whole value",
    ),
    (
        "bad credential name",
        GOOD.replace("  main:", "  'main cred':"),
        "credentials.main cred",
        5,
        "credential name",
    ),
    (
        "credential scalar",
        GOOD.replace("  main:\n", "  other: x\n  main:\n"),
        "credentials.other",
        5,
        "mapping",
    ),
    ("env missing", GOOD[: GOOD.index("env:")], "env", 1, "required"),
    ("env name digit", GOOD.replace("  A: x", "  1A: x"), "env.1A", 12, "not an env var name"),
    ("env name dash", GOOD.replace("  A: x", "  A-B: x"), "env.A-B", 12, "not an env var name"),
    ("env null", GOOD.replace("  A: x", "  A:"), "env.A", 12, 'write ""'),
    ("env tilde", GOOD.replace("  A: x", "  A: ~"), "env.A", 12, 'write ""'),
    ("env list", GOOD.replace("  A: x", "  A: [x]"), "env.A", 12, "not a list"),
    (
        "ref no secret",
        GOOD.replace("    secret: b", "    version: " + "a" * 32),
        "env.B.secret",
        13,
        "secret: NAME",
    ),
    (
        "ref typo",
        GOOD.replace("    secret: b", "    secret: b\n    verison: x"),
        "env.B.verison",
        15,
        "'version'?",
    ),
    (
        "ref bad version",
        GOOD.replace("    secret: b", "    secret: b\n    version: latest"),
        "env.B.version",
        15,
        "32",
    ),
    ("ref bad name", GOOD.replace("secret: b", "secret: my.secret"), "env.B.secret", 14, "ASCII letters"),
    ("ref long name", GOOD.replace("secret: b", "secret: " + "b" * 128), "env.B.secret", 14, "at most 127"),
    ("ref empty key", GOOD.replace("secret: b", "secret: b#"), "env.B.secret", 14, "empty JSON key"),
    ("ref secret list", GOOD.replace("secret: b", "secret: [b]"), "env.B.secret", 14, "not a list"),
    (
        "unknown credential",
        GOOD.replace("    secret: b", "    secret: b\n    credential: mian"),
        "env.B.credential",
        15,
        "did you mean 'main'?",
    ),
    ("no default", GOOD.replace("    default: true\n", ""), "env.B", 12, "no-credential"),
    (
        "no credentials",
        GOOD[: GOOD.index("credentials:")] + GOOD[GOOD.index("env:") :],
        "env.B",
        6,
        "no-credential",
    ),
    (
        "two defaults",
        GOOD.replace(
            "env:\n",
            "  second:\n    provider: azure-key-vault\n    vault_url: https://w.x\n    default: true\nenv:\n",
        ),
        "credentials.second.default",
        11,
        "no-credential",
    ),
    ("python tag", GOOD.replace("A: x", "A: !!python/name:os.system x"), "env.A", 12, "not supported"),
    ("top list", "- version: 1\n", "", 1, "must be a mapping"),
    ("merge non-map", GOOD.replace("  A: x", "  <<: [x]\n  A: x"), "env", 12, "merges only mappings"),
]


@pytest.mark.parametrize(
    ("yaml_text", "key", "line", "fragment"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_manifest_is_reported_at_its_key_and_line(
    tmp_path: Path, yaml_text: str, key: str, line: int, fragment: str
) -> None:
    found = problem_at(problems_of(tmp_path, yaml_text), key)
    assert found.line == line, str(found)
    assert fragment in found.message
    assert found.file == str(tmp_path / "baker.yaml")


@pytest.mark.parametrize(
    ("where", "text", "key", "line", "first"),
    [
        ("top-level", GOOD + "version: 1\n", "version", 15, 1),
        (
            "nested",
            GOOD.replace("    tenant_id: t\n", "    tenant_id: t\n    tenant_id: u\n"),
            "credentials.main.tenant_id",
            9,
            8,
        ),
        ("env", GOOD + "  A: y\n", "env.A", 15, 12),
        ("reference", GOOD.replace("    secret: b", "    secret: b\n    secret: c"), "env.B.secret", 15, 14),
        ("quoted twin", GOOD + '  "A": y\n', "env.A", 15, 12),
    ],
)
def test_duplicate_key_is_a_problem_when_written_twice(
    tmp_path: Path, where: str, text: str, key: str, line: int, first: int
) -> None:
    found = problem_at(problems_of(tmp_path, text), key)
    assert found.line == line
    assert "duplicate key" in found.message
    assert f"first on line {first}" in found.message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = """\
    version: 3
    image: {}
    credentials:
      main:
        provider: nope
        vault_url: http://x
        default: true
    env:
      bad-name: x
      B: {secret: "a b", credential: other}
      C: {secret: c, versoin: 1}
    """
    problems = problems_of(tmp_path, text)
    keys = {p.key for p in problems}
    assert {
        "version",
        "image",
        "credentials.main.provider",
        "credentials.main.vault_url",
        "env.bad-name",
        "env.B.secret",
        "env.B.credential",
        "env.C.versoin",
    } <= keys
    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)


def test_yaml_syntax_error_is_one_problem_with_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("  A: x", "  A: x\n   B: [unclosed")
    (problem,) = problems_of(tmp_path, text)
    assert problem.line in (13, 14)
    assert "YAML syntax error" in problem.message


def test_tab_indentation_is_a_located_syntax_error(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("  A: x", "\tA: x"))
    assert problem.line == 12


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_manifest_is_a_problem(tmp_path: Path, text: str) -> None:
    (problem,) = problems_of(tmp_path, text)
    assert "empty" in problem.message


def test_missing_file_is_a_manifest_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as info:
        load(tmp_path / "nope.yaml", environ={})
    assert "cannot read" in info.value.problems[0].message
    assert info.value.hint


def test_alias_bomb_is_refused_not_expanded(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (problem,) = problems_of(tmp_path, "\n".join(lines) + "\n")
    assert "expands to more than" in problem.message


# --- credentials: ${NAME}, AZURE_* fallbacks, literal secrets ---------------------------------------

CRED = """\
version: 1
image: {from: app:1}
credentials:
  main:
    provider: azure-key-vault
    vault_url: https://v.vault.azure.net
    default: true
%s
env:
  B: {secret: b}
"""


def test_interpolation_reads_the_given_environ(tmp_path: Path) -> None:
    text = CRED % "    tenant_id: ${MY_TENANT}\n    client_id: ${MY_CLIENT}\n    client_secret: ${MY_SECRET}"
    env = {"MY_TENANT": "tenant-1", "MY_CLIENT": "client-1", "MY_SECRET": "secret-value-1"}
    cred = load_text(tmp_path, text, env).credentials["main"]
    assert (cred.tenant_id, cred.client_id) == ("tenant-1", "client-1")
    assert cred.client_secret is not None and cred.client_secret.reveal() == "secret-value-1"
    assert cred.unset_vars == ()


def test_omitted_fields_fall_back_to_the_azure_variables(tmp_path: Path) -> None:
    env = {
        "AZURE_TENANT_ID": "tenant-2",
        "AZURE_CLIENT_ID": "client-2",
        "AZURE_CLIENT_SECRET": "secret-value-2",
        "AZURE_AUTHORITY_HOST": "https://login.localhost:8443",
    }
    cred = load_text(tmp_path, CRED % "", env).credentials["main"]
    assert (cred.tenant_id, cred.client_id, cred.authority_host) == (
        "tenant-2",
        "client-2",
        "https://login.localhost:8443",
    )
    assert cred.client_secret is not None and cred.client_secret.reveal() == "secret-value-2"


def test_manifest_authority_host_wins_over_the_environment(tmp_path: Path) -> None:
    text = CRED % "    authority_host: https://login.microsoftonline.us"
    env = {**ENV, "AZURE_AUTHORITY_HOST": "https://elsewhere", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}
    assert (
        load_text(tmp_path, text, env).credentials["main"].authority_host
        == "https://login.microsoftonline.us"
    )


def test_an_authority_host_from_the_environment_without_a_scheme_is_read_as_azure_identity_reads_it(
    tmp_path: Path,
) -> None:
    env = {
        **ENV,
        "AZURE_AUTHORITY_HOST": "login.microsoftonline.us/",
        "AZURE_TENANT_ID": "t",
        "AZURE_CLIENT_ID": "c",
    }
    assert load_text(tmp_path, CRED % "", env).credentials["main"].authority_host == (
        "https://login.microsoftonline.us"
    )


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("http://login.example", "must start with https://"),
        ("https://user:pw-Q9x@login.example", "may not hold a user name or password"),
        ("https://a\\@login.example", "may not hold a user name or password"),  # MSAL: B; requests: a
        ("https://login.example/\nnext", "one way only"),
    ],
)
def test_an_authority_host_from_the_environment_is_checked_as_the_manifests_and_never_quoted(
    tmp_path: Path, value: str, why: str
) -> None:
    """rtu-5: AZURE_AUTHORITY_HOST, the fallback of `authority_host`, goes through the same check;
    the problem names the variable, never its value."""
    env = {**ENV, "AZURE_AUTHORITY_HOST": value, "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}
    (problem,) = problems_of(tmp_path, CRED % "", env)
    assert "AZURE_AUTHORITY_HOST" in problem.message and why in problem.message
    assert "login.example" not in problem.message and "pw-Q9x" not in problem.message


def test_authority_host_is_none_when_unset(tmp_path: Path) -> None:
    text = CRED % "    tenant_id: t\n    client_id: c"
    assert load_text(tmp_path, text).credentials["main"].authority_host is None


@pytest.mark.parametrize(
    "literal", ["s3cr3t~LiteralValue.Value", "pre-${AZURE_CLIENT_SECRET}", "${A}${B}", "$VAR"]
)
def test_literal_client_secret_is_refused_and_never_echoed(tmp_path: Path, literal: str) -> None:
    text = CRED % f"    tenant_id: t\n    client_id: c\n    client_secret: '{literal}'"
    with pytest.raises(ManifestError) as info:
        load_text(tmp_path, text)
    found = problem_at(info.value.problems, "credentials.main.client_secret")
    assert found.line == 10
    assert "manifests live in git" in found.message
    assert literal not in str(info.value)
    assert literal not in repr(info.value.to_json())


def test_literal_client_secret_is_masked_from_then_on(tmp_path: Path, fresh_redactor: Redactor) -> None:
    literal = "another-LiteralValue-secret-9x"
    with pytest.raises(ManifestError):
        load_text(tmp_path, CRED % f"    client_secret: {literal}")
    assert fresh_redactor.redact(f"oops {literal}") == "oops ********"


def test_client_secret_is_registered_with_the_redactor(tmp_path: Path, fresh_redactor: Redactor) -> None:
    value = "registered-secret-4d8e"
    load_text(tmp_path, CRED % "    tenant_id: t\n    client_id: c", {"AZURE_CLIENT_SECRET": value})
    assert fresh_redactor.redact(f"x {value} y") == "x ******** y"


def test_unset_variable_is_a_problem_when_the_credential_is_used(tmp_path: Path) -> None:
    text = CRED % "    tenant_id: t\n    client_id: c\n    client_secret: ${SP_SECRET}"
    found = problem_at(problems_of(tmp_path, text, {}), "credentials.main.client_secret")
    assert found.line == 10
    assert "SP_SECRET" in found.message
    assert "'main'" in found.message and "B" in found.message


def test_omitted_field_with_unset_fallback_names_the_azure_variable(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, CRED % "", {})
    messages = {p.key: p.message for p in problems}
    assert "AZURE_TENANT_ID" in messages["credentials.main.tenant_id"]
    assert "AZURE_CLIENT_ID" in messages["credentials.main.client_id"]
    assert "AZURE_CLIENT_SECRET" in messages["credentials.main.client_secret"]
    assert all(p.line == 4 for p in problems)


def test_empty_variable_counts_as_unset(tmp_path: Path) -> None:
    text = CRED % "    tenant_id: t\n    client_id: c"
    found = problem_at(
        problems_of(tmp_path, text, {"AZURE_CLIENT_SECRET": ""}), "credentials.main.client_secret"
    )
    assert "AZURE_CLIENT_SECRET" in found.message


def test_unset_variable_is_a_warning_when_the_credential_is_unused(tmp_path: Path) -> None:
    text = GOOD.replace(
        "env:\n",
        "  spare:\n    provider: azure-key-vault\n    vault_url: https://w.x\n"
        "    client_secret: ${SPARE_SECRET}\nenv:\n",
    )
    manifest = load_text(tmp_path, text, {**ENV, "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"})
    assert manifest.credentials["spare"].unset_vars == ("SPARE_SECRET",)
    assert manifest.credentials["spare"].client_secret is None
    assert any("SPARE_SECRET" in w and "spare" in w for w in manifest.warnings)
    assert manifest.used_credentials == ("main",)


def test_require_credentials_refuses_unset_variables_and_unknown_names(tmp_path: Path) -> None:
    text = GOOD.replace(
        "env:\n",
        "  spare:\n    provider: azure-key-vault\n    vault_url: https://w.x\n"
        "    client_secret: ${SPARE_SECRET}\nenv:\n",
    )
    manifest = load_text(tmp_path, text, {**ENV, "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"})
    manifest.require_credentials(["main"])
    with pytest.raises(ManifestError) as info:
        manifest.require_credentials(["spare", "mian"])
    spare, mian = info.value.problems
    assert spare.key == "credentials.spare" and "SPARE_SECRET" in spare.message and spare.line == 11
    assert mian.key == "credentials.mian" and "did you mean 'main'?" in mian.message


def test_secret_id_pasted_as_client_secret_warns(tmp_path: Path) -> None:
    text = CRED % "    tenant_id: t\n    client_id: c"
    manifest = load_text(tmp_path, text, {"AZURE_CLIENT_SECRET": "1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516"})
    assert any("secret ID" in w for w in manifest.warnings)
    assert not any("1b2c3d4e" in w for w in manifest.warnings)


# --- default credential ------------------------------------------------------------------------------

TWO = """\
version: 1
image: {from: app:1}
credentials:
  one: {provider: azure-key-vault, vault_url: "https://one.x", tenant_id: t, client_id: c%s}
  two: {provider: azure-key-vault, vault_url: "https://two.x", tenant_id: t, client_id: c%s}
env:
  NAMED: {secret: n, credential: two}
%s
"""


def test_reference_without_credential_uses_the_one_default(tmp_path: Path) -> None:
    manifest = load_text(tmp_path, TWO % ("", ", default: true", "  PLAIN: {secret: p}"))
    refs = dict(manifest.references)
    assert refs["PLAIN"].credential == "two"
    assert refs["NAMED"].credential == "two"
    assert manifest.default_credential == "two"


def test_no_default_is_fine_when_every_reference_names_its_credential(tmp_path: Path) -> None:
    manifest = load_text(tmp_path, TWO % ("", "", ""))
    assert manifest.default_credential is None
    assert manifest.used_credentials == ("two",)


def test_two_defaults_are_a_problem_even_when_unused(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, TWO % (", default: true", ", default: true", ""))
    found = problem_at(problems, "credentials.two.default")
    assert "no-credential" in found.message and "one, two" in found.message


def test_two_defaults_fail_each_reference_without_credential(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, TWO % (", default: true", ", default: true", "  PLAIN: {secret: p}"))
    assert "no-credential" in problem_at(problems, "env.PLAIN").message


# --- env values ----------------------------------------------------------------------------------------


def test_env_literals_are_the_text_written(tmp_path: Path) -> None:
    literals = (
        "  A: x\n"
        "  PORT: 08080\n"
        "  DEBUG: yes\n"
        "  OFF: off\n"
        "  RATIO: 1.50\n"
        "  HEX: 0x1F\n"
        "  DAY: 2024-01-02\n"
        '  QUOTED: "true"\n'
        '  EMPTY: ""\n'
        '  SPACES: "  padded\\t"\n'
        "  MULTI: |\n"
        "    line one\n"
        "    line two\n"
        "  HASHY: 'a # not a comment'\n"
    )
    text = GOOD.replace("  A: x\n", literals)
    values = {
        e.name: e.source.value for e in load_text(tmp_path, text).env if isinstance(e.source, LiteralValue)
    }
    assert values == {
        "A": "x",
        "PORT": "08080",
        "DEBUG": "yes",
        "OFF": "off",
        "RATIO": "1.50",
        "HEX": "0x1F",
        "DAY": "2024-01-02",
        "QUOTED": "true",
        "EMPTY": "",
        "SPACES": "  padded\t",
        "MULTI": "line one\nline two\n",
        "HASHY": "a # not a comment",
    }


def test_env_order_is_the_manifest_order(tmp_path: Path) -> None:
    names = ["Z", "a", "M", "_b", "B1"]
    text = GOOD[: GOOD.index("env:")] + "env:\n" + "".join(f"  {n}: v\n" for n in names)
    assert [e.name for e in load_text(tmp_path, text).env] == names


def test_reference_fields_are_parsed(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    secret: b", "    secret: db_creds#pass#word\n    version: 4C5E2A0B9D8F4E6A8C1B2D3E4F5A6B7C"
    )
    ref = dict(load_text(tmp_path, text).references)["B"]
    assert ref == SecretRef(
        "db_creds#pass#word", "db-creds", "pass#word", "4c5e2a0b9d8f4e6a8c1b2d3e4f5a6b7c", "main"
    )


def test_all_digit_version_is_read_as_written(tmp_path: Path) -> None:
    text = GOOD.replace("    secret: b", "    secret: b\n    version: 12345678901234567890123456789012")
    assert dict(load_text(tmp_path, text).references)["B"].version == "12345678901234567890123456789012"


def test_merge_keys_share_a_block_and_explicit_keys_win(tmp_path: Path) -> None:
    text = """\
    version: 1
    image: {from: app:1}
    credentials:
      main: &base
        provider: azure-key-vault
        vault_url: https://v.vault.azure.net
        tenant_id: t
        client_id: c
        default: true
      other:
        <<: *base
        vault_url: https://w.vault.azure.net
        default: false
    env:
      B: {secret: b, credential: other}
    """
    manifest = load_text(tmp_path, text)
    other = manifest.credentials["other"]
    assert (other.vault_url, other.tenant_id, other.is_default) == ("https://w.vault.azure.net", "t", False)


def test_empty_env_warns(tmp_path: Path) -> None:
    manifest = load_text(tmp_path, GOOD[: GOOD.index("env:")] + "env: {}\n")
    assert manifest.env == ()
    assert any("empty" in w for w in manifest.warnings)


def test_build_spec_is_parsed_with_defaults(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  from: app:1\n",
        "  build:\n    target: prod\n    args: {VERSION: 1.10, FLAG: 'on'}\n  tag: [a:1, b:2]\n",
    )
    image = load_text(tmp_path, text).image
    assert image.base is None and image.tags == ("a:1", "b:2")
    assert image.build is not None
    assert (image.build.context, image.build.dockerfile, image.build.target) == (".", "Dockerfile", "prod")
    assert dict(image.build.args) == {"VERSION": "1.10", "FLAG": "on"}


env_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
# NEL and the Unicode line/paragraph separators are line breaks to YAML 1.1 (PyYAML's dumper writes
# them raw, and any reader folds them): not something a manifest can hold unescaped.
values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x85\u2028\u2029"), max_size=40
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.dictionaries(env_names, values, max_size=6))
def test_any_string_literal_survives_the_yaml_round_trip(tmp_path: Path, env: dict[str, str]) -> None:
    document = {"version": 1, "image": {"from": "app:1"}, "env": env}
    path = tmp_path / "prop.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    manifest = load(path, environ={})
    assert [(e.name, e.source) for e in manifest.env] == [(k, LiteralValue(v)) for k, v in env.items()]


def test_reference_to_a_broken_credential_is_not_reported_twice(tmp_path: Path) -> None:
    text = GOOD.replace("  main:\n", "  other: x\n  main:\n").replace(
        "    secret: b", "    secret: b\n    credential: other"
    )
    problems = problems_of(tmp_path, text)
    assert [p.key for p in problems] == ["credentials.other"]


def test_dollar_brace_in_an_env_literal_warns_that_it_is_baked_as_written(tmp_path: Path) -> None:
    manifest = load_text(tmp_path, GOOD.replace("  A: x", "  A: ${HOME}/x"))
    assert manifest.env[0].source == LiteralValue("${HOME}/x")
    assert any(w.startswith("env.A: baker does not expand") for w in manifest.warnings)


def test_client_secret_with_surrounding_whitespace_warns_without_the_value(tmp_path: Path) -> None:
    text = CRED % "    tenant_id: t\n    client_id: c"
    manifest = load_text(tmp_path, text, {"AZURE_CLIENT_SECRET": "trailing-newline-secret\n"})
    (warning,) = manifest.warnings
    assert "whitespace" in warning and "trailing-newline-secret" not in warning


def test_control_character_is_a_located_problem(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, GOOD.replace("  A: x", "  A: x\x01"))
    assert problem.line == 12
    assert "#x0001" in problem.message


def test_self_referring_alias_is_one_problem(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path, "version: 1\nimage: {from: a}\nenv: &e\n  A: *e\n")
    assert (problem.key, problem.line) == ("env.A", 3)
    assert "refers to itself" in problem.message


def _stage_manifest(tmp_path: Path, vault_url: str, *, used: bool = True) -> Path:
    credential = azure_credential(vault_url, "t", "c", client_secret=None)
    env = {"X": {"secret": "x"} if used else "literal"}
    return write_manifest(tmp_path, base="base:1", credentials={"stage": credential}, env=env)


def test_vault_url_takes_variables_so_one_manifest_serves_every_stage(tmp_path: Path) -> None:
    path = _stage_manifest(tmp_path, "https://${VAULT}.vault.azure.net")
    manifest = load(path, environ={"VAULT": "prod-vault", "AZURE_CLIENT_SECRET": "s3cret-value"})
    assert manifest.credentials["stage"].vault_url == "https://prod-vault.vault.azure.net"


def test_unset_vault_url_variable_is_a_problem_when_used_and_a_warning_when_not(tmp_path: Path) -> None:
    environ = {"AZURE_CLIENT_SECRET": "s3cret-value"}
    with pytest.raises(ManifestError) as caught:
        load(_stage_manifest(tmp_path, "https://${VAULT}.vault.azure.net"), environ=environ)
    assert "VAULT" in caught.value.message
    manifest = load(
        _stage_manifest(tmp_path, "https://${VAULT}.vault.azure.net", used=False), environ=environ
    )
    assert any("VAULT" in w for w in manifest.warnings)


def test_vault_url_is_still_checked_after_its_variables_are_filled(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="must start with https://"):
        load(
            _stage_manifest(tmp_path, "${VAULT_URL}"),
            environ={"VAULT_URL": "http://plain.vault.azure.net", "AZURE_CLIENT_SECRET": "s3cret-value"},
        )


def test_offline_load_warns_naming_each_unset_variable_of_a_used_credential(tmp_path: Path) -> None:
    text = CRED % "    tenant_id: ${TENANT}\n    client_secret: ${SP_SECRET}"
    manifest = load(write(tmp_path, text), environ={}, offline=True)
    assert manifest.credentials["main"].unset_vars == ("TENANT", "AZURE_CLIENT_ID", "SP_SECRET")
    for var, key in (
        ("TENANT", "tenant_id"),
        ("AZURE_CLIENT_ID", "client_id"),
        ("SP_SECRET", "client_secret"),
    ):
        (warning,) = [w for w in manifest.warnings if var in w]
        assert warning.startswith(f"credentials.main.{key}: ") and "'main'" in warning


def test_offline_load_still_reports_every_other_problem(tmp_path: Path) -> None:
    text = (CRED % "    client_secret: ${SP_SECRET}").replace("version: 1", "version: 2")
    with pytest.raises(ManifestError) as info:
        load(write(tmp_path, text), environ={}, offline=True)
    assert [p.key for p in info.value.problems] == ["version"]


def test_an_offline_manifest_with_unset_variables_is_refused_before_connecting(tmp_path: Path) -> None:
    manifest = load(write(tmp_path, CRED % "    client_secret: ${SP_SECRET}"), environ={}, offline=True)
    with pytest.raises(ManifestError, match="SP_SECRET"):
        manifest.require_credentials(manifest.used_credentials)


def test_offline_load_of_an_unset_vault_variable_leaves_the_vault_url_empty(tmp_path: Path) -> None:
    manifest = load(
        _stage_manifest(tmp_path, "https://${VAULT}.vault.azure.net"),
        environ={"AZURE_CLIENT_SECRET": "s3cret-value"},
        offline=True,
    )
    assert manifest.credentials["stage"].vault_url == ""
    assert any(w.startswith("credentials.stage.vault_url: ") and "VAULT" in w for w in manifest.warnings)


SWAPPED = "Qz8Q~Swapped.Client_Secret-7Xw"


@pytest.mark.parametrize(
    "fields",
    [
        "    tenant_id: ${AZURE_CLIENT_SECRET}\n    client_id: c\n    client_secret: ${OTHER}",
        "    tenant_id: t\n    client_id: ${AZURE_CLIENT_SECRET}\n    client_secret: ${OTHER}",
        "    client_id: c\n    client_secret: ${OTHER}",  # tenant_id left out: AZURE_TENANT_ID
    ],
    ids=["tenant_id", "client_id", "fallback"],
)
def test_a_client_secret_swapped_into_an_id_is_masked_in_any_case(
    tmp_path: Path, fields: str, fresh_redactor: Redactor
) -> None:
    env = {"AZURE_CLIENT_SECRET": SWAPPED, "AZURE_TENANT_ID": SWAPPED, "OTHER": "the-real-secret-1"}
    load_text(tmp_path, CRED % fields, env)
    for shown in (SWAPPED, SWAPPED.lower(), SWAPPED.upper()):
        assert fresh_redactor.redact(f"tenant {shown}!") == "tenant ********!"


@pytest.mark.parametrize("written", ["https://${V}.vault.azure.net", "https://x-${V}.vault.azure.net"])
def test_a_variable_in_the_vault_url_is_masked_lower_cased(
    tmp_path: Path, written: str, fresh_redactor: Redactor
) -> None:
    path = _stage_manifest(tmp_path, written)
    manifest = load(path, environ={"V": "Prod-Vault-Swapped", "AZURE_CLIENT_SECRET": "s3cret-value"})
    assert "prod-vault-swapped" not in fresh_redactor.redact(manifest.credentials["stage"].vault_url.lower())


def test_a_non_ascii_vault_url_variable_is_masked_as_its_punycode_label(
    tmp_path: Path, fresh_redactor: Redactor
) -> None:
    path = _stage_manifest(tmp_path, "https://v-${V}.vault.azure.net")
    load(path, environ={"V": "Sécrét-Välue", "AZURE_CLIENT_SECRET": "s3cret-value"})
    ace = "v-sécrét-välue".encode("idna").decode()
    assert fresh_redactor.redact(f"https://{ace}.vault.azure.net") == "https://********.vault.azure.net"


def test_a_bad_vault_url_is_quoted_as_written_not_filled_in(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load(
            _stage_manifest(tmp_path, "${VAULT_URL}"),
            environ={"VAULT_URL": "http://Swapped-Secret-Value", "AZURE_CLIENT_SECRET": "s3cret-value"},
        )
    assert "'${VAULT_URL}' (with its variables filled in) must start with https://" in caught.value.message
    assert "swapped-secret-value" not in caught.value.message.lower()


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nenv: " + "[" * 5000 + "]" * 5000 + "\n",
        "version: 1\nenv:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 1500)),
        # within the node cap (a chain of n expands to about n*n/2 nodes), nested n deep
        "x0: &a0 [1]\n" + "".join(f"x{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 400)) + "version: 1\n",
    ],
    ids=["flow", "block", "alias-chain"],
)
def test_a_deeply_nested_manifest_is_one_problem_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "baker.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError) as caught:
        load(path, environ=ENV)
    assert caught.value.exit_code == EXIT_USAGE
    assert str(path) in caught.value.message
    assert "nested more than" in caught.value.message


def test_a_manifest_that_is_not_utf8_is_a_problem_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "baker.yaml"
    path.write_bytes(b"version: 1\nimage: {from: \xff}\n")
    with pytest.raises(ManifestError) as caught:
        load(path, environ=ENV)
    assert f"{path}: not UTF-8 text (byte 25)" in caught.value.message


def test_a_manifest_that_is_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "baker.yaml"
    os.mkfifo(fifo)  # nobody ever writes: reading it would block forever
    with pytest.raises(ManifestError, match="not a regular file"):
        load(fifo, environ={})


def test_a_manifest_larger_than_any_real_one_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "baker.yaml"
    big.write_bytes(b"# " + b"x" * (5 * 1024 * 1024))
    with pytest.raises(ManifestError, match="larger than 4 MiB"):
        load(big, environ={})
