"""`baker emulator`: run the local Entra + Key Vault emulator until Ctrl-C or SIGTERM."""

from __future__ import annotations

import errno
import signal
import socket
import threading
from pathlib import Path
from types import FrameType

from baker.emulator import Emulator
from baker.errors import EXIT_INTERRUPTED, EXIT_OK, UsageError
from baker.output import Output

_RESOLVE_FIX = (
    "install libnss-myhostname (and add `myhostname` to the hosts line of /etc/nsswitch.conf) or use "
    "systemd-resolved, both of which resolve *.localhost (RFC 6761); or add this line to /etc/hosts: "
    "127.0.0.1 {names}"
)


def _unresolved(names: list[str], port: int) -> list[str]:
    missing = []
    for name in names:
        try:
            socket.getaddrinfo(name, port, proto=socket.IPPROTO_TCP)
        except OSError:
            missing.append(name)
    return missing


def _keyless_env(emu: Emulator) -> dict[str, dict[str, str]]:
    """What a job would have, for each keyless sign-in the world allows: a GitHub Actions job and an
    Azure Pipelines job (apps with federated credentials), App Service's identity endpoint (managed
    identities).  The emulator's own demo tokens, not secrets of anyone's."""
    tenants = emu.world.tenants.values()
    found: dict[str, dict[str, str]] = {}
    if any(app.federated_credentials for tenant in tenants for app in tenant.apps.values()):
        found["github-actions"] = emu.github_actions_env()
        found["azure-pipelines"] = emu.azure_pipelines_env()
    if any(tenant.managed_identities for tenant in tenants):
        found["managed-identity"] = emu.managed_identity_env()
    return found


def emulator(*, out: Output, world: Path | None, host: str, port: int, state_dir: Path | None) -> int:
    try:
        emu = Emulator.start(world, host=host, port=port, state_dir=state_dir)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {port} on {host} is already in use",
                hint="pick another with --port (0 = any free port)",
            ) from None
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another --port (one above 1024 needs no privileges), or --port 0 for any free one",
        ) from None
    stop = threading.Event()
    previous = None
    code = EXIT_OK  # SIGTERM (a supervisor's stop) is success; Ctrl-C is "interrupted", 130

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, on_term)
        vaults = {name: emu.vault_url(name) for name in emu.world.vaults}
        hosts = ["login.localhost", *(f"{name}.vault.localhost" for name in emu.world.vaults)]
        missing = _unresolved(hosts, emu.port)
        if missing:
            out.warn(f"these names do not resolve on this machine: {', '.join(missing)}")
            out.warn(_RESOLVE_FIX.format(names=" ".join(missing)))
        env = emu.shell_env()  # its CA variables: the system's CAs plus the emulator's, one bundle
        exports = [f"export {name}={value}" for name, value in env.items()]
        out.info(f"emulator listening on https://{host}:{emu.port} (world: {emu.world.source})")
        out.info(f"authority host: {emu.authority_host}")
        for name, url in vaults.items():
            out.info(f"vault {name}: {url}")
        out.info(f"CA bundle: {emu.ca_bundle}")
        out.info(f"trust bundle (this machine's CAs plus the emulator's): {env['REQUESTS_CA_BUNDLE']}")
        out.info(f"admin API: {emu.admin_url}")
        out.info("point clients at it with:")
        for line in exports:
            out.info(f"  {line}")
        keyless = _keyless_env(emu)
        for kind, variables in keyless.items():
            out.info(f"to try keyless sign-in ({kind}), also:")
            for name, value in variables.items():
                out.info(f"  export {name}={value}")
        out.info("press Ctrl-C to stop")
        out.result(
            {
                "port": emu.port,
                "authority_host": emu.authority_host,
                "vaults": vaults,
                "ca_bundle": str(emu.ca_bundle),
                "trust_bundle": env["REQUESTS_CA_BUNDLE"],
                "admin_url": emu.admin_url,
                "env": env,
                "exports": exports,
                "unresolved": missing,
                "keyless": keyless,
            }
        )
        while not stop.wait(0.5):  # short waits keep Ctrl-C prompt
            pass
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        emu.stop()
        out.progress("emulator stopped")
    return code
