"""Everything baker prints goes through an `Output`, which passes it through the Redactor.

Human text goes to stdout (results) and stderr (progress, warnings); with `--json` stdout holds
exactly one JSON document and all prose goes to stderr.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from baker.secret import REDACTOR, Redactor


@dataclass
class Output:
    json_mode: bool = False
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    redactor: Redactor = field(default_factory=lambda: REDACTOR)

    def _write(self, stream: TextIO, text: str) -> None:
        stream.write(self.redactor.redact(text) + "\n")
        stream.flush()

    def info(self, text: str) -> None:
        """A result line for people: stdout, or stderr in JSON mode."""
        self._write(self.stderr if self.json_mode else self.stdout, text)

    def progress(self, text: str) -> None:
        """Progress a person watches (build output): always stderr."""
        self._write(self.stderr, text)

    def warn(self, text: str) -> None:
        self._write(self.stderr, f"warning: {text}")

    def result(self, document: Any) -> None:
        """The one JSON document of a `--json` run (ignored in human mode).

        Redaction walks the document and masks string leaves only, so a short registered value such
        as `5432` or `true` can never corrupt the JSON syntax or its numbers.
        """
        if self.json_mode:
            text = json.dumps(self._redact_tree(document), ensure_ascii=False, default=self._masked_str)
            self.stdout.write(text + "\n")
            self.stdout.flush()

    def _masked_str(self, value: object) -> str:
        return self.redactor.redact(str(value))

    def _redact_tree(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.redactor.redact(node)
        if isinstance(node, dict):
            return {self.redactor.redact(str(k)): self._redact_tree(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [self._redact_tree(v) for v in node]
        return node
