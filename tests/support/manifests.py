"""The one `write_manifest`: a version-1 `baker.yaml` from its parts, for every test that needs one.

Each part is a mapping (written as JSON, which is YAML: any value, any character) or, where a test
means the YAML text itself (its layout, comments, a deliberately odd spelling), a string written as
given under its key.  `azure_credential` is the credential the emulator's tests write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

SECRET_VAR = "${AZURE_CLIENT_SECRET}"

Part = Mapping[str, object] | str


def azure_credential(
    vault_url: str,
    tenant_id: str | None = None,
    client_id: str | None = None,
    *,
    client_secret: str | None = SECRET_VAR,
    default: bool = True,
    **more: object,
) -> dict[str, object]:
    """A `provider: azure-key-vault` credential; `None` leaves a key out (baker reads the variable)."""
    credential: dict[str, object] = {"provider": "azure-key-vault", "vault_url": vault_url}
    for key, value in (("tenant_id", tenant_id), ("client_id", client_id), ("client_secret", client_secret)):
        if value is not None:
            credential[key] = value
    credential.update(more)
    if default:
        credential["default"] = True
    return credential


def _block(key: str, part: Part) -> str:
    if isinstance(part, str):
        return f"{key}:\n{part}" if part.endswith("\n") or not part else f"{key}:\n{part}\n"
    if not part:
        return f"{key}: {{}}\n"
    lines = "".join(
        f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}\n"
        for k, v in part.items()
    )
    return f"{key}:\n{lines}"


def write_manifest(
    path: Path,
    *,
    base: str | None = None,
    tag: str | Sequence[str] | None = None,
    image: Mapping[str, object] | None = None,
    credentials: Part | None = None,
    env: Part | None = None,
    files: Part | None = None,
    extra: str = "",
) -> Path:
    """Write the manifest at `path` (a directory: its `baker.yaml`) and return the file.

    `image` is the whole `image:` block; or `base` (`image.from`) and `tag` (one, or a list).
    `credentials`, `env` and `files`: name (a file's path) -> mapping / value, or YAML lines
    (indented) as written.
    `extra`: YAML text appended as given (more `env:` lines, or another top-level key)."""
    if path.is_dir():
        path = path / "baker.yaml"
    block: dict[str, object] = dict(image) if image is not None else {}
    if base is not None:
        block["from"] = base
    if tag is not None:
        block["tag"] = tag if isinstance(tag, str) else list(tag)
    text = "version: 1\n" + _block("image", block)
    if credentials is not None:
        text += _block("credentials", credentials)
    text += _block("env", env if env is not None else {})
    if files is not None:
        text += _block("files", files)
    text += extra
    path.write_text(text, encoding="utf-8")
    return path
