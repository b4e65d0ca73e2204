"""The push pre-flight proves that a registry takes a push: against Debian's docker-registry, one
writable and one in read-only maintenance mode (which answers `/v2/` and reads, and refuses writes)."""

from __future__ import annotations

import pytest
import requests

from baker.errors import ImageError
from baker.image.registry import read as registry
from tests.support.registry import local_registry, readonly_registry

__all__ = ["local_registry", "readonly_registry"]  # the fixtures, imported to be used here


def test_check_push_refuses_a_registry_that_answers_the_api_check_but_refuses_uploads(
    readonly_registry: str,
) -> None:
    assert requests.get(f"http://{readonly_registry}/v2/", timeout=5).status_code == 200
    with pytest.raises(ImageError) as caught:
        registry.check_push(f"{readonly_registry}/team/app:1")
    assert "refused to start an upload" in caught.value.message
    assert f"docker login {readonly_registry}" in (caught.value.hint or "")


def test_check_push_passes_a_writable_registry_and_leaves_no_upload_behind(local_registry: str) -> None:
    registry.check_push(f"{local_registry}/team/preflight:1")
    # The upload it started was cancelled: the repository it would have made holds nothing.
    tags = requests.get(f"http://{local_registry}/v2/team/preflight/tags/list", timeout=5)
    assert tags.status_code == 404 or not tags.json().get("tags")
