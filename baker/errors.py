"""baker's errors.  Every failure a user can cause or meet is a `BakerError`; the CLI's one
handler turns it into a one-line message, a hint, and an exit code.  Third-party exceptions
(azure.core, docker, yaml) are translated into these at the one module that imports that library
and never reach a command.  No message ever holds a secret value or a client secret.

    BakerError                      exit 1   base; `message`, `hint`, optional `diagnosis`
    ├── UsageError                  exit 2   bad command line (unknown credential named, bad image name, ...)
    ├── ManifestError               exit 2   a bad manifest; carries every `Problem` found
    ├── WorldError                  exit 2   a bad emulator world file
    ├── ProviderError               exit 1   one Azure failure, with a `Diagnosis` and evidence
    ├── ResolutionFailed            exit 1   every failed reference of one bake, each a `ReferenceFailure`
    ├── RenderError                 exit 1   templates, output directory, a base or tag that is no image name
    ├── EngineError                 exit 1   Docker engine: unreachable, build, tag, push
    │   └── PushIncomplete          exit 1   a push failed after other tags were pushed (names them)
    ├── ImageError                  exit 1   registry or image: unreadable, no (or a bad) provenance record
    │   ├── ImageNotFound           exit 1   neither the engine nor the registry has the image
    │   ├── NoRecord                exit 1   the image has no provenance label (baker did not bake it)
    │   └── RegistryBakeFailed      exit 1   an in-registry bake failed after pushing: what it left, named
    └── CommandNotRun               127/126/1 `baker run`: CMD not found (127), not runnable (126), a
                                             value no environment can carry (1)

    KeyboardInterrupt
    └── BakeStopped                 exit 130 a bake stopped leaving something: what it left, named

    ValueError (internal to the manifest package, turned into a `Problem` or a `ReferenceFailure`)
    ├── BadReference                a secret reference or version outside the grammar
    └── JsonKeyError                a `#key` that the secret's JSON does not hold

The diagnosis codes and their fixes are `baker.diagnose` (a leaf this module imports).

Exit codes (SPEC): 0 success, 1 failure while resolving/connecting/building, 2 bad usage or
manifest, 3 rotation found by `check` (a result, not an error), 130 interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from baker.diagnose import Diagnosis, fix_for
from baker.record import Record

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_STALE = 3
EXIT_INTERRUPTED = 130


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


class Problem(Record):
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
            hint = fix_for(diagnosis)
        super().__init__(message, hint=hint, diagnosis=diagnosis)
        self.evidence = evidence
        self.credential = credential
        self.secret = secret

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        out.update({"evidence": self.evidence, "credential": self.credential, "secret": self.secret})
        return out


class ReferenceFailure(Record):
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


class CommandNotRun(BakerError):
    """`baker run` could not become its command; the exit code is the shell's for the reason."""

    def __init__(self, message: str, *, exit_code: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code


class PushedTag(Protocol):
    """A tag pushed, with the digest the registry gave it (`baker.image.engine.types.Pushed`)."""

    @property
    def tag(self) -> str: ...
    @property
    def digest(self) -> str: ...


class PushIncomplete(EngineError):
    """A push that failed after other tags of the same bake were pushed.  A registry tag cannot be
    taken back (the local tags are put back; the remote ones stay), so the message and the JSON
    name every tag already pushed, with its digest, for the user to repair by hand.  Its JSON says
    `"error": "EngineError"`, as any other failed push, with a `pushed` list added."""

    def __init__(self, failure: EngineError, pushed: Sequence[PushedTag]) -> None:
        self.pushed = tuple(pushed)
        listed = ", ".join(f"{p.tag} ({p.digest})" for p in self.pushed)
        super().__init__(
            f"{failure.message}\nalready pushed, cannot be taken back: {listed}",
            hint=failure.hint,
        )

    def to_json(self) -> dict[str, object]:
        out = super().to_json()
        out["error"] = EngineError.__name__
        out["pushed"] = [{"tag": p.tag, "digest": p.digest} for p in self.pushed]
        return out


class RegistryBakeFailed(ImageError):
    """An in-registry bake (`build --in-registry`) that failed after it pushed something: the
    failure itself (its message, hint, diagnosis and exit code; its JSON says its own class name),
    plus `left`, what it pushed that still holds values in a registry and that it could not delete
    (`host/repository@sha256:...`), and `not_restored`, the tags it moved and could not put back."""

    def __init__(self, failure: BakerError, left: Sequence[str], not_restored: Sequence[str]) -> None:
        super().__init__(failure.message, hint=failure.hint, diagnosis=failure.diagnosis)
        self.failure = failure
        self.exit_code = failure.exit_code
        self.left = tuple(left)
        self.not_restored = tuple(not_restored)

    def to_json(self) -> dict[str, object]:
        out = self.failure.to_json()
        out["left"] = list(self.left)
        out["not_restored"] = list(self.not_restored)
        return out


class BakeStopped(KeyboardInterrupt):
    """A stop signal ended a bake before its commit (or a third one during it, or during the
    clean-up after it): what it left holding values (`left`: in-registry,
    `host/repository@sha256:...`; on the engine, an image's id, or a name it is still known by)
    and the tags it moved and did not put back (`not_restored`: a registry tag pushed, or one
    whose push was under way, may have moved), already named to the user; the command adds them to
    its `--json` document.  `completed`: every tag had moved (the bake completed) when the stop cut
    its clean-up short."""

    def __init__(self, left: Sequence[str], not_restored: Sequence[str], *, completed: bool = False) -> None:
        super().__init__()
        self.left = tuple(left)
        self.not_restored = tuple(not_restored)
        self.completed = completed


class ImageNotFound(ImageError):
    """Neither the local engine nor the image's registry has the image."""


class NoRecord(ImageError):
    """The image exists but carries no provenance label: baker did not bake it."""


# Raised and caught inside the manifest package; they never reach the CLI's handler.


class BadReference(ValueError):
    """A secret reference or version that does not follow the grammar (the message says why);
    `manifest.checks` turns it into a `Problem`."""


class JsonKeyError(ValueError):
    """The secret is not a JSON object, or lacks the key.  The message never holds the value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
