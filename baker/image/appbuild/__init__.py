"""`image.build`: the app image, built as the user's own `docker build` builds it, with BuildKit
through the user's Docker CLI (`docker_cli` says which CLI and which builder).

Two steps, so that nothing is fetched for a build that cannot run: `prepare` (offline checks, the
CLI and its engine answer, BuildKit is to be had when the Dockerfile needs it: exit 2 naming what to
install otherwise) before any secret is resolved, and `build` after.

- The context's `.dockerignore` and `<Dockerfile>.dockerignore` are read by the builder itself (the
  Dockerfile is passed by its path, so BuildKit finds its own ignore file beside it); the classic
  builder ignores the second, so a Dockerfile that has one is refused there.
- `target`, `args` (literals, on the argv: they are in the image's history anyway), `network`,
  `platforms` go as the flags of the same names.
- A build secret (`image.build.secrets`) goes as `--secret id=ID,src=/proc/<baker's pid>/fd/N`: its
  value is in a sealed memory file (`memfd_create`, never on disk) that baker holds open, close-on-
  exec, as descriptor N; it is never on an argv nor in any environment (the CLI's environment
  reaches every credential helper it starts), and no child inherits the descriptor (a `pass_fds`
  one would reach the helpers too: Go leaves inherited descriptors open).  The CLI stats the path
  and re-opens it (`os.ReadFile`) each time BuildKit asks; a re-open of a memfd starts at its
  beginning, so a secret several `RUN`s mount reads whole each time (a pipe would not).  Only the
  same user can open another process's descriptor, as only it can read baker's memory.  BuildKit
  mounts it as a tmpfs file for the `RUN` that asks; it is in no layer, no history, no cache key.
- `--in-registry` (`push=True`): the app goes to `image.build.push` (buildx `--push`, every
  platform; without the plugin, one platform: `docker build` then `docker push`), and the result
  names it by digest, for the registry bake to read.  On the engine road the app is built into the
  engine untagged (its image id) and `image.build.push` is not used.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from baker import envvalue, imageref
from baker.errors import EngineError, UsageError
from baker.image.appbuild.docker_cli import INSTALL_BUILDX, DockerCli, Finished, answer_of, probe, run
from baker.image.appbuild.needs import buildkit_needs, dockerfile_ignore
from baker.model import BuildSpec, Manifest
from baker.output import untrusted
from baker.record import Record
from baker.secret import Secret

__all__ = ["AppBuild", "AppImage", "build", "prepare"]

DOCKERFILE_MAX = 4 * 1024 * 1024  # bytes: a Dockerfile is text a person writes
_IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")


class AppBuild(Record):
    """A build checked and ready to run (`prepare`): nothing has been built or fetched."""

    cli: DockerCli
    spec: BuildSpec
    context: Path
    dockerfile: Path
    push: str | None  # `image.build.push`, when the app goes to a registry (--in-registry)


class AppImage(Record):
    image_id: str  # the image id in the engine ("" when buildx pushed without loading)
    pushed: str | None = None  # `repository@sha256:...` when pushed


def prepare(manifest: Manifest, *, push: bool = False, environ: Mapping[str, str] | None = None) -> AppBuild:
    """Check everything that can be checked before a secret is read: the context and Dockerfile,
    the push target, the CLI, its engine, and BuildKit when the Dockerfile (or the manifest) needs
    it.  UsageError (exit 2) or EngineError (exit 1)."""
    spec = manifest.image.build
    assert spec is not None
    if push and spec.push is None:
        raise UsageError(
            "--in-registry bakes onto an image in a registry; this manifest builds its app (image.build) "
            "and names no image.build.push to send it to",
            hint="add image.build.push: REGISTRY/REPOSITORY:TAG (where the unbaked app goes), "
            "or drop --in-registry",
        )
    context = (Path(manifest.path).parent / spec.context).resolve()
    dockerfile = context / spec.dockerfile
    if not context.is_dir():
        raise UsageError(
            f"image.build.context: {untrusted(str(context))} is not a directory",
            hint="image.build.context is relative to the manifest's directory",
        )
    text = _read_dockerfile(context, dockerfile)
    if len(spec.platforms) > 1 and not push:
        raise UsageError(
            f"image.build.platforms names {len(spec.platforms)} platforms; an engine holds one image per "
            "name, so several platforms are built and pushed with --in-registry",
            hint="bake with --in-registry (and image.build.push), or keep one platform",
        )
    if push and spec.push is not None:
        imageref.parse(spec.push)
        if not imageref.is_tag_name(spec.push):
            raise UsageError(
                f"image.build.push: {imageref.shown(spec.push)} must be a tag (no digest)",
                hint="write REGISTRY/REPOSITORY:TAG",
            )
    cli = probe(environ)
    needs = buildkit_needs(text)
    if spec.secrets:
        needs.append("build secrets (image.build.secrets)")
    if dockerfile_ignore(dockerfile) is not None:
        needs.append(f"{dockerfile.name}.dockerignore (the classic builder ignores it)")
    if spec.platforms:
        needs.append("image.build.platforms")
    if cli.route == "classic" and needs:
        raise UsageError(
            f"the app build needs BuildKit ({'; '.join(needs)}) and none is to be had: "
            f"{cli.buildkit_refused}",
            hint=INSTALL_BUILDX
            + ("; or unset DOCKER_BUILDKIT=0" if cli.buildkit_refused == "DOCKER_BUILDKIT=0 is set" else ""),
        )
    if len(spec.platforms) > 1 and cli.route != "buildx":
        raise UsageError(
            f"building {len(spec.platforms)} platforms needs Docker's buildx plugin; the docker CLI "
            f"{untrusted(cli.version)} ({untrusted(cli.path)}) has none",
            hint=INSTALL_BUILDX,
        )
    return AppBuild(cli, spec, context, dockerfile, spec.push if push else None)


def _read_dockerfile(context: Path, dockerfile: Path) -> str:
    """The Dockerfile's text, as `docker build` would accept it: inside the context (a symlink that
    leads out of it is refused, as BuildKit refuses it), a regular file, at most DOCKERFILE_MAX
    bytes; UsageError otherwise, naming the path and never quoting what it points at."""
    hint = "image.build.dockerfile is relative to image.build.context and stays inside it"
    where = untrusted(str(dockerfile))
    try:
        real = dockerfile.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "cannot be resolved"
        raise UsageError(f"image.build.dockerfile: cannot read {where}: {why}", hint=hint) from None
    if not real.is_relative_to(context):
        raise UsageError(f"image.build.dockerfile: {where} leads out of the build context", hint=hint)
    try:
        if not stat.S_ISREG(real.stat().st_mode):  # before the open: a FIFO's would wait
            raise UsageError(f"image.build.dockerfile: {where} is not a regular file", hint=hint)
        with real.open("rb") as handle:
            raw = handle.read(DOCKERFILE_MAX + 1)
    except OSError as exc:
        raise UsageError(
            f"image.build.dockerfile: cannot read {where}: {exc.strerror or type(exc).__name__}", hint=hint
        ) from None
    if len(raw) > DOCKERFILE_MAX:
        raise UsageError(
            f"image.build.dockerfile: {where} is over {DOCKERFILE_MAX // (1024 * 1024)} MiB", hint=hint
        )
    return raw.decode("utf-8", "replace")


def build(app: AppBuild, secrets: Mapping[str, Secret], *, on_line: Callable[[str], None]) -> AppImage:
    """Run the build (and the push, for --in-registry); each output line redacted through `on_line`.
    `secrets`: build secret id -> value (`ResolvedEnv.build_secrets`).  EngineError when it fails."""
    environ = dict(os.environ)
    descriptors = _secret_files(secrets)
    secret_flags: list[str] = []
    for secret_id, descriptor in descriptors.items():
        secret_flags += ["--secret", f"id={secret_id},src=/proc/{os.getpid()}/fd/{descriptor}"]
    if app.cli.route == "classic":
        environ["DOCKER_BUILDKIT"] = "0"
    elif app.cli.route == "buildkit":
        environ["DOCKER_BUILDKIT"] = "1"
    workdir = Path(tempfile.mkdtemp(prefix="baker-appbuild-"))  # 0700: the image id and metadata files
    try:
        argv = _argv(app, workdir, secret_flags)
        shown = "docker buildx build" if app.cli.route == "buildx" else "docker build"
        on_line(f"building the app image from {untrusted(str(app.context))} ({shown}, {app.cli.route})")
        finished = run(argv, environ=environ, on_line=on_line)
        for descriptor in descriptors.values():
            os.close(descriptor)
        descriptors.clear()
        _raise_unless_done(finished, app, "build")
        image_id = _read_id(workdir / "iid") if app.cli.route != "buildx" or app.push is None else ""
        if app.push is None:
            return AppImage(image_id)
        repository = imageref.repository_and_tag(app.push)[0]
        if app.cli.route == "buildx":
            digest = _metadata_digest(workdir / "metadata.json")
        else:
            on_line(f"pushing the app image to {imageref.shown(app.push)}")
            finished = run([app.cli.path, "push", app.push], environ=environ, on_line=on_line)
            _raise_unless_done(finished, app, "push")
            digest = _pushed_digest(app, repository, environ)
        return AppImage(image_id, f"{repository}@{digest}")
    finally:
        for descriptor in descriptors.values():
            os.close(descriptor)
        shutil.rmtree(workdir, ignore_errors=True)


_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def _secret_files(secrets: Mapping[str, Secret]) -> dict[str, int]:
    """Build secret id -> the descriptor of a sealed memory file holding its value (UTF-8), close-on-
    exec, for the CLI to open by its /proc path.  A value with no UTF-8 form (a lone surrogate) is
    refused by name (`envvalue.problem`'s rule; a NUL is fine in a file)."""
    for secret_id, value in secrets.items():
        refusal = envvalue.problem(f"image.build.secrets.{secret_id}", value.reveal().replace("\x00", ""))
        if refusal is not None:
            raise UsageError(refusal, hint=envvalue.HINT)
    descriptors: dict[str, int] = {}
    try:
        for secret_id, value in secrets.items():
            descriptor = os.memfd_create("baker-build-secret", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            descriptors[secret_id] = descriptor
            data = memoryview(value.reveal().encode("utf-8"))
            while data:
                data = data[os.write(descriptor, data) :]
            fcntl.fcntl(descriptor, fcntl.F_ADD_SEALS, _SEALS)  # nobody changes it now
    except BaseException:
        for descriptor in descriptors.values():
            os.close(descriptor)
        raise
    return descriptors


def _argv(app: AppBuild, workdir: Path, secret_flags: Sequence[str]) -> list[str]:
    spec = app.spec
    argv = [app.cli.path, *(("buildx", "build") if app.cli.route == "buildx" else ("build",))]
    if app.cli.route != "classic":
        argv += ["--progress", "plain"]
    argv += ["--iidfile", str(workdir / "iid"), "--file", str(app.dockerfile)]
    if spec.target:
        argv += ["--target", spec.target]
    for name, value in spec.args.items():
        argv += ["--build-arg", f"{name}={value}"]  # literals from the manifest (in git)
    if spec.network:
        argv += ["--network", spec.network]
    if spec.platforms:
        argv += ["--platform", ",".join(spec.platforms)]
    argv += list(secret_flags)
    if app.push is not None:
        argv += ["--tag", app.push]
        if app.cli.route == "buildx":
            argv += ["--push", "--metadata-file", str(workdir / "metadata.json")]
    elif app.cli.route == "buildx":
        argv += ["--load"]
    return [*argv, "--", str(app.context)]


def _raise_unless_done(finished: Finished, app: AppBuild, step: str) -> None:
    if finished.returncode == 0:
        return
    said = finished.last_error or (finished.lines[-1].strip() if finished.lines else "(no output)")
    command = "docker buildx build" if app.cli.route == "buildx" else "docker build"
    if step == "push":
        raise EngineError(
            f"the app push failed (`docker push` exited {finished.returncode}): {said}",
            hint=f"check `docker login` for {imageref.shown(app.push or '')}",
        )
    hint = (
        "the output above shows the failing step; a RUN that needs the network may need "
        "image.build.network, a private base `docker login`"
    )
    if len(app.spec.platforms) > 1:
        hint += (
            "; several platforms need a builder that builds them (`docker buildx create --use`; "
            "the default `docker` driver cannot) and, for foreign ones, QEMU (`binfmt`)"
        )
    raise EngineError(f"the app build failed (`{command}` exited {finished.returncode}): {said}", hint=hint)


def _read_id(path: Path) -> str:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    if not _IMAGE_ID.fullmatch(text):
        raise EngineError(
            "the app build finished but wrote no image id", hint="run with --debug and see the output"
        )
    return text


def _metadata_digest(path: Path) -> str:
    try:
        digest = str(json.loads(path.read_text(encoding="utf-8"))["containerimage.digest"])
    except (OSError, ValueError, KeyError, TypeError):
        digest = ""
    if not _IMAGE_ID.fullmatch(digest):
        raise EngineError("buildx pushed the app but wrote no digest", hint="update the buildx plugin")
    return digest


def _pushed_digest(app: AppBuild, repository: str, environ: Mapping[str, str]) -> str:
    """The digest `docker push` gave the app, from the engine's RepoDigests (the push's own output
    is redacted for display: a short value could mask part of a digest)."""
    answer = answer_of(
        app.cli, ["image", "inspect", "--format", "{{json .RepoDigests}}", app.push or ""], environ
    )
    try:
        digests = json.loads(answer)
    except ValueError:
        digests = None
    for item in digests if isinstance(digests, list) else []:
        name, _, digest = str(item).partition("@")
        if name == repository and _IMAGE_ID.fullmatch(digest):
            return digest
    raise EngineError(
        "docker push finished but the engine names no digest for it",
        hint="run with --debug and see the output",
    )
