"""The CI systems' ID-token request endpoints: GitHub Actions (github.localhost) and Azure Pipelines
(devops.localhost).  Each hands a job an OIDC token of the emulator's issuer (`oidc.py`).

GitHub Actions (read from @actions/core `getIDToken` and azure-identity's users): the job's environment
has `ACTIONS_ID_TOKEN_REQUEST_URL` (already holding `?api-version=2.0`) and
`ACTIONS_ID_TOKEN_REQUEST_TOKEN`; `GET $URL&audience=AUD` with `Authorization: bearer $TOKEN` answers
`{"count": N, "value": "<JWT>"}`.  No audience: GitHub's default, `https://github.com/OWNER`.  The
token's `sub` is the job's subject in the plain form (`repo:OWNER/REPO:...`) or GitHub's immutable
form (`repo:OWNER@OWNER_ID/REPO@REPO_ID:...`, the world's `oidc.github_actions.subject_form`), with
the `repository`, `repository_owner`, `repository_id` and `repository_owner_id` claims either way.

Azure Pipelines (azure-identity 1.27 `azure_pipelines.py`): `POST $SYSTEM_OIDCREQUESTURI?api-version=7.1
&serviceConnectionId=ID` with `Authorization: Bearer $SYSTEM_ACCESSTOKEN` answers `{"oidcToken": "<JWT>"}`,
audience `api://AzureADTokenExchange`, subject the service connection's (`sc://ORG/PROJECT/NAME`).

A missing or wrong request token is 401 with Azure DevOps' error body (GitHub's Actions runtime is
built on it).  Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import uuid

from baker.emulator.http import Request, Response, json_response
from baker.emulator.oidc import GITHUB_PATH, PIPELINES_PATH, OidcIssuer
from baker.emulator.world import (
    DEFAULT_FEDERATED_AUDIENCE,
    GITHUB_SUBJECT_FORMS,
    OidcSettings,
    github_repository,
    github_sub,
)
from baker.record import Record

GITHUB_HOST = "github.localhost"
DEVOPS_HOST = "devops.localhost"
_PIPELINES_API = "7.1"
_NAMESPACE = "Microsoft.TeamFoundation.Framework.Server"


def devops_error(status: int, message: str, type_key: str) -> Response:
    """Azure DevOps' error document (`{"$id", "innerException", "message", "typeName", ...}`)."""
    return json_response(
        status,
        {
            "$id": "1",
            "innerException": None,
            "message": message,
            "typeName": f"{_NAMESPACE}.{type_key}, {_NAMESPACE}",
            "typeKey": type_key,
            "errorCode": 0,
            "eventId": 3000,
        },
    )


def _unauthorized() -> Response:
    response = devops_error(
        401,
        "TF400813: The user '' is not authorized to access this resource.",
        "UnauthorizedRequestException",
    )
    response.headers.append(("WWW-Authenticate", "Bearer"))
    return response


def _bearer_ok(request: Request, expected: str) -> bool:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), expected.encode())


class GitHubJob(Record):
    request_token: str
    subject: str  # as written (the plain form); `sub` is what its tokens present
    token_lifetime: float
    sub: str
    claims: dict[str, str]  # GitHub's repository claims, when the subject names a repository


class CiEndpoints:
    def __init__(self, issuer: OidcIssuer, port: int, settings: OidcSettings) -> None:
        self._issuer = issuer
        self._port = port
        self._lock = threading.Lock()
        self._plan = str(uuid.uuid4())
        self._jobs: dict[str, GitHubJob] = {}
        self._settings = settings
        self.default_job = self.add_github_job(settings.github_subject, settings.github_token_lifetime)
        self.system_access_token = secrets.token_urlsafe(32)
        self._connections: dict[str, str] = dict(settings.service_connections)

    # --- GitHub Actions -------------------------------------------------------------------------

    def add_github_job(self, subject: str, token_lifetime: float, subject_form: str | None = None) -> str:
        """A job whose tokens carry `subject` (written in the plain form), presented in
        `subject_form` (None: the world's `oidc.github_actions.subject_form`)."""
        form = subject_form or self._settings.github_subject_form
        if not subject or token_lifetime <= 0 or form not in GITHUB_SUBJECT_FORMS:
            raise ValueError("a job needs a subject, a positive token lifetime and a known subject form")
        owner_id, repository_id = self._settings.github_owner_id, self._settings.github_repository_id
        claims: dict[str, str] = {}
        parts = github_repository(subject)
        if parts is not None:  # as GitHub's tokens carry them, whichever form `sub` is in
            owner, repository, _ = parts
            claims = {
                "repository": f"{owner}/{repository}",
                "repository_owner": owner,
                "repository_id": repository_id,
                "repository_owner_id": owner_id,
            }
        sub = github_sub(subject, form, owner_id, repository_id)
        job_id = str(uuid.uuid4())
        with self._lock:
            self._jobs[job_id] = GitHubJob(
                secrets.token_urlsafe(32), subject, float(token_lifetime), sub, claims
            )
        return job_id

    def github_env(self, job_id: str) -> dict[str, str]:
        job = self._jobs[job_id]
        url = (
            f"https://{GITHUB_HOST}:{self._port}/_apis/distributedtask/hubs/Actions/plans/{self._plan}"
            f"/jobs/{job_id}/idtoken?api-version=2.0"
        )
        return {"ACTIONS_ID_TOKEN_REQUEST_URL": url, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": job.request_token}

    def handle_github(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        prefix = ["_apis", "distributedtask", "hubs", "Actions", "plans", self._plan, "jobs"]
        if len(parts) != 9 or parts[:7] != prefix or parts[8] != "idtoken":
            return devops_error(404, f"No endpoint at {request.path}.", "NotFoundException")
        job = self._jobs.get(parts[7])
        if job is None or not _bearer_ok(request, job.request_token):
            return _unauthorized()
        if request.method != "GET":
            return devops_error(
                405, "The requested resource does not support this method.", "MethodNotAllowed"
            )
        owner = job.subject.removeprefix("repo:").split("/", 1)[0]
        audience = request.query.get("audience") or f"https://github.com/{owner}"
        token = self._issuer.mint(
            subject=job.sub,
            audience=audience,
            issuer=GITHUB_PATH,
            lifetime=job.token_lifetime,
            claims={**job.claims, "runner_environment": "github-hosted", "job_id": parts[7]},
        )
        return json_response(200, {"count": 1, "value": token})

    # --- Azure Pipelines ------------------------------------------------------------------------

    def add_service_connection(self, connection_id: str, subject: str) -> None:
        if not connection_id or not subject:
            raise ValueError("a service connection needs an id and a subject")
        with self._lock:
            self._connections[connection_id.lower()] = subject

    def pipelines_env(self) -> dict[str, str]:
        uri = (
            f"https://{DEVOPS_HOST}:{self._port}/baker-emulator/{self._plan}/_apis/distributedtask/hubs/build"
            f"/plans/{self._plan}/jobs/{self._plan}/oidctoken"
        )
        return {"SYSTEM_OIDCREQUESTURI": uri, "SYSTEM_ACCESSTOKEN": self.system_access_token}

    def handle_pipelines(self, request: Request) -> Response:
        if not request.path.rstrip("/").endswith("/oidctoken"):
            return devops_error(404, f"No endpoint at {request.path}.", "NotFoundException")
        if not _bearer_ok(request, self.system_access_token):
            return _unauthorized()
        if request.method != "POST":
            return devops_error(
                405, "The requested resource does not support this method.", "MethodNotAllowed"
            )
        if request.query.get("api-version") != _PIPELINES_API:
            version = request.query.get("api-version", "")
            return devops_error(
                400,
                f"The requested REST API version of {version} is not supported.",
                "VssVersionNotSupportedException",
            )
        connection_id = request.query.get("serviceConnectionId", "")
        subject = self._connections.get(connection_id.lower())
        if subject is None:
            return devops_error(
                404,
                f"Service connection '{connection_id}' not found or not authorized for this pipeline.",
                "ServiceEndpointNotFoundException",
            )
        token = self._issuer.mint(subject=subject, audience=DEFAULT_FEDERATED_AUDIENCE, issuer=PIPELINES_PATH)
        return json_response(200, {"oidcToken": token})
