"""`baker.yaml` -> a frozen `Manifest`, with every offline check.  `load` reports EVERY problem
at once (`ManifestError`), each with its file, line and dotted key (`env.DB_PASSWORD.credential`).

Decisions a user may want to know (the SPEC's Manifest section is the contract; these fill gaps):

- Env literals.  A quoted or block string is taken as is.  An unquoted scalar that YAML would read
  as a number, boolean or date is taken as the text written: `PORT: 08080` is "08080",
  `DEBUG: yes` is "yes", `RATIO: 1.50` is "1.50" -- what you see is what the image gets (YAML's
  own conversions would give 4160, True and 1.5).  An empty value (`FOO:` or `FOO: ~`) is a
  problem: write `FOO: ""` for the empty string.  The same rule applies to `image.build.args`.
- `${NAME}` must be the whole field (`client_secret: ${SP_SECRET}`); text around it is refused
  rather than guessed at.  A variable set to the empty string counts as unset.  An unset one that a
  used credential needs fails the load, except offline (`validate`, `plan`): a warning there.
- `version:` pins are normalised to lower case (as Key Vault writes version ids).
- `credentials:` / `env:` / `image.build.args:` left empty (null) mean "none".
- Anchors, aliases and `<<` merges work (see `baker.manifest.yamltree`).

A literal client secret is refused and never echoed; every client secret read is registered with
the redactor at once.  This module imports neither azure nor docker.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from baker.errors import ManifestError, Problem
from baker.manifest import files as file_rules
from baker.manifest.auth import check_token_sources, problems_hint
from baker.manifest.credentials import (
    ManifestChecker,
    check_unset_vars,
    parse_credentials,
)
from baker.manifest.values import parse_env_from, parse_secret_ref, parse_source
from baker.manifest.yamltree import INT, YItem, YMap, YScalar, YSeq, kind, load_tree
from baker.model import (
    ENV_NAME_RE,
    BuildSpec,
    CredentialSpec,
    EnvEntry,
    FileEntry,
    ImageSpec,
    Manifest,
    SecretRef,
)
from baker.record import replace

__all__ = ["load"]

TOP_KEYS = ("version", "image", "credentials", "env", "env_from", "files")
IMAGE_KEYS = ("from", "build", "tag")
BUILD_KEYS = ("context", "dockerfile", "target", "args", "secrets", "network", "platforms", "push")
# A build secret's id goes into `--secret id=ID,env=VAR` (comma-separated key=value): no `,` or `=`.
BUILD_SECRET_ID_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
PLATFORM_RE = re.compile(r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?")
NETWORK_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


MANIFEST_MAX = 4 * 1024 * 1024  # a manifest is a page of YAML; anything near this is a mistake


def _read_manifest(path: Path) -> bytes:
    """The manifest's bytes: a regular file only (a FIFO or a device named baker.yaml, say in a
    `-f DIR` tree, must never block or stream forever), at most MANIFEST_MAX."""
    kind = path.stat().st_mode
    if not stat.S_ISREG(kind):
        what = "a directory" if stat.S_ISDIR(kind) else "not a regular file (a FIFO, a socket or a device)"
        raise OSError(f"{what}")
    with path.open("rb") as handle:
        data = handle.read(MANIFEST_MAX + 1)
    if len(data) > MANIFEST_MAX:
        raise OSError(f"larger than {MANIFEST_MAX // (1024 * 1024)} MiB")
    return data


def load(path: Path | str, *, environ: Mapping[str, str] | None = None, offline: bool = False) -> Manifest:
    """Parse and check the manifest at `path`; `environ` (default `os.environ`) feeds `${NAME}`.

    A used credential's unset variable is a problem, unless `offline` (for `validate` and `plan`,
    which never connect): then it is a warning naming the variable, and the credential keeps it in
    `unset_vars`, so `Manifest.require_credentials` still refuses it before any connection."""
    file = str(path)
    env_vars = os.environ if environ is None else environ
    try:
        text = _read_manifest(Path(path)).decode("utf-8-sig")
    except OSError as exc:
        raise ManifestError(
            [Problem(file, None, "", f"cannot read the manifest: {exc.strerror or exc}")],
            hint="pass the manifest with -f PATH; examples/baker.yaml is a commented starting point",
        ) from None
    except UnicodeDecodeError as exc:
        raise ManifestError([Problem(file, None, "", f"not UTF-8 text (byte {exc.start})")]) from None
    tree, problems = load_tree(text, file)
    check = ManifestChecker(file, env_vars)
    check.problems.extend(problems)
    if tree is None:
        if not check.problems:
            check.problem(
                None, "", "the manifest is empty; it needs at least `version: 1`, `image:` and `env:`"
            )
        raise ManifestError(check.problems)
    top = check.mapping(tree, "")
    if top is None:
        raise ManifestError(check.problems)
    check.known_keys(top, "", TOP_KEYS)
    _version(check, top)
    image = _image(check, top)
    credentials = parse_credentials(check, top)
    env_from = parse_env_from(check, top, credentials)
    env = _env(check, top, credentials, has_env_from=bool(env_from))
    files = _files(check, top, credentials)
    # The credential checks count an `env_from:`, a file and a build secret as users of their
    # credential: its variables must be set.
    users: list[EnvEntry | FileEntry] = [*env, *files]
    users += [
        EnvEntry(f"env_from {e.prefix}", SecretRef(e.prefix, e.prefix, None, None, e.credential), e.line)
        for e in env_from
    ]
    if image is not None and image.build is not None:
        secrets = _build_secrets(check, top, credentials)
        image = replace(image, build=replace(image.build, secrets=MappingProxyType(secrets)))
        users += [EnvEntry(f"image.build.secrets.{key}", ref) for key, ref in secrets.items()]
    check_unset_vars(check, credentials, users, offline=offline)
    check_token_sources(check, credentials, users, env_vars, offline=offline)
    if check.problems:
        raise ManifestError(
            sorted(check.problems, key=lambda p: p.line or 0), hint=problems_hint(check.problems)
        )
    assert image is not None
    return Manifest(
        path=file,
        image=image,
        credentials=MappingProxyType(credentials),
        env=tuple(env),
        warnings=tuple(check.warnings),
        env_from=tuple(env_from),
        files=tuple(files),
    )


def _version(check: ManifestChecker, top: YMap) -> None:
    item = top.get("version")
    if item is None:
        check.problem(top.line or None, "version", "`version: 1` is required")
    elif not (isinstance(item.value, YScalar) and item.value.tag == INT and item.value.value == 1):
        shown = item.value.text if isinstance(item.value, YScalar) else kind(item.value)
        check.problem(item.line, "version", f"must be 1 (the number), not {shown!r}; baker knows version 1")


def _image(check: ManifestChecker, top: YMap) -> ImageSpec | None:
    item = top.get("image")
    if item is None:
        check.problem(top.line or None, "image", "`image:` is required, with `from:` or `build:`")
        return None
    node = check.mapping(item.value, "image")
    if node is None:
        return None
    check.known_keys(node, "image", IMAGE_KEYS)
    base_item, build_item, tag_item = node.get("from"), node.get("build"), node.get("tag")
    if (base_item is None) == (build_item is None):
        how = "has both" if base_item else "needs one of"
        check.problem(item.line, "image", f"{how} `from:` (a base image) and `build:` (build the app first)")
    base = _image_ref(check, base_item, "image.from") if base_item else None
    build = _build(check, build_item) if build_item else None
    tags: list[str] = []
    if tag_item is not None:
        subs = (
            [YItem(str(i), n.line, n) for i, n in enumerate(tag_item.value.items)]
            if isinstance(tag_item.value, YSeq)
            else [tag_item]
        )
        for i, sub in enumerate(subs):
            path = f"image.tag[{i}]" if isinstance(tag_item.value, YSeq) else "image.tag"
            ref = _image_ref(check, sub, path, what="an image reference (or a list of them)")
            if ref:
                tags.append(ref)
    return ImageSpec(base=base, build=build, tags=tuple(tags))


def _image_ref(
    check: ManifestChecker, item: YItem, path: str, *, what: str = "an image reference"
) -> str | None:
    ref = check.text(item, path, what=what)
    if ref is not None and (not ref or any(c.isspace() for c in ref)):
        check.problem(item.line, path, f"{ref!r} is not an image reference (empty, or holds spaces)")
        return None
    return ref


def _build(check: ManifestChecker, item: YItem) -> BuildSpec | None:
    node = check.mapping(item.value, "image.build")
    if node is None:
        return None
    check.known_keys(node, "image.build", BUILD_KEYS)
    fields: dict[str, str | None] = {"context": ".", "dockerfile": "Dockerfile", "target": None}
    for name in fields:
        sub = node.get(name)
        if sub is not None:
            fields[name] = check.text(sub, f"image.build.{name}")
    args: dict[str, str] = {}
    args_item = node.get("args")
    if args_item is not None:
        args_node = check.mapping(args_item.value, "image.build.args", null_ok=True)
        for arg in args_node.items if args_node else ():
            value = check.text(arg, f"image.build.args.{arg.key}", what='text (write "" for empty)')
            if value is not None:
                args[arg.key] = value
    network = None
    network_item = node.get("network")
    if network_item is not None:
        network = check.text(network_item, "image.build.network", what="a network name (none, host, ...)")
        if network is not None and not NETWORK_RE.fullmatch(network):
            check.problem(network_item.line, "image.build.network", f"{network!r} is not a network name")
            network = None
    platforms: list[str] = []
    platforms_item = node.get("platforms")
    if platforms_item is not None:
        subs = (
            [YItem(f"[{i}]", n.line, n) for i, n in enumerate(platforms_item.value.items)]
            if isinstance(platforms_item.value, YSeq)
            else [YItem("", platforms_item.line, platforms_item.value)]
        )
        for sub in subs:
            path = f"image.build.platforms{sub.key}"
            platform = check.text(sub, path, what="a platform such as linux/amd64")
            if platform is not None and not PLATFORM_RE.fullmatch(platform):
                check.problem(
                    sub.line, path, f"{platform!r} is not a platform (os/arch[/variant], e.g. linux/arm64)"
                )
            elif platform is not None:
                platforms.append(platform)
    push_item = node.get("push")
    push = _image_ref(check, push_item, "image.build.push") if push_item is not None else None
    return BuildSpec(
        context=fields["context"] or ".",
        dockerfile=fields["dockerfile"] or "Dockerfile",
        target=fields["target"],
        args=MappingProxyType(args),
        network=network,
        platforms=tuple(dict.fromkeys(platforms)),
        push=push,
    )


def _build_secrets(
    check: ManifestChecker, top: YMap, credentials: Mapping[str, CredentialSpec]
) -> dict[str, SecretRef]:
    """`image.build.secrets`: id -> a reference as in `env:` (`secret`, `credential`, `version`).
    Read after the credentials (a reference chooses one); `_build` has checked the rest."""
    image = top.get("image")
    build = image.value.get("build") if image is not None and isinstance(image.value, YMap) else None
    item = build.value.get("secrets") if build is not None and isinstance(build.value, YMap) else None
    if item is None:
        return {}
    node = check.mapping(item.value, "image.build.secrets", null_ok=True)
    secrets: dict[str, SecretRef] = {}
    for entry in node.items if node else ():
        path = f"image.build.secrets.{entry.key}"
        if not BUILD_SECRET_ID_RE.fullmatch(entry.key):
            check.problem(
                entry.line,
                path,
                f"{entry.key!r} is not a build secret id (letters, digits, '_', '.', '-'; as in "
                "RUN --mount=type=secret,id=ID)",
            )
            continue
        if not isinstance(entry.value, YMap):
            check.problem(entry.line, path, f"must be a mapping with `secret:`, not {kind(entry.value)}")
            continue
        ref = parse_secret_ref(check, entry, entry.value, path, credentials)
        if ref is not None:
            secrets[entry.key] = ref
    return secrets


def _env(
    check: ManifestChecker, top: YMap, credentials: Mapping[str, CredentialSpec], *, has_env_from: bool
) -> list[EnvEntry]:
    item = top.get("env")
    if item is None:
        if not has_env_from:
            check.problem(
                top.line or None, "env", "`env:` (or `env_from:`) is required (the variables to bake)"
            )
        return []
    node = check.mapping(item.value, "env", null_ok=True)
    if node is None:
        return []
    if not node.items and not has_env_from:
        check.warnings.append("env: is empty; the image gets no variables from baker")
    entries = []
    for var in node.items:
        path = f"env.{var.key}"
        name_ok = bool(ENV_NAME_RE.fullmatch(var.key))
        if not name_ok:
            check.problem(
                var.line,
                path,
                f"{var.key!r} is not an env var name (a letter or '_', then letters, digits or '_')",
            )
        source = parse_source(check, var, path, credentials)
        if source is not None and name_ok:
            entries.append(EnvEntry(var.key, source, var.line))
    return entries


def _files(check: ManifestChecker, top: YMap, credentials: Mapping[str, CredentialSpec]) -> list[FileEntry]:
    """`files:` (`baker.manifest.files` holds the rules): path -> a value, as an `env:` entry writes
    one (text, or a mapping with `secret:`, ...), with `mode`, `uid`, `gid` beside it."""
    item = top.get("files")
    if item is None:
        return []
    node = check.mapping(item.value, "files", null_ok=True)
    if node is None:
        return []
    entries = []
    for file in node.items:
        path = f"files.{file.key}"
        why = file_rules.path_problem(file.key)
        if why is not None:
            check.problem(file.line, path, why)
        attributes: dict[str, int] = {}
        value = file.value
        if isinstance(value, YMap):
            for key in file_rules.FILE_KEYS:
                found = value.get(key)
                if found is None:
                    continue
                text = check.text(found, f"{path}.{key}", what="text")
                if text is None:
                    continue
                number, refusal = (
                    file_rules.mode_problem(text) if key == "mode" else file_rules.id_problem(text, key)
                )
                if refusal is not None:
                    check.problem(found.line, f"{path}.{key}", refusal)
                elif number is not None:
                    attributes[key] = number
            # The value form is read as env: reads it, without the file's own keys.
            rest = tuple(i for i in value.items if i.key not in file_rules.FILE_KEYS)
            file = YItem(file.key, file.line, YMap(value.line, rest))
        source = parse_source(check, file, path, credentials)
        if source is not None and why is None:
            entries.append(FileEntry(file.key, source, line=file.line, **attributes))
    for parent, child in file_rules.nested([e.path for e in entries]):
        line = next(e.line for e in entries if e.path == child)
        check.problem(
            line, f"files.{child}", f"{parent!r} is a file here, so it cannot be a directory of {child!r}"
        )
    return entries
