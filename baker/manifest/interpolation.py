"""The `${NAME}` grammar, written once: credential fields (`client_secret: ${SP_SECRET}`, the
whole-variable auth fields, a vault URL's parts) expand it, and env values that look like it are
warned about (baker bakes them as written).  NAME is a letter or '_', then letters, digits, '_'."""

from __future__ import annotations

import re

VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
