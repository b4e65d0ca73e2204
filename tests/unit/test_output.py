from __future__ import annotations

import io
import json

from baker.output import Output
from baker.secret import Redactor, Secret


def _output(redactor: Redactor) -> tuple[Output, io.StringIO, io.StringIO]:
    stdout, stderr = io.StringIO(), io.StringIO()
    return Output(json_mode=True, stdout=stdout, stderr=stderr, redactor=redactor), stdout, stderr


def test_json_result_masks_string_leaves_but_keeps_numbers_and_literals_intact() -> None:
    redactor = Redactor()
    redactor.register(Secret("5432"))
    redactor.register(Secret("true"))
    out, stdout, _ = _output(redactor)
    out.result({"port": 5432, "ok": True, "note": "port 5432 is true", "list": ["5432", 1]})
    document = json.loads(stdout.getvalue())
    assert document["port"] == 5432
    assert document["ok"] is True
    assert "5432" not in document["note"]
    assert document["list"] == ["********", 1]


def test_info_goes_to_stderr_in_json_mode_and_is_redacted() -> None:
    redactor = Redactor()
    redactor.register(Secret("canary-value-xyz"))
    out, stdout, stderr = _output(redactor)
    out.info("found canary-value-xyz")
    assert stdout.getvalue() == ""
    assert "canary-value-xyz" not in stderr.getvalue()
