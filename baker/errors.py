"""baker's errors.  Every failure a user can cause or meet is a `BakerError`; the CLI's one
handler turns it into a one-line message, a hint, and an exit code.  Third-party exceptions
(azure.core, docker, yaml) are translated into these at the one module that imports that library
and never reach a command.  No message ever holds a secret value or a client secret.

    BakerError                      exit 1   base; `message`, `hint`, optional `diagnosis`
    ├── UsageError                  exit 2   bad command line (unknown credential named, ...)
    ├── ManifestError               exit 2   a bad manifest; carries every `Problem` found
    ├── WorldError                  exit 2   a bad emulator world file
    ├── ProviderError               exit 1   one Azure failure, with a `Diagnosis` and evidence
    ├── ResolutionFailed            exit 1   every failed reference of one bake, each a `ReferenceFailure`
    ├── RenderError                 exit 1   templates or output directory
    ├── EngineError                 exit 1   Docker engine: unreachable, build, tag, push
    └── ImageError                  exit 1   image has no (or an unreadable) provenance record

Exit codes (SPEC): 0 success, 1 failure while resolving/connecting/building, 2 bad usage or
manifest, 3 rotation found by `check` (a result, not an error), 130 interrupted.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_STALE = 3
EXIT_INTERRUPTED = 130


class Diagnosis(str, enum.Enum):
    """The SPEC's diagnosis codes.  Causes and fixes live in `baker.diagnose.TABLE`."""

    # S105 (hardcoded password) misfires on names containing SECRET: these are codes, not credentials.

    INVALID_CLIENT_SECRET = "invalid-client-secret"  # noqa: S105
    CLIENT_SECRET_EXPIRED = "client-secret-expired"  # noqa: S105
    APP_NOT_FOUND = "app-not-found"
    TENANT_NOT_FOUND = "tenant-not-found"
    MISSING_ROLE = "missing-role"
    LEGACY_ACCESS_POLICY = "legacy-access-policy"
    VAULT_UNREACHABLE = "vault-unreachable"
    SECRET_NOT_FOUND = "secret-not-found"  # noqa: S105
    SECRET_DISABLED = "secret-disabled"  # noqa: S105
    JSON_KEY_NOT_FOUND = "json-key-not-found"
    NO_CREDENTIAL = "no-credential"
    THROTTLED = "throttled"
    # Keyless sign-in (`auth:` other than client-secret).
    FEDERATED_IDENTITY_MISMATCH = "federated-identity-mismatch"
    FEDERATED_TOKEN_EXPIRED = "federated-token-expired"  # noqa: S105
    NO_FEDERATED_TOKEN = "no-federated-token"  # noqa: S105
    MANAGED_IDENTITY_UNAVAILABLE = "managed-identity-unavailable"
    AZURE_CLI_NOT_SIGNED_IN = "azure-cli-not-signed-in"
    # Not in the SPEC's table: anything Azure answered that none of the above explains.
    AZURE_ERROR = "azure-error"

    def __str__(self) -> str:
        return self.value


class BakerError(Exception):
    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None, diagnosis: Diagnosis | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.diagnosis = diagnosis

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"error": type(self).__name__, "message": self.message}
        if self.diagnosis is not None:
            out["code"] = self.diagnosis.value
        if self.hint:
            out["hint"] = self.hint
        return out


class UsageError(BakerError):
    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest, located as precisely as the YAML allows."""

    file: str
    line: int | None
    key: str
    message: str
    code: Diagnosis | None = None  # a SPEC diagnosis code, where one applies (no-credential)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ManifestError(BakerError):
    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], *, hint: str | None = None) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        head = "the manifest has 1 problem" if count == 1 else f"the manifest has {count} problems"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems), hint=hint)

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        out["problems"] = [
            {
                "file": p.file,
                "line": p.line,
                "key": p.key,
                "message": p.message,
                "code": p.code and p.code.value,
            }
            for p in self.problems
        ]
        codes = {p.code for p in self.problems if p.code is not None}
        if len(codes) == 1:  # one SPEC code describes the failure (other problems may have none)
            out["code"] = codes.pop().value
        return out


class WorldError(BakerError):
    exit_code = EXIT_USAGE


class ProviderError(BakerError):
    """One failed call to a secret store, translated at the provider boundary.

    `evidence` is what Azure said that led to the diagnosis (AADSTS code, HTTP status, error
    code), never a value.  `credential` and `secret` name what was asked for.
    """

    def __init__(
        self,
        message: str,
        *,
        diagnosis: Diagnosis,
        evidence: str = "",
        credential: str | None = None,
        secret: str | None = None,
        hint: str | None = None,
    ) -> None:
        if hint is None:
            from baker.diagnose import fix_for

            hint = fix_for(diagnosis)
        super().__init__(message, hint=hint, diagnosis=diagnosis)
        self.evidence = evidence
        self.credential = credential
        self.secret = secret

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        out.update({"evidence": self.evidence, "credential": self.credential, "secret": self.secret})
        return out


@dataclass(frozen=True)
class ReferenceFailure:
    """A reference that could not be resolved, named by its env var."""

    env: str
    error: ProviderError

    def __str__(self) -> str:
        return f"{self.env}: [{self.error.diagnosis}] {self.error.message}"


class ResolutionFailed(BakerError):
    """Every failed reference of one bake.  The message groups env vars that failed the same way
    (a failed sign-in fails every reference of its credential) into one line naming them all;
    `to_json` keeps one entry per env var."""

    def __init__(self, failures: list[ReferenceFailure] | tuple[ReferenceFailure, ...]) -> None:
        self.failures = tuple(failures)
        count = len(self.failures)
        head = "1 reference failed" if count == 1 else f"{count} references failed"
        hints = sorted({f.error.hint for f in self.failures if f.error.hint})
        groups: dict[tuple[str, str], list[str]] = {}
        for failure in self.failures:
            groups.setdefault((str(failure.error.diagnosis), failure.error.message), []).append(failure.env)
        lines = [f"  {', '.join(envs)}: [{code}] {message}" for (code, message), envs in groups.items()]
        super().__init__(
            head + ":\n" + "\n".join(lines),
            hint="\n".join(hints) or None,
            diagnosis=self.failures[0].error.diagnosis if count == 1 else None,
        )

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        out["failures"] = [{"env": f.env, **f.error.to_json()} for f in self.failures]
        return out


class RenderError(BakerError):
    pass


class EngineError(BakerError):
    pass


class ImageError(BakerError):
    pass
