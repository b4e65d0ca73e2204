"""The `credentials:` block of a manifest: provider, vault URL, `${NAME}` interpolation, the
AZURE_* fallbacks, the refusal of literal client secrets, and what to do about unset variables
(a problem when the credential is used by a command that connects, a warning when not used or
when the command stays offline).  Part of `baker.manifest.checks`; split out
only to keep modules small.  Imports neither azure nor docker.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence

from baker.diagnose import Diagnosis
from baker.manifest.auth import auth_kind, check_keys, keyless_auth, refuse_client_secret
from baker.manifest.interpolation import VAR_RE
from baker.manifest.yamltree import BOOL, Checker, YItem, YMap, YScalar
from baker.model import (
    CLIENT_SECRET,
    AuthSpec,
    CredentialSpec,
    EnvEntry,
    FileEntry,
    marked_default,
    source_refs,
)
from baker.providers import REGISTRY
from baker.record import Record
from baker.secret import REDACTOR, Secret
from baker.suggest import did_you_mean

CREDENTIAL_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
FALLBACK_VARS = {
    "tenant_id": "AZURE_TENANT_ID",
    "client_id": "AZURE_CLIENT_ID",
    "client_secret": "AZURE_CLIENT_SECRET",
}


class _Unset(Record):
    var: str
    key: str
    line: int
    fallback: bool  # the field was left out and the AZURE_* variable is unset


class ManifestChecker(Checker):
    """A Checker that also knows the environment and which credential variables are unset."""

    def __init__(self, file: str, environ: Mapping[str, str]) -> None:
        super().__init__(file)
        self.environ = environ
        self.unset: dict[str, list[_Unset]] = {}
        # Credentials too broken to build: references naming them are not reported a second time.
        self.broken: set[str] = set()


def parse_credentials(check: ManifestChecker, top: YMap) -> dict[str, CredentialSpec]:
    item = top.get("credentials")
    node = check.mapping(item.value, "credentials", null_ok=True) if item else None
    out: dict[str, CredentialSpec] = {}
    for cred in node.items if node else ():
        spec = _credential(check, cred)
        if spec is not None:
            out[spec.name] = spec
    defaults = [out[name] for name in marked_default(out)]
    if len(defaults) > 1:
        names = ", ".join(c.name for c in defaults)
        check.problem(
            defaults[1].line,
            f"credentials.{defaults[1].name}.default",
            f"{len(defaults)} credentials are marked `default: true` ({names}); "
            "mark exactly one (no-credential)",
            code=Diagnosis.NO_CREDENTIAL,
        )
    return out


def _credential(check: ManifestChecker, item: YItem) -> CredentialSpec | None:
    name, path = item.key, f"credentials.{item.key}"
    if not CREDENTIAL_NAME_RE.fullmatch(name):
        check.problem(
            item.line, path, f"{name!r} is not a credential name (letters, digits, '-', '_', '.'; up to 64)"
        )
    node = check.mapping(item.value, path)
    if node is None:
        check.broken.add(name)
        return None
    kind = auth_kind(check, node, path)
    check_keys(check, node, path, kind)
    refuse_client_secret(check, node, path, kind)

    provider = ""
    provider_item = node.get("provider")
    if provider_item is None:
        check.problem(item.line, f"{path}.provider", "is required (known: " + ", ".join(REGISTRY) + ")")
    else:
        provider = check.text(provider_item, f"{path}.provider") or ""
        if provider and provider not in REGISTRY:
            hint = did_you_mean(provider, REGISTRY, otherwise="known: ", cutoff=0.5)
            check.problem(provider_item.line, f"{path}.provider", f"unknown provider {provider!r}; {hint}")

    vault_url = ""
    url_item = node.get("vault_url")
    if url_item is None:
        check.problem(item.line, f"{path}.vault_url", "is required (like https://my-vault.vault.azure.net)")
    else:
        vault_url = (
            check.https_url(
                url_item,
                f"{path}.vault_url",
                origin_only=True,
                interpolate=_interpolator(check, name, f"{path}.vault_url", url_item.line),
            )
            or ""
        )

    auth = AuthSpec()
    if kind == CLIENT_SECRET:
        tenant_id = _field(check, node, item, "tenant_id")
        client_id = _field(check, node, item, "client_id")
        secret_text = _field(check, node, item, "client_secret")
    else:
        tenant_id, client_id, auth = keyless_auth(
            check, check.environ, node, path, kind, lambda key: _field(check, node, item, key)
        )
        secret_text = None
    client_secret = None
    if secret_text is not None:
        client_secret = Secret(secret_text)
        REDACTOR.register(client_secret, label=name)
        if secret_text != secret_text.strip():
            check.warnings.append(
                f"{path}.client_secret: the value starts or ends with whitespace (a newline from a file?); "
                "Entra would answer invalid-client-secret"
            )
        elif _GUID.fullmatch(secret_text):
            check.warnings.append(
                f"{path}.client_secret: the value looks like a secret ID (a GUID), not the secret's value; "
                "Entra would answer invalid-client-secret"
            )

    authority_item = node.get("authority_host")
    if authority_item is not None:
        authority_host = check.https_url(
            authority_item,
            f"{path}.authority_host",
            origin_only=False,
            interpolate=_interpolator(check, name, f"{path}.authority_host", authority_item.line),
        )
    else:  # the environment's fallback, read by the same check
        authority_host = check.environ_https_url(
            "AZURE_AUTHORITY_HOST",
            check.environ.get("AZURE_AUTHORITY_HOST"),
            item.line,
            f"{path}.authority_host",
        )

    is_default = False
    default_item = node.get("default")
    if default_item is not None:
        value = default_item.value
        if isinstance(value, YScalar) and value.tag == BOOL:
            is_default = bool(value.value)
        else:
            check.problem(default_item.line, f"{path}.default", "must be true or false (unquoted)")

    return CredentialSpec(
        name=name,
        provider=provider,
        vault_url=vault_url,
        tenant_id=tenant_id,
        client_id=client_id,
        client_secret=client_secret,
        is_default=is_default,
        line=item.line,
        authority_host=authority_host,
        unset_vars=tuple(u.var for u in check.unset.get(name, ())),
        auth=auth,
    )


def _interpolator(check: ManifestChecker, cred: str, path: str, line: int) -> Callable[[str], str | None]:
    """Fills `${NAME}` parts of a URL (one vault per stage: `https://${VAULT}.vault.azure.net`).
    An unset variable is recorded like any of the credential's variables (an error when the
    credential is used, a warning otherwise) and yields None."""

    def fill(text: str) -> str | None:
        if VAR_RE.sub("", text).count("${"):
            check.problem(
                line, path, "`${` must start a `${NAME}` (a letter or '_', then letters, digits, '_')"
            )
            return None
        unset = [m[1] for m in VAR_RE.finditer(text) if not check.environ.get(m[1])]
        for var in dict.fromkeys(unset):
            check.unset.setdefault(cred, []).append(_Unset(var, path, line, False))
        if unset:
            return None
        values = [check.environ[m[1]] for m in VAR_RE.finditer(text)]
        for value in values:
            _register(value, cred)
        filled = VAR_RE.sub(lambda m: check.environ[m[1]], text)
        _register_host_labels(filled, values, cred)
        return filled

    return fill


def _register(value: str, cred: str) -> None:
    """A `${NAME}` feeding a credential may hold the client secret by mistake (the variables
    swapped): mask it before any message can quote it, in any letter case a host or URL gives it.
    A value too short to mask cannot be a client secret; ids and vault names that short stay shown."""
    if len(value.strip()) >= REDACTOR.MIN_LENGTH:
        REDACTOR.register(value, label=cred, any_case=True)


def _register_host_labels(url: str, values: list[str], cred: str) -> None:
    """A non-ASCII host travels as punycode, which encodes the whole label: mask each label of the
    filled URL's host that holds a variable's value, in that form."""
    try:
        host = urllib.parse.urlsplit(url).hostname or ""
    except ValueError:
        return  # the URL check reports it
    for label in host.split("."):
        if not label.isascii() and any(v.lower() in label for v in values if v.strip()):
            _register(label, cred)


def _field(check: ManifestChecker, node: YMap, cred: YItem, field: str) -> str | None:
    """tenant_id / client_id / client_secret after `${NAME}` and the AZURE_* fallback."""
    path = f"credentials.{cred.key}.{field}"
    item = node.get(field)
    if item is None:
        var, line, fallback = FALLBACK_VARS[field], cred.line, True
    else:
        text = check.text(item, path, what="text or ${NAME}")
        if text is None:
            return None
        match = VAR_RE.fullmatch(text)
        if match is None:
            if field == "client_secret":
                # It may be real: mask it from here on, and never echo it.
                REDACTOR.register(text, label=cred.key)
                check.problem(
                    item.line,
                    path,
                    "a literal client secret is refused (manifests live in git): write "
                    "`client_secret: ${SOME_VAR}` and set SOME_VAR in the environment, or leave the "
                    "line out to use AZURE_CLIENT_SECRET",
                )
                return None
            if "${" in text:
                check.problem(item.line, path, "`${NAME}` must be the whole value (no text around it)")
                return None
            return text
        var, line, fallback = match[1], item.line, False
    value = check.environ.get(var) or None
    if value is None:
        check.unset.setdefault(cred.key, []).append(_Unset(var, path, line, fallback))
    else:
        _register(value, cred.key)
    return value


def check_unset_vars(
    check: ManifestChecker,
    credentials: Mapping[str, CredentialSpec],
    env: Sequence[EnvEntry | FileEntry],
    *,
    offline: bool = False,
) -> None:
    """A used credential's unset variable is a problem for a command that connects; `offline`
    (validate, plan: they never need the values) makes it a warning naming the variable."""
    users: dict[str, list[str]] = {}
    for entry in env:
        for ref in source_refs(entry.source):
            users.setdefault(ref.credential, []).append(entry.name)
    for name, unsets in check.unset.items():
        if name not in credentials:
            continue
        if name in users:
            names = users[name]
            used_by = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            for u in unsets:
                field = u.key.rsplit(".", 1)[-1]
                what = (
                    f"{field} is left out, so baker reads {u.var}, which is not set"
                    if u.fallback
                    else f"environment variable {u.var} is not set"
                )
                if offline:
                    check.warnings.append(
                        f"{u.key}: {what}; fine offline, but commands that connect need it "
                        f"(credential {name!r} is used by {used_by})"
                    )
                else:
                    check.problem(u.line, u.key, f"{what}; credential {name!r} is used by {used_by}")
        else:
            names_text = ", ".join(u.var for u in unsets)
            check.warnings.append(
                f"credentials.{name}: {names_text} not set; fine while no env var uses credential "
                f"{name!r}, but commands that name it will fail"
            )
