"""The engine's progress stream: whole lines, every value masked, even when split across chunks."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baker.image.engine.stream import LineSink, StreamState, clean, consume
from baker.secret import Redactor

CANARY = 'canary-Zx9!q$7 "quoted" \\slash'
PEM = "-----BEGIN KEY-----\nMIIBcanaryline1xyz\nMIIBcanaryline2xyz\n-----END KEY-----\n"


def _redactor() -> Redactor:
    redactor = Redactor()
    redactor.register(CANARY, label="CANARY")
    redactor.register(PEM, label="PEM")
    return redactor


def _forms(value: str) -> list[str]:
    raw = value.encode()
    return [
        value,
        json.dumps(value)[1:-1],
        base64.b64encode(raw).decode().rstrip("="),
        urllib.parse.quote_plus(value, safe=""),
    ]


def _leaks(text: str) -> list[str]:
    found = [form for value in (CANARY,) for form in _forms(value) if form in text]
    found += [line for line in ("MIIBcanaryline1xyz", "MIIBcanaryline2xyz") if line in text]
    return found


def _collect(chunks: list[str], redactor: Redactor) -> list[str]:
    lines: list[str] = []
    sink = LineSink(lines.append, redactor)
    for chunk in chunks:
        sink.feed(chunk)
    sink.flush()
    return lines


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=200), max_size=12), st.sampled_from(_forms(CANARY)))
def test_value_is_masked_when_split_across_chunks_anywhere(cuts: list[int], form: str) -> None:
    text = f"Step 3/4 : RUN echo {form}\nsecond line {form} end\n ---> 1234\nno newline at the end {form}"
    points = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    lines = _collect(chunks, _redactor())
    assert not _leaks("\n".join(lines))
    assert lines[0].startswith("Step 3/4 : RUN echo ")
    assert lines[-1].startswith("no newline at the end")


def test_each_line_of_a_multi_line_value_is_masked_when_printed_line_by_line() -> None:
    chunks = [line + "\n" for line in PEM.splitlines()]
    lines = _collect(["cat key:\n", *chunks], _redactor())
    assert not _leaks("\n".join(lines))
    assert lines[0] == "cat key:"


def test_blank_lines_and_carriage_returns_are_dropped() -> None:
    assert _collect(["a\r\n\n\r\nb\n"], Redactor()) == ["a", "b"]


def test_consume_streams_text_and_reads_the_image_id() -> None:
    redactor = _redactor()
    lines: list[str] = []
    messages = [
        {"stream": "Step 1/2 : FROM base\n"},
        {"stream": " ---> abc\nStep 2/2 : ENV A=$A\n"},
        {"stream": f"echo {CANARY[:9]}"},
        {"stream": f"{CANARY[9:]}\n"},
        {"aux": {"ID": "sha256:" + "1" * 64}},
        {"stream": "Successfully built 111111111111\n"},
    ]
    state = consume(iter(messages), LineSink(lines.append, redactor), redactor)
    assert state.image_id == "sha256:" + "1" * 64
    assert state.short_id == "111111111111"
    assert state.last_step == "Step 2/2 : ENV A=$A"
    assert state.error is None
    assert "echo ********" in lines
    assert not _leaks("\n".join(lines))


def test_consume_stops_at_the_first_error_and_cleans_it() -> None:
    redactor = _redactor()
    messages = [
        {"stream": "Step 2/3 : RUN false\n"},
        {
            "error": f"failed http+docker://localhost/v1.41/build?buildargs={urllib.parse.quote_plus(CANARY)}"
            f" value {CANARY}\nsecond line",
            "errorDetail": {"message": "ignored"},
        },
        {"stream": "never read\n"},
    ]
    lines: list[str] = []
    state = consume(iter(messages), LineSink(lines.append, redactor), redactor)
    assert state.error is not None
    assert "http+docker" not in state.error and "buildargs" not in state.error
    assert not _leaks(state.error)
    assert "\n" not in state.error
    assert "never read" not in lines


def test_consume_reads_push_digest_and_skips_progress_bars() -> None:
    digest = "sha256:" + "a" * 64
    messages = [
        {"status": "The push refers to repository [127.0.0.1:5000/app]"},
        {
            "status": "Pushing",
            "progressDetail": {"current": 1, "total": 2},
            "progress": "[=>  ]",
            "id": "abc",
        },
        {"status": "Pushed", "progressDetail": {}, "id": "abc"},
        {"status": f"t: digest: {digest} size: 527"},
        {"aux": {"Tag": "t", "Digest": digest, "Size": 527}},
    ]
    lines: list[str] = []
    state = consume(iter(messages), LineSink(lines.append, Redactor()), Redactor())
    assert state.digest == digest
    assert "abc: Pushed" in lines
    assert not any("[=>" in line for line in lines)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "500 Server Error for http+docker://localhost/v1.41/build?x=1: boom",
            "500 Server Error for <url> boom",
        ),
        ("Get https://registry:5000/v2/: refused", "Get <url> refused"),
        ("multi\nline\ttext", "multi line text"),
    ],
)
def test_clean_drops_urls_and_joins_lines(text: str, expected: str) -> None:
    assert clean(text, Redactor()) == expected


def test_consume_lists_the_images_made_after_from_when_steps_complete() -> None:
    messages = [
        {"stream": "Step 1/3 : FROM base\n ---> aaaaaaaaaaaa\n"},
        {"stream": "Step 2/3 : ENV A=$A\n ---> Running in cccccccccccc\n"},
        {"stream": "Removing intermediate container cccccccccccc\n ---> bbbbbbbbbbbb\n"},
        {"stream": "Step 3/3 : RUN false\n ---> Running in dddddddddddd\n"},
        {"error": "The command '/bin/sh -c false' returned a non-zero code: 1"},
    ]
    state = consume(iter(messages), LineSink(lambda line: None, Redactor()), Redactor())
    assert state.produced == ["bbbbbbbbbbbb"]
    assert state.step == 3
    assert state.error == "The command '/bin/sh -c false' returned a non-zero code: 1"


def test_stream_state_starts_empty() -> None:
    state = StreamState()
    assert (state.image_id, state.digest, state.error, state.produced) == (None, None, None, [])
