"""A fleet check vs one `baker check` per manifest, side by side in one run.

    .venv/bin/python benchmarks/fleet.py [--manifests 40] [--secrets 300] [--latency-ms 40]

40 manifests over 300 distinct secrets (30 each, overlapping: every secret is in about four
manifests), baked once with `baker build --in-registry -f DIR` into Debian's `docker-registry` on
127.0.0.1 (the base made with `docker import` of Debian's static busybox); then, with the emulator
adding `--latency-ms` to every Key Vault request (its fault injection):

- fleet:     one `baker check -f DIR` process;
- separate:  one `baker check -f FILE` process per manifest, one after the other (a CI loop).

Both run as a user runs them (whole processes), against the in-process emulator (TLS, Entra token
flow, Key Vault).  Prints each time, the Key Vault requests and token requests each made, and the
ratio.  Goal (issue 13): at least 10x.  Removes every image, process and file it made.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker

from baker.emulator import Emulator
from benchmarks.inregistry import _rootfs, start_registry

TENANT = "0a0b0c0d-1111-4222-8333-444455556666"
CLIENT_ID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
CLIENT_SECRET = "bench-fleet-client-secret-Qm71"
VAULT = "fleet"
PER_MANIFEST = 30


def _manifest(path: Path, emu: Emulator, base: str, tag: str, secrets: list[str]) -> None:
    document = {
        "version": 1,
        "image": {"from": base, "tag": tag},
        "credentials": {
            "prod": {
                "provider": "azure-key-vault",
                "vault_url": emu.vault_url(VAULT),
                "tenant_id": TENANT,
                "client_id": CLIENT_ID,
                "client_secret": "${AZURE_CLIENT_SECRET}",
                "authority_host": emu.authority_host,
                "default": True,
            }
        },
        "env": {f"S_{name.replace('-', '_').upper()}": {"secret": name} for name in secrets},
    }
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))


def _run(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args[1:3])} failed ({result.returncode}): {result.stderr[-800:]}")
    return elapsed


def _counts(emu: Emulator) -> tuple[int, int]:
    requests = emu.requests()
    vault = sum(1 for r in requests if ".vault." in r.host)
    tokens = sum(1 for r in requests if r.method == "POST" and r.path.endswith("/token"))
    return vault, tokens


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifests", type=int, default=40)
    parser.add_argument("--secrets", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    args = parser.parse_args()
    baker = shutil.which("baker", path=str(Path(sys.executable).parent))
    if baker is None:
        raise SystemExit("baker is not installed next to this Python")
    names = [f"fleet-secret-{i:03d}" for i in range(args.secrets)]
    world = {
        "tenants": {TENANT: {"apps": {CLIENT_ID: {"secrets": [CLIENT_SECRET]}}}},
        "vaults": {
            VAULT: {
                "tenant": TENANT,
                "grants": [{"app": CLIENT_ID, "scope": "vault"}],
                "secrets": {name: f"value-of-{name}" for name in names},
            }
        },
    }
    client = docker.from_env()
    work = Path(tempfile.mkdtemp(prefix="baker-bench-fleet-"))
    emu = Emulator.start(world, port=0)
    host, registry = start_registry(work)
    base = f"{host}/bench-fleet/base:1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env.update(emu.client_env(), AZURE_CLIENT_SECRET=CLIENT_SECRET, DOCKER_CONFIG=str(work / "docker-config"))
    (work / "docker-config").mkdir()
    (work / "docker-config" / "config.json").write_text("{}")
    try:
        client.api.import_image_from_data(
            _rootfs(0), repository=base.rsplit(":", 1)[0], tag="1", changes=['CMD ["env"]']
        )
        client.images.push(base)
        root = work / "services"
        step = max(1, args.secrets // args.manifests + 1)
        files = []
        for i in range(args.manifests):
            chosen = [names[(i * step + j) % args.secrets] for j in range(PER_MANIFEST)]
            path = root / f"svc-{i:02d}" / "baker.yaml"
            _manifest(path, emu, base, f"{host}/bench-fleet/svc-{i:02d}:baked", chosen)
            files.append(path)
        used = {
            names[(i * step + j) % args.secrets] for i in range(args.manifests) for j in range(PER_MANIFEST)
        }
        started = time.perf_counter()
        _run([baker, "build", "--in-registry", "-f", str(root)], env)
        print(
            f"baked {args.manifests} images over {len(used)} secrets in {time.perf_counter() - started:.1f} s"
        )

        emu.faults.latency = args.latency_ms / 1000
        emu.reset_stats()
        fleet = _run([baker, "check", "-f", str(root)], env)
        fleet_counts = _counts(emu)
        emu.reset_stats()
        separate = sum(_run([baker, "check", "-f", str(path)], env) for path in files)
        separate_counts = _counts(emu)
        print(f"latency {args.latency_ms:.0f} ms per Key Vault request, {args.manifests} manifests")
        print(
            f"  fleet     `check -f DIR`:      {fleet:6.2f} s  "
            f"({fleet_counts[0]} vault, {fleet_counts[1]} token requests)"
        )
        print(
            f"  separate  {args.manifests} x `check -f F`: {separate:6.2f} s  "
            f"({separate_counts[0]} vault, {separate_counts[1]} token requests)"
        )
        ratio = separate / fleet
        print(f"  ratio: {ratio:.1f}x (goal: at least 10x) {'ok' if ratio >= 10 else 'BELOW GOAL'}")
    finally:
        emu.faults.latency = 0
        with contextlib.suppress(docker.errors.APIError):
            client.api.remove_image(base, noprune=False)
        registry.terminate()
        registry.wait(timeout=10)
        emu.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
