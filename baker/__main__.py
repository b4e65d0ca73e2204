from __future__ import annotations

import sys

# Stop signals first, before any heavier import: a signal that lands while baker starts must end it
# with 130 like any other stop, never by the default action (see baker.signals).
from baker import signals

signals.install()

try:
    from baker.cli import main

    code = main()
    signals.finish()
except KeyboardInterrupt:  # a stop before main took over, or after it returned; later ones are ignored
    sys.stderr.write("interrupted\n")
    code = 130  # EXIT_INTERRUPTED (not imported: this path must not wait for imports)
    signals.finish()
raise SystemExit(code)
