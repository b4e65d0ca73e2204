"""Red-team round 8, finding rt8-1: `--json` is found by its exact spelling in argv where the run's
mode is not yet parsed, but argparse also takes any prefix of it (`--js`, `--jso`: `allow_abbrev`
is on), and the run then is a --json run.  So a --json run given as `--js` writes NO document on
stdout when a usage problem ends it (`_main`'s `_UsageProblem` branch, exit 2) or when a stop lands
before its Output was made (`cli.main`'s and `__main__.run`'s `"--json" in arguments`, exit 130).
(The reverse: a `--json` that is an argument's value, `baker run -- cmd --json`, makes a human run
stopped early write a JSON document.)

Fixed: the parser refuses abbreviations (`allow_abbrev=False`), or the mode is read the way the
parser reads it."""

from __future__ import annotations

import json

import pytest

from baker import cli


@pytest.mark.xfail(strict=True, reason="rt8-1: a usage error of a `--js` run writes no --json document")
@pytest.mark.parametrize("flag", ["--js", "--jso"])
def test_rt8_1_a_usage_error_of_an_abbreviated_json_run_still_writes_one_document(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The abbreviation is a --json run: a manifest problem is reported as a document.
    assert cli.main(["validate", flag, "-f", "/nonexistent/baker.yaml"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == "ManifestError"
    # ...but a usage problem in the same run writes nothing on stdout.
    assert cli.main(["validate", flag, "--bogus"]) == 2
    out = capsys.readouterr().out
    assert json.loads(out)["error"] == "UsageError"


@pytest.mark.xfail(strict=True, reason="rt8-1: a stop before the run's Output of a `--js` run writes none")
def test_rt8_1_a_stop_before_the_output_of_an_abbreviated_json_run_still_writes_one_document(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def stopped() -> None:  # a stop signal landing while the parser is built (signals raise there)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", stopped)
    assert cli.main(["validate", "--js", "-f", "/nonexistent/baker.yaml"]) == 130
    out = capsys.readouterr().out
    assert json.loads(out)["error"] == "Interrupted"
