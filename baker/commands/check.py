"""`baker check [--image REF]`: is a re-bake due?  (`--image` defaults to the manifest's `image.tag`;
the CLI sends several `-f`, or a directory, to `baker.commands.check_fleet`, which prints each
manifest's report with `print_report`.)

Reads the image's provenance record (from the local engine, else from its registry without
pulling), asks Key Vault for each secret's current metadata (never a value), and compares them
with the manifest (see `baker.check.compare` for the statuses and what each means).

Exit codes: 0 fresh; 3 a re-bake is due (rotated, added, removed, changed); 1 when a secret
needs a person first (deleted, disabled, expired: a re-bake alone cannot help), or on any failure.
In `--json` mode stdout holds `{"stale": bool, "entries": [...]}` for 0, 3 and that 1 alike.
"""

from __future__ import annotations

from pathlib import Path

from baker.check.compare import CheckReport
from baker.check.gather import evaluate, image_of
from baker.check.record import BakedImage, Source, read_baked
from baker.cinative import after_check, junit_cases, junit_xml, write_junit
from baker.commands._common import load_manifest
from baker.errors import EXIT_FAILURE, EXIT_OK, EXIT_STALE
from baker.output import Output, untrusted
from baker.providers.base import OpenProvider

_MARK = {
    "rotated": "!",
    "added": "+",
    "removed": "-",
    "changed": "~",
    "deleted": "x",
    "disabled": "x",
    "expired": "x",
}


def check(
    *,
    out: Output,
    file: Path,
    image: str | None = None,
    open_provider: OpenProvider | None = None,
    baked: BakedImage | None = None,
    source: Source | None = None,
    junit: Path | None = None,
) -> int:
    """`open_provider` and `baked` are seams for tests; by default the real provider and image.
    `source`: where the image is read (default: the copy a deploy pulls, `check.record.read_baked`);
    `junit`: a JUnit report is written there too."""
    manifest = load_manifest(out, file)
    ref = image if image is not None else image_of(manifest)
    if baked is None and source is not None:  # else the read inside evaluate: the deploy's copy
        baked = read_baked(ref, source=source)
    record, report = evaluate(manifest, ref, open_provider=open_provider, baked=baked)
    print_report(out, record, report)
    out.result(report.to_json())
    after_check(out, [(record, report)])
    if junit is not None:
        write_junit(junit, junit_xml({record.ref: junit_cases(record.ref, report)}))
    if report.attention:
        return EXIT_FAILURE
    return EXIT_STALE if report.stale else EXIT_OK


def print_report(out: Output, record: BakedImage, report: CheckReport) -> None:
    # Env names (of removed variables), vault URLs, secret names and versions come from the image's
    # label, which anyone who can push an image writes: escaped, so none can start a line.
    where = "local engine" if record.where == "local" else "registry"
    ident = f" ({untrusted(record.id[:19])})" if record.id else ""
    out.info(f"image {untrusted(record.ref)}{ident}, read from the {where}")
    names = {e.env: untrusted(e.env) for e in report.entries}
    width = max((len(n) for n in names.values()), default=3)
    for entry in report.entries:
        mark = _MARK.get(entry.status, " ")
        detail = f"  {untrusted(entry.detail)}" if entry.detail else ""
        out.info(f"{mark} {names[entry.env]:<{width}}  {entry.status:<8}{detail}")
    for entry in report.entries:
        if entry.status == "expiring":
            out.warn(f"{names[entry.env]}: the secret {entry.detail}; rotate it in Key Vault, then re-bake")
    if report.attention:
        listed = ", ".join(f"{names[e.env]} ({e.status})" for e in report.attention)
        out.info(f"attention: {listed}: fix these in Key Vault (enable, restore or rotate), then re-bake")
    elif report.stale:
        due = [names[e.env] for e in report.entries if e.status in {"rotated", "added", "removed", "changed"}]
        out.info(f"re-bake due: {', '.join(due)} (run `baker build`)")
    else:
        out.info("up to date: no re-bake needed")
