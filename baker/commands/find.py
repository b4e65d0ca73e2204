"""`baker find --secret NAME[#key][@VERSION] REPO [REPO ...]`: the tags and digests baked from that
secret (that version), from their provenance labels, without pulling (`baker.image.find`).

Exit 0 whether or not anything matched, once every tag of every repository was read (`--json`:
`{"secret", "matches": [...], "scanned", "unreadable", "errors"}`); 1 when the answer is incomplete:
a repository that could not be listed or a tag whose record could not be read (each is named, after
the full report), since a tag not read may hold the secret.  Everything a registry supplied (tags,
platforms, versions, variable names, its messages) is printed through `untrusted()`.
"""

from __future__ import annotations

from collections.abc import Sequence

from baker.errors import EXIT_FAILURE, EXIT_OK
from baker.image.find import find as find_images
from baker.image.find import parse_wanted
from baker.output import Output, untrusted


def find(*, out: Output, secret: str, repositories: Sequence[str]) -> int:
    wanted = parse_wanted(secret)
    found = find_images(wanted, list(repositories))
    what = wanted.name + (f"#{wanted.key}" if wanted.key is not None else "")
    what += f" version {wanted.version}" if wanted.version else " (any version)"
    for match in found.matches:
        versions = ", ".join(untrusted(v) for v in match.versions)
        platforms = ", ".join(untrusted(p) for p in match.platforms)
        out.info(
            f"{untrusted(match.repository)}:{untrusted(match.tag)}  {match.digest}  "
            f"{', '.join(untrusted(e) for e in match.env)} (v {versions}; {platforms})"
        )
    for item in found.unread:
        out.warn(f"{untrusted(item.name)}: its provenance record could not be read ({untrusted(item.why)})")
    for error in found.errors:
        out.error(untrusted(error.message), error.hint)
    count = len(found.matches)
    out.info(f"{count} tag{'s' if count != 1 else ''} of {found.scanned} baked from {untrusted(what)}")
    if found.unread:
        unread = len(found.unread)
        out.error(
            f"{unread} tag{'s' if unread != 1 else ''} could not be read: "
            "find cannot say whether they hold the secret (named above)",
            "try again",
        )
    out.result(
        {
            "secret": {"name": wanted.name, "key": wanted.key, "version": wanted.version},
            "matches": [m.to_json() for m in found.matches],
            "scanned": found.scanned,
            "unreadable": list(found.unreadable),
            "errors": [e.to_json() for e in found.errors],
        }
    )
    return EXIT_OK if found.complete else EXIT_FAILURE
