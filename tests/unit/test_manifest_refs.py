"""The reference grammar (baker.manifest.refs): names, `#json_key`, versions, and JSON key extraction."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from baker.errors import BadReference, JsonKeyError
from baker.manifest.refs import (
    ParsedRef,
    extract_json_key,
    parse_reference,
    parse_version,
)
from baker.secret import Secret


@pytest.mark.parametrize(
    ("written", "name", "key"),
    [
        ("openai-api-key", "openai-api-key", None),
        ("db_password", "db-password", None),
        ("__x__", "--x--", None),
        ("A1-b2", "A1-b2", None),
        ("0", "0", None),
        ("database-credentials#password", "database-credentials", "password"),
        ("db_creds#user_name", "db-creds", "user_name"),  # `_` only turns into `-` in the name
        ("s#a#b", "s", "a#b"),  # the FIRST `#` splits
        ("s##", "s", "#"),
        ("s#key with spaces ", "s", "key with spaces "),  # the key is verbatim
        ("s#ключ", "s", "ключ"),
        ("s#\t", "s", "\t"),
        ("a" * 127, "a" * 127, None),
        ("_" * 127 + "#k", "-" * 127, "k"),
    ],
)
def test_reference_parses_when_valid(written: str, name: str, key: str | None) -> None:
    assert parse_reference(written) == ParsedRef(written=written, name=name, key=key)


@pytest.mark.parametrize(
    ("written", "fragment"),
    [
        ("", "empty"),
        ("#password", "no secret name"),
        ("secret#", "empty JSON key"),
        ("a" * 128, "at most 127"),
        ("a" * 127 + "_", "at most 127"),
        ("my.secret", "'.'"),
        ("my secret", "' '"),
        ("sécret", "'é'"),  # unicode letters are not Key Vault names
        ("секрет", "ASCII"),
        ("name\n", "'\\n'"),  # no trailing newline sneaks through a `$` anchor
        ("a/b", "'/'"),
    ],
)
def test_reference_is_refused_when_invalid(written: str, fragment: str) -> None:
    with pytest.raises(BadReference) as info:
        parse_reference(written)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("4c5e2a0b9d8f4e6a8c1b2d3e4f5a6b7c", "4c5e2a0b9d8f4e6a8c1b2d3e4f5a6b7c"),
        ("4C5E2A0B9D8F4E6A8C1B2D3E4F5A6B7C", "4c5e2a0b9d8f4e6a8c1b2d3e4f5a6b7c"),
        ("0" * 32, "0" * 32),
    ],
)
def test_version_is_normalised_to_lower_case_when_valid(written: str, expected: str) -> None:
    assert parse_version(written) == expected


@pytest.mark.parametrize(
    "written",
    [
        "",
        "latest",
        "4c5e2a",
        "0" * 31,
        "0" * 33,
        "g" * 32,
        "4c5e2a0b-9d8f-4e6a-8c1b-2d3e4f5a6b7c",
        "0" * 32 + "\n",
    ],
)
def test_version_is_refused_when_not_32_hex_characters(written: str) -> None:
    with pytest.raises(BadReference, match="version id"):
        parse_version(written)


# --- extract_json_key ------------------------------------------------------------------------------

DEMO = '{"username": "app", "password": "p@ss w0rd$#\\"q", "port": 5432}'


@pytest.mark.parametrize(
    ("document", "key", "expected"),
    [
        (DEMO, "username", "app"),
        (DEMO, "password", 'p@ss w0rd$#"q'),
        (DEMO, "port", "5432"),
        ('{"n": 1.10}', "n", "1.10"),  # numbers exactly as the secret holds them
        ('{"n": 1e400}', "n", "1e400"),
        ('{"n": -0}', "n", "-0"),
        ('{"b": true, "z": null}', "b", "true"),
        ('{"b": true, "z": null}', "z", "null"),
        ('{"o": {"a": [1, "é", {"x": null}]}}', "o", '{"a":[1,"é",{"x":null}]}'),
        ('{"o": {"q": "\\"\\n"}}', "o", '{"q":"\\"\\n"}'),
        ('{"s": "line1\\nline2\\r\\n"}', "s", "line1\nline2\r\n"),
        ('{"s": ""}', "s", ""),
        ('{"a#b": "hash"}', "a#b", "hash"),
        ('{" k ": "spaced"}', " k ", "spaced"),
        ('{"k": "first", "other": 1, "other": 2}', "k", "first"),  # a duplicate elsewhere is harmless
        ('{\n  "k" : "v"\n}', "k", "v"),
    ],
)
def test_json_key_value_is_extracted_when_present(document: str, key: str, expected: str) -> None:
    assert extract_json_key(Secret(document), key).reveal() == expected


@pytest.mark.parametrize(
    ("document", "key", "fragment"),
    [
        ("not json at all", "k", "not JSON"),
        ("", "k", "not JSON"),
        ('"just a string"', "k", "a JSON scalar"),
        ("42", "k", "a JSON scalar"),
        ('["k"]', "k", "an array"),
        ('{"k": NaN}', "k", "not JSON"),
        ('{"k": Infinity}', "k", "not JSON"),
        ('{"user": "x"}', "k", "no key 'k'"),
        ('{"User": "x"}', "user", "case-sensitive"),
        ('{"k": "a", "k": "b"}', "k", "more than once"),
        ('{"k": {"x": 1, "x": 2}}', "k", "repeated key"),
        ('{"k": "\\ud800"}', "k", "surrogate"),
    ],
)
def test_json_key_error_when_not_an_object_or_key_missing(document: str, key: str, fragment: str) -> None:
    with pytest.raises(JsonKeyError) as info:
        extract_json_key(Secret(document), key)
    assert fragment in str(info.value)


def test_json_key_error_never_holds_the_value() -> None:
    secret = "s3cr3t-VALUE-that-must-not-leak"
    for document in (secret, f'{{"other": "{secret}"}}', f'{{"{secret}": 1'):
        with pytest.raises(JsonKeyError) as info:
            extract_json_key(Secret(document), "k")
        assert secret not in str(info.value)
        assert isinstance(info.value, ValueError)


# --- properties ------------------------------------------------------------------------------------

name_chars = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
valid_names = st.text(name_chars, min_size=1, max_size=127)


@given(valid_names)
def test_any_valid_name_round_trips_with_underscores_turned_to_dashes(name: str) -> None:
    parsed = parse_reference(name)
    assert parsed.name == name.replace("_", "-")
    assert parsed.key is None
    assert parsed.written == name
    assert parse_reference(parsed.name).name == parsed.name  # normalising twice changes nothing


@given(valid_names, st.text(min_size=1))
def test_reference_splits_at_the_first_hash_and_keeps_the_key_verbatim(name: str, key: str) -> None:
    parsed = parse_reference(f"{name}#{key}")
    assert parsed.name == name.replace("_", "-")
    assert parsed.key == key


@given(st.text(max_size=200))
def test_parse_reference_either_parses_or_raises_reference_error(text: str) -> None:
    try:
        parsed = parse_reference(text)
    except BadReference:
        return
    assert 1 <= len(parsed.name) <= 127
    assert parsed.key is None or (parsed.key and text.endswith(parsed.key))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=5), children, max_size=4
        )
    ),
    max_leaves=12,
)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))), json_values, st.booleans())
def test_extract_json_key_returns_strings_as_is_and_others_as_compact_json(
    key: str, value: object, ascii_escaped: bool
) -> None:
    document = json.dumps({key: value}, ensure_ascii=ascii_escaped)
    got = extract_json_key(Secret(document), key).reveal()
    if isinstance(value, str):
        assert got == value
    else:
        assert got == json.dumps(value, separators=(",", ":"), ensure_ascii=False)
