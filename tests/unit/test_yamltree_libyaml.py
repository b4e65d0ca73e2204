"""baker.manifest.yamltree on libyaml: the same located tree and the same problems, word for word,
as PyYAML's pure-Python parser, and the pure parser alone when PyYAML has no libyaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from baker.emulator.worldfile import load_world
from baker.errors import Problem, WorldError
from baker.manifest import yamltree
from baker.manifest.yamltree import YNode, load_tree
from tests.conftest import unavailable

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

GOOD = """\
version: 1
image: {from: 'app:1', tag: app:baked}
credentials:
  main: &cred
    provider: azure-key-vault
    vault_url: https://v.vault.azure.net
    tenant_id: t
    client_id: c
    default: true
  other:
    <<: *cred
    default: false
env:
  A: x
  PORT: 08080
  ON: on
  WHEN: 2024-01-02
  NOTHING: ~
  QUOTED: "a\\tb"
  B:
    secret: b
  LIST: [1, 2.5, true]
"""

# Each text is one way to be refused: the problem must be the pure parser's, word for word.
BAD = {
    "syntax": GOOD.replace("  A: x", "  A: x\n   B: [unclosed"),
    "mapping-value-here": "a: b\n  c: d\n",
    "tab-indent": GOOD.replace("  A: x", "\tA: x"),
    "control-character": GOOD.replace("  A: x", "  A: x\x01"),
    "undefined-alias": "version: 1\nenv: *nowhere\n",
    "two-documents": "version: 1\n---\nversion: 1\n",
    "duplicate-key": GOOD.replace("  A: x", "  A: x\n  A: y"),
    "python-tag": "version: !!python/object:os.system 1\n",
    "self-alias": "version: 1\nimage: {from: a}\nenv: &e\n  A: *e\n",
    "too-deep-flow": "version: 1\nenv: " + "[" * 5000 + "]" * 5000 + "\n",
    "too-deep-block": "version: 1\nenv:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 1500)),
    "too-deep-aliases": "x0: &a0 [1]\n" + "".join(f"x{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 400)),
    "alias-bomb": "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)),
    "key-is-a-list": "[a]: b\n",
    "unclosed-quote": 'version: "1\n',
    "bad-escape": 'version: "\\q"\n',
}


def _pure(monkeypatch: pytest.MonkeyPatch, text: str) -> tuple[YNode | None, list[Problem]]:
    with monkeypatch.context() as patch:
        patch.setattr(yamltree, "CLOADER", None)
        return load_tree(text, "baker.yaml")


@pytest.fixture
def libyaml() -> None:
    if getattr(yaml, "CSafeLoader", None) is None:  # then CLOADER is None and every case is the pure one
        unavailable("this PyYAML has no libyaml (yaml.CSafeLoader): the fast path is untested")
    assert yamltree.CLOADER is yaml.CSafeLoader


@pytest.mark.parametrize(
    "text", [GOOD, (EXAMPLES / "baker.yaml").read_text(encoding="utf-8")], ids=["good", "example"]
)
def test_libyaml_gives_the_same_located_tree_as_the_pure_parser(
    libyaml: None, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    fast = load_tree(text, "baker.yaml")
    assert fast[0] is not None
    assert fast == _pure(monkeypatch, text)


@pytest.mark.parametrize("text", list(BAD.values()), ids=list(BAD))
def test_a_refused_file_gets_the_pure_parsers_problem_word_for_word(
    libyaml: None, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    fast = load_tree(text, "baker.yaml")
    assert fast[1], "every one of these texts is a problem"
    assert fast == _pure(monkeypatch, text)


def test_without_libyaml_the_pure_parser_reads_both_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_libyaml(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("libyaml used although CLOADER is None")

    monkeypatch.setattr(yaml.CSafeLoader, "__init__", no_libyaml, raising=False)
    tree, problems = _pure(monkeypatch, GOOD)
    assert problems == [] and tree is not None
    assert [item.key for item in tree.items] == ["version", "image", "credentials", "env"]
    (deep,) = _pure(monkeypatch, BAD["too-deep-block"])[1]
    assert deep.message == f"nested more than {yamltree.MAX_DEPTH} levels deep"
    (syntax,) = _pure(monkeypatch, BAD["mapping-value-here"])[1]
    assert (syntax.line, syntax.message) == (2, "YAML syntax error: mapping values are not allowed here")


@pytest.mark.parametrize(
    "text",
    [
        (EXAMPLES / "world.yaml").read_text(encoding="utf-8"),
        "tenants: {}\ntenants: {}\n",
        "tenants: {a: b\n",
        "tenants: " + "[" * 500 + "]" * 500 + "\n",
    ],
    ids=["example", "duplicate", "syntax", "too-deep"],
)
def test_a_world_file_reads_the_same_on_libyaml_and_the_pure_parser(
    libyaml: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str
) -> None:
    path = tmp_path / "world.yaml"
    path.write_text(text, encoding="utf-8")

    def read() -> object:
        try:
            return load_world(path)
        except WorldError as exc:
            return exc.message

    fast = read()
    monkeypatch.setattr(yamltree, "CLOADER", None)
    assert fast == read()


def _plain(node: YNode) -> object:
    if isinstance(node, yamltree.YMap):
        return {item.key: _plain(item.value) for item in node.items}
    if isinstance(node, yamltree.YSeq):
        return [_plain(item) for item in node.items]
    return node.value


@pytest.mark.parametrize("pure", [False, True], ids=["libyaml", "pure"])
def test_every_scalar_holds_the_value_safe_load_reads(monkeypatch: pytest.MonkeyPatch, pure: bool) -> None:
    """Text scalars are taken as written without the constructor (issue 17): still SafeLoader's values."""
    extra = "<<: *cred\n    n: 'quoted: yes'\n    s: !!str 08\n    m: |\n      two\n      lines"
    # keys are taken as written (`ON:` is "ON"), safe_load's as values: a key that reads as text
    text = GOOD.replace("<<: *cred", extra).replace("  ON: on", "  SWITCH: on")
    tree, problems = _pure(monkeypatch, text) if pure else load_tree(text, "baker.yaml")
    assert problems == [] and tree is not None
    wanted = yaml.safe_load(text)
    assert _plain(tree) == wanted
    assert wanted["credentials"]["other"]["s"] == "08" and wanted["env"]["SWITCH"] is True
