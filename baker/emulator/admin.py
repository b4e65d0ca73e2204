"""The admin API over HTTPS: `https://localhost:PORT/_admin/...`, JSON in and out.

    GET    /_admin/faults                          -> the fault switches
    PATCH  /_admin/faults                {field: value, ...}   (POST/PUT too) -> the fault switches
    POST   /_admin/vaults/V/secrets/N    {value, enabled?, expires_on?, not_before?, content_type?,
                                          tags?, version?}  -> {"version": new current version}
    PATCH  /_admin/vaults/V/secrets/N    {enabled, version?}  -> {}
    DELETE /_admin/vaults/V/secrets/N    -> {}
    GET    /_admin/requests              -> {"requests": [{method, host, path, status}], "peak_in_flight"}
    POST   /_admin/reset-stats           -> {}
    GET    /_admin/keyless               -> {oidc_issuer, github_actions: {env}, azure_pipelines: {env},
                                              managed_identity: {env}}   (the env a job would get)
    POST   /_admin/oidc/tokens           {subject, audience?, issuer?, lifetime?, not_before?, expires?}
                                          -> {"token": an ID token of the emulator's issuer}
    POST   /_admin/github/jobs           {subject?, token_lifetime?, subject_form?} -> a job's {env}
    POST   /_admin/azure-pipelines/service-connections   {id, subject}  -> {}

Dates are unix seconds or ISO 8601.  It answers only on the `localhost` host name (loopback only,
like the rest of the server) and asks for no token: it is a test harness, not a service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

from baker.emulator.faults import PUBLIC_FIELDS, Faults, RecordedRequest
from baker.emulator.http import Request, Response, json_response
from baker.emulator.store import UnknownSecret, UnknownVault
from baker.emulator.world import DEFAULT_FEDERATED_AUDIENCE, GITHUB_SUBJECT_FORMS
from baker.record import asdict


class Administered(Protocol):
    """What the admin API drives: the `Emulator` (app.py), as far as its admin methods go.  A
    protocol, so this module never imports app.py (which routes requests here)."""

    faults: Faults

    @property
    def peak_in_flight(self) -> int: ...
    def requests(self) -> list[RecordedRequest]: ...
    def reset_stats(self) -> None: ...
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
    ) -> str: ...
    def set_enabled(self, vault: str, name: str, enabled: bool, version: str | None = None) -> None: ...
    def delete_secret(self, vault: str, name: str) -> None: ...
    def oidc_issuer(self, path: str = "") -> str: ...
    def mint_id_token(
        self,
        subject: str,
        audience: str | list[str] = ...,
        *,
        issuer: str | None = None,
        lifetime: float = 300.0,
        not_before: dt.datetime | float | None = None,
        expires: dt.datetime | float | None = None,
    ) -> str: ...
    def github_actions_env(
        self, subject: str | None = None, token_lifetime: float | None = None, subject_form: str | None = None
    ) -> dict[str, str]: ...
    def azure_pipelines_env(self) -> dict[str, str]: ...
    def add_service_connection(self, connection_id: str, subject: str) -> None: ...
    def managed_identity_env(self) -> dict[str, str]: ...


_FLOAT_FIELDS = {"latency", "error_rate", "drop_rate"}


def _bad(message: str, status: int = 400) -> Response:
    return json_response(status, {"error": {"code": "BadRequest", "message": message}})


def _when(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class Admin:
    def __init__(self, emulator: Administered) -> None:
        self.emu = emulator

    def handle(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p][1:]  # drop "_admin"
        try:
            body = request.json() if request.body else {}
            if not isinstance(body, dict):
                return _bad("the body must be a JSON object")
            if parts == ["faults"]:
                return self.faults(request.method, body)
            if parts == ["requests"] and request.method == "GET":
                records = [asdict(r) for r in self.emu.requests()]
                return json_response(200, {"requests": records, "peak_in_flight": self.emu.peak_in_flight})
            if parts == ["reset-stats"] and request.method == "POST":
                self.emu.reset_stats()
                return json_response(200, {})
            if len(parts) == 4 and parts[0] == "vaults" and parts[2] == "secrets":
                return self.secret(request.method, parts[1], parts[3], body)
            keyless = self.keyless(request.method, parts, body)
            if keyless is not None:
                return keyless
        except (UnknownVault, UnknownSecret) as exc:
            return _bad(f"not found: {exc.args[0]}", 404)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return _bad(f"no admin endpoint {request.method} {request.path}", 404)

    def faults(self, method: str, body: dict[str, Any]) -> Response:
        faults = self.emu.faults
        if method in {"PATCH", "PUT", "POST"}:
            unknown = sorted(set(body) - set(PUBLIC_FIELDS))
            if unknown:
                return _bad(f"unknown fault {unknown[0]!r} (known: {', '.join(PUBLIC_FIELDS)})")
            for name, value in body.items():
                if name == "throttle_rps" and value is None:
                    faults.throttle_rps = None
                elif isinstance(value, bool) or not isinstance(value, int | float):
                    return _bad(f"{name} must be a number")
                else:
                    setattr(
                        faults,
                        name,
                        float(value) if name in _FLOAT_FIELDS or name == "throttle_rps" else int(value),
                    )
        elif method != "GET":
            return _bad(f"{method} is not allowed on /_admin/faults", 405)
        return json_response(200, faults.as_dict())

    def secret(self, method: str, vault: str, name: str, body: dict[str, Any]) -> Response:
        if method == "POST":
            if not isinstance(body.get("value"), str):
                return _bad("'value' (a string) is required")
            version = self.emu.set_secret(
                vault,
                name,
                body["value"],
                enabled=bool(body.get("enabled", True)),
                expires_on=_when(body.get("expires_on")),
                not_before=_when(body.get("not_before")),
                content_type=body.get("content_type"),
                tags=body.get("tags"),
                version=body.get("version"),
            )
            return json_response(200, {"version": version})
        if method == "PATCH":
            if not isinstance(body.get("enabled"), bool):
                return _bad("'enabled' (true or false) is required")
            self.emu.set_enabled(vault, name, body["enabled"], body.get("version"))
            return json_response(200, {})
        if method == "DELETE":
            self.emu.delete_secret(vault, name)
            return json_response(200, {})
        return _bad(f"{method} is not allowed here", 405)

    def keyless(self, method: str, parts: list[str], body: dict[str, Any]) -> Response | None:
        """The keyless sign-in endpoints (see the module docstring); None when not one of them."""
        emu = self.emu
        if parts == ["keyless"] and method == "GET":
            return json_response(
                200,
                {
                    "oidc_issuer": emu.oidc_issuer(),
                    "github_actions": emu.github_actions_env(),
                    "azure_pipelines": emu.azure_pipelines_env(),
                    "managed_identity": emu.managed_identity_env(),
                },
            )
        if parts == ["oidc", "tokens"] and method == "POST":
            if not isinstance(body.get("subject"), str) or not body["subject"]:
                return _bad("'subject' (a string) is required")
            audience = body.get("audience", DEFAULT_FEDERATED_AUDIENCE)
            if not isinstance(audience, str | list):
                return _bad("'audience' is a string or a list of strings")
            token = emu.mint_id_token(
                body["subject"],
                audience,
                issuer=_optional_str(body, "issuer"),
                lifetime=float(body.get("lifetime", 300)),
                not_before=_when(body.get("not_before")),
                expires=_when(body.get("expires")),
            )
            return json_response(200, {"token": token})
        if parts == ["github", "jobs"] and method == "POST":
            lifetime = body.get("token_lifetime")
            form = _optional_str(body, "subject_form")
            if form not in (None, *GITHUB_SUBJECT_FORMS):
                return _bad(f"'subject_form' is one of {', '.join(GITHUB_SUBJECT_FORMS)}")
            env = emu.github_actions_env(
                subject=_optional_str(body, "subject"),
                token_lifetime=None if lifetime is None else float(lifetime),
                subject_form=form,
            )
            return json_response(200, env)
        if parts == ["azure-pipelines", "service-connections"] and method == "POST":
            connection_id, subject = _optional_str(body, "id"), _optional_str(body, "subject")
            if not connection_id or not subject:
                return _bad("'id' and 'subject' (strings) are required")
            emu.add_service_connection(connection_id, subject)
            return json_response(200, {})
        return None


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"'{key}' must be a string")
    return value
