"""One value source, parsed: what an `env:` entry holds (and what a `files:` entry will hold).

    FOO: text                                      a literal
    FOO: {secret: NAME[#key], credential:, version:}   a Key Vault secret (or one JSON field of it)
    FOO: {certificate: NAME, format: pem|cert|key|pfx-base64, credential:, version:}
    FOO: {template: "...{{ part }}...", from: {part: <a literal, secret or certificate>}}

Templates: placeholders are `{{ name }}` (spaces or tabs inside the braces optional) naming a `from:`
entry, nothing else: no expressions, no filters, no Jinja2.  Any other `{{` is a problem (write a
literal `{{` as a `from:` part holding it: parts are inserted verbatim and never scanned again).
A placeholder naming no `from:` entry, and a `from:` entry no placeholder names, are problems.
The template is split into text and placeholders here, once; `baker.values` joins the pieces.

Also `env_from:` (`parse_env_from`): a list of `{prefix:, credential:}`.  Pure: no I/O, no SDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from baker.diagnose import Diagnosis
from baker.errors import BadReference
from baker.manifest.credentials import ManifestChecker
from baker.manifest.interpolation import VAR_RE
from baker.manifest.refs import MAX_NAME_LENGTH, normalize_name, parse_reference, parse_version
from baker.manifest.yamltree import NULL, YItem, YMap, YScalar, YSeq, kind
from baker.model import (
    CERT_FORMATS,
    CertificateRef,
    CredentialSpec,
    EnvFrom,
    LiteralValue,
    Part,
    Placeholder,
    SecretRef,
    Source,
    TemplateValue,
    default_credential,
    marked_default,
)
from baker.suggest import did_you_mean

REFERENCE_KEYS = ("secret", "credential", "version")
CERTIFICATE_KEYS = ("certificate", "format", "credential", "version")
TEMPLATE_KEYS = ("template", "from")
ENV_FROM_KEYS = ("prefix", "credential")
PLACEHOLDER_RE = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}")
PART_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PREFIX_RE = re.compile(r"[0-9A-Za-z-]+")

Credentials = Mapping[str, CredentialSpec]


def parse_source(check: ManifestChecker, var: YItem, path: str, credentials: Credentials) -> Source | None:
    """The value source at `var` (an env entry), or None after recording its problems."""
    value = var.value
    if isinstance(value, YMap):
        if value.get("template") is not None or value.get("from") is not None:
            return _template(check, var, value, path, credentials)
        if value.get("certificate") is not None:
            return _certificate(check, var, value, path, credentials)
        return parse_secret_ref(check, var, value, path, credentials)
    return _literal(check, var, path)


def _literal(check: ManifestChecker, var: YItem, path: str) -> LiteralValue | None:
    value = var.value
    if isinstance(value, YScalar) and value.tag != NULL:
        if VAR_RE.search(value.text):
            check.warnings.append(
                f"{path}: baker does not expand ${{NAME}} in env values (only in credentials); "
                "the text is baked exactly as written"
            )
        return LiteralValue(value.text)
    check.problem(
        var.line,
        path,
        f"must be text or a mapping with `secret:`, `certificate:` or `template:`, not {kind(value)} "
        '(write "" for an empty value)',
    )
    return None


def parse_secret_ref(
    check: ManifestChecker, var: YItem, node: YMap, path: str, credentials: Credentials
) -> SecretRef | None:
    check.known_keys(node, path, REFERENCE_KEYS)
    ok = True
    parsed = None
    secret_item = node.get("secret")
    if secret_item is None:
        check.problem(
            var.line,
            f"{path}.secret",
            "a reference needs `secret: NAME` (or `NAME#json_key`), `certificate: NAME` or `template:`",
        )
        ok = False
    else:
        written = check.text(secret_item, f"{path}.secret", what="a secret name")
        try:
            parsed = parse_reference(written) if written is not None else None
        except BadReference as exc:
            check.problem(secret_item.line, f"{path}.secret", str(exc))
        ok = ok and parsed is not None
    version_ok, version = _version(check, node, path)
    credential = choose_credential(check, var, node, path, credentials)
    if not ok or not version_ok or parsed is None or credential is None:
        return None
    return SecretRef(parsed.written, parsed.name, parsed.key, version, credential)


def _version(check: ManifestChecker, node: YMap, path: str) -> tuple[bool, str | None]:
    """(ok, the pinned version or None when unpinned); not ok after a problem."""
    item = node.get("version")
    if item is None:
        return True, None
    text = check.text(item, f"{path}.version", what="a version id")
    if text is None:
        return False, None
    try:
        return True, parse_version(text)
    except BadReference as exc:
        check.problem(item.line, f"{path}.version", str(exc))
        return False, None


def _certificate(
    check: ManifestChecker, var: YItem, node: YMap, path: str, credentials: Credentials
) -> CertificateRef | None:
    check.known_keys(node, path, CERTIFICATE_KEYS)
    item = node.get("certificate")
    assert item is not None
    name = check.text(item, f"{path}.certificate", what="a certificate name")
    azure = None
    if name is not None:
        try:
            if "#" in name:
                raise BadReference(f"{name!r}: a certificate is read whole (no `#key`)")
            azure = normalize_name(name)
        except BadReference as exc:
            check.problem(item.line, f"{path}.certificate", str(exc))
    form = None
    format_item = node.get("format")
    if format_item is None:
        check.problem(var.line, f"{path}.format", f"a certificate needs `format:` ({'|'.join(CERT_FORMATS)})")
    else:
        form = check.text(format_item, f"{path}.format", what="a certificate format")
        if form is not None and form not in CERT_FORMATS:
            hint = did_you_mean(form, CERT_FORMATS, otherwise="one of: ")
            check.problem(format_item.line, f"{path}.format", f"unknown format {form!r}; {hint}")
            form = None
    version_ok, version = _version(check, node, path)
    credential = choose_credential(check, var, node, path, credentials)
    if azure is None or name is None or form is None or not version_ok or credential is None:
        return None
    return CertificateRef(SecretRef(name, azure, None, version, credential), form)


def _template(
    check: ManifestChecker, var: YItem, node: YMap, path: str, credentials: Credentials
) -> TemplateValue | None:
    check.known_keys(node, path, TEMPLATE_KEYS)
    text_item, from_item = node.get("template"), node.get("from")
    if text_item is None or from_item is None:
        missing = "template" if text_item is None else "from"
        check.problem(
            var.line, f"{path}.{missing}", "a template needs `template:` (the text) and `from:` (its parts)"
        )
        return None
    text = check.text(text_item, f"{path}.template", what="the template's text")
    parts_node = check.mapping(from_item.value, f"{path}.from")
    parts: list[tuple[str, Part]] = []
    ok = text is not None and parts_node is not None
    for part in parts_node.items if parts_node else ():
        part_path = f"{path}.from.{part.key}"
        if not PART_NAME_RE.fullmatch(part.key):
            check.problem(
                part.line,
                part_path,
                f"{part.key!r} is not a part name (a letter or '_', then letters, digits or '_')",
            )
            ok = False
            continue
        if isinstance(part.value, YMap) and part.value.get("template") is not None:
            check.problem(part.line, part_path, "a template's part cannot be another template")
            ok = False
            continue
        parsed = parse_source(check, part, part_path, credentials)
        if parsed is None or isinstance(parsed, TemplateValue):
            ok = False
            continue
        parts.append((part.key, parsed))
    if text is None:
        return None
    segments = split_template(check, text_item, f"{path}.template", text)
    if segments is None or not ok:
        return None
    named = {seg.name for seg in segments if isinstance(seg, Placeholder)}
    known = dict(parts)
    for name in sorted(named - set(known)):
        hint = did_you_mean(name, known, otherwise="`from:` names: ")
        check.problem(
            text_item.line,
            f"{path}.template",
            f"the placeholder {{{{ {name} }}}} names no `from:` entry; {hint}",
        )
        ok = False
    for part in parts_node.items if parts_node else ():
        if part.key in known and part.key not in named:
            check.problem(
                part.line,
                f"{path}.from.{part.key}",
                f"no placeholder {{{{ {part.key} }}}} in the template uses it",
            )
            ok = False
    return TemplateValue(text, segments, tuple(parts)) if ok else None


def split_template(
    check: ManifestChecker, item: YItem, path: str, text: str
) -> tuple[str | Placeholder, ...] | None:
    """The text split into plain text and placeholders; None after a problem (`{{` that opens no
    placeholder: an expression, a filter, an unclosed brace)."""
    segments: list[str | Placeholder] = []
    at = 0
    ok = True
    while True:
        start = text.find("{{", at)
        if start < 0:
            break
        match = PLACEHOLDER_RE.match(text, start)
        if match is None:
            end = text.find("}}", start)
            shown = text[start : end + 2] if 0 <= end - start < 60 else text[start : start + 20] + "..."
            check.problem(
                item.line,
                path,
                f"{shown!r} is not a placeholder: only `{{{{ name }}}}` naming a `from:` entry (no "
                "expressions or filters; a literal `{{` goes in a `from:` part)",
            )
            ok = False
            at = start + 2
            continue
        if start > at:
            segments.append(text[at:start])
        segments.append(Placeholder(match.group(1)))
        at = match.end()
    if at < len(text):
        segments.append(text[at:])
    return tuple(segments) if ok else None


def parse_env_from(check: ManifestChecker, top: YMap, credentials: Credentials) -> list[EnvFrom]:
    item = top.get("env_from")
    if item is None:
        return []
    if isinstance(item.value, YScalar) and item.value.tag == NULL:
        return []
    if not isinstance(item.value, YSeq):
        check.problem(
            item.line, "env_from", f"must be a list of {{prefix:, credential:}}, not {kind(item.value)}"
        )
        return []
    out: list[EnvFrom] = []
    seen: dict[tuple[str, str], int] = {}
    for i, node in enumerate(item.value.items):
        path = f"env_from[{i}]"
        entry = YItem(str(i), node.line, node)
        mapping = check.mapping(node, path)
        if mapping is None:
            continue
        check.known_keys(mapping, path, ENV_FROM_KEYS)
        prefix_item = mapping.get("prefix")
        prefix = None
        if prefix_item is None:
            check.problem(node.line, f"{path}.prefix", "needs `prefix:` (the start of the secrets' names)")
        else:
            written = check.text(prefix_item, f"{path}.prefix", what="a secret-name prefix")
            if written is not None:
                prefix = written.replace("_", "-")
                if not PREFIX_RE.fullmatch(prefix) or len(prefix) >= MAX_NAME_LENGTH:
                    check.problem(
                        prefix_item.line,
                        f"{path}.prefix",
                        f"{written!r} cannot start a Key Vault secret name (ASCII letters, digits and '-'; "
                        "'_' is turned into '-')",
                    )
                    prefix = None
        credential = choose_credential(check, entry, mapping, path, credentials)
        if prefix is None or credential is None:
            continue
        key = (credential, prefix.lower())
        if key in seen:
            check.problem(
                node.line, path, f"the same prefix {prefix!r} and credential as env_from[{seen[key]}]"
            )
            continue
        seen[key] = i
        out.append(EnvFrom(prefix, credential, node.line))
    return out


def choose_credential(
    check: ManifestChecker, var: YItem, node: YMap, path: str, credentials: Credentials
) -> str | None:
    item = node.get("credential")
    if item is not None:
        name = check.text(item, f"{path}.credential", what="a credential name")
        if name is None or name in credentials or name in check.broken:
            return name if name in credentials else None
        hint = did_you_mean(name, credentials, otherwise="the manifest defines: ")
        check.problem(item.line, f"{path}.credential", f"no credential named {name!r}; {hint}")
        return None
    chosen = default_credential(credentials)
    if chosen is not None:
        return chosen
    defaults = marked_default(credentials)
    if not credentials:
        why = "the manifest defines no `credentials:`"
    elif not defaults:
        why = "no credential is marked `default: true`"
    else:
        why = f"{len(defaults)} credentials are marked `default: true` ({', '.join(defaults)})"
    check.problem(
        var.line,
        path,
        f"names no credential and {why} (no-credential): add `credential: NAME`, or mark exactly one "
        "credential `default: true`",
        code=Diagnosis.NO_CREDENTIAL,
    )
    return None
