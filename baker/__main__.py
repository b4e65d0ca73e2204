"""The process entry point (`python -m baker` and the `baker` console script): `cli.main` inside the
stop-signal rules a whole process needs.  Tests and Python callers call `baker.cli.main` itself."""

from __future__ import annotations

import contextlib
import os
import sys

# Stop signals first, before any heavier import: a signal that lands while baker starts must end it
# with 130 like any other stop, never by the default action (see baker.signals).
from baker import signals

EXIT_INTERRUPTED = 130  # errors.EXIT_INTERRUPTED, not imported: this path must not wait for imports
# cli.STOPPED as written, for a stop while the CLI loads (with --json stdout holds one document).
STOPPED = '{"error": "Interrupted", "message": "stopped", "left": [], "not_restored": []}\n'


def run() -> None:
    signals.install()
    started = False
    try:
        from baker.cli import main

        started = True  # main writes the --json document of a stop from here on
        code = main()
        signals.finish()  # later signals are ignored
    except KeyboardInterrupt:  # a stop before main took over, or after it returned
        sys.stderr.write("interrupted\n")
        if not started and "--json" in sys.argv[1:]:
            sys.stdout.write(STOPPED)
        code = EXIT_INTERRUPTED
        signals.finish()
    if code == EXIT_INTERRUPTED:
        # Every clean-up ran on the main thread before main returned; a helper thread (a resolution
        # a stop cut short) may still sit in a network call.  Interpreter shut-down would wait for
        # it, or end it by a forced unwind that can abort the process (glibc: "exception not
        # rethrown", -6): leave now, with what baker printed flushed.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more gets there
                stream.flush()
        os._exit(code)
    raise SystemExit(code)


if __name__ == "__main__":
    run()
