"""`baker validate` and `baker plan` on a large manifest, as a user runs them (whole processes).

    .venv/bin/python benchmarks/manifest.py [--variables 400] [--runs 15] [--in-place]

Writes a manifest of VARIABLES env entries (half literals, half secret references through one
credential) and times RUNS whole `baker validate` and `baker plan` processes each, printing the
median and the fastest.  Both are offline: no network, no engine.  Also times the YAML read alone
(`yamltree.load_tree`) on libyaml and on PyYAML's pure-Python parser.  Goal (issue 17): the whole
process under 0.15 s for 400 variables.

baker is timed as `pip install` leaves it: a copy of the package in a new virtual environment's
site-packages, byte-compiled, with this environment's libraries (PyYAML) on its path through a
`.pth` line.  `--in-place` times this checkout's own environment instead, as it is: an editable
install loads setuptools' import hook at every start (~15 ms), and with PYTHONDONTWRITEBYTECODE
set nothing is byte-compiled (~40 ms more).

Figures (issue 17; the shared 2-core machine, medians of 15, whole processes; the libyaml read
alone shows how fast the machine was at the time): before, validate 0.30 s and plan 0.34 s (libyaml
read 7.5 ms).  After the first step, side by side with the old code, interleaved, both byte-compiled,
at load 1.5 (libyaml read 12.5 ms: a machine ~1.7 times slower than then): validate 0.31 -> 0.17 s,
plan 0.32 -> 0.18 s; without bytecode 0.44 -> 0.27 s and 0.48 -> 0.31 s.  The second step
(`baker.record` instead of the standard library's dataclasses, fewer imports at start, the
installed layout): see README.md, "Performance".
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import baker
from baker.manifest import yamltree

GOAL = 0.15


def manifest(variables: int) -> str:
    lines = [
        "version: 1",
        "image: {from: 'bench/base:1', tag: 'bench/app:baked'}",
        "credentials:",
        "  main:",
        "    provider: azure-key-vault",
        "    vault_url: https://bench.vault.azure.net",
        "    tenant_id: 0a0b0c0d-1111-4222-8333-444455556666",
        "    client_id: 9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
        "    client_secret: ${BENCH_CLIENT_SECRET}",
        "    default: true",
        "env:",
    ]
    for i in range(variables):
        if i % 2:
            lines.append(f"  VAR_{i:04d}:\n    secret: bench-secret-{i:04d}")
        else:
            lines.append(f"  VAR_{i:04d}: literal-value-{i:04d}")
    return "\n".join(lines) + "\n"


def installed(tmp: Path) -> list[str]:
    """A new virtual environment with baker copied into its site-packages and byte-compiled (what
    `pip install` of the wheel leaves); this environment's site-packages (PyYAML and the rest) on
    its path through a `.pth` line.  Returns the command that runs baker there."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    source = Path(baker.__file__).resolve().parent
    shutil.copytree(source, site / "baker", ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(site / "baker", quiet=1)
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "baker-bench-libraries.pth").write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
    return [str(python), "-m", "baker.cli"]


def whole_process(baker_command: list[str], command: str, path: Path, runs: int) -> list[float]:
    env = {**os.environ, "BENCH_CLIENT_SECRET": "bench-manifest-client-secret"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        argv = [*baker_command, command, "-f", str(path)]
        done = subprocess.run(argv, env=env, capture_output=True, check=False, cwd=path.parent)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"baker {command} exited {done.returncode}: {done.stderr.decode(errors='replace')}")
    return times


def in_process(text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        tree, problems = yamltree.load_tree(text, "bench.yaml")
        times.append(time.perf_counter() - start)
        assert tree is not None and not problems
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variables", type=int, default=400)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="time this checkout's environment as it is (editable install, bytecode as it is)",
    )
    args = parser.parse_args()
    text = manifest(args.variables)
    with tempfile.TemporaryDirectory(prefix="baker-bench-") as tmp:
        path = Path(tmp) / "baker.yaml"
        path.write_text(text, encoding="utf-8")
        command_line = [sys.executable, "-m", "baker.cli"] if args.in_place else installed(Path(tmp))
        layout = "this checkout, in place" if args.in_place else "installed copy, byte-compiled"
        print(f"{args.variables} variables, {args.runs} runs each, whole processes ({layout}):")
        worst = 0.0
        for command in ("validate", "plan"):
            times = whole_process(command_line, command, path, args.runs)
            median = statistics.median(times)
            worst = max(worst, median)
            print(f"  baker {command:8} median {median:.3f} s  fastest {min(times):.3f} s")
    fast = in_process(text, args.runs) if yamltree.CLOADER is not None else None
    saved, yamltree.CLOADER = yamltree.CLOADER, None
    try:
        pure = in_process(text, args.runs)
    finally:
        yamltree.CLOADER = saved
    print("YAML read alone (load_tree, median):")
    print(f"  libyaml  {fast:.4f} s" if fast is not None else "  libyaml  absent (this PyYAML has none)")
    print(f"  pure     {pure:.4f} s")
    verdict = "met" if worst < GOAL else "NOT met"
    print(f"goal: under {GOAL} s whole process: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
