"""baker: bake Azure Key Vault secrets into container images.

The CLI (`baker.cli`) is a thin layer over this package: a CI script can import the command
functions in `baker.commands` and do exactly what the command line does.
"""

from __future__ import annotations

__version__ = "0.1.0"
