"""YAML -> a small located tree: every mapping key and value keeps its line, duplicate keys are
problems (PyYAML silently keeps the last one), and nothing is constructed but plain scalars.

Only `baker.manifest.checks` uses this.  yaml's own exceptions never leave this module: a syntax error
becomes one `Problem` with its line.

Decisions worth knowing:
- Keys are taken as their source text (`on:` is the key "on", `1:` the key "1").
- Anchors, aliases and merge keys (`<<: *base`) work as YAML defines them; keys written in the
  mapping itself win over merged ones, and a key written twice is still a duplicate.  Alias
  expansion is capped (`MAX_NODES`) so a "billion laughs" file is a problem, not a hang.
- Nesting is capped (`MAX_DEPTH`, aliases included): PyYAML composes recursively, so a file nested
  thousands deep would otherwise end in a RecursionError instead of a problem naming the file.
- Only the core tags are allowed; `!!python/...` and other application tags are problems.
- Both passes (the depth scan, then composition) run on libyaml when PyYAML has it (`yaml.CParser`,
  about 40 times faster than PyYAML's pure-Python parser: a 400-variable manifest in ~5 ms instead
  of ~0.15 s).  libyaml words its errors differently, so a file libyaml refuses is read once more by
  the pure parser, whose error is the one reported: the messages are the same either way.  Without
  libyaml, the pure parser does both passes.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import TypeAlias

import yaml

from baker import urls
from baker.diagnose import Diagnosis
from baker.errors import Problem
from baker.record import Record
from baker.suggest import did_you_mean

MAX_NODES = 100_000
MAX_DEPTH = 100

_T = "tag:yaml.org,2002:"
STR, NULL, BOOL, INT, FLOAT, TIMESTAMP = (
    _T + t for t in ("str", "null", "bool", "int", "float", "timestamp")
)
_SCALAR_TAGS = {STR, NULL, BOOL, INT, FLOAT, TIMESTAMP}
_MAP, _SEQ, _MERGE = _T + "map", _T + "seq", _T + "merge"


class YScalar(Record):
    line: int
    tag: str  # one of the core scalar tags above
    value: object  # str / None / bool / int / float / datetime, as YAML 1.1 reads it
    text: str  # the scalar's text as written (quotes removed, escapes applied)


class YItem(Record):
    key: str
    line: int
    value: YNode


class YMap(Record):
    line: int
    items: tuple[YItem, ...]

    def get(self, key: str) -> YItem | None:
        for item in self.items:
            if item.key == key:
                return item
        return None


class YSeq(Record):
    line: int
    items: tuple[YNode, ...]


YNode: TypeAlias = YScalar | YMap | YSeq


def kind(node: YNode) -> str:
    """How a node reads in a message: 'a mapping', 'a list', 'null', 'a number', ..."""
    if isinstance(node, YMap):
        return "a mapping"
    if isinstance(node, YSeq):
        return "a list"
    return {
        NULL: "empty (null)",
        BOOL: "a boolean",
        INT: "a number",
        FLOAT: "a number",
        TIMESTAMP: "a date",
    }.get(node.tag, "text")


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Loader(yaml.SafeLoader):
    """SafeLoader used only to compose nodes and construct plain scalars; mapping construction
    (where duplicates vanish) is done by `_Walker` instead."""


# libyaml's loader when this PyYAML was built with it, else None (then the pure parser does all).
# A module attribute so a test can take libyaml away.
CLOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def compose(text: str, loader: type[yaml.SafeLoader]) -> tuple[int | None, yaml.Node | None]:
    """(the line where `text` first nests more than `MAX_DEPTH` deep, None) or (None, its single
    document's node, None when empty), on libyaml when there is one (`CLOADER`).  A YAMLError is
    always the pure parser's own (`loader`'s), so its wording does not depend on libyaml."""
    fast = CLOADER
    if fast is not None:
        try:
            return _compose(text, fast)
        except yaml.YAMLError:
            pass  # read it again below, for the pure parser's error message
    return _compose(text, loader)


def _compose(text: str, loader: type[yaml.SafeLoader]) -> tuple[int | None, yaml.Node | None]:
    deep_at = too_deep(text, loader)
    if deep_at is not None:
        return deep_at, None
    composer = loader(text)
    try:
        return None, composer.get_single_node()
    finally:
        composer.dispose()


class _TooLarge(Exception):
    pass


class _TooDeep(Exception):
    def __init__(self, line: int | None) -> None:
        super().__init__(line)
        self.line = line


def too_deep(text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> int | None:
    """The line where `text` first nests more than `MAX_DEPTH` collections deep, else None.
    Reads parser events, which PyYAML produces without recursion, before anything is composed.
    yaml's own errors are left for the caller's composing step to report."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return event.start_mark.line + 1 if event.start_mark is not None else None
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


class _Walker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self._loader = _Loader("")
        self._count = 0
        self._stack: set[int] = set()  # the nodes being walked, outermost first: the depth

    def problem(self, line: int | None, key: str, message: str, *, code: Diagnosis | None = None) -> None:
        self.problems.append(Problem(self.file, line, key, message, code))

    def walk(self, node: yaml.Node, path: str) -> YNode:
        self._count += 1
        if self._count > MAX_NODES:
            raise _TooLarge
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.CollectionNode):
            # most nodes: a scalar holds no node, so it is never on the stack and walks nothing
            if len(self._stack) >= MAX_DEPTH:
                raise _TooDeep(line)
            return self._scalar(node, path, line)
        if id(node) in self._stack:
            self.problem(line, path, "a YAML alias refers to itself")
            return YScalar(line, STR, "", "")  # a placeholder that raises no second problem
        if len(self._stack) >= MAX_DEPTH:  # nested through aliases, which the event scan cannot see
            raise _TooDeep(line)
        self._stack.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path, line)
            if node.tag != _SEQ:
                self.problem(line, path, f"the YAML tag {node.tag!r} is not supported")
            return YSeq(line, tuple(self.walk(n, f"{path}[{i}]") for i, n in enumerate(node.value)))
        finally:
            self._stack.discard(id(node))

    def _scalar(self, node: yaml.Node, path: str, line: int) -> YScalar:
        text = str(node.value)
        if node.tag not in _SCALAR_TAGS:
            self.problem(line, path, f"the YAML tag {node.tag!r} is not supported")
            return YScalar(line, STR, text, text)
        if node.tag == STR:  # what SafeLoader's construct_yaml_str returns: the text itself
            return YScalar(line, STR, text, text)
        try:
            value = self._loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError):  # e.g. a date like 2024-13-45
            return YScalar(line, STR, text, text)
        return YScalar(line, node.tag, value, text)

    def _mapping(self, node: yaml.MappingNode, path: str, line: int) -> YMap:
        if node.tag != _MAP:
            self.problem(line, path, f"the YAML tag {node.tag!r} is not supported")
        explicit: dict[str, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE:
                key = str(key_node.value)
                key_line = key_node.start_mark.line + 1
                if key in explicit:
                    self.problem(
                        key_line,
                        join(path, key),
                        f"duplicate key {key!r} (first on line {explicit[key]}); YAML would silently "
                        "keep only the last one",
                    )
                else:
                    explicit[key] = key_line
        items: list[YItem] = []
        taken: set[str] = set()
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_line, path, "a key must be plain text, not a mapping or a list")
                continue
            if key_node.tag == _MERGE:
                for merged in self._merged(value_node, path):
                    if merged.key not in explicit and merged.key not in taken:
                        taken.add(merged.key)
                        items.append(merged)
                continue
            key = str(key_node.value)
            if key in taken:
                continue  # the duplicate was reported above
            taken.add(key)
            items.append(YItem(key, key_line, self.walk(value_node, join(path, key))))
        return YMap(line, tuple(items))

    def _merged(self, value_node: yaml.Node, path: str) -> list[YItem]:
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        items: list[YItem] = []
        for source in sources:
            walked = self.walk(source, path)
            if not isinstance(walked, YMap):
                self.problem(walked.line, path, "`<<` merges only mappings")
                continue
            items.extend(item for item in walked.items if item.key not in {i.key for i in items})
        return items


class Checker:
    """Collects problems while checking a located tree's shape; never stops at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def problem(self, line: int | None, key: str, message: str, *, code: Diagnosis | None = None) -> None:
        self.problems.append(Problem(self.file, line, key, message, code))

    # --- shapes ---------------------------------------------------------------------------------

    def mapping(self, node: YNode | None, key: str, *, null_ok: bool = False) -> YMap | None:
        if isinstance(node, YMap):
            return node
        if node is None or (null_ok and isinstance(node, YScalar) and node.tag == NULL):
            return YMap(node.line if node else 0, ())
        self.problem(node.line, key, f"must be a mapping, not {kind(node)}")
        return None

    def known_keys(self, node: YMap, path: str, allowed: tuple[str, ...]) -> None:
        for item in node.items:
            if item.key not in allowed:
                hint = did_you_mean(item.key, allowed, otherwise="allowed here: ")
                self.problem(item.line, join(path, item.key), f"unknown key {item.key!r}; {hint}")

    def text(self, item: YItem, path: str, *, what: str = "text") -> str | None:
        """A scalar as the text written (see the module docstring); None after a problem."""
        node = item.value
        if not isinstance(node, YScalar) or node.tag == NULL:
            self.problem(item.line, path, f"must be {what}, not {kind(node)}")
            return None
        return node.text

    def https_url(
        self,
        item: YItem,
        path: str,
        *,
        origin_only: bool,
        interpolate: Callable[[str], str | None] | None = None,
    ) -> str | None:
        """The URL, checked; `${NAME}` parts are filled in by `interpolate` (None: a variable is unset,
        which the caller has recorded) before the check."""
        url = self.text(item, path, what="an https:// URL")
        if url is None:
            return None
        # Messages quote the URL as written: a filled-in variable may hold anything (a client
        # secret swapped in by mistake), and its name says more than its value.
        shown = repr(url)
        if "${" in url:
            if interpolate is None:
                self.problem(item.line, path, "takes a literal URL (no ${NAME})")
                return None
            shown = f"{url!r} (with its variables filled in)"
            url = interpolate(url)
            if url is None:
                return None
        why = https_url_problem(url, origin_only=origin_only)
        if why:
            example = " (like https://my-vault.vault.azure.net)" if origin_only else ""
            self.problem(item.line, path, f"{shown} {why}{example}")
            return None
        return url

    def environ_https_url(self, var: str, value: str | None, line: int | None, path: str) -> str | None:
        """`value`, the environment variable `var`'s (AZURE_AUTHORITY_HOST: the fallback of a
        credential's `authority_host`), checked as `https_url` checks a URL written in the manifest;
        None when unset or refused.  A value without a scheme is read as azure-identity reads it
        (`normalize_authority`: https://VALUE).  A problem names the variable, never its value (it
        may hold anything: a password in user info, a line break)."""
        if not value:
            return None
        if not urllib.parse.urlparse(value).scheme:
            value = "https://" + value.rstrip(" /")
        why = https_url_problem(value, origin_only=False)
        if why:
            self.problem(line, path, f"{var} (its value is not shown) {why}")
            return None
        return value


def https_url_problem(url: str, *, origin_only: bool) -> str | None:
    """Why `url` is not an https URL baker takes (None when it is); never quotes it."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return "is not a valid URL"
    why = None
    if parts.scheme != "https":
        why = "must start with https://"
    elif not parts.hostname:
        why = "has no host"
    elif parts.username is not None or parts.password is not None:
        why = "may not hold a user name or password"
    elif parts.query or parts.fragment:
        why = "may not hold a query or fragment"
    elif origin_only and parts.path not in ("", "/"):
        why = "must be the vault's address alone (no path: baker adds /secrets/...)"
    if why is None:
        try:  # the SDK connects to what urllib3 reads: one reading only (`baker.urls`)
            urls.parse(url)
        except urls.UrlError as exc:
            why = f"is not a URL baker reads one way only ({exc.reason})"
    return why


def load_tree(text: str, file: str) -> tuple[YNode | None, list[Problem]]:
    """The located tree of one YAML document (None when empty), and every problem found."""
    try:
        yaml.reader.Reader(text)  # refuses non-printable characters right here, as both parsers do
    except yaml.reader.ReaderError as exc:
        char = exc.character
        shown = f"#x{char:04x}" if isinstance(char, int) else repr(char)
        at = text[: exc.position].count("\n") + 1
        return None, [Problem(file, at, "", f"a character YAML does not allow ({shown})")]
    try:
        deep_at, node = compose(text, _Loader)
        if deep_at is not None:
            return None, [Problem(file, deep_at, "", f"nested more than {MAX_DEPTH} levels deep")]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        return None, [Problem(file, line, "", f"YAML syntax error: {what}")]
    except yaml.YAMLError as exc:  # anything else yaml may raise: keep the type, not the text
        return None, [Problem(file, None, "", f"not readable as YAML ({type(exc).__name__})")]
    if node is None:
        return None, []
    walker = _Walker(file)
    try:
        tree = walker.walk(node, "")
    except _TooLarge:
        return None, [Problem(file, None, "", f"the YAML expands to more than {MAX_NODES} nodes (aliases?)")]
    except _TooDeep as exc:
        return None, [Problem(file, exc.line, "", f"nested more than {MAX_DEPTH} levels deep (aliases?)")]
    return tree, walker.problems
