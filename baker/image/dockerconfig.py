"""Registry credentials as Docker reads them: docker-py's own config reader and credential-helper
runner (`docker.auth.load_config`), so `credHelpers`, `credsStore`, `auths` and identity tokens mean
what they mean to `docker`.  One of the two modules allowed to import docker (with `engine/`): the
Registry API client (`registry/`) reads credentials through here without importing the engine."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator, Mapping

from docker.auth import load_config

from baker.secret import REDACTOR

# Variables that hold one of baker's own credentials, or the way to one.  A docker credential helper
# is a program baker (through docker-py) runs; it gets these blanked.
_CREDENTIAL_VARIABLES = frozenset(
    {
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_PASSWORD",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "SYSTEM_ACCESSTOKEN",
        "SYSTEM_OIDCREQUESTURI",
        "IDENTITY_HEADER",
        "MSI_SECRET",
    }
)


def _blanked(name: str, value: str) -> bool:
    return name in _CREDENTIAL_VARIABLES or (bool(value.strip()) and REDACTOR.redact(value) != value)


class _HelperEnvironment(Mapping[str, str]):
    """What docker-py lays over `os.environ` when it runs a credential helper (its `credstore_env`):
    every variable of baker's credentials, and every variable whose value the Redactor knows (a
    manifest credential's `${VAR}`, a value read), set to "".  docker-py copies the environment and
    updates it, so blanking is as far as it lets a caller go.  Computed each time a helper runs, so
    a value registered after the client was made counts too."""

    def __getitem__(self, name: str) -> str:
        if name in os.environ and _blanked(name, os.environ[name]):
            return ""
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter([name for name, value in os.environ.items() if _blanked(name, value)])

    def __len__(self) -> int:
        return sum(1 for _ in self)


HELPER_ENVIRONMENT: Mapping[str, str] = _HelperEnvironment()


def helper_safe(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` with the variables `HELPER_ENVIRONMENT` blanks set to "": the environment of a
    program that runs credential helpers itself (the docker CLI of the app build), so its helpers
    get what docker-py's get.  Everything else (DOCKER_*, PATH, HOME, proxies) is kept."""
    return {name: "" if _blanked(name, value) else value for name, value in environ.items()}


def registry_login(registry: str) -> tuple[str, str, str, str]:
    """The user's credentials for `registry` (a host; Docker Hub as `imageref.DOCKER_HUB_NAME`) by Docker's
    own rules, docker-py's: `credHelpers[registry]` over `credsStore` over `auths`, index names
    normalised, a helper's `<token>` user meaning an identity token.  Gives (helper, username,
    password, identity_token), "" for each part that is absent; `helper` is the credential helper
    the config names for the registry, tried or not, so a refusal can say which one.

    For `baker check`, which reads a registry without the engine: best effort, because the registry
    may well allow anonymous pulls.  A helper that is missing or fails, or a config docker-py cannot
    read, gives no credentials; docker-py's exception is dropped unread, since its message quotes
    the helper's output.  Every password and token is registered with the Redactor here."""
    helper, failure = "", ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # docker-py warns on stderr when a helper is not on PATH
            config = load_config(credstore_env=HELPER_ENVIRONMENT)  # helpers get no credential of baker's
            helper = str(config.get_credential_store(registry) or "")
            found = config.resolve_authconfig(registry) or {}
    except Exception as exc:  # docker-py raises many types here (config shape, helper output, OS)
        failure = type(exc).__name__
    if failure:
        # Logged outside the `except`: a failing log handler prints the exception being handled.
        logging.getLogger(__name__).debug("no registry credentials for %s (%s)", registry, failure)
        return helper, "", "", ""
    user = str(found.get("Username") or found.get("username") or "")
    password = str(found.get("Password") or found.get("password") or "")
    token = str(found.get("IdentityToken") or "")
    if password:
        REDACTOR.register(password, label=f"registry password for {registry}")
    if token:
        REDACTOR.register(token, label=f"registry identity token for {registry}")
    return helper, user, password, token
