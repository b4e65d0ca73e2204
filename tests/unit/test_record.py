"""`baker.record.Record` behaves as `@dataclass(frozen=True)` (and `@dataclass`) did for baker's
values: each behaviour side by side with the standard library's, on the same class body."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest

import baker
from baker.record import FrozenInstanceError, Record, asdict, field, fields, replace


class Ref(Record):
    name: str
    version: str | None = None
    seen: tuple[str, ...] = field(default_factory=tuple)
    KIND: ClassVar[str] = "ref"


@dataclasses.dataclass(frozen=True)
class StdRef:
    name: str
    version: str | None = None
    seen: tuple[str, ...] = dataclasses.field(default_factory=tuple)
    KIND: ClassVar[str] = "ref"


class Tally(Record, frozen=False):
    count: int = 0
    items: list[str] = field(default_factory=list)


class Hidden(Record):
    name: str
    value: str = field(repr=False, default="")
    note: str = field(compare=False, default="")


class Checked(Record):
    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low above high")


def _std_name(text: str) -> str:
    return text.replace("StdRef", "Ref")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [(("a",), {}), (("a", "1"), {}), (("a", "1", ("x",)), {}), ((), {"name": "a", "seen": ("y",)})],
)
def test_construction_repr_equality_and_hash_match_a_frozen_dataclass(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    ours, theirs = Ref(*args, **kwargs), StdRef(*args, **kwargs)
    assert repr(ours) == _std_name(repr(theirs))
    assert (ours.name, ours.version, ours.seen) == (theirs.name, theirs.version, theirs.seen)
    assert ours == Ref(*args, **kwargs) and hash(ours) == hash(Ref(*args, **kwargs))
    assert hash(ours) == hash((theirs.name, theirs.version, theirs.seen))
    assert fields(ours) == tuple(f.name for f in dataclasses.fields(theirs)) == ("name", "version", "seen")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        (("a", "1", (), "extra"), {}),
        (("a",), {"name": "b"}),
        (("a",), {"colour": "red"}),
        ((), {"version": "1"}),
    ],
)
def test_a_wrong_call_raises_the_type_error_a_dataclass_raises(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(TypeError) as std:
        StdRef(*args, **kwargs)
    with pytest.raises(TypeError) as ours:
        Ref(*args, **kwargs)
    assert str(ours.value) == _std_name(str(std.value))


def test_a_frozen_record_refuses_assignment_and_deletion() -> None:
    ref = Ref("a")
    with pytest.raises(FrozenInstanceError):
        ref.name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del ref.name  # type: ignore[misc]
    assert ref.name == "a"


def test_a_mutable_record_assigns_and_is_not_hashable_as_a_dataclass() -> None:
    tally = Tally()
    tally.count += 1
    tally.items.append("x")
    assert tally == Tally(1, ["x"])
    with pytest.raises(TypeError):
        hash(tally)


def test_each_instance_gets_its_own_default_from_the_factory() -> None:
    first, second = Tally(), Tally()
    first.items.append("x")
    assert second.items == []
    assert "items" not in Tally.__dict__  # as a dataclass: a factory leaves no class attribute


def test_fields_made_with_repr_false_are_never_shown() -> None:
    hidden = Hidden("n", value="canary-value-never-shown", note="n1")
    assert "canary-value-never-shown" not in repr(hidden)
    assert "canary-value-never-shown" not in str(hidden)
    assert repr(hidden) == "Hidden(name='n', note='n1')"


def test_fields_made_with_compare_false_do_not_count_in_equality_or_hash() -> None:
    assert Hidden("n", "v", note="one") == Hidden("n", "v", note="two")
    assert hash(Hidden("n", "v", note="one")) == hash(Hidden("n", "v", note="two"))
    assert Hidden("n", "v") != Hidden("n", "w")


def test_records_of_different_classes_are_never_equal() -> None:
    class Other(Record):
        name: str
        version: str | None = None
        seen: tuple[str, ...] = ()

    assert Ref("a") != Other("a")
    assert Ref("a") != ("a", None, ())


def test_post_init_runs_after_the_fields_are_set() -> None:
    assert Checked(1, 2).high == 2
    with pytest.raises(ValueError, match="low above high"):
        Checked(3, 2)


def test_replace_makes_a_checked_copy_and_refuses_an_unknown_field() -> None:
    ref = Ref("a", "1")
    assert replace(ref, version="2") == Ref("a", "2")
    assert ref.version == "1"
    with pytest.raises(ValueError, match="low above high"):
        replace(Checked(1, 2), low=5)
    with pytest.raises(TypeError):
        replace(ref, colour="red")


def test_a_subclass_keeps_its_bases_fields_first() -> None:
    class Base(Record):
        line: int

    class Leaf(Base):
        text: str = ""

    assert fields(Leaf) == ("line", "text")
    assert Leaf(3, "x") == Leaf(line=3, text="x")
    assert repr(Leaf(3)) == f"{Leaf.__qualname__}(line=3, text='')"


def test_a_field_without_a_default_after_one_with_is_refused_at_class_creation() -> None:
    with pytest.raises(TypeError, match="non-default argument 'late' follows default argument"):

        class Wrong(Record):  # type: ignore[misc]
            early: int = 0
            late: int


def test_class_patterns_match_by_position_and_by_name() -> None:
    match Ref("a", "1"):
        case Ref(name, version="1"):
            matched = name
        case _:
            matched = None
    assert matched == "a"


def test_asdict_and_copies_see_the_fields() -> None:
    class Outer(Record):
        ref: Ref
        refs: list[Ref]

    outer = Outer(Ref("a"), [Ref("b", "2")])
    expected = {"name": "a", "version": None, "seen": ()}
    assert asdict(outer) == {"ref": expected, "refs": [{"name": "b", "version": "2", "seen": ()}]}
    assert copy.copy(outer) == outer and copy.deepcopy(outer) == outer
    assert copy.deepcopy(outer).refs is not outer.refs


def test_every_baker_module_that_defines_a_record_has_the_future_import() -> None:
    """Record reads a class's own `__annotations__`: on Python 3.14 a class keeps them unevaluated
    (PEP 649) unless its module has `from __future__ import annotations`."""
    root = Path(baker.__file__).resolve().parent
    texts = {str(path.relative_to(root)): path.read_text(encoding="utf-8") for path in root.rglob("*.py")}
    defining = [
        name for name, text in texts.items() if re.search(r"^class \w+\((?:[\w.]+, )*Record\b", text, re.M)
    ]
    assert "model.py" in defining and len(defining) > 30  # the search finds them
    assert [name for name in defining if "from __future__ import annotations" not in texts[name]] == []
