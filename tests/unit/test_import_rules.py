"""The walls, checked: which baker package may import which library (the table ARCHITECTURE.md shows),
no import cycle among baker's modules (at module level, nor at function level: an import inside a
function that climbs back up is a cycle too), the commands calling the library's pipelines rather
than the engine or registry modules, and every function-level import says what it guards.

Seen failing once (issue 17), with `from baker.commands.check_fleet import check_many` put back inside
`baker.commands.check.check` (check_fleet imports check's `print_report`):

    E   graphlib.CycleError: ('nodes are in a cycle', ['baker.commands.check',
            'baker.commands.check_fleet', 'baker.commands.check'])
    FAILED ...::test_baker_modules_import_each_other_without_cycles_at_function_level_either

and passing after it was taken out again (the CLI sends several `-f` to check_fleet).
"""

from __future__ import annotations

import ast
import graphlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import baker

ROOT = Path(baker.__file__).resolve().parent  # the package under test, installed or not

# library -> the only modules (a name, or a package ending in ".") that may import it
ONLY = {
    "docker": ("baker.image.engine.", "baker.image.dockerconfig"),
    "azure": ("baker.providers.azure.",),
    "msal": ("baker.providers.azure.",),
    "jinja2": ("baker.render",),
    # baker.proxies: every session's adapters, a loopback host never through a proxy
    "requests": ("baker.image.registry.", "baker.image.engine.", "baker.providers.azure.", "baker.proxies"),
    "urllib3": (
        "baker.image.registry.",
        "baker.image.engine.",
        "baker.providers.azure.",
        "baker.urls",
        "baker.proxies",
    ),
    "yaml": ("baker.manifest.yamltree", "baker.emulator.worldfile"),
    # IDNA 2008, as urllib3 writes a non-ASCII host (`baker.urls` reads URLs without urllib3)
    "idna": ("baker.urls",),
    # the user's Docker CLI, run as a child (the app build); nothing else runs programs
    "subprocess": ("baker.image.appbuild.",),
    "cryptography": ("baker.certificates", "baker.emulator."),
    # records are `baker.record.Record`s: the standard library's dataclasses cost a start ~1 ms a
    # class and `inspect` (issue 17)
    "dataclasses": (),
}
# package -> what it never imports
NEVER = {
    "baker.manifest.": (
        "azure",
        "msal",
        "docker",
        "jinja2",
        "requests",
        "baker.image",
        "baker.providers.azure",
        "cryptography",
    ),
    # The commands call the library's pipelines (image.bake, image.inregistry, image.find, check.*):
    # never the engine or the registry client themselves.
    "baker.commands.": (
        "docker",
        "azure",
        "msal",
        "requests",
        "urllib3",
        "baker.image.engine",
        "baker.image.registry",
    ),
    "baker.diagnose": ("baker",),
}
# (module, what it imports) that breaks a NEVER rule today, and why it may for now.  Each entry must
# still be needed: the test fails when one is not, so the table only shrinks.
UNTIL_MOVED: dict[tuple[str, str], str] = {}


def _import_or_comment(line: str) -> bool:
    return line.strip().startswith(("from ", "import ", "#"))


def _names(node: ast.Import | ast.ImportFrom, modules: set[str]) -> list[str]:
    """What an import loads: `from P import m` names the module P.m when there is one (P itself is a
    parent, already importing), else P."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
    return subs if len(subs) == len(node.names) else [*subs, str(node.module)]


def _modules() -> dict[str, tuple[list[str], list[str], list[int]]]:
    """Module -> (module-level imports, function-level imports, function-level ones without a comment)."""
    paths = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    found = {}
    for name, path in paths.items():
        lines = path.read_text().splitlines()
        top: list[str] = []
        inner: list[str] = []
        bare: list[int] = []
        todo: list[tuple[ast.AST, bool]] = [(ast.parse(path.read_text()), False)]
        while todo:
            node, in_function = todo.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue  # never executed
                if isinstance(child, ast.Import | ast.ImportFrom):
                    (inner if in_function else top).extend(_names(child, set(paths)))
                    above = lines[: child.lineno][::-1]  # this line, then the imports above it
                    group = [
                        ln
                        for i, ln in enumerate(above)
                        if i == 0 or ln.strip().startswith(("from ", "import ", "#"))
                    ]
                    if in_function and not any("#" in ln for ln in group[:4]):
                        bare.append(child.lineno)
                todo.append((child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)))
        found[name] = (top, inner, bare)
    return found


MODULES = _modules()


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p.rstrip(".") or name.startswith(p if p.endswith(".") else p + ".") for p in prefixes)


def test_each_library_is_imported_only_by_the_modules_the_table_names() -> None:
    broken = [
        f"{module} imports {name}"
        for module, (top, inner, _) in MODULES.items()
        for name in top + inner
        for library, allowed in ONLY.items()
        if _matches(name, (library,)) and not _matches(module, allowed)
    ]
    broken += [
        f"{module} imports {name}"
        for module, (top, inner, _) in MODULES.items()
        for package, forbidden in NEVER.items()
        if _matches(module, (package,))
        for name in top + inner
        if _matches(name, forbidden) and (module, _package_of(name)) not in UNTIL_MOVED
    ]
    assert broken == []


def _package_of(name: str) -> str:
    """`baker.image.engine.client` -> `baker.image.engine`: what UNTIL_MOVED names."""
    return next((p for m, p in UNTIL_MOVED if name == p or name.startswith(p + ".")), name)


def test_every_exception_to_the_walls_is_still_needed() -> None:
    unused = [
        f"{module} no longer imports {package}: delete its UNTIL_MOVED entry"
        for module, package in UNTIL_MOVED
        if not any(_matches(name, (package,)) for name in MODULES[module][0] + MODULES[module][1])
    ]
    assert unused == []


def test_baker_modules_import_each_other_without_cycles_at_module_level() -> None:
    graph = {m: {n for n in top if n in MODULES and n != m} for m, (top, _, _) in MODULES.items()}
    graphlib.TopologicalSorter(graph).prepare()  # CycleError names the cycle


def test_baker_modules_import_each_other_without_cycles_at_function_level_either() -> None:
    """The many-module may use the one-module, never the reverse; the CLI decides which runs (pip's
    `cli/` over `operations/`).  `baker.cli` reaches the commands by `importlib`, which is no edge."""
    graph = {m: {n for n in top + inner if n in MODULES and n != m} for m, (top, inner, _) in MODULES.items()}
    graphlib.TopologicalSorter(graph).prepare()  # CycleError names the cycle


def test_every_function_level_import_says_what_it_guards() -> None:
    bare = {module: lines for module, (_, _, lines) in MODULES.items() if lines}
    assert bare == {}


# What `validate` and `plan` never load (issue 17: a process start under 0.15 s for 400 variables;
# urllib3 alone, with http.client, email and ssl, cost ~70 ms): no network library, no engine, no
# vault SDK, no template engine, no crypto; and no logging (`cli.OFFLINE` does not set it up: a
# module on their path that logs would log unredacted, so it must set logging up first).  Nor what
# only slows the start: dataclasses and inspect (`baker.record`), socket (a numeric loopback host).
OFFLINE_NEVER = (
    "dataclasses",
    "inspect",
    "socket",
    "urllib3",
    "requests",
    "http.client",
    "ssl",
    "email",
    "docker",
    "azure",
    "msal",
    "jinja2",
    "logging",
)
OFFLINE_MANIFEST = """\
version: 1
image: {from: 'busybox:1', tag: 'registry.example/app:baked'}
credentials:
  kv:
    provider: azure-key-vault
    vault_url: https://münchen-vault.vault.azure.net
    tenant_id: 0a0b0c0d-1111-4222-8333-444455556666
    client_id: 9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a
    auth: workload-identity
    default: true
env:
  LITERAL: plain
  SECRET: {secret: db-password}
  KEYED: {secret: 'settings#key'}
"""


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_validate_and_plan_load_no_network_library(command: str, tmp_path: Path) -> None:
    """Every URL check they make (a vault URL, with a non-ASCII host; a keyless request URL) is
    `baker.urls`' own grammar; urllib3 reads a URL only before a request (`urls.target`)."""
    manifest = tmp_path / "baker.yaml"
    manifest.write_text(OFFLINE_MANIFEST, encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import json, sys
        from baker.cli import main
        code = main([{command!r}, "-f", {str(manifest)!r}])
        print(json.dumps([code, sorted(sys.modules)]))
        """
    )
    env = {
        **os.environ,
        "ACTIONS_ID_TOKEN_REQUEST_URL": "https://github.example/idtoken?api-version=2.0",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token-for-the-import-test",
        "IDENTITY_ENDPOINT": "http://localhost:42356/msi/token",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    code, loaded = json.loads(done.stdout.splitlines()[-1])
    assert code == 0, done.stderr
    assert "baker.urls" in loaded and "idna" in loaded  # the checks ran, on a non-ASCII host too
    assert [m for m in loaded if _matches(m, OFFLINE_NEVER)] == []
