"""What a Dockerfile needs of BuildKit: the features Docker's classic builder does not have.

Pure (no docker, no subprocess): `appbuild.prepare` refuses the classic builder, before any
secret is read, when this list is not empty.  A feature missed here is not dangerous: the classic
builder then fails on it with its own message (it never silently ignores a flag it does not know),
except `<Dockerfile>.dockerignore`, which it does ignore, and which is therefore listed.
"""

from __future__ import annotations

import re
from pathlib import Path

# `# syntax=...` (and `# check=`) are parser directives: lines at the very top, before anything else.
_DIRECTIVE = re.compile(r"#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$")
# Instruction flags only BuildKit's Dockerfile frontend knows (docs.docker.com/reference/dockerfile).
_FLAGS = {
    "RUN": ("--mount", "--network", "--security"),
    "COPY": ("--link", "--chmod", "--parents", "--exclude"),
    "ADD": ("--link", "--chmod", "--checksum", "--keep-git-dir", "--exclude"),
}
_HEREDOC = re.compile(r"<<-?\s*[\"']?[A-Za-z_][A-Za-z0-9_]*")


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, rest) per logical line: comments dropped, continuation lines joined."""
    escape = "\\"
    lines = text.splitlines()
    for line in lines:  # the parser directives
        found = _DIRECTIVE.match(line.strip())
        if not found:
            break
        if found.group(1).lower() == "escape":
            escape = found.group(2)[:1] or escape
    result: list[tuple[str, str]] = []
    pending = ""
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#") and not pending:
            continue
        if stripped.endswith(escape):
            pending += stripped[: -len(escape)] + " "
            continue
        logical = (pending + stripped).strip()
        pending = ""
        if logical:
            word, _, rest = logical.partition(" ")
            result.append((word.upper(), rest))
    if pending.strip():
        word, _, rest = pending.strip().partition(" ")
        result.append((word.upper(), rest))
    return result


def buildkit_needs(dockerfile: str) -> list[str]:
    """The BuildKit features `dockerfile` (its text) uses, each named as a user would look it up."""
    needs: list[str] = []
    for line in dockerfile.splitlines():
        found = _DIRECTIVE.match(line.strip())
        if not found:
            break
        if found.group(1).lower() == "syntax":
            needs.append(f"the `# syntax={found.group(2)}` directive")
    for instruction, rest in _instructions(dockerfile):
        words = rest.split()
        for flag in _FLAGS.get(instruction, ()):
            if any(word == flag or word.startswith(flag + "=") for word in words):
                needs.append(f"`{instruction} {flag}`")
        if instruction in _FLAGS and _HEREDOC.search(rest):
            needs.append(f"a heredoc (`{instruction} <<EOF`)")
    return list(dict.fromkeys(needs))


def dockerfile_ignore(dockerfile: Path) -> Path | None:
    """`<Dockerfile>.dockerignore` beside the Dockerfile, which BuildKit reads instead of the
    context's `.dockerignore` (and the classic builder ignores), when it exists."""
    candidate = dockerfile.with_name(dockerfile.name + ".dockerignore")
    return candidate if candidate.is_file() else None
