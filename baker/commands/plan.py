"""`baker plan`: each env var's source -- a literal (its value is never shown: literals may be
sensitive-ish too), or credential + vault + Azure secret name + JSON key + version -- and which
references share one fetch.  Offline; imports neither azure nor docker."""

from __future__ import annotations

import json
from pathlib import Path

from baker.commands._common import load_manifest
from baker.errors import EXIT_OK
from baker.model import FileEntry, Manifest, SecretRef
from baker.output import Output

COLUMNS = ("ENV", "SOURCE", "CREDENTIAL", "VAULT", "SECRET", "KEY", "VERSION", "FETCH")


def plan_rows(manifest: Manifest) -> list[dict[str, object]]:
    """One dict per env var, then per file, in manifest order (the `--json` shape): a file's row
    has `file` (its path), `mode`, `uid` and `gid` where an env var's has `env`."""
    fetch_ids: dict[tuple[str, str, str | None], int] = {}
    first_user: dict[tuple[str, str, str | None], str] = {}
    rows: list[dict[str, object]] = []
    for entry in manifest.items:
        source = entry.source
        named: dict[str, object] = {"env": entry.name}
        if isinstance(entry, FileEntry):
            named = {"file": entry.path, "mode": f"{entry.mode:04o}", "uid": entry.uid, "gid": entry.gid}
        if not isinstance(source, SecretRef):
            row: dict[str, object] = {**named, "source": "literal"}
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
                **named,
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
        name = str(row["env"]) if "env" in row else _cell(row["file"])
        if row["source"] == "literal":
            cells.append([name, "literal"] + [""] * (len(COLUMNS) - 2))
            continue
        fetch = f"{row['fetch']}" + (f" (shared with {row['shared_with']})" if row["shared_with"] else "")
        cells.append(
            [
                name,
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
    credentials = credential_rows(manifest)
    for row in credentials:
        out.info(f"credential {row['name']}: auth {row['auth']}, signs in with {row['token_source']}")
    shared = references - fetches
    if manifest.files:
        out.info(
            f"{len(manifest.files)} file{'' if len(manifest.files) == 1 else 's'} (in one layer the bake "
            "adds; `baker build` bakes them, `render` and `run` do not): "
            + ", ".join(f"{_cell(f.path)} {f.mode:04o} {f.uid}:{f.gid}" for f in manifest.files)
        )
    out.info(
        f"{len(rows)} env vars and files: {len(rows) - references} literal, {references} secret references "
        "in "
        f"{fetches} fetch{'' if fetches == 1 else 'es'}"
        + (f" ({shared} reference{'' if shared == 1 else 's'} share another's fetch)" if shared else "")
    )
    env_rows = [row for row in rows if "env" in row]
    file_rows = [row for row in rows if "file" in row]
    out.result({"env": env_rows, "files": file_rows, "fetches": fetches, "credentials": credentials})
    return EXIT_OK
