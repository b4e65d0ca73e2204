from __future__ import annotations

import base64
import json
import logging
import pickle
import shlex
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_overlapping_values_are_both_masked_whole() -> None:
    r = Redactor()
    first, second = "abcdefgh1234", "1234WXYZ9876543"
    r.register(first)
    r.register(second)
    out = r.redact(f"[{first[:-4]}{second}]")  # the two share "1234"
    assert out == f"[{MASK}]"
    assert "WXYZ" not in r.redact(f"{first}{second[4:]}")


@pytest.mark.parametrize(
    "form",
    [
        repr("ZQTE'sq\"dq\x1besc-value")[1:-1],
        repr("ZUNI-é\u200b-tail-value".encode())[2:-1],
        shlex.quote("it's a value with spaces"),
        b"it's a value with spaces".hex(),
        urllib.parse.quote("it's a value/with spaces", safe="/"),
        urllib.parse.quote("it's a value with spaces", safe="").lower(),
    ],
)
def test_redactor_masks_repr_hex_shell_and_percent_forms(form: str) -> None:
    r = Redactor()
    for value in ("ZQTE'sq\"dq\x1besc-value", "ZUNI-é\u200b-tail-value", "it's a value with spaces"):
        r.register(value)
    r.register("it's a value/with spaces")
    assert form not in r.redact(f"x {form} y")


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_redactor_masks_a_value_inside_a_larger_base64_text(offset: int) -> None:
    value = "canary-inside-base64-blob"
    r = Redactor()
    r.register(value)
    prefix = b"x" * offset + b'{"auth":"'
    blob = base64.b64encode(prefix + value.encode() + b'","more":"stuff"}').decode()
    shift = len(prefix) % 3  # where the value starts within a base64 group
    core = base64.b64encode(b"\0" * shift + value.encode()).decode()[4:-4]
    assert core in blob  # the value's bytes are readable in the blob...
    assert core not in r.redact(blob)  # ...until redacted
    assert MASK in r.redact(blob)


def test_a_value_with_a_lone_surrogate_registers_without_failing() -> None:
    r = Redactor()
    assert r.register("surrogate-\ud800-value") is True
    assert "surrogate-\ud800-value" not in r.redact("a surrogate-\ud800-value b")


def test_bearer_tokens_are_masked_but_challenge_parameters_stay_readable() -> None:
    from baker.secret import scrub

    challenge = 'Bearer authorization="https://login.localhost/t", resource="https://vault.localhost"'
    assert scrub(challenge, Redactor()) == challenge
    assert "opaqueTOKEN123456" not in scrub("Authorization: Bearer opaqueTOKEN123456", Redactor())


@given(
    values=st.lists(
        st.text(min_size=4, max_size=40).filter(lambda v: len(v.strip()) >= 4), min_size=1, max_size=6
    ),
    filler=st.lists(st.text(max_size=20), min_size=1, max_size=8),
)
@settings(max_examples=200, deadline=None)
def test_no_registered_value_survives_redaction_wherever_it_stands(
    values: list[str], filler: list[str]
) -> None:
    r = Redactor()
    for value in values:
        r.register(value)
    text = "".join(part for pair in zip(filler, values * len(filler), strict=False) for part in pair)
    out = r.redact(text)
    for value in values:
        assert value not in out or value in MASK


@pytest.mark.parametrize(
    "shown",
    [
        "Qz8Q~Swap.Secret_7Xw-Vk2",
        "qz8q~swap.secret_7xw-vk2",
        "QZ8Q~SWAP.SECRET_7XW-VK2",
        "qZ8q~sWAP.Secret_7xw-VK2",
        urllib.parse.quote("qz8q~swap.secret_7xw-vk2", safe=""),
        urllib.parse.quote("Qz8Q~Swap.Secret_7Xw-Vk2", safe="").lower(),
    ],
)
def test_a_value_registered_any_case_is_masked_in_every_letter_case(shown: str) -> None:
    redactor = Redactor()
    redactor.register("Qz8Q~Swap.Secret_7Xw-Vk2", any_case=True)
    assert redactor.redact(f"https://{shown}.vault.azure.net/") == "https://********.vault.azure.net/"


def test_a_value_registered_as_written_stays_case_sensitive() -> None:
    redactor = Redactor()
    redactor.register("Plain-Value-Abc123")
    assert redactor.redact("plain-value-abc123") == "plain-value-abc123"


def test_a_non_ascii_value_registered_any_case_is_masked_as_punycode() -> None:
    redactor = Redactor()
    value = "Sécrét-Välue-42"
    redactor.register(value, any_case=True)
    ace = value.lower().encode("idna").decode()
    assert redactor.redact(f"host {ace}.vault.azure.net") == "host ********.vault.azure.net"


def test_longest_counts_forms_registered_any_case() -> None:
    redactor = Redactor()
    redactor.register("Some-Host-Value-123456", any_case=True)
    assert redactor.longest >= len("Some-Host-Value-123456")
