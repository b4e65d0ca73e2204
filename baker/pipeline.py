"""The bake pipelines, in their order: connect → resolve → (build the app) → bake, one per road.
`baker build` and the Python API (`baker.build`, `baker.build_in_registry`) both call them, so
both keep the guarantee "no engine or registry, no secret fetched": what the bake needs from an
engine, a Docker CLI or a registry is asked before anything is resolved.

- Engine road (`build`): the engine answers (`engine.connect`); for `image.build`, the Docker CLI
  and its engine answer and BuildKit is to be had when the Dockerfile needs it
  (`appbuild.prepare`, exit 2 naming what to install); the tags are checked and the registries
  a push to two or more of them (or a revocation's first read) needs answer (`image.bake.check_tags`);
  then the env and the build secrets are
  resolved together (one sign-in per identity, one fetch per distinct secret), while the engine
  reads that do not depend on them run on a thread (`image.bake.read_ahead`: the base's id and
  config, the image store's kind; what they raise is raised after resolution, where the bake read
  them before); then `image.bake`.
- Registry road (`build_in_registry`): the base is read from its registry; for `image.build`
  (with `image.build.push`), the CLI is prepared and the push target must take a push
  (`registry.check_push`) instead; then the tags are checked and what each names now is read
  with the push's credentials (`image.inregistry.check_targets`: the undo's record and a
  revocation's first read); then after resolving the app is built and pushed, and its pushed
  digest is read as the base, and the bake takes the check (`bake_in_registry(checked=...)`).
- `recorded` (`build --if-stale` when the image records its base, `provenance.base_of`): the bake
  goes onto that base digest on either road; the app is not rebuilt, no Docker CLI is asked, and
  the build secrets are not fetched.
- `checked`: `build --if-stale`'s staleness check reads every secret before a pipeline runs, so the
  command makes the tags' checks before it (`commands.build.check_first`) and hands them on; a
  pipeline makes them again only when they were made for other tags or options (`made_for`).

The registry road's modules are imported by `build_in_registry` only: the engine road never loads
them (process start).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from baker import imageref, signals
from baker.errors import ImageError, UsageError
from baker.image import engine
from baker.image.bake import (
    AHEAD_WAIT,
    BakeResult,
    CheckedTags,
    bake,
    check_tags,
    read_ahead,
    refuse_revoke_without_push,
)
from baker.image.engine.client import engine_errors
from baker.model import Manifest
from baker.output import untrusted
from baker.provenance import BaseRecord
from baker.providers.base import Provider
from baker.record import replace
from baker.resolver import ResolvedEnv, resolve_warned

if TYPE_CHECKING:  # the registry road's and the app build's modules load only when they run (process start)
    from baker.image import appbuild
    from baker.image.inregistry import CheckedTargets, RegistryBake

__all__ = ["build", "build_in_registry"]


def _ignore(_: str) -> None:
    return None


def _tied(
    manifest: Manifest, recorded: BaseRecord | None, *, registry: bool, on_line: Callable[[str], None]
) -> BaseRecord | None:
    """The recorded base (`build --if-stale`), once tied to the manifest: the label is written by
    whoever put the image under the tag, so its record is used only when it names the repository
    the manifest bakes onto: `image.from`'s (same registry, same repository), or, for `image.build`
    on the registry road, `image.build.push`'s.  Anything else is refused (UsageError): a re-bake
    never changes base silently, and a label never picks it.  On the engine an app image is
    recorded by its image id, which no repository names and nothing ties to this manifest: the app
    is built anew (said).  The engine road then checks that the image is one of that repository
    (`image.bake`); the registry road reads only from that repository."""
    if recorded is None:
        return None
    build = manifest.image.build
    if build is not None and not registry:
        on_line(
            f"the image under the tag records its app image as {untrusted(recorded.ref[:80])}, an image "
            "id nothing ties to this manifest: building the app anew from image.build rather than "
            "re-baking onto it"
        )
        return None
    field, expected = (
        ("image.build.push", build.push) if build is not None else ("image.from", manifest.image.base)
    )
    if expected is None or not imageref.same_repository(recorded.ref, expected):
        raise UsageError(
            f"the image to re-bake records a base outside {field}'s repository "
            f"({imageref.shown(expected or '')}): a --if-stale re-bake goes only onto a recorded base of "
            f"{field}'s repository, and a label never picks the base (nor the registry read)",
            hint=f"if {field} changed on purpose, run `baker build` without --if-stale (it bakes onto "
            f"{field} as it is now); if not, the image under the tag was not baked by baker from this "
            "manifest: find out who pushed it",
        )
    return recorded


def _without_build(manifest: Manifest, recorded: BaseRecord | None) -> Manifest:
    """The manifest as re-baked onto a recorded base: nothing is built (no CLI asked, no build
    secret fetched); `image.from` names the recorded base when the manifest builds its app."""
    if recorded is None or manifest.image.build is None:
        return manifest
    return replace(manifest, image=replace(manifest.image, base=recorded.ref, build=None))


def _resolve(
    manifest: Manifest, on_warning: Callable[[str], None], providers: Mapping[str, Provider] | None
) -> ResolvedEnv:
    """`resolve_warned` on a helper thread (`signals.run_stoppable`): signals wait for a clean
    point, as an interrupt inside the fetch threads' locking could hang."""
    return signals.run_stoppable(lambda: resolve_warned(manifest, on_warning=on_warning, providers=providers))


def _same_engine(app: appbuild.AppBuild, client: engine.DockerClient) -> None:
    """The app is built by the CLI's engine and baked on baker's (DOCKER_HOST): they must be one.
    They differ when the CLI follows a `docker context` (DOCKER_CONTEXT, or the CLI config's
    current context) that baker's engine client does not read."""
    with engine_errors("asking the engine its id"):
        info = client.info()
    ours = f"{info.get('ID', '')} {info.get('DockerRootDir', '')}".strip()
    if app.cli.engine_id and ours and app.cli.engine_id != ours:
        raise UsageError(
            "the docker CLI builds on another Docker engine than the one baker bakes on (DOCKER_HOST, "
            "or the default socket): the app image would not be where the bake looks for it",
            hint="set DOCKER_HOST to the engine of the CLI's context (`docker context inspect` shows "
            "its endpoint), or switch the CLI back with `docker context use default`",
        )


def build(
    manifest: Manifest,
    *,
    tags: Sequence[str],
    push: bool = False,
    on_line: Callable[[str], None] = _ignore,
    on_warning: Callable[[str], None] = _ignore,
    revoke_superseded: bool = False,
    recorded: BaseRecord | None = None,
    providers: Mapping[str, Provider] | None = None,
    checked: CheckedTags | None = None,
) -> BakeResult:
    """The engine road, whole: connect, (prepare the app build), resolve, bake (`image.bake.bake`).
    `on_line` gets the build's output, redacted; `on_warning` the resolution's warnings;
    `recorded`: the base to re-bake onto (`provenance.base_of`), for `build --if-stale`;
    `checked`: `check_tags` of these tags and options, made by a caller that reads secrets before
    the bake (`build --if-stale` checks its tags before its staleness check); made here when not
    given, or made for another bake."""
    recorded = _tied(manifest, recorded, registry=False, on_line=on_line)
    manifest = _without_build(manifest, recorded)
    refuse_revoke_without_push(push=push, revoke_superseded=revoke_superseded)
    client = engine.connect()  # before any secret is read: no engine, no fetch
    app = None
    if manifest.image.build is not None:
        from baker.image import appbuild  # the app build's modules load only for an app build (process start)

        app = appbuild.prepare(manifest)
        _same_engine(app, client)
    # The tags' checks and the registries' answers (a push to two registries, a revocation's
    # first read): before any secret is read, no registry, no fetch.
    if checked is None or not checked.made_for(tags, push=push, revoke_superseded=revoke_superseded):
        checked = check_tags(manifest, tags, push=push, revoke_superseded=revoke_superseded)
    # The engine reads that do not depend on the values run while they resolve (`read_ahead`).
    ahead = read_ahead(manifest, client, recorded=recorded, app=app)
    try:
        resolved = _resolve(manifest, on_warning, providers)
    except KeyboardInterrupt:
        ahead.close(wait=0.0)  # reads only: nothing to undo; the process leaves (`__main__`)
        raise
    except BaseException:
        ahead.close(wait=AHEAD_WAIT)  # no thread left in an engine call as the error is reported
        raise
    return bake(
        manifest,
        resolved,
        tags=tags,
        push=push,
        on_line=on_line,
        client=client,
        revoke_superseded=revoke_superseded,
        base=recorded,
        app=app,
        ahead=ahead,
        checked=checked,
    )


def build_in_registry(
    manifest: Manifest,
    *,
    tags: Sequence[str],
    on_line: Callable[[str], None] = _ignore,
    on_warning: Callable[[str], None] = _ignore,
    timeout: float | None = None,
    revoke_superseded: bool = False,
    recorded: BaseRecord | None = None,
    providers: Mapping[str, Provider] | None = None,
    checked: CheckedTargets | None = None,
) -> RegistryBake:
    """The registry road, whole: read the base (or prepare the app build and prove its push
    target), read the tags (`check_targets`), resolve, (build and push the app,) bake in the
    registry (`bake_in_registry`).
    `timeout`: the bake's bound after the base is read (None: `inregistry.BAKE_DEADLINE`).
    `checked`: `check_targets` of these tags and option, made by a caller that reads secrets
    before the bake (`build --if-stale` checks its tags before its staleness check); made here
    when not given, or made for another bake."""
    # Imported here: the engine road never loads the registry road's modules (process start).
    from baker.image.inregistry import (
        BAKE_DEADLINE,
        bake_in_registry,
        check_targets,
        read_base,
        read_recorded_base,
    )
    from baker.image.registry.read import check_push

    deadline = BAKE_DEADLINE if timeout is None else timeout
    recorded = _tied(manifest, recorded, registry=True, on_line=on_line)
    if recorded is not None:
        on_line(f"re-baking onto the recorded base {untrusted(recorded.ref)} ({recorded.digest})")
    manifest = _without_build(manifest, recorded)
    if not tags:
        raise UsageError(
            "--in-registry needs a tag to push to", hint="set image.tag in the manifest or pass --tag"
        )
    if manifest.image.build is None:
        assert manifest.image.base is not None
        # Before any secret: no base, no fetch; then the tags: no registry that answers them, no fetch.
        base = read_recorded_base(recorded) if recorded is not None else read_base(manifest.image.base)
        if checked is None or not checked.made_for(tags, revoke_superseded=revoke_superseded):
            checked = check_targets(manifest, tags, revoke_superseded=revoke_superseded, timeout=deadline)
        resolved = _resolve(manifest, on_warning, providers)
        return bake_in_registry(
            manifest,
            resolved,
            tags=tags,
            on_line=on_line,
            base=base,
            timeout=deadline,
            revoke_superseded=revoke_superseded,
            recorded=recorded,
            checked=checked,
        )
    from baker.image import appbuild  # the app build's modules load only for an app build (process start)

    app = appbuild.prepare(manifest, push=True)
    assert app.push is not None
    try:
        check_push(app.push)  # before any secret: a registry that refuses the app's push, no fetch
    except ImageError as exc:
        raise ImageError(f"image.build.push: {exc.message}", hint=exc.hint) from None
    if checked is None or not checked.made_for(tags, revoke_superseded=revoke_superseded):
        checked = check_targets(manifest, tags, revoke_superseded=revoke_superseded, timeout=deadline)
    resolved = _resolve(manifest, on_warning, providers)
    secrets = {entry.env: entry.value for entry in resolved.build_secrets}
    built = appbuild.build(app, secrets, on_line=on_line)
    assert built.pushed is not None
    # The provenance records the app as pushed (its tag) and the digest baked onto (`--if-stale`
    # re-bakes onto that digest and builds nothing).
    baked = replace(manifest, image=replace(manifest.image, base=app.push, build=None))
    base = read_base(built.pushed)
    return bake_in_registry(
        baked,
        resolved,
        tags=tags,
        on_line=on_line,
        base=base,
        timeout=deadline,
        revoke_superseded=revoke_superseded,
        checked=checked,
    )
