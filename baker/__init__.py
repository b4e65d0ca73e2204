"""baker: bake Azure Key Vault secrets into container images.

The CLI (`baker.cli`) is a thin layer over this package; a CI script can do what it does::

    import baker

    manifest = baker.load("baker.yaml")                 # offline checks, ManifestError on problems
    result = baker.build(manifest, tags=["registry.example.com/app:baked"], push=True,
                         on_line=print)                 # the whole pipeline: connect, resolve, bake
    result = baker.build_in_registry(manifest, tags=["registry.example.com/app:baked"])  # in the registry
    resolved = baker.resolve(manifest)                  # Secret values; ResolutionFailed names each env var
    result = baker.bake(manifest, resolved, tags=["registry.example.com/app:baked"], push=False,
                        on_line=print)                  # the engine's output, redacted
    pushed = baker.bake_in_registry(manifest, resolved, tags=["registry.example.com/app:baked"],
                                    on_line=print)      # no engine: every platform, in the registry
    record, report = baker.evaluate(manifest, "registry.example.com/app:baked")   # report.stale

`build` and `build_in_registry` (`baker.pipeline`) keep the guarantee "no engine or registry, no
secret fetched": they ask the engine (the Docker CLI, for `image.build`) or the registry before
resolving.  `resolve` then `bake` / `bake_in_registry` are their steps, for a caller that orders
them itself (and keeps that guarantee itself).

Each command is also a function in `baker.commands.<name>` taking the same options as the command
line (`baker.render.render` writes a rendered directory).  The names below are imported on first
use, so `import baker` stays as light as `validate`.  (Submodule names such as `render` are not
re-exported: `from baker import render` must keep meaning the module.)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "load": ("baker.manifest.checks", "load"),
    "resolve": ("baker.resolver", "resolve"),
    "build": ("baker.pipeline", "build"),
    "build_in_registry": ("baker.pipeline", "build_in_registry"),
    "bake": ("baker.image.bake", "bake"),
    "bake_in_registry": ("baker.image.inregistry", "bake_in_registry"),
    "evaluate": ("baker.check.gather", "evaluate"),
    "Secret": ("baker.secret", "Secret"),
    "BakerError": ("baker.errors", "BakerError"),
}

if TYPE_CHECKING:
    from baker.check.gather import evaluate
    from baker.errors import BakerError
    from baker.image.bake import bake
    from baker.image.inregistry import bake_in_registry
    from baker.manifest.checks import load
    from baker.pipeline import build, build_in_registry
    from baker.resolver import resolve
    from baker.secret import Secret


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module, attr = _EXPORTS[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'baker' has no attribute {name!r}")


__all__ = [
    "BakerError",
    "Secret",
    "__version__",
    "bake",
    "bake_in_registry",
    "build",
    "build_in_registry",
    "evaluate",
    "load",
    "resolve",
]
