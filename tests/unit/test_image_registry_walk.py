"""A tag page's `Link` header (RFC 8288), read by `walk.next_page`: the `rel="next"` target, in
one pass whatever the header's shape (rt3-4), and refused over `walk.LINK_MAX`."""

from __future__ import annotations

import time

import pytest

from baker.errors import ImageError
from baker.image.registry import walk


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ('</v2/a/tags/list?n=100&last=b>; rel="next"', "/v2/a/tags/list?n=100&last=b"),
        ("</v2/a/tags/list?last=b>;rel=next", "/v2/a/tags/list?last=b"),
        ('</v2/a/tags/list?last=b> ; REL="Next"', "/v2/a/tags/list?last=b"),
        ('</first>; rel="prev", </second?x=1,2>; rel="next"', "/second?x=1,2"),
        ('</both>; title="t"; rel="prev next"', "/both"),
        ('</prev>; rel="prev"', None),
        ('</v2/a/tags/list?last=b>; rel="nextish"', None),
        ("", None),
        ("no link at all", None),
        ('<unterminated; rel="next"', None),
    ],
)
def test_the_next_page_is_the_target_of_the_link_whose_rel_names_next(
    header: str, target: str | None
) -> None:
    assert walk.next_page(header, "registry.example") == target


@pytest.mark.parametrize(
    "header",
    [
        "<" * 60000 + '> , </next>; rel="next"',
        "<>" * 30000,
        "<a>;" * 15000,
        '<a>; rel="' * 6000,
    ],
)
def test_a_long_link_header_is_read_in_one_pass(header: str) -> None:
    started = time.monotonic()
    walk.next_page(header[: walk.LINK_MAX], "registry.example")
    assert time.monotonic() - started < 1.0  # the old pattern took a minute for the first shape


def test_a_link_header_over_the_cap_is_refused() -> None:
    with pytest.raises(ImageError, match="Link header of"):
        walk.next_page("<" * (walk.LINK_MAX + 1), "registry.example")
