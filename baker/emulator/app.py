"""`Emulator`: the in-process API over the server (pytest fixtures and `baker emulator` use it)."""

from __future__ import annotations

import datetime as dt
import errno
import ipaddress
import os
import secrets
import shutil
import ssl
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from baker.emulator import ci, identity, oidc, pki
from baker.emulator.admin import Admin
from baker.emulator.demo import DEMO_WORLD
from baker.emulator.entra import Entra
from baker.emulator.faults import Faults, RecordedRequest, Stats
from baker.emulator.federation import Federation
from baker.emulator.http import Request, Response, json_response
from baker.emulator.keyvault import KeyVault, kv_error
from baker.emulator.server import ServerThread, TLSServer
from baker.emulator.store import Store
from baker.emulator.world import (
    DEFAULT_FEDERATED_AUDIENCE,
    SECRET_NAME,
    VERSION_ID,
    SecretVersion,
    World,
)
from baker.emulator.worldfile import load_world, parse_world
from baker.errors import UsageError

WorldSource = Path | str | Mapping[str, Any] | World | None
_THROTTLED = (
    "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"
)


def _as_world(world: WorldSource) -> World:
    if world is None:
        return parse_world(DEMO_WORLD, source="<demo world>")
    if isinstance(world, World):
        return world
    if isinstance(world, Path | str):
        return load_world(Path(world))
    return parse_world(world, source="<world mapping>")


def _unix(moment: dt.datetime | float | None) -> float | None:
    if isinstance(moment, dt.datetime):
        return moment.timestamp()
    return moment


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(f"the emulator listens on loopback only, not {host!r}", hint="use --host 127.0.0.1")


class Emulator:
    """A running emulator.  Make one with `Emulator.start(...)`; `stop()` (or `with`) ends it."""

    def __init__(self, world: World, host: str, port: int, state_dir: Path | None) -> None:
        _check_loopback(host)
        self.world = world
        self.host = host
        self._own_dir = state_dir is None
        if state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="baker-emulator-"))  # mode 0700
        else:
            self.state_dir = state_dir
            self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.ca_bundle, context = pki.make_tls(self.state_dir, world.vaults)
        self.faults = Faults()
        self._stats = Stats()
        self._store = Store(world)
        self._key = secrets.token_bytes(32)
        servers = self._bind(host, port, context)
        self.port: int = servers[0].server_address[1]
        self._issuer = oidc.OidcIssuer(self.port)
        self._entra = Entra(world, self.authority_host, self._key, Federation(self._issuer))
        self._ci = ci.CiEndpoints(self._issuer, self.port, world.oidc)
        self._identity = identity.IdentityEndpoint(world, self.authority_host, self._key, self.port)
        self._vault = KeyVault(world, self._store, self._key, self.authority_host, self.port)
        self._admin = Admin(self)
        self._threads = [ServerThread(server) for server in servers]

    def _bind(self, host: str, port: int, context: ssl.SSLContext) -> list[TLSServer]:
        """The listening sockets.  *.localhost resolves to ::1 first, so an IPv4 emulator also
        listens on [::1] at the same port: clients then never reach some other process there."""
        for _ in range(5):
            first = TLSServer(host, port, context, self._dispatch, self._stats)
            if host not in {"127.0.0.1", "localhost"}:
                return [first]
            try:
                return [
                    first,
                    TLSServer("::1", first.server_address[1], context, self._dispatch, self._stats),
                ]
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE and port == 0:
                    first.server_close()  # that port is taken on [::1]: pick another for both
                    continue
                return [first]  # no IPv6 loopback (or a fixed port): IPv4 alone still works
        return [TLSServer(host, port, context, self._dispatch, self._stats)]

    @classmethod
    def start(
        cls, world: WorldSource = None, host: str = "127.0.0.1", port: int = 0, state_dir: Path | None = None
    ) -> Emulator:
        """Seed from `world` (a file, a mapping, or None for the demo world) and serve."""
        return cls(_as_world(world), host, port, state_dir)

    # --- what clients need ----------------------------------------------------------------------

    @property
    def authority_host(self) -> str:
        return f"https://login.localhost:{self.port}"

    def vault_url(self, vault: str) -> str:
        return f"https://{vault.lower()}.vault.localhost:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"https://localhost:{self.port}/_admin"

    def client_env(self) -> dict[str, str]:
        """What an in-process client needs: the authority host and the emulator's CA alone."""
        return {
            "AZURE_AUTHORITY_HOST": self.authority_host,
            "REQUESTS_CA_BUNDLE": str(self.ca_bundle),
            "SSL_CERT_FILE": str(self.ca_bundle),
        }

    def shell_env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """What a shell exports (the banner): as `client_env`, but the CA variables name a bundle of
        the system's CAs plus the emulator's (`pki.write_trust_bundle`, read from `environ`, default
        os.environ), so pip, curl and every other TLS client in that shell keep working."""
        bundle = pki.write_trust_bundle(
            self.state_dir, self.ca_bundle, os.environ if environ is None else environ
        )
        return {**self.client_env(), "REQUESTS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(bundle)}

    # --- keyless sign-in: the OIDC issuer, CI token endpoints, managed identity ------------------

    def oidc_issuer(self, path: str = "") -> str:
        """The emulator's issuer URL: the origin, or `path` under it ("/github", "/devops", ...)."""
        return self._issuer.issuer(path)

    def mint_id_token(
        self,
        subject: str,
        audience: str | list[str] = DEFAULT_FEDERATED_AUDIENCE,
        *,
        issuer: str | None = None,
        lifetime: float = 300.0,
        not_before: dt.datetime | float | None = None,
        expires: dt.datetime | float | None = None,
    ) -> str:
        """An ID token of the emulator's issuer (`issuer`: None for the origin, a "/path" under it, or
        any URL, which Entra here then cannot verify).  `not_before`/`expires` make tokens outside
        their validity window for tests."""
        return self._issuer.mint(
            subject=subject,
            audience=audience,
            issuer=issuer,
            lifetime=lifetime,
            not_before=_unix(not_before),
            expires=_unix(expires),
        )

    def github_actions_env(
        self, subject: str | None = None, token_lifetime: float | None = None, subject_form: str | None = None
    ) -> dict[str, str]:
        """ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN of a GitHub Actions job: the world's default job, or a
        new one whose tokens carry `subject` (written in the plain form), presented in `subject_form`
        ("plain" or "immutable"; None: the world's) and live `token_lifetime` seconds."""
        if subject is None and token_lifetime is None and subject_form is None:
            return self._ci.github_env(self._ci.default_job)
        job = self._ci.add_github_job(
            subject if subject is not None else self.world.oidc.github_subject,
            token_lifetime if token_lifetime is not None else self.world.oidc.github_token_lifetime,
            subject_form,
        )
        return self._ci.github_env(job)

    def azure_pipelines_env(self) -> dict[str, str]:
        """SYSTEM_OIDCREQUESTURI and SYSTEM_ACCESSTOKEN of an Azure Pipelines job."""
        return self._ci.pipelines_env()

    def add_service_connection(self, connection_id: str, subject: str) -> None:
        """An Azure Pipelines service connection whose OIDC tokens carry `subject`."""
        self._ci.add_service_connection(connection_id, subject)

    def managed_identity_env(self) -> dict[str, str]:
        """IDENTITY_ENDPOINT and IDENTITY_HEADER, as App Service and Container Apps set them."""
        return self._identity.env()

    # --- admin ----------------------------------------------------------------------------------

    def set_secret(
        self,
        vault: str,
        name: str,
        value: str,
        *,
        enabled: bool = True,
        expires_on: dt.datetime | None = None,
        not_before: dt.datetime | None = None,
        content_type: str | None = None,
        tags: Mapping[str, str] | None = None,
        version: str | None = None,
    ) -> str:
        """Add a version (rotation; creates the secret if new) and return its id, now the current one."""
        if not SECRET_NAME.match(name):
            raise ValueError(f"invalid secret name {name!r}")
        if version is not None and not VERSION_ID.match(version):
            raise ValueError("a version id is 32 lowercase hex digits")
        spec = SecretVersion(
            value=value,
            version=version,
            enabled=enabled,
            exp=expires_on,
            nbf=not_before,
            content_type=content_type,
            tags=dict(tags) if tags is not None else None,
        )
        return self._store.add_version(vault, name, spec)

    def set_enabled(self, vault: str, name: str, enabled: bool, version: str | None = None) -> None:
        self._store.set_enabled(vault, name, enabled, version)

    def delete_secret(self, vault: str, name: str) -> None:
        self._store.delete(vault, name)

    def requests(self) -> list[RecordedRequest]:
        return self._stats.requests()

    @property
    def peak_in_flight(self) -> int:
        return self._stats.peak_in_flight

    def reset_stats(self) -> None:
        self._stats.reset()

    # --- serving --------------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        try:
            host = request.host
            if host == "login.localhost":
                return self._entra.handle(request)
            if host == oidc.HOST:
                return self._issuer.handle(request)
            if host == ci.GITHUB_HOST:
                return self._ci.handle_github(request)
            if host == ci.DEVOPS_HOST:
                return self._ci.handle_pipelines(request)
            if host == identity.HOST:
                return self._identity.handle(request)
            if host.endswith(".vault.localhost"):
                return self._vault_request(request, host.removesuffix(".vault.localhost"))
            if host in {"localhost", "127.0.0.1", "::1"} and request.path.startswith("/_admin/"):
                return self._admin.handle(request)
            return json_response(
                404, {"error": {"code": "NotFound", "message": f"nothing is served at {host}"}}
            )
        except Exception as exc:  # a bug in the emulator must not kill the connection thread silently
            return json_response(500, {"error": {"code": "EmulatorBug", "message": type(exc).__name__}})

    def _vault_request(self, request: Request, name: str) -> Response:
        vault = self.world.vaults.get(name)
        if vault is None:
            return kv_error(404, "VaultNotFound", f"The emulator has no vault named '{name}'.")
        fate = self.faults.decide(vault.name)
        latency = self.faults.latency
        if latency > 0:
            time.sleep(latency)  # no lock held: concurrent requests overlap
        headers = [("x-ms-request-id", str(uuid.uuid4())), ("x-ms-keyvault-service-version", "1.9.0.0")]
        client_request_id = request.headers.get("x-ms-client-request-id")
        if client_request_id:  # Key Vault echoes it on every answer, errors and throttling included
            headers.append(("x-ms-client-request-id", client_request_id))
        if fate == "drop":
            return Response(0, drop=True)
        if fate == "throttle":
            retry = self.faults.retry_after
            extra = [("Retry-After", str(retry))] if retry > 0 else []
            return kv_error(429, "Throttled", _THROTTLED, headers=headers + extra)
        if fate == "error":
            return kv_error(
                500, "InternalServerError", "The service encountered an internal error.", headers=headers
            )
        response = self._vault.handle(request, vault)
        response.headers += headers
        return response

    def stop(self) -> None:
        threads, self._threads = self._threads, []
        if not threads:
            return
        for thread in threads:
            thread.stop()
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
