from __future__ import annotations

import base64
import json
import logging
import pickle
import urllib.parse

import pytest

from baker.logs import RedactingFilter
from baker.secret import MASK, Redactor, Secret

CANARY = 'canary-Zq9$x\\y"z\r\nline two\tend '


def test_secret_masks_itself_in_repr_str_and_format() -> None:
    s = Secret(CANARY)
    assert CANARY not in repr(s)
    assert CANARY not in str(s)
    assert CANARY not in f"{s} {s!r} {s:>40}"
    assert s.reveal() == CANARY


def test_secret_refuses_pickling() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Secret(CANARY))


@pytest.mark.parametrize(
    "form",
    [
        CANARY,
        "line two\tend",
        json.dumps(CANARY)[1:-1],
        base64.b64encode(CANARY.encode()).decode(),
        urllib.parse.quote(CANARY, safe=""),
        urllib.parse.quote_plus(json.dumps(CANARY)[1:-1], safe=""),
    ],
)
def test_redactor_masks_value_lines_and_encodings(form: str) -> None:
    r = Redactor()
    r.register(Secret(CANARY))
    out = r.redact(f"before {form} after")
    assert form not in out
    assert MASK in out


def test_redactor_reports_short_values_instead_of_masking() -> None:
    r = Redactor()
    assert r.register("abc", label="SHORT") is False
    assert r.short_labels == ("SHORT",)
    assert r.redact("abc abc") == "abc abc"


def test_logging_filter_masks_values_and_tokens() -> None:
    r = Redactor()
    r.register(Secret(CANARY))
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "got %s and %s", (CANARY, "Bearer abcdefghijkl"), None
    )
    assert RedactingFilter(r).filter(record)
    assert CANARY not in record.getMessage()
    assert "abcdefghijkl" not in record.getMessage()
