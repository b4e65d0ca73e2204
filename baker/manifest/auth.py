"""A credential's `auth:` in the manifest: the keys each kind takes, the token source found offline,
and what a missing one means (a warning offline; `no-federated-token`, exit 2, for a command that
connects).  Part of `baker.manifest`; imports neither azure nor docker.

Fallbacks: workload identity reads `tenant_id` / `client_id` from AZURE_TENANT_ID / AZURE_CLIENT_ID
when left out, as a client secret does.  Managed identity's `client_id` (a user-assigned identity) and
the Azure CLI's `tenant_id` are optional and have no fallback: a stray AZURE_CLIENT_ID meant for
another sign-in must not switch the identity silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from baker import model
from baker.diagnose import Diagnosis, fix_for
from baker.errors import Problem
from baker.manifest import token_sources
from baker.manifest.interpolation import VAR_RE
from baker.manifest.yamltree import Checker, YItem, YMap
from baker.model import AuthSpec, CredentialSpec, EnvEntry, FileEntry, source_refs
from baker.secret import REDACTOR
from baker.suggest import did_you_mean

COMMON_KEYS = ("provider", "vault_url", "authority_host", "default", "auth")
AUTH_KEYS: dict[str, tuple[str, ...]] = {
    model.CLIENT_SECRET: ("tenant_id", "client_id", "client_secret"),
    model.WORKLOAD_IDENTITY: (
        "tenant_id",
        "client_id",
        "federated_token_file",
        "audience",
        "service_connection_id",
        "federated_token",
    ),
    model.MANAGED_IDENTITY: ("client_id",),
    model.AZURE_CLI: ("tenant_id",),
}


def auth_kind(check: Checker, node: YMap, path: str) -> str:
    """The credential's `auth:` (client-secret when left out or unknown: its problem is recorded)."""
    item = node.get("auth")
    if item is None:
        return model.CLIENT_SECRET
    text = check.text(item, f"{path}.auth") or ""
    if text in model.AUTH_KINDS:
        return text
    hint = did_you_mean(text, model.AUTH_KINDS, otherwise="known: ", cutoff=0.5)
    check.problem(item.line, f"{path}.auth", f"unknown auth {text!r}; {hint}")
    return model.CLIENT_SECRET


def check_keys(check: Checker, node: YMap, path: str, kind: str) -> None:
    """Unknown keys refused with a did-you-mean; a key of another auth kind named as such.
    `client_secret` on a keyless credential gets its own problem (`refuse_client_secret`)."""
    allowed = COMMON_KEYS + AUTH_KEYS[kind]
    for item in node.items:
        if item.key in allowed or item.key == "client_secret":
            continue
        owners = [k for k, keys in AUTH_KEYS.items() if item.key in keys]
        if owners:
            message = (
                f"{item.key!r} belongs to `auth: {' / '.join(owners)}`, and this credential's auth is {kind}"
            )
        else:
            hint = did_you_mean(item.key, allowed, otherwise="allowed here: ")
            message = f"unknown key {item.key!r}; {hint}"
        check.problem(item.line, f"{path}.{item.key}", message)


def refuse_client_secret(check: Checker, node: YMap, path: str, kind: str) -> None:
    item = node.get("client_secret")
    if item is not None and kind != model.CLIENT_SECRET:
        text = check.text(item, f"{path}.client_secret")
        if text and not VAR_RE.fullmatch(text):
            REDACTOR.register(text, label=path)  # it may be real: never echo it
        check.problem(
            item.line,
            f"{path}.client_secret",
            f"`auth: {kind}` signs in without a client secret: remove client_secret "
            "(or set `auth: client-secret`)",
        )


def keyless_auth(
    check: Checker,
    environ: Mapping[str, str],
    node: YMap,
    path: str,
    kind: str,
    field: Callable[[str], str | None],
) -> tuple[str | None, str | None, AuthSpec]:
    """(tenant_id, client_id, AuthSpec) of a credential whose auth is not client-secret.

    `field(name)` reads a field with its AZURE_* fallback; optional fields without one are read
    only when written."""

    def optional(name: str) -> str | None:
        return field(name) if node.get(name) is not None else None

    if kind == model.MANAGED_IDENTITY:
        client_id = optional("client_id")
        if refusal := token_sources.managed_identity_in_clear(environ):
            check.problem(node.line, path, refusal)
        where = token_sources.managed_identity_where(environ, client_id)
        return None, client_id, AuthSpec(kind, where=where)
    if kind == model.AZURE_CLI:
        az = token_sources.azure_cli_path(environ)
        where = f"the `az login` session (az at {az})" if az else "the `az login` session (az not on PATH)"
        return optional("tenant_id"), None, AuthSpec(kind, where=where)

    tenant_id, client_id = field("tenant_id"), field("client_id")
    audience = model.DEFAULT_AUDIENCE
    if (item := node.get("audience")) is not None:
        audience = check.text(item, f"{path}.audience") or audience
    connection = None
    if (item := node.get("service_connection_id")) is not None:
        connection = _text_or_var(check, environ, item, f"{path}.service_connection_id")
    token_file, token_file_key = None, None
    if (item := node.get("federated_token_file")) is not None:
        text = check.text(item, f"{path}.federated_token_file")
        match = VAR_RE.fullmatch(text or "")
        token_file_key = f"federated_token_file ${{{match[1]}}}" if match else "federated_token_file"
        token_file = _text_or_var(check, environ, item, f"{path}.federated_token_file")
    token_var = None
    if (item := node.get("federated_token")) is not None:
        text = check.text(item, f"{path}.federated_token", what="${NAME}") or ""
        match = VAR_RE.fullmatch(text)
        if match is None:
            if text:
                REDACTOR.register(text, label=path)  # it may be a real token: never echo it
            check.problem(
                item.line,
                f"{path}.federated_token",
                "must be `${NAME}`, the variable holding the token (a literal token is refused: "
                "manifests live in git)",
            )
        else:
            token_var = match[1]
    source, looked = token_sources.find_token_source(
        environ,
        token_file=token_file,
        token_file_key=token_file_key,
        token_var=token_var,
        service_connection_id=connection,
        audience=audience,
    )
    for secret in (source.request_token, source.token) if source else ():
        if secret is not None:
            REDACTOR.register(secret, label=f"{path} token")
    if source is not None and (refusal := token_sources.source_in_clear(source)):
        check.problem(node.line, path, refusal)
    missing = None if source else f"no federated token: looked for {looked}"
    where = source.where if source else "no token source present"
    spec = AuthSpec(kind, audience, connection, source, missing, where)
    return tenant_id, client_id, spec


def _text_or_var(check: Checker, environ: Mapping[str, str], item: YItem, path: str) -> str | None:
    """Text, or `${NAME}` filled from the environment (None when unset: the source is absent)."""
    text = check.text(item, path)
    if text is None:
        return None
    match = VAR_RE.fullmatch(text)
    if match is None:
        if "${" in text:
            check.problem(item.line, path, "`${NAME}` must be the whole value (no text around it)")
            return None
        return text
    return environ.get(match[1]) or None


def register_secret_vars(environ: Mapping[str, str], credentials: Mapping[str, CredentialSpec]) -> None:
    """Request tokens and managed identity headers are secrets wherever a keyless credential may
    send them: masked before any message could quote them."""
    if any(spec.auth.is_keyless for spec in credentials.values()):
        for var in token_sources.SECRET_VARS:
            if environ.get(var):
                REDACTOR.register(environ[var], label=var)


def check_token_sources(
    check: Checker,
    credentials: Mapping[str, CredentialSpec],
    env: Sequence[EnvEntry | FileEntry],
    environ: Mapping[str, str],
    *,
    offline: bool,
) -> None:
    """A used workload-identity credential with no token source: a `no-federated-token` problem for
    a command that connects (before any network call), a warning offline or when unused.  An
    `azure-cli` credential with no `az` on the PATH: a warning (the sign-in says the rest)."""
    register_secret_vars(environ, credentials)
    used = {ref.credential for e in env for ref in source_refs(e.source)}
    for name, spec in credentials.items():
        if spec.auth.missing:
            if name in used and not offline:
                check.problem(
                    spec.line,
                    f"credentials.{name}",
                    f"{spec.auth.missing} (no-federated-token)",
                    code=Diagnosis.NO_FEDERATED_TOKEN,
                )
            else:
                check.warnings.append(
                    f"credentials.{name}: {spec.auth.missing}; fine offline, but commands that connect "
                    "will refuse with no-federated-token"
                )
        elif spec.auth.kind == model.AZURE_CLI and token_sources.azure_cli_path(environ) is None:
            check.warnings.append(
                f"credentials.{name}: `auth: azure-cli` but `az` is not on the PATH; commands that "
                "connect will fail with azure-cli-not-signed-in"
            )


def problems_hint(problems: list[Problem]) -> str | None:
    """The fix, when a manifest's problems include a missing federated token."""
    if any(p.code == Diagnosis.NO_FEDERATED_TOKEN for p in problems):
        return fix_for(Diagnosis.NO_FEDERATED_TOKEN)
    return None
