"""`baker check -f A -f B ...` (or `-f DIR`): every manifest against its own `image.tag`, at once.

One sign-in per identity and one read per distinct secret for the whole run (`baker.check.gather`); the
report is grouped per manifest, each as `check` prints it alone.  Exit: 1 when any manifest needs a
person or could not be checked, else 3 when any image is stale, else 0: after the full report.
`--json`: `{"stale": any, "manifests": [{"file", "image", "stale", "entries": [...]}, ...]}`; a
manifest that could not be checked carries its `error` too.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from baker.check.gather import check_all, image_of
from baker.check.record import Source
from baker.cinative import after_check, junit_cases, junit_xml, write_junit
from baker.commands._common import load_all
from baker.commands.check import print_report
from baker.errors import EXIT_FAILURE, EXIT_OK, EXIT_STALE, UsageError
from baker.output import Output, untrusted
from baker.providers.base import OpenProvider
from baker.secret import scrub


def check_many(
    *,
    out: Output,
    files: Sequence[Path],
    image: str | None = None,
    open_provider: OpenProvider | None = None,
    source: Source | None = None,
    junit: Path | None = None,
) -> int:
    """`files`: several manifests (or a directory), each checked against its own `image.tag`, read
    where a deploy pulls it; `junit`: a JUnit report is written there too."""
    if image is not None:
        raise UsageError(
            "--image names one image; with several manifests each is checked against its image.tag",
            hint="drop --image, or check one manifest",
        )
    if source is not None:
        raise UsageError(
            "--source applies to one image; several manifests are each read where a deploy pulls them",
            hint="drop --source, or check one manifest",
        )
    manifests = load_all(out, files)
    items = [(manifest, image_of(manifest)) for manifest in manifests]  # all named, or usage
    results = check_all(items, open_provider=open_provider)
    for index, result in enumerate(results):
        if index:
            out.info("")
        out.info(f"== {untrusted(result.manifest.path)}")
        if result.error is not None:
            out.info(f"image {untrusted(result.image)}: not checked")
            out.error(result.error.message, result.error.hint)
        else:
            assert result.record is not None and result.report is not None
            print_report(out, result.record, result.report)
    stale = [r for r in results if r.report is not None and r.report.stale]
    failed = [r for r in results if r.error is not None or (r.report is not None and r.report.attention)]
    out.info("")
    out.info(
        f"{len(results)} manifests: {len(stale)} stale, {len(failed)} need a person, "
        f"{len(results) - len({id(r) for r in stale + failed})} up to date"
    )
    if stale:
        named = " ".join(f"-f {shlex.quote(r.manifest.path)}" for r in stale)
        out.info(f"re-bake them: baker build --if-stale {untrusted(named)}")
    out.result({"stale": bool(stale), "manifests": [r.to_json() for r in results]})
    checked = [(r.record, r.report) for r in results if r.record is not None and r.report is not None]
    after_check(out, checked)
    if junit is not None:
        cases = {record.ref: junit_cases(record.ref, report) for record, report in checked}
        errors = {r.image: scrub(r.error.message) for r in results if r.error is not None}
        write_junit(junit, junit_xml(cases, errors))
    if failed:
        return EXIT_FAILURE
    return EXIT_STALE if stale else EXIT_OK
