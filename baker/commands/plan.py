"""`baker plan`: each env var's source -- a literal (its value is never shown: literals may be
sensitive-ish too), or credential + vault + Azure secret name + JSON key + version -- and which
references share one fetch.  Offline; imports neither azure nor docker."""

from __future__ import annotations

import json
from pathlib import Path

from baker.commands._common import load_manifest
from baker.errors import EXIT_OK
from baker.model import Manifest, SecretRef
from baker.output import Output

COLUMNS = ("ENV", "SOURCE", "CREDENTIAL", "VAULT", "SECRET", "KEY", "VERSION", "FETCH")


def plan_rows(manifest: Manifest) -> list[dict[str, object]]:
    """One dict per env var, in manifest order (the `--json` shape)."""
    fetch_ids: dict[tuple[str, str, str | None], int] = {}
    first_user: dict[tuple[str, str, str | None], str] = {}
    rows: list[dict[str, object]] = []
    for entry in manifest.env:
        source = entry.source
        if not isinstance(source, SecretRef):
            row: dict[str, object] = {"env": entry.name, "source": "literal"}
            row.update(dict.fromkeys(("credential", "vault_url", "secret", "written", "key", "version")))
            row.update(fetch=None, shared_with=None)
            rows.append(row)
            continue
        key = source.fetch_key
        shared_with = first_user.get(key)
        if shared_with is None:
            fetch_ids[key] = len(fetch_ids) + 1
            first_user[key] = entry.name
        rows.append(
            {
                "env": entry.name,
                "source": "secret",
                "credential": source.credential,
                # None offline when the URL's variable is unset
                "vault_url": manifest.credentials[source.credential].vault_url or None,
                "secret": source.name,
                "written": source.written,
                "key": source.key,
                "version": source.version,
                "fetch": fetch_ids[key],
                "shared_with": shared_with,
            }
        )
    return rows


def build_secret_rows(manifest: Manifest) -> list[dict[str, object]]:
    """One dict per `image.build.secrets` entry (its `id`): fetched with the env's references (a
    shared secret is read once, `shared_with` names the env var or id it shares with), never baked."""
    first_user: dict[tuple[str, str, str | None], str] = {}
    fetch_ids: dict[tuple[str, str, str | None], int] = {}
    for name, ref in (
        *manifest.references,
        *((f"image.build.secrets.{i}", r) for i, r in manifest.build_secrets),
    ):
        fetch_ids.setdefault(ref.fetch_key, len(fetch_ids) + 1)
        first_user.setdefault(ref.fetch_key, name)
    return [
        {
            "id": secret_id,
            "credential": ref.credential,
            "vault_url": manifest.credentials[ref.credential].vault_url or None,
            "secret": ref.name,
            "written": ref.written,
            "key": ref.key,
            "version": ref.version,
            "fetch": fetch_ids[ref.fetch_key],
            "shared_with": None
            if first_user[ref.fetch_key] == f"image.build.secrets.{secret_id}"
            else first_user[ref.fetch_key],
        }
        for secret_id, ref in manifest.build_secrets
    ]


def credential_rows(manifest: Manifest) -> list[dict[str, object]]:
    """Each used credential's `auth` and where its token will come from (never the token)."""
    return [
        {
            "name": name,
            "auth": manifest.credentials[name].auth.kind,
            "token_source": manifest.credentials[name].auth.where,
        }
        for name in manifest.used_credentials
    ]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    text = str(value)
    # A JSON key is verbatim and may hold spaces or control characters: quote it so the table
    # stays readable and the key unambiguous.
    if not text.isprintable() or text != text.strip() or " " in text:
        return json.dumps(text, ensure_ascii=False)
    return text


def _table(rows: list[dict[str, object]]) -> list[str]:
    cells = [list(COLUMNS)]
    for row in rows:
        if row["source"] == "literal":
            cells.append([str(row["env"]), "literal"] + [""] * (len(COLUMNS) - 2))
            continue
        fetch = f"{row['fetch']}" + (f" (shared with {row['shared_with']})" if row["shared_with"] else "")
        cells.append(
            [
                str(row["env"]),
                "secret",
                _cell(row["credential"]),
                _cell(row["vault_url"]),
                _cell(row["secret"]),
                _cell(row["key"]),
                _cell(row["version"]) if row["version"] else "current",
                fetch,
            ]
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]


def plan(*, out: Output, file: Path) -> int:
    manifest = load_manifest(out, file, offline=True)
    rows = plan_rows(manifest)
    fetches = len({ref.fetch_key for _, ref in manifest.references})
    references = len(manifest.references)
    for line in _table(rows):
        out.info(line)
    build_secrets = build_secret_rows(manifest)
    for row in build_secrets:
        sharing = f" (shared with {row['shared_with']})" if row["shared_with"] else ""
        out.info(
            f"build secret {row['id']} (RUN --mount=type=secret, never baked): {_cell(row['credential'])} "
            f"{_cell(row['secret'])}{'#' + _cell(row['key']) if row['key'] is not None else ''} "
            f"{_cell(row['version']) if row['version'] else 'current'}, fetch {row['fetch']}{sharing}"
        )
    credentials = credential_rows(manifest)
    for row in credentials:
        out.info(f"credential {row['name']}: auth {row['auth']}, signs in with {row['token_source']}")
    shared = references - fetches
    out.info(
        f"{len(rows)} env vars: {len(rows) - references} literal, {references} secret references in "
        f"{fetches} fetch{'' if fetches == 1 else 'es'}"
        + (f" ({shared} reference{'' if shared == 1 else 's'} share another's fetch)" if shared else "")
    )
    document: dict[str, object] = {"env": rows, "fetches": fetches, "credentials": credentials}
    if build_secrets:
        document["build_secrets"] = build_secrets
    out.result(document)
    return EXIT_OK
