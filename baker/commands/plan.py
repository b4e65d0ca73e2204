"""`baker plan`: each env var's source -- a literal (its value is never shown: literals may be
sensitive-ish too), or credential + vault + Azure secret name + JSON key + version -- and which
references share one fetch.  Offline; imports neither azure nor docker."""

from __future__ import annotations

import json
from pathlib import Path

from baker import urls
from baker.commands._common import load_manifest
from baker.errors import EXIT_OK
from baker.model import CertificateRef, FileEntry, LiteralValue, Manifest, Part, SecretRef, TemplateValue
from baker.output import Output

COLUMNS = ("ENV", "SOURCE", "CREDENTIAL", "VAULT", "SECRET", "KEY", "VERSION", "FETCH")


def _vault(manifest: Manifest, credential: str) -> str | None:
    """The credential's vault as baker connects to it (`urls.as_connected`: a non-ASCII host in its
    IDNA form, not as written); None offline when the URL's variable is unset."""
    url = manifest.credentials[credential].vault_url
    return urls.as_connected(url) if url else None


def _where(manifest: Manifest, ref: SecretRef) -> dict[str, object]:
    """The columns that say where a reference is read from, in the `--json` order."""
    return {
        "credential": ref.credential,
        "vault_url": _vault(manifest, ref.credential),
        "secret": ref.name,
        "written": ref.written,
        "key": ref.key,
        "version": ref.version,
    }


def plan_rows(manifest: Manifest) -> list[dict[str, object]]:
    """One dict per env var, then per file, in manifest order (the `--json` shape).  A template's row
    lists its `parts`, each shaped like a row (`env` = the part's name).  A file's row has `file` (its
    path), `mode`, `uid` and `gid` where an env var's has `env`."""
    fetch_ids: dict[tuple[str, str, str | None], int] = {}
    first_user: dict[tuple[str, str, str | None], str] = {}

    def row(env: str, source: Part) -> dict[str, object]:
        if isinstance(source, LiteralValue):
            out: dict[str, object] = {"env": env, "source": "literal"}
            out.update(dict.fromkeys(("credential", "vault_url", "secret", "written", "key", "version")))
            out.update(fetch=None, shared_with=None)
            return out
        ref = source.ref if isinstance(source, CertificateRef) else source
        key = ref.fetch_key
        shared_with = first_user.get(key)
        if shared_with is None:
            fetch_ids[key] = len(fetch_ids) + 1
            first_user[key] = env
        out = {
            "env": env,
            "source": "certificate" if isinstance(source, CertificateRef) else "secret",
            **_where(manifest, ref),
            "fetch": fetch_ids[key],
            "shared_with": shared_with,
        }
        if isinstance(source, CertificateRef):
            out["format"] = source.format
        return out

    rows: list[dict[str, object]] = []
    for entry in manifest.items:
        source = entry.source
        if isinstance(source, TemplateValue):
            parts = [row(name, part) for name, part in source.parts]
            made: dict[str, object] = {"env": entry.name, "source": "template"}
            made.update(dict.fromkeys(("credential", "vault_url", "secret", "written", "key", "version")))
            made.update(fetch=None, shared_with=None, parts=parts)
        else:
            made = row(entry.name, source)
        if isinstance(entry, FileEntry):  # named by its path, under "file", with its mode and owner
            del made["env"]
            made = {
                "file": entry.path,
                "mode": f"{entry.mode:04o}",
                "uid": entry.uid,
                "gid": entry.gid,
                **made,
            }
        rows.append(made)
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
            **_where(manifest, ref),
            "fetch": fetch_ids[ref.fetch_key],
            "shared_with": None
            if first_user[ref.fetch_key] == f"image.build.secrets.{secret_id}"
            else first_user[ref.fetch_key],
        }
        for secret_id, ref in manifest.build_secrets
    ]


def env_from_rows(manifest: Manifest) -> list[dict[str, object]]:
    """Each `env_from:`: its prefix and vault; the names are known only when the vault is listed."""
    return [
        {
            "prefix": spec.prefix,
            "credential": spec.credential,
            "vault_url": _vault(manifest, spec.credential),
            "names": None,
            "known": "at bake time",
        }
        for spec in manifest.env_from
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
    flat: list[dict[str, object]] = []
    for row in rows:
        flat.append(row)
        parts = row.get("parts")
        if isinstance(parts, list):
            flat.extend({**part, "env": f"  {{{{ {part['env']} }}}}"} for part in parts)
    for row in flat:
        name = str(row["env"]) if "env" in row else _cell(row["file"])
        if row["source"] in ("literal", "template"):
            cells.append([name, str(row["source"])] + [""] * (len(COLUMNS) - 2))
            continue
        fetch = f"{row['fetch']}" + (f" (shared with {row['shared_with']})" if row["shared_with"] else "")
        cells.append(
            [
                name,
                str(row["source"]) + (f" ({row['format']})" if row.get("format") else ""),
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
    out.table(_table(rows))
    build_secrets = build_secret_rows(manifest)
    for row in build_secrets:
        sharing = f" (shared with {row['shared_with']})" if row["shared_with"] else ""
        out.info(
            f"build secret {row['id']} (RUN --mount=type=secret, never baked): {_cell(row['credential'])} "
            f"{_cell(row['secret'])}{'#' + _cell(row['key']) if row['key'] is not None else ''} "
            f"{_cell(row['version']) if row['version'] else 'current'}, fetch {row['fetch']}{sharing}"
        )
    env_from = env_from_rows(manifest)
    for item in env_from:
        out.info(
            f"env_from prefix {item['prefix']} (credential {item['credential']}, vault "
            f"{item['vault_url'] or '-'}): names known at bake time, from the vault's list of secrets"
        )
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
    literals = sum(1 for row in rows if row["source"] == "literal")
    env_rows = [row for row in rows if "env" in row]
    file_rows = [row for row in rows if "file" in row]
    out.info(
        f"{len(env_rows)} env vars{f' and {len(file_rows)} files' if file_rows else ''}: {literals} literal, "
        f"{references} secret references in {fetches} fetch{'' if fetches == 1 else 'es'}"
        + (f" ({shared} reference{'' if shared == 1 else 's'} share another's fetch)" if shared else "")
    )
    document: dict[str, object] = {
        "env": env_rows,
        "env_from": env_from,
        "fetches": fetches,
        "credentials": credentials,
    }
    if file_rows:
        document["files"] = file_rows
    if build_secrets:
        document["build_secrets"] = build_secrets
    out.result(document)
    return EXIT_OK
