"""The one image-reference grammar (distribution/reference): what is a reference, how it splits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import baker
from baker import imageref
from baker.errors import UsageError

VALID = [
    # (text, domain, path, tag, digest)
    ("app", "", "app", "", ""),
    ("app:1.4.2", "", "app", "1.4.2", ""),
    ("team/app:latest", "", "team/app", "latest", ""),
    ("localhost/app", "localhost", "app", "", ""),
    ("localhost:5000/team/app:t", "localhost:5000", "team/app", "t", ""),
    ("127.0.0.1:5000/app:t", "127.0.0.1:5000", "app", "t", ""),
    ("[::1]:5000/app:t", "[::1]:5000", "app", "t", ""),
    ("[fe80::1]/app", "[fe80::1]", "app", "", ""),
    (
        "registry.example.com/a.b/c_d/e__f/g--h:T_1.x-y",
        "registry.example.com",
        "a.b/c_d/e__f/g--h",
        "T_1.x-y",
        "",
    ),
    ("Registry.Example.com/app", "Registry.Example.com", "app", "", ""),
    ("docker.io/library/busybox:1.36", "docker.io", "library/busybox", "1.36", ""),
    ("r.example.com/app@sha256:" + "a" * 64, "r.example.com", "app", "", "sha256:" + "a" * 64),
    ("r.example.com/app:t@sha256:" + "b" * 64, "r.example.com", "app", "t", "sha256:" + "b" * 64),
    ("app:" + "t" * 128, "", "app", "t" * 128, ""),
]

INVALID = [
    "",
    "127.0.0.1:5000@registry.attacker.example/app:t",  # userinfo: would reach the other host
    "user:pw@registry.example.com/app:t",
    "registry.example.com/App:t",  # upper case in the path
    "registry.example.com/app:t/x",
    "registry.example.com//app",
    "registry.example.com/app/",
    "/app",
    "registry.example.com/-app",
    "registry.example.com/app-",
    "registry.example.com/a..b",
    "registry.example.com/a___b",
    "registry.example.com:port/app",
    "registry.example.com:5000:1/app",
    "-registry.example.com/app",
    "[::1/app",
    "[zz::1]:5000/app",
    "app:.t",
    "app:-t",
    "app:" + "t" * 129,
    "app:t\n",
    "app:t ",
    " app",
    "app:ţ",  # tags are ASCII words
    "r.example.com/app@sha256:abc",  # a digest is 32 hex digits at least
    "r.example.com/app@sha256:" + "g" * 64,
    "r.example.com/app@" + "a" * 64,
    "r.example.com/app#x",
    "r.example.com/app?x=1",
    "http://r.example.com/app",
    "r.example.com/" + "a" * 250,  # a name is 255 characters at most
]


@pytest.mark.parametrize(("text", "domain", "path", "tag", "digest"), VALID)
def test_a_valid_reference_splits_into_domain_path_tag_and_digest(
    text: str, domain: str, path: str, tag: str, digest: str
) -> None:
    ref = imageref.parse(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert imageref.is_valid(text)


@pytest.mark.parametrize("text", INVALID)
def test_a_string_outside_the_reference_grammar_is_refused_with_a_usage_error(text: str) -> None:
    assert not imageref.is_valid(text)
    with pytest.raises(UsageError, match="not a valid image reference"):
        imageref.parse(text)


def test_the_refusal_quotes_the_reference_on_one_line() -> None:
    with pytest.raises(UsageError) as info:
        imageref.parse("app:t\n::error::x")
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app:1", False),
        ("team/app", False),
        ("localhost/app", True),
        ("r.example.com/app", True),
        ("127.0.0.1:5000/app", True),
        ("[::1]/app", True),
    ],
)
def test_a_first_component_names_a_registry_when_it_has_a_dot_a_port_or_is_localhost(
    text: str, expected: bool
) -> None:
    assert (imageref.parse(text).domain != "") is expected


def test_a_tag_name_is_a_reference_without_a_digest() -> None:
    assert imageref.is_tag_name("r.example.com/app:1")
    assert not imageref.is_tag_name("r.example.com/app@sha256:" + "a" * 64)
    assert not imageref.is_tag_name("127.0.0.1:5000@registry.attacker.example/app:t")


# The grammar's component, its repeats bounded so generation never filters out most of what it draws
# (unbounded, this one test took 13 s of a 30 s unit run): at most 8 + 2 * (3 + 8) = 30 characters.
_component = st.from_regex(r"[a-z0-9]{1,8}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,8}){0,2}", fullmatch=True)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(
    host=st.sampled_from(["", "localhost", "r.example.com", "127.0.0.1:5000", "[::1]:443"]),
    path=st.lists(_component, min_size=1, max_size=3),
    tag=st.one_of(st.just(""), _tag),
)
def test_every_reference_the_grammar_generates_parses_back_to_its_parts(
    host: str, path: list[str], tag: str
) -> None:
    # With no host written, a first component that looks like a host is taken for one (Docker's rule).
    assume(host or ("." not in path[0] and path[0] != "localhost") or len(path) == 1)
    text = "/".join([host, *path] if host else path) + (f":{tag}" if tag else "")
    ref = imageref.parse(text)
    assert ref.path == "/".join(path) and ref.tag == tag and ref.domain == host
    assert str(ref) == text


@given(st.text(max_size=40))
def test_any_text_is_either_a_reference_or_a_usage_error_never_a_crash(text: str) -> None:
    try:
        ref = imageref.parse(text)
    except UsageError:
        assert not imageref.is_valid(text)
    else:
        assert imageref.is_valid(text) and "@" not in ref.domain and "/" not in ref.domain


# --- Docker Hub: one module names it ------------------------------------------------------------


def test_only_imageref_spells_docker_hubs_names() -> None:
    """Docker Hub's names and its default are `imageref`'s (issue 17): no other module of baker writes
    them, in code or in text.  Failed before the rule moved here (refs.py defined DOCKER_HUB again;
    auth.py, read.py, bake.py and dockerconfig.py spelled `docker.io`)."""
    package = Path(baker.__file__).resolve().parent
    spelled = [
        f"{path.relative_to(package)}:{number}"
        for path in sorted(package.rglob("*.py"))
        if path.name != "imageref.py" or path.parent != package
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "docker.io" in line or re.search(r"\bDOCKER_HUB\s*=", line)
    ]
    assert spelled == []


@pytest.mark.parametrize(
    ("name", "registry", "qualified"),
    [
        ("app:1", "docker.io", "docker.io/app:1"),
        ("team/app", "docker.io", "docker.io/team/app"),
        ("index.docker.io/team/app:2", "index.docker.io", "index.docker.io/team/app:2"),
        ("localhost:5000/app", "localhost:5000", "localhost:5000/app"),
        ("registry.example.com/a/b@sha256:" + "0" * 64, "registry.example.com", None),
        ("not a reference", "docker.io", "docker.io/not a reference"),
    ],
)
def test_a_name_without_a_registry_host_means_docker_hub(
    name: str, registry: str, qualified: str | None
) -> None:
    assert imageref.pushes_to(name) == registry
    assert imageref.with_registry(name) == (qualified or name)


@pytest.mark.parametrize("host", ["docker.io", "index.docker.io", "registry-1.docker.io"])
def test_docker_hubs_aliases_are_one_registry_whose_api_is_registry_1(host: str) -> None:
    assert imageref.registry_name(host) == imageref.DOCKER_HUB_NAME == "docker.io"
    assert imageref.api_host(host) == imageref.DOCKER_HUB_API == "registry-1.docker.io"
    assert imageref.registry_host(f"{host}/team/app:1") == ""


def test_any_other_registry_keeps_its_own_name_and_api_host() -> None:
    assert imageref.registry_name("localhost:5000") == imageref.api_host("localhost:5000") == "localhost:5000"


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("busybox:1.36", "docker.io/library/busybox@sha256:" + "a" * 64, True),
        ("index.docker.io/library/busybox", "busybox:latest", True),
        ("127.0.0.1:5000/team/base:1", "127.0.0.1:5000/team/base:2", True),
        ("127.0.0.1:5000/team/base:1", "127.0.0.1:5001/team/base:1", False),  # another registry
        ("127.0.0.1:5000/team/base:1", "127.0.0.1:5000/evil/base:1", False),
        ("sha256:" + "b" * 64, "sha256:" + "b" * 64, True),  # an id is the same only as itself
        ("sha256:" + "b" * 64, "busybox", False),
        ("not a reference", "not a reference", False),
    ],
)
def test_same_repository_compares_registry_and_repository_as_docker_names_them(
    one: str, other: str, same: bool
) -> None:
    assert imageref.same_repository(one, other) is same
