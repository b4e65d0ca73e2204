from __future__ import annotations

from baker.cli import main

raise SystemExit(main())
