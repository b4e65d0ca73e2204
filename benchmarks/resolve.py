"""Resolution benchmark: baker's resolver against the plain Azure SDK, in one run, on the emulator.

    .venv/bin/python benchmarks/resolve.py [--secrets 300] [--repeats 100] [--latency 0.04]

Every contender talks to the same in-process emulator (TLS, Entra token flow, Key Vault's 401
challenge) with the same injected latency per vault request.  Contenders:

- baker: `baker.resolver.resolve()` over a manifest of SECRETS distinct references plus REPEATS
  repeated ones (env vars that point at secrets already referenced).
- (a) the plain SDK, a sequential loop: one SecretClient, `get_secret` for each distinct secret.
- (b) the plain SDK's floor: the same distinct GETs on a thread pool of baker's worker count over
  one SecretClient whose requests session has a pool that large.

Each contender starts cold (a new credential and client, the SDK's process-wide challenge cache
cleared), as a fresh CI process would.  Best of 3 rounds each.  Prints the figures, the ratios and
a markdown table for the README.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient
from azure.keyvault.secrets._shared import http_challenge_cache
from requests.adapters import HTTPAdapter

from baker.emulator import Emulator
from baker.model import CredentialSpec, EnvEntry, ImageSpec, Manifest, SecretRef
from baker.resolver import resolve
from baker.secret import Secret

TENANT = "0a0b0c0d-1111-4222-8333-444455556666"
CLIENT_ID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
CLIENT_SECRET = "bench-client-secret-Zx81"
VAULT = "bench"
WORKERS = 16
ROUNDS = 3


def world(count: int) -> dict[str, Any]:
    return {
        "tenants": {TENANT: {"apps": {CLIENT_ID: {"secrets": [CLIENT_SECRET]}}}},
        "vaults": {
            VAULT: {
                "tenant": TENANT,
                "grants": [{"app": CLIENT_ID, "scope": "vault"}],
                "secrets": {f"bench-secret-{i:03d}": f"value-{i:03d}-{'x' * 24}" for i in range(count)},
            }
        },
    }


def manifest(emu: Emulator, count: int, repeats: int) -> Manifest:
    spec = CredentialSpec(
        name="bench",
        provider="azure-key-vault",
        vault_url=emu.vault_url(VAULT),
        tenant_id=TENANT,
        client_id=CLIENT_ID,
        client_secret=Secret(CLIENT_SECRET),
        is_default=True,
        line=None,
        authority_host=emu.authority_host,
    )

    def ref(i: int) -> SecretRef:
        name = f"bench-secret-{i:03d}"
        return SecretRef(written=name, name=name, key=None, version=None, credential="bench")

    env = [EnvEntry(f"SECRET_{i:03d}", ref(i)) for i in range(count)]
    env += [EnvEntry(f"AGAIN_{j:03d}", ref(j % count)) for j in range(repeats)]
    return Manifest("bench.yaml", ImageSpec(base="scratch", build=None), {"bench": spec}, tuple(env))


def sdk_client(emu: Emulator, *, pool: int | None) -> tuple[SecretClient, ClientSecretCredential]:
    kwargs: dict[str, Any] = {}
    if pool is not None:
        session = requests.Session()
        session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=pool))
        kwargs["transport"] = RequestsTransport(session=session, session_owner=False)
    credential = ClientSecretCredential(
        TENANT,
        CLIENT_ID,
        CLIENT_SECRET,
        authority=emu.authority_host,
        disable_instance_discovery=True,
        **kwargs,
    )
    return SecretClient(emu.vault_url(VAULT), credential, **kwargs), credential


def run_baker(emu: Emulator, m: Manifest) -> None:
    resolved = resolve(m, max_workers=WORKERS)
    assert len(resolved.entries) == len(m.env)


def run_sequential(emu: Emulator, names: list[str]) -> None:
    client, credential = sdk_client(emu, pool=None)
    with client, credential:
        for name in names:
            client.get_secret(name)


def run_pooled(emu: Emulator, names: list[str]) -> None:
    client, credential = sdk_client(emu, pool=WORKERS)
    with client, credential, cf.ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(client.get_secret, names))


def best_of(emu: Emulator, label: str, run: Callable[[], None]) -> tuple[float, int, int]:
    """Best wall time over ROUNDS cold runs, with the vault GETs and peak in-flight of that run."""
    best: tuple[float, int, int] | None = None
    for round_no in range(ROUNDS):
        http_challenge_cache.clear()  # cold, like a fresh process
        emu.reset_stats()
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
        gets = sum(1 for r in emu.requests() if r.method == "GET" and r.host.endswith(".vault.localhost"))
        print(f"  {label:<12} round {round_no + 1}: {elapsed:7.3f} s  vault GETs {gets}", flush=True)
        if best is None or elapsed < best[0]:
            best = (elapsed, gets, emu.peak_in_flight)
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--secrets", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.04)
    args = parser.parse_args(argv)

    emu = Emulator.start(world(args.secrets), port=0)
    try:
        os.environ.update(emu.client_env())
        emu.faults.latency = args.latency
        m = manifest(emu, args.secrets, args.repeats)
        names = [f"bench-secret-{i:03d}" for i in range(args.secrets)]
        print(
            f"{args.secrets} distinct secrets + {args.repeats} repeated references, "
            f"{args.latency * 1000:.0f} ms per vault request, {WORKERS} workers, best of {ROUNDS}",
            flush=True,
        )
        baker_s, baker_gets, baker_peak = best_of(emu, "baker", lambda: run_baker(emu, m))
        pooled_s, pooled_gets, pooled_peak = best_of(emu, "sdk pool (b)", lambda: run_pooled(emu, names))
        seq_s, _, _ = best_of(emu, "sdk loop (a)", lambda: run_sequential(emu, names))
    finally:
        emu.stop()

    speedup = seq_s / baker_s
    overhead = baker_s / pooled_s
    print()
    print(f"baker resolve():          {baker_s:7.3f} s")
    print(f"(a) SDK sequential loop:  {seq_s:7.3f} s   a/baker = {speedup:5.1f}x  (target >= 8x)")
    print(f"(b) SDK thread-pool floor:{pooled_s:7.3f} s   baker/b = {overhead:5.2f}x  (target <= 1.2x)")
    print(
        f"baker's vault GETs:       {baker_gets} for {args.secrets} distinct secrets "
        f"({args.secrets + args.repeats} references; target {args.secrets} + 1 challenge)"
    )
    print(f"(b)'s vault GETs:          {pooled_gets} (its threads all meet the 401 challenge at once)")
    print(f"peak in-flight at the emulator: baker {baker_peak}, (b) {pooled_peak}")
    print()
    refs = args.secrets + args.repeats
    latency_ms = args.latency * 1000
    print(
        f"| {refs} references ({args.secrets} distinct), {latency_ms:.0f} ms latency | wall time | vs baker |"
    )
    print("|---|---:|---:|")
    print(f"| baker `resolve()` ({WORKERS} workers) | {baker_s:.2f} s | 1.0x |")
    print(f"| plain SDK, sequential loop | {seq_s:.2f} s | {speedup:.1f}x slower |")
    floor = f"plain SDK, {WORKERS}-thread pool, pooled session (floor)"
    print(f"| {floor} | {pooled_s:.2f} s | {1 / overhead:.2f}x |")
    print(f"| baker's vault GETs | {baker_gets} | {args.secrets} distinct + challenge |")
    ok = speedup >= 8 and overhead <= 1.2 and baker_gets == args.secrets + 1
    print("\nall targets met" if ok else "\nSOME TARGETS MISSED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
