"""`baker build --push` against a real registry (Debian's docker-registry on loopback), with and
without htpasswd auth; credentials come the way a user's do: a docker config's `auths`."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from baker.cli import main
from baker.errors import PushIncomplete
from baker.image.bake import bake
from baker.model import EnvEntry, ImageSpec, LiteralValue, Manifest
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import Secret
from tests.conftest import unavailable
from tests.support.fixtures_docker import ImageNames
from tests.support.manifests import write_manifest

pytestmark = pytest.mark.docker

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    auth: tuple[str, str] | None
    process: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        """The registry goes away (as after a network drop): its port then refuses connections."""
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)

    def manifest_digest(self, repository: str, tag: str) -> str | None:
        request = urllib.request.Request(
            f"http://{self.host}/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_V2}
        )
        if self.auth is not None:
            token = base64.b64encode(":".join(self.auth).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback http)
                return response.headers.get("Docker-Content-Digest")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(host: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"docker-registry exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
            return
        except urllib.error.HTTPError:
            return  # 401 from an auth registry: it is up
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"docker-registry did not start: {log.read_text(errors='replace')[-2000:]}")


StartRegistry = Callable[..., Registry]


@pytest.fixture
def start_registry(tmp_path: Path, docker_client: Any) -> Iterator[StartRegistry]:
    if not REGISTRY_BINARY.exists():
        unavailable(f"{REGISTRY_BINARY} (Debian's docker-registry) is not installed")
    processes: list[subprocess.Popen[bytes]] = []

    def start(auth: tuple[str, str] | None = None) -> Registry:
        root = tmp_path / f"registry-{len(processes)}"
        (root / "data").mkdir(parents=True)
        host = f"127.0.0.1:{_free_port()}"
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
            "http": {"addr": host, "secret": uuid.uuid4().hex},
        }
        if auth is not None:
            import bcrypt

            hashed = bcrypt.hashpw(auth[1].encode(), bcrypt.gensalt(rounds=5)).decode()
            (root / "htpasswd").write_text(f"{auth[0]}:{hashed}\n")
            config["auth"] = {"htpasswd": {"realm": "baker-test", "path": str(root / "htpasswd")}}
        (root / "config.yml").write_text(json.dumps(config))  # JSON is YAML
        log = root / "registry.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(REGISTRY_BINARY), "serve", str(root / "config.yml")], stdout=sink, stderr=sink
            )
        processes.append(process)
        _wait_ready(host, process, log)
        return Registry(host, auth, process)

    yield start
    for process in processes:
        if process.poll() is not None:
            continue
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty docker config of the test's own (never the developer's ~/.docker)."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    (directory / "config.json").write_text("{}")
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


def test_push_reports_the_digest_the_registry_serves(
    tmp_path: Path,
    busybox_base: str,
    image_names: ImageNames,
    start_registry: StartRegistry,
    docker_config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = start_registry()
    tag = uuid.uuid4().hex[:10]
    name = f"{registry.host}/baker-test/app:{tag}"
    image_names.names.append(name)
    manifest = write_manifest(tmp_path / "baker.yaml", base=busybox_base, env={"TOKEN": "pushed-value-1"})
    assert main(["build", "-f", str(manifest), "--tag", name, "--push", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    image_names.track(document["image_id"])
    (pushed,) = document["pushed"]
    assert pushed["tag"] == name
    assert pushed["digest"].startswith("sha256:")
    assert registry.manifest_digest("baker-test/app", tag) == pushed["digest"]


def test_push_without_credentials_fails_with_a_login_hint_and_leaves_no_tag(
    tmp_path: Path,
    busybox_base: str,
    image_names: ImageNames,
    start_registry: StartRegistry,
    docker_config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = start_registry(auth=("baker", "s3cret-Pw"))
    tag = uuid.uuid4().hex[:10]
    name = f"{registry.host}/baker-test/app:{tag}"
    image_names.names.append(name)
    value = f"pushed-value-{uuid.uuid4().hex}"
    manifest = write_manifest(tmp_path / "baker.yaml", base=busybox_base, env={"TOKEN": value})
    assert main(["build", "-f", str(manifest), "--tag", name, "--push", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["error"] == "EngineError"
    # One target: no pre-flight (nothing partial to avoid); the engine's refusal, with the hint.
    assert document["message"] == f"pushing {name} failed: no basic auth credentials", document
    assert document["hint"] == f"sign in first: docker login {registry.host}", document
    assert registry.manifest_digest("baker-test/app", tag) is None
    assert not image_names.exists(name)  # the failed bake moved no tag
    assert image_names.holding(value) == []  # and left no image holding the value


def test_push_with_the_users_docker_config_credentials_succeeds(
    tmp_path: Path,
    busybox_base: str,
    image_names: ImageNames,
    start_registry: StartRegistry,
    docker_config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user, password = "baker", "s3cret-Pw"
    registry = start_registry(auth=(user, password))
    # What `docker login 127.0.0.1:PORT` writes (without a credential helper).
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    (docker_config / "config.json").chmod(0o600)
    tag = uuid.uuid4().hex[:10]
    name = f"{registry.host}/baker-test/app:{tag}"
    image_names.names.append(name)
    manifest = write_manifest(tmp_path / "baker.yaml", base=busybox_base, env={"TOKEN": "pushed-value-3"})
    assert main(["build", "-f", str(manifest), "--tag", name, "--push", "--json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    image_names.track(document["image_id"])
    assert registry.manifest_digest("baker-test/app", tag) == document["pushed"][0]["digest"]
    assert password not in captured.out + captured.err
    assert token not in captured.out + captured.err


def test_build_pulls_a_base_that_is_not_local_from_its_registry(
    tmp_path: Path,
    docker_client: Any,
    busybox_base: str,
    image_names: ImageNames,
    start_registry: StartRegistry,
    docker_config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    registry = start_registry()
    remote_base = f"{registry.host}/baker-test/base:{uuid.uuid4().hex[:10]}"
    docker_client.images.get(busybox_base).tag(remote_base)
    for _ in docker_client.api.push(remote_base, stream=True, decode=True):
        pass
    assert registry.manifest_digest("baker-test/base", remote_base.rsplit(":", 1)[1]) is not None
    docker_client.images.remove(remote_base)  # the name is gone locally; only the registry has it
    image_names.names.append(remote_base)
    name = image_names()
    manifest = write_manifest(tmp_path / "baker.yaml", base=remote_base, env={"TOKEN": "pulled-base-value"})

    assert main(["build", "-f", str(manifest), "--tag", name, "--json"]) == 0

    captured = capsys.readouterr()
    image_names.track(json.loads(captured.out)["image_id"])
    assert f"pulling the base image {remote_base}" in captured.err
    assert "TOKEN=pulled-base-value" in docker_client.images.get(name).attrs["Config"]["Env"]


# -- two registries: a refusal anywhere pushes nothing anywhere -------------------------------------


def _two_tags(registries: list[str], image_names: ImageNames) -> tuple[list[str], str]:
    tag = uuid.uuid4().hex[:10]
    names = [f"{host}/baker-test/app:{tag}" for host in registries]
    image_names.names.extend(names)
    return names, tag


@pytest.mark.parametrize("second", ["nobody-listens", "htpasswd-without-credentials"])
def test_push_to_two_registries_pushes_nothing_when_the_second_refuses(
    tmp_path: Path,
    busybox_base: str,
    image_names: ImageNames,
    start_registry: StartRegistry,
    docker_config: Path,
    capsys: pytest.CaptureFixture[str],
    second: str,
) -> None:
    first = start_registry()
    refusing = f"127.0.0.1:{_free_port()}" if second == "nobody-listens" else start_registry(("u", "pw")).host
    (one, two), tag = _two_tags([first.host, refusing], image_names)
    value = f"two-registries-{uuid.uuid4().hex}"
    manifest = write_manifest(tmp_path / "baker.yaml", base=busybox_base, env={"TOKEN": value})

    code = main(["build", "-f", str(manifest), "--tag", one, "--tag", two, "--push", "--json"])

    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["error"] == "EngineError"
    assert document["message"].startswith(f"cannot push to {refusing}: "), document
    assert f"docker login {refusing}" in document["hint"], document
    assert "pushed" not in document
    assert first.manifest_digest("baker-test/app", tag) is None  # the first registry got nothing
    assert not image_names.exists(one) and not image_names.exists(two)
    assert image_names.holding(value) == []


def test_push_to_two_registries_pushes_both_and_reports_both_digests(
    tmp_path: Path,
    busybox_base: str,
    image_names: ImageNames,
    start_registry: StartRegistry,
    docker_config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user, password = "baker", "s3cret-Pw"
    plain, guarded = start_registry(), start_registry(auth=(user, password))
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {guarded.host: {"auth": token}}}))
    (one, two), tag = _two_tags([plain.host, guarded.host], image_names)
    manifest = write_manifest(tmp_path / "baker.yaml", base=busybox_base, env={"TOKEN": "two-registries-ok"})

    assert main(["build", "-f", str(manifest), "--tag", one, "--tag", two, "--push", "--json"]) == 0

    document = json.loads(capsys.readouterr().out)
    image_names.track(document["image_id"])
    digests = {item["tag"]: item["digest"] for item in document["pushed"]}
    assert set(digests) == {one, two}
    assert plain.manifest_digest("baker-test/app", tag) == digests[one]
    assert guarded.manifest_digest("baker-test/app", tag) == digests[two]


def test_push_failing_mid_way_names_the_tags_already_pushed_with_their_digests(
    busybox_base: str,
    image_names: ImageNames,
    start_registry: StartRegistry,
    docker_config: Path,
    docker_client: Any,
) -> None:
    first, second = start_registry(), start_registry()
    (one, two), tag = _two_tags([first.host, second.host], image_names)
    value = f"mid-way-{uuid.uuid4().hex}"

    def on_line(line: str) -> None:
        # The pre-flight found both up; the second goes away while the first is being pushed.
        if first.host in line and second.process is not None and second.process.poll() is None:
            second.stop()

    manifest = Manifest(
        path="baker.yaml",
        image=ImageSpec(base=busybox_base, build=None),
        credentials={},
        env=(EnvEntry("TOKEN", LiteralValue(value)),),
    )
    resolved = ResolvedEnv(
        (
            Resolved(
                env="TOKEN", value=Secret(value), source=LiteralValue(value), version=None, properties=None
            ),
        )
    )
    with pytest.raises(PushIncomplete) as caught:
        bake(manifest, resolved, tags=[one, two], push=True, on_line=on_line, client=docker_client)

    digest = first.manifest_digest("baker-test/app", tag)
    assert digest is not None  # what cannot be taken back ...
    assert f"already pushed, cannot be taken back: {one} ({digest})" in caught.value.message  # ... is named
    document = caught.value.to_json()
    assert document["error"] == "EngineError"
    assert document["pushed"] == [{"tag": one, "digest": digest}]
    assert f"pushing {two} failed" in caught.value.message
    assert not image_names.exists(one) and not image_names.exists(two)  # local tags are put back
