"""`build --in-registry`'s own bounds: the whole bake's time (`--timeout`), a layer copy's deadline
within it, and a mount the registry answers with an upload (202)."""

from __future__ import annotations

from typing import Any

import pytest

from baker.cli import main
from baker.errors import ImageError
from baker.image import inregistry, oci
from baker.image.registry import push as registry_push
from baker.image.registry.refs import parse_ref


def test_a_spent_budget_is_a_clear_error_naming_the_bound() -> None:
    budget = inregistry.Budget(0.0)
    with pytest.raises(ImageError, match=r"did not finish within 0 s") as caught:
        budget.deadline()
    assert caught.value.hint is not None and "--timeout" in caught.value.hint


def test_a_client_deadline_is_what_it_asks_for_within_what_is_left() -> None:
    budget = inregistry.Budget(50.0)
    assert budget.deadline(10.0) == 10.0
    assert 49.0 < budget.deadline(1e12) <= 50.0


def test_the_seconds_the_tags_first_read_took_come_off_the_bake_s_budget() -> None:
    # `check_targets` reads the tags before resolution; the bake gets what is left of --timeout.
    budget = inregistry.Budget(50.0, spent=30.0)
    assert 19.0 < budget.deadline(1e12) <= 20.0
    assert 30.0 <= budget.spent < 31.0
    with pytest.raises(ImageError, match=r"did not finish within 50 s"):
        inregistry.Budget(50.0, spent=50.0).deadline()


class _Recorder:
    made: list[dict[str, Any]]

    def __init__(self, ref: Any, *, push: bool = False, pull_from: Any = (), deadline: Any = None) -> None:
        self.ref = ref
        self.made.append({"ref": ref, "push": push, "deadline": deadline})

    def __enter__(self) -> _Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_a_mount_answered_with_an_upload_is_dropped_and_copied_on_a_client_that_signs_in_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _Recorder.made = []
    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(inregistry, "RegistryClient", _Recorder)
    monkeypatch.setattr(registry_push, "blob_exists", lambda client, digest: False)
    monkeypatch.setattr(registry_push, "start_upload", lambda client, mount, source: "http://r/u1")
    monkeypatch.setattr(registry_push, "cancel_upload", lambda client, url: calls.append(("cancel", url)))
    monkeypatch.setattr(
        registry_push, "copy_blob", lambda src, sink, location, layer: calls.append(("copy", location))
    )
    layer = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": "sha256:" + "a" * 64,
        "size": 5,
    }
    platform = inregistry.BasePlatform(
        "linux/amd64", "sha256:" + "b" * 64, {"layers": [layer]}, "", b"{}", ""
    )
    base = inregistry.BaseImage(parse_ref("127.0.0.1:5000/base/app:1"), None, oci.OCI_MANIFEST, (platform,))
    inregistry._place_layers(base, parse_ref("127.0.0.1:5000/team/app:baked"), lambda line: None)
    # The upload the mount started is dropped; the copy starts its own (a bodiless POST that signs in).
    assert calls == [("cancel", "http://r/u1"), ("copy", None)]


def test_timeout_without_in_registry_is_a_usage_error(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "baker.yaml"
    manifest.write_text('version: 1\nimage: {from: "busybox:1"}\nenv: {A: "x"}\n')
    assert main(["build", "-f", str(manifest), "--timeout", "30"]) == 2
    assert "--timeout bounds an --in-registry bake" in capsys.readouterr().err


@pytest.mark.parametrize("word", ["0", "-5", "nan", "inf", "Qz8Q~secret-looking"])
def test_timeout_takes_positive_seconds_and_never_echoes_the_word(
    word: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "--in-registry", "--timeout", word]) == 2
    err = capsys.readouterr().err
    assert "--timeout" in err and (word not in err or word in ("0",))


def test_a_request_timing_out_with_the_deadline_is_named_as_the_deadline_even_when_its_timer_runs_late(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A socket timeout set to what is left of the deadline fires with it; on a loaded machine the
    deadline's timer thread may not have run yet: the error still names the bound the user can act
    on, not "cannot reach" (seen in a loaded `make test`: test_find_scan named the request
    unreachable)."""
    import time

    from baker.deadline import Deadline
    from baker.image.registry import client as registry_client

    monkeypatch.setattr(Deadline, "_expire", lambda self: None)  # the timer comes too late
    with registry_client.RegistryClient(parse_ref("127.0.0.1:1/team/app:1"), deadline=0.05) as client:
        time.sleep(0.1)
        assert not client.deadline.expired
        error = client._unreachable("ReadTimeout")
    assert error.message == "the registry 127.0.0.1:1 did not answer within 0.05 s"
