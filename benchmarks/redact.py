"""Redaction benchmark: the Redactor's prefix index against a single regex alternation of the same
forms (what a straightforward redactor does), side by side in one run.

    .venv/bin/python benchmarks/redact.py [--values 300] [--lines 2000]

Every line baker prints, logs or streams passes the Redactor, with every form of every value
registered (a few dozen per value).  Prints both times, the ratio, and checks both mask the same.
"""

from __future__ import annotations

import argparse
import random
import re
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from baker.secret import MASK, Redactor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=300)
    parser.add_argument("--lines", type=int, default=2000)
    args = parser.parse_args()

    rng = random.Random(7)
    values = [secrets.token_urlsafe(rng.randint(12, 48)) for _ in range(args.values)]
    redactor = Redactor()
    for value in values:
        redactor.register(value)
    needles = sorted(redactor._needles, key=len, reverse=True)  # the same forms, for the baseline
    alternation = re.compile("|".join(re.escape(n) for n in needles))

    words = [
        "Step",
        "3/5",
        ":",
        "ENV",
        "ARG",
        "--->",
        "Running",
        "in",
        "removing",
        "intermediate",
        "container",
        "layer",
        "sha256",
    ]
    lines = []
    for number in range(args.lines):
        line = " ".join(rng.choice(words) for _ in range(rng.randint(6, 30)))
        if number % 50 == 0:  # a few lines hold a value, as a leak would
            line += f" {rng.choice(values)}"
        lines.append(line)

    redactor.redact("warm up")  # builds the index
    start = time.perf_counter()
    ours = [redactor.redact(line) for line in lines]
    indexed = time.perf_counter() - start
    start = time.perf_counter()
    theirs = [alternation.sub(MASK, line) for line in lines]
    single = time.perf_counter() - start

    assert ours == theirs, "the two redactors disagree"
    print(f"{args.values} values ({len(needles)} forms), {args.lines} lines, same masking")
    print(f"  prefix index       {indexed * 1e6 / args.lines:8.1f} us/line")
    print(f"  single alternation {single * 1e6 / args.lines:8.1f} us/line")
    print(f"  ratio: the index is {single / indexed:.1f}x faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
