"""`make demo`: the quick start, end to end, with no Azure subscription.

1. starts baker's Entra + Key Vault emulator on https://*.localhost:8443 with examples/world.yaml;
2. runs the real `baker` command line against examples/baker.yaml, as a CI step would:
   validate, plan, test-connection, then `build` into a local image when a Docker engine answers,
   or `render` into .demo/rendered when none does (and says so);
3. shows what the image holds (env var names and lengths only), runs `baker check` on it (exit 0),
   rotates a secret in the emulator and runs `baker check` again (exit 3: a re-bake is due).

The client secret below is the emulator's own demo value (examples/world.yaml), not a real one.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from baker.emulator import Emulator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
STATE = ROOT / ".demo"
PORT = 8443
BASE = "baker-demo/base:1"
TAG = "baker-demo/app:baked"
# The emulator's published demo app secret (examples/world.yaml), not a real credential.
DEMO_CLIENT_SECRET = "demo-client-secret-Q7v2"  # noqa: S105


def say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m", flush=True)


HOSTS = Path("/etc/hosts")
HOSTS_BEGIN = "# >>> baker demo: loopback names for the emulator (make demo added this block) >>>"
HOSTS_END = "# <<< baker demo <<<"
# The emulator's host names: Entra, and one per vault of examples/world.yaml.
LOCALHOST_NAMES = ("login.localhost", "demo.vault.localhost")


def unresolved_names(names: tuple[str, ...] = LOCALHOST_NAMES) -> list[str]:
    missing = []
    for name in names:
        try:
            socket.getaddrinfo(name, PORT)
        except OSError:
            missing.append(name)
    return missing


def hosts_block(names: tuple[str, ...] | list[str]) -> str:
    return f"{HOSTS_BEGIN}\n127.0.0.1 {' '.join(names)}\n{HOSTS_END}\n"


@dataclass(frozen=True)
class LocalhostFix:
    action: str  # "none" | "append" (to /etc/hosts, as root) | "advise" (print the lines to add)
    block: str


def localhost_fix(missing: list[str], is_root: bool, hosts_text: str) -> LocalhostFix:
    """What the demo does about *.localhost names that do not resolve: nothing when they do;
    append a marked block to /etc/hosts when root and no such block is there yet; else advise."""
    if not missing:
        return LocalhostFix("none", "")
    block = hosts_block(missing)
    if is_root and HOSTS_BEGIN not in hosts_text:
        return LocalhostFix("append", block)
    return LocalhostFix("advise", block)


def apply_localhost_fix(fix: LocalhostFix, hosts: Path = HOSTS) -> None:
    """Append the block (in place: /etc/hosts is often a bind mount in containers) and say exactly
    what changed and how to undo it."""
    text = hosts.read_text()
    with hosts.open("a") as sink:
        sink.write(("" if not text or text.endswith("\n") else "\n") + fix.block)
    say(f"*.localhost does not resolve here: appended these lines to {hosts} (nothing else changed)")
    print(fix.block, end="")
    print(
        f"To remove them, delete that block from {hosts}, e.g. "
        f"sed -i '/^# >>> baker demo/,/^# <<< baker demo/d' {hosts}\n"
        "(in a container whose /etc/hosts is a mount, `sed -i` cannot rename it: edit it in place).",
        flush=True,
    )


def ensure_localhost_names() -> None:
    """The emulator's vault hosts are *.localhost names (RFC 6761): most desktops resolve them
    (systemd-resolved, macOS, Debian's libnss-myhostname).  Elsewhere the demo changes one thing,
    and only as root: a marked block at the end of /etc/hosts.  It never installs a package."""
    missing = unresolved_names()
    try:
        hosts_text = HOSTS.read_text()
    except OSError:
        hosts_text = ""
    fix = localhost_fix(missing, os.geteuid() == 0, hosts_text)
    if fix.action == "append":
        try:
            apply_localhost_fix(fix)
        except OSError as exc:
            sys.exit(f"cannot append to {HOSTS} ({exc.strerror}); add these lines yourself:\n{fix.block}")
        missing = unresolved_names()
    if missing:
        sys.exit(
            f"{', '.join(missing)} do not resolve to loopback on this machine.\n"
            f"Add these lines to {HOSTS} (or install libnss-myhostname on Debian/Ubuntu), then run "
            f"`make demo` again:\n{hosts_block(missing)}"
        )


def docker_engine() -> object | None:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except Exception:
        return None


def make_base_image(client: object) -> None:
    """A base image with no registry: `docker import` of busybox when the machine has it, else of a
    one-file root filesystem (the baked layer only adds ARG/ENV, so no shell is needed)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        busybox = shutil.which("busybox")
        if busybox:
            tar.add(busybox, arcname="bin/busybox")
            for applet in ("sh", "env", "cat", "ls"):
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        data = b"baker demo base image\n"
        info = tarfile.TarInfo("etc/baker-demo")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    changes = ['CMD ["/bin/sh", "-c", "env | sort"]', "WORKDIR /srv"]
    client.api.import_image_from_data(buf.getvalue(), repository=BASE.split(":")[0], tag="1", changes=changes)  # type: ignore[attr-defined]


def baker(*args: str, env: dict[str, str], check: bool = True) -> int:
    cmd = [sys.executable, "-m", "baker", *args]
    print("$ baker " + " ".join(args), flush=True)
    code = subprocess.run(cmd, env=env, cwd=ROOT, check=False).returncode
    if check and code != 0:
        sys.exit(f"`baker {args[0]}` exited {code}")
    return code


def main() -> int:
    ensure_localhost_names()
    STATE.mkdir(mode=0o700, exist_ok=True)
    say(f"starting the Entra + Key Vault emulator on port {PORT}")
    try:
        emulator = Emulator.start(EXAMPLES / "world.yaml", port=PORT, state_dir=STATE)
    except OSError as exc:
        sys.exit(
            f"cannot listen on 127.0.0.1:{PORT} ({exc}); stop whatever uses it and run `make demo` again"
        )
    with emulator:
        env = {**os.environ, **emulator.client_env(), "AZURE_CLIENT_SECRET": DEMO_CLIENT_SECRET}
        for line in emulator.client_env().items():
            print("  export {}={}".format(*line))
        manifest = str(EXAMPLES / "baker.yaml")
        say("validate and plan: offline, no values shown")
        baker("validate", "-f", manifest, env=env)
        baker("plan", "-f", manifest, env=env)
        say("the other value shapes (examples/shapes.yaml): env_from, template, certificate")
        baker("plan", "-f", str(EXAMPLES / "shapes.yaml"), env=env)
        say("test-connection: sign in to the emulated Entra and prove read access")
        baker("test-connection", "-f", manifest, env=env)

        client = docker_engine()
        if client is None:
            out = STATE / "rendered"
            shutil.rmtree(out, ignore_errors=True)
            say("no Docker engine reachable: rendering instead of building")
            baker("render", "-f", manifest, "--out", str(out), env=env)
            print(f"\nRendered into {out} (Dockerfile without values, docker-bake.json owner-only).")
            print("With a Docker engine running, `make demo` bakes the image itself.")
            return 0

        say(f"making the base image {BASE} with docker import (no registry needed)")
        make_base_image(client)
        say(f"build: resolve, render privately, bake {TAG}")
        baker("build", "-f", manifest, env=env)
        image = client.images.get(TAG)  # type: ignore[attr-defined]
        say(f"{TAG} holds these variables (names and lengths only):")
        for item in image.attrs["Config"]["Env"]:
            name, _, value = item.partition("=")
            print(f"  {name:<16} {len(value):>4} chars")
        say("check: is a re-bake due? (exit 0: every baked version is current)")
        baker("check", "-f", manifest, "--image", TAG, env=env)
        say("rotate openai-api-key in the emulator, then check again (exit 3: re-bake due)")
        emulator.set_secret("demo", "openai-api-key", "sk-demo-rotated-8d2b")
        code = baker("check", "-f", manifest, "--image", TAG, env=env, check=False)
        if code != 3:
            sys.exit(f"`baker check` after a rotation exited {code}, expected 3")
        say("bake the value shapes (examples/shapes.yaml): a set by prefix, a template, a certificate")
        shapes = str(EXAMPLES / "shapes.yaml")
        baker("build", "-f", shapes, env=env)
        baker("check", "-f", shapes, "--image", "baker-demo/shapes:baked", env=env)
        print(f"\nDone. `baker build -f {manifest}` would re-bake; look inside: docker image inspect {TAG}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
