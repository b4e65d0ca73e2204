"""`baker validate` and `baker plan` through the CLI entry point: output, --json, exit codes, and
that neither imports azure or docker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import baker.manifest.credentials
import baker.output
import baker.secret
from baker.cli import main
from baker.errors import EXIT_OK, EXIT_USAGE
from baker.secret import Redactor


@pytest.fixture(autouse=True)
def fresh_redactor(monkeypatch: pytest.MonkeyPatch) -> Redactor:
    """A redactor of this test's own, so values registered here never mask another test's output."""
    redactor = Redactor()
    for module in (baker.secret, baker.output, baker.manifest.credentials):
        monkeypatch.setattr(module, "REDACTOR", redactor)
    return redactor


ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "baker.yaml"
CLIENT_SECRET = "demo-client-secret-Q7v2"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


@pytest.mark.usefixtures("secret_env")
def test_validate_json_reports_ok_for_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "validate", "-f", str(EXAMPLE))
    assert code == EXIT_OK
    assert doc["ok"] is True
    assert doc["file"] == str(EXAMPLE)
    assert doc["env"] == 8
    assert doc["warnings"] == []


@pytest.mark.usefixtures("secret_env")
def test_validate_human_summary_counts_literals_references_and_credentials(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "-f", str(EXAMPLE)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.strip() == f"ok: {EXAMPLE}: 8 env vars (1 literal, 7 secret references) through 1 credential"


def test_validate_exits_2_with_every_problem_when_the_manifest_is_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "baker.yaml"
    bad.write_text("version: 2\nimage: {}\nenv:\n  bad-name: x\n  B: {secret: b}\n")
    code, doc = run_json(capsys, "validate", "-f", str(bad))
    assert code == EXIT_USAGE
    assert doc["error"] == "ManifestError"
    problems = doc["problems"]
    assert isinstance(problems, list)
    keys = {p["key"] for p in problems}
    assert {"version", "image", "env.bad-name", "env.B"} <= keys
    assert all(p["file"] == str(bad) and isinstance(p["line"], int) for p in problems)


def test_validate_human_error_lists_problems_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "baker.yaml"
    bad.write_text("version: 1\nimage: {from: a}\nenv:\n  A: x\n  A: y\n")
    assert main(["validate", "-f", str(bad)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{bad}:5: env.A: duplicate key 'A'" in captured.err


# SPEC (contract change, issue 9): `validate` and `plan` never need credential variables; they warn
# naming each unset one and exit 0, so a pull request without secrets (and the CI templates'
# "validate (offline)" step) can lint.  Commands that connect still refuse them (exit 2).
def test_validate_warns_naming_an_unset_client_secret_and_exits_0(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_CLIENT_SECRET", raising=False)
    code, doc = run_json(capsys, "validate", "-f", str(EXAMPLE))
    assert code == EXIT_OK
    assert doc["ok"] is True
    warnings = doc["warnings"]
    assert isinstance(warnings, list) and len(warnings) == 1
    assert "AZURE_CLIENT_SECRET" in warnings[0] and "'demo'" in warnings[0]


def test_validate_and_plan_warn_once_per_unset_variable_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("VAULT", "TENANT", "AZURE_CLIENT_ID", "SP_SECRET"):
        monkeypatch.delenv(var, raising=False)
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage: {from: a}\ncredentials:\n"
        "  main: {provider: azure-key-vault, vault_url: 'https://${VAULT}.vault.azure.net',"
        " tenant_id: '${TENANT}', client_secret: '${SP_SECRET}', default: true}\n"
        "env:\n  A: {secret: a}\n  B: literal\n"
    )
    for command in ("validate", "plan"):
        assert main([command, "-f", str(manifest)]) == EXIT_OK
        err = capsys.readouterr().err
        for var in ("VAULT", "TENANT", "AZURE_CLIENT_ID", "SP_SECRET"):
            assert sum(var in line for line in err.splitlines()) == 1, (command, var, err)


def test_plan_json_lists_a_reference_whose_credential_lacks_its_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VAULT", raising=False)
    monkeypatch.delenv("AZURE_CLIENT_SECRET", raising=False)
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage: {from: a}\ncredentials:\n"
        "  main: {provider: azure-key-vault, vault_url: 'https://${VAULT}.vault.azure.net',"
        " tenant_id: t, client_id: c, default: true}\n"
        "env:\n  A: {secret: a}\n"
    )
    code, doc = run_json(capsys, "plan", "-f", str(manifest))
    assert code == EXIT_OK
    (row,) = doc["env"]  # type: ignore[misc]
    assert row["credential"] == "main" and row["secret"] == "a"
    assert row["vault_url"] is None  # not known offline without VAULT


@pytest.mark.parametrize(
    "argv",
    [
        ["render", "--out", "OUT"],
        ["build"],
        ["check", "--image", "app:baked"],
        ["test-connection"],
        ["secrets", "list"],
    ],
)
def test_commands_that_connect_refuse_an_unset_client_secret(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_CLIENT_SECRET", raising=False)
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    code, doc = run_json(capsys, *argv, "-f", str(EXAMPLE))
    assert code == EXIT_USAGE
    assert "AZURE_CLIENT_SECRET" in str(doc["message"])


def test_validate_prints_warnings_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        textwrap.dedent(
            """\
            version: 1
            image: {from: a}
            credentials:
              spare: {provider: azure-key-vault, vault_url: "https://v.x", client_secret: "${SPARE}"}
            env:
              A: x
            """
        )
    )
    assert main(["validate", "-f", str(manifest)]) == EXIT_OK
    captured = capsys.readouterr()
    assert "warning: credentials.spare: " in captured.err
    assert "(1 literal, 0 secret references) through 0 credentials" in captured.out


def test_validate_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "validate", "-f", str(tmp_path / "nope.yaml"))
    assert code == EXIT_USAGE
    assert "cannot read" in str(doc["message"])


@pytest.mark.usefixtures("secret_env")
def test_plan_json_lists_each_source_and_counts_distinct_fetches(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = run_json(capsys, "plan", "-f", str(EXAMPLE))
    assert code == EXIT_OK
    assert doc["fetches"] == 5  # database-credentials is fetched once for its three keys
    rows = {row["env"]: row for row in doc["env"]}  # type: ignore[union-attr]
    assert list(rows) == [
        "LOG_LEVEL",
        "OPENAI_API_KEY",
        "DB_USER",
        "DB_PASSWORD",
        "DB_PORT",
        "db_password",
        "LEGACY_KEY",
        "TLS_KEY",
    ]
    assert rows["LOG_LEVEL"]["source"] == "literal"
    assert rows["LOG_LEVEL"]["secret"] is None
    assert {
        k: rows["DB_PASSWORD"][k] for k in ("source", "credential", "vault_url", "secret", "key", "version")
    } == {
        "source": "secret",
        "credential": "demo",
        "vault_url": "https://demo.vault.localhost:8443",
        "secret": "database-credentials",
        "key": "password",
        "version": None,
    }
    assert rows["DB_PASSWORD"]["shared_with"] == "DB_USER"
    assert rows["db_password"]["secret"] == "db-password"
    assert rows["LEGACY_KEY"]["version"] == "4c5e2a0b9d8f4e6a8c1b2d3e4f5a6b7c"


@pytest.mark.usefixtures("secret_env")
def test_plan_table_shows_sources_but_never_literal_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "-f", str(EXAMPLE)]) == EXIT_OK
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["ENV", "SOURCE", "CREDENTIAL", "VAULT", "SECRET", "KEY", "VERSION", "FETCH"]
    log_level = next(line for line in lines if line.startswith("LOG_LEVEL"))
    assert log_level.split() == ["LOG_LEVEL", "literal"]
    assert "info" not in out  # the literal's value
    assert CLIENT_SECRET not in out
    assert "shared with DB_USER" in next(line for line in lines if line.startswith("DB_PORT"))
    assert "current" in next(line for line in lines if line.startswith("TLS_KEY"))
    # aligned: every column starts at the same offset on each row
    starts = [lines[0].index("SECRET")] + [
        line.index("database-credentials") for line in lines if "database-" in line
    ]
    assert len(set(starts)) == 1
    assert "5 fetches" in lines[-1]


def test_plan_quotes_a_json_key_with_spaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage: {from: a}\ncredentials:\n"
        "  c: {provider: azure-key-vault, vault_url: 'https://v.x', tenant_id: t, client_id: c,"
        " client_secret: '${S}', default: true}\n"
        "env:\n  A: {secret: 's#my key'}\n"
    )
    monkeypatch.setenv("S", "value-of-s-1234")
    assert main(["plan", "-f", str(manifest)]) == EXIT_OK
    assert '"my key"' in capsys.readouterr().out


def test_plan_table_names_a_non_ascii_vault_host_as_baker_connects_to_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """rtu-4: a Cyrillic `\u0430` in the vault host is another registrable name; the review surface
    shows the IDNA name baker connects to, not the look-alike as written."""
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(
        "version: 1\nimage: {from: a}\ncredentials:\n"
        "  c: {provider: azure-key-vault, vault_url: 'https://corp-v\u0430ult.example', tenant_id: t,"
        " client_id: c, client_secret: '${S}', default: true}\n"
        "env:\n  A: {secret: s}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("S", "value-of-s-1234")
    assert main(["plan", "-f", str(manifest)]) == EXIT_OK
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("A "))
    assert "https://xn--corp-vult-5yh.example" in row.split()
    assert "\u0430" not in row


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_command_imports_neither_azure_nor_docker(command: str) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from baker.cli import main
        code = main([{command!r}, "-f", {str(EXAMPLE)!r}, "--json"])
        assert code == 0, code
        loaded = sorted(m for m in sys.modules if m.startswith(("azure", "docker")))
        assert not loaded, loaded
        """
    )
    env = {**os.environ, "AZURE_CLIENT_SECRET": CLIENT_SECRET}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)
