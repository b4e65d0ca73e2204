"""The build request's shape, checked and prepared before the engine is called.  Pure: no docker.

- Build arguments travel in the request's query string, which the engine reads with Go's default
  1 MB header limit: refuse early, naming the largest env vars (never a value).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping

from baker.errors import EngineError

MAX_QUERY_BYTES = 512 * 1024


def query_size(build_args: Mapping[str, str], labels: Mapping[str, str]) -> int:
    """Bytes the build arguments and labels take in the build request's query string."""
    params = {"buildargs": json.dumps(dict(build_args)), "labels": json.dumps(dict(labels))}
    return len(urllib.parse.urlencode(params))


def check_query_size(build_args: Mapping[str, str], labels: Mapping[str, str]) -> None:
    """Refuse, naming the largest env vars (never a value), when the request would be too large."""
    total = query_size(build_args, labels)
    if total <= MAX_QUERY_BYTES:
        return
    sizes = sorted(
        ((len(urllib.parse.quote_plus(json.dumps(v))), k) for k, v in build_args.items()), reverse=True
    )
    largest = ", ".join(f"{name} ({size // 1024} KiB)" for size, name in sizes[:3])
    label_kib = len(urllib.parse.quote_plus(json.dumps(dict(labels)))) // 1024
    raise EngineError(
        f"the values are too large for the Docker engine API: {total // 1024} KiB encoded, "
        f"baker allows {MAX_QUERY_BYTES // 1024} KiB; largest: {largest}; provenance label: {label_kib} KiB",
        hint="build arguments travel in the request's query string (about 1 MB in all); "
        "keep large values (bundles, files) out of env vars, e.g. mount them at run time",
    )
