"""Red team round 5 on `baker.record.Record` (every typed value since 30efe7c): each record class of
baker, a `Secret` in each of its fields, and the ways a value could leave it: repr, str, format,
equality and hash, `copy.copy`, `copy.deepcopy`, pickling, and assignment to a frozen record.

Held against the standard library's dataclasses at 50c1c55 (the same outcome, class by class, for
all 102 record classes, on Python 3.11; Record itself also on 3.10, 3.12 and 3.13): kept here so a
later change to `Record` keeps it."""

from __future__ import annotations

import copy
import importlib
import pickle
import pkgutil

import pytest

import baker
from baker.record import FrozenInstanceError, Record
from baker.secret import Secret

CANARY = "rt5-record-canary-5b2e7f"


def _records() -> list[type[Record]]:
    for module in pkgutil.walk_packages(baker.__path__, "baker."):
        importlib.import_module(module.name)
    found: list[type[Record]] = []
    stack = [Record]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found and sub.__module__.startswith("baker."):
                found.append(sub)
                stack.append(sub)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


RECORDS = _records()


def _with_secrets(cls: type[Record]) -> Record:
    record = object.__new__(cls)
    for name in cls.__record_fields__:  # bypasses __post_init__'s checks: any field may hold one
        record.__dict__[name] = Secret(f"{CANARY}-{name}")
    return record


def test_there_are_records_to_attack() -> None:
    assert len(RECORDS) > 90


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_rt5_a_secret_in_any_field_of_any_record_never_shows_and_never_copies_out(cls: type[Record]) -> None:
    record = _with_secrets(cls)
    shown = []
    for render in (repr, str, lambda r: f"{r}"):
        try:
            shown.append(render(record))
        except (TypeError, AttributeError) as exc:  # a repr or str of the class's own, typed (Blob)
            shown.append(str(exc))
    assert not any(CANARY in text for text in shown), shown
    assert record == copy.copy(record)
    for attempt in (lambda: copy.deepcopy(record), lambda: pickle.dumps(record)):
        with pytest.raises(TypeError) as raised:
            attempt()
        assert CANARY not in str(raised.value)
    if cls.__record_frozen__:
        name = cls.__record_fields__[0]
        with pytest.raises(FrozenInstanceError):
            setattr(record, name, "changed")
        with pytest.raises(FrozenInstanceError):
            record.not_a_field = 1
        with pytest.raises(FrozenInstanceError):
            delattr(record, name)
        assert hash(record) == hash(_with_secrets(cls))
