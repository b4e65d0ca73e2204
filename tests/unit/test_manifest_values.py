"""baker.manifest.values (the value shapes: templates, certificates, env_from), baker.envfrom.expand,
baker.compose's template join, and the provenance record of the shapes.  No network."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from baker.compose import compose
from baker.envfrom import expand
from baker.errors import EXIT_USAGE, ManifestError, Problem
from baker.manifest.checks import load
from baker.model import CertificateRef, EnvFrom, LiteralValue, Manifest, Placeholder, SecretRef, TemplateValue
from baker.provenance import encode, from_label, from_resolved
from baker.providers.base import FetchedSecret, SecretProperties
from baker.resolver import Resolved, ResolvedEnv
from baker.secret import Secret

ENV = {"AZURE_CLIENT_SECRET": "client-secret-value-123"}
HEAD = """\
version: 1
image: {from: alpine:3}
credentials:
  kv:
    provider: azure-key-vault
    vault_url: https://kv.vault.azure.net
    tenant_id: t
    client_id: c
    default: true
"""


def load_body(tmp_path: Path, body: str) -> Manifest:
    path = tmp_path / "baker.yaml"
    path.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
    return load(path, environ=ENV)


def problems_of(tmp_path: Path, body: str) -> tuple[Problem, ...]:
    with pytest.raises(ManifestError) as info:
        load_body(tmp_path, body)
    assert info.value.exit_code == EXIT_USAGE
    return info.value.problems


# --- templates ----------------------------------------------------------------------------------


def test_template_is_split_once_into_text_and_placeholders(tmp_path: Path) -> None:
    m = load_body(
        tmp_path,
        """\
        env:
          URL:
            template: "pg://{{ user }}:{{pass}}@h/{{\tuser }}"
            from:
              user: {secret: 'creds#user'}
              pass: {secret: creds#password, version: 0123456789ABCDEF0123456789abcdef}
        """,
    )
    [entry] = m.env
    assert isinstance(entry.source, TemplateValue)
    assert entry.source.segments == (
        "pg://",
        Placeholder("user"),
        ":",
        Placeholder("pass"),
        "@h/",
        Placeholder("user"),
    )
    assert [name for name, _ in entry.source.parts] == ["user", "pass"]
    assert [ref.name for _, ref in m.references] == ["creds", "creds"]


@pytest.mark.parametrize(
    ("template", "parts", "key", "says"),
    [
        ("{{ user }}{{ host }}", "user: a", "env.URL.template", "{{ host }} names no `from:` entry"),
        ("{{ user }}", "user: a\n      pass: b", "env.URL.from.pass", "no placeholder {{ pass }}"),
        ("{{ user | upper }}", "user: a", "env.URL.template", "is not a placeholder"),
        ("{{ user + 1 }}", "user: a", "env.URL.template", "no expressions"),
        ("{{ user }} {{", "user: a", "env.URL.template", "is not a placeholder"),
        ("{{ user }}", "user: {template: x, from: {}}", "env.URL.from.user", "cannot be another template"),
        ("{{ 9x }}", "user: a", "env.URL.template", "is not a placeholder"),
    ],
)
def test_template_problems_name_the_key_and_line(
    tmp_path: Path, template: str, parts: str, key: str, says: str
) -> None:
    body = f"env:\n  URL:\n    template: '{template}'\n    from:\n      {parts}\n"
    problems = [p for p in problems_of(tmp_path, body) if p.key == key]
    assert problems, problems_of(tmp_path, body)
    assert says in problems[0].message
    assert problems[0].line is not None and problems[0].line > 9


@given(
    parts=st.lists(st.text(max_size=30), min_size=1, max_size=4),
    glue=st.text(alphabet=st.characters(blacklist_characters="{"), max_size=10),
)
def test_template_join_inserts_values_verbatim_and_never_scans_them(parts: list[str], glue: str) -> None:
    names = [f"p{i}" for i in range(len(parts))]
    segments: list[str | Placeholder] = []
    for name in names:
        segments += [glue, Placeholder(name)]
    refs = {name: SecretRef(name, f"s-{name}", None, None, "kv") for name in names}
    source = TemplateValue("-", tuple(segments), tuple((n, refs[n]) for n in names))
    fetched = {
        refs[n].fetch_key: FetchedSecret(Secret(v), SecretProperties(f"s-{n}", "v1"))
        for n, v in zip(names, parts, strict=True)
    }
    assert compose(source, fetched).value.reveal() == "".join(glue + v for v in parts)


# --- certificates -------------------------------------------------------------------------------


def test_certificate_entry_parses_name_format_and_pin(tmp_path: Path) -> None:
    m = load_body(
        tmp_path,
        "env:\n  TLS: {certificate: web_tls, format: pem, version: 0123456789abcdef0123456789abcdef}\n",
    )
    [entry] = m.env
    assert entry.source == CertificateRef(
        SecretRef("web_tls", "web-tls", None, "0123456789abcdef0123456789abcdef", "kv"), "pem"
    )


@pytest.mark.parametrize(
    ("entry", "key", "says"),
    [
        ("{certificate: web-tls}", "env.TLS.format", "needs `format:`"),
        ("{certificate: web-tls, format: pfx}", "env.TLS.format", "unknown format 'pfx'"),
        ("{certificate: 'web-tls#k', format: pem}", "env.TLS.certificate", "read whole"),
        ("{certificate: web-tls, format: pem, key: x}", "env.TLS.key", "unknown key 'key'"),
    ],
)
def test_certificate_problems(tmp_path: Path, entry: str, key: str, says: str) -> None:
    problems = problems_of(tmp_path, f"env:\n  TLS: {entry}\n")
    assert any(p.key == key and says in p.message for p in problems), problems


# --- env_from -----------------------------------------------------------------------------------


def test_env_from_stands_without_env_and_keeps_its_prefix_and_credential(tmp_path: Path) -> None:
    m = load_body(tmp_path, "env_from:\n  - {prefix: app_}\n  - {prefix: svc-, credential: kv}\n")
    assert m.env == ()
    assert m.env_from == (EnvFrom("app-", "kv", 11), EnvFrom("svc-", "kv", 12))
    assert m.used_credentials == ("kv",)


@pytest.mark.parametrize(
    ("body", "key", "says"),
    [
        ("env_from: {prefix: app-}\n", "env_from", "must be a list"),
        ("env_from:\n  - {prefix: 'app.'}\n", "env_from[0].prefix", "cannot start a Key Vault secret name"),
        ("env_from:\n  - {credential: kv}\n", "env_from[0].prefix", "needs `prefix:`"),
        ("env_from:\n  - {prefix: a-}\n  - {prefix: A-}\n", "env_from[1]", "the same prefix"),
        ("env_from:\n  - {prefix: a-, credential: nope}\n", "env_from[0].credential", "no credential named"),
        ("env_from:\n  - {prefix: a-, filter: x}\n", "env_from[0].filter", "unknown key"),
    ],
)
def test_env_from_problems(tmp_path: Path, body: str, key: str, says: str) -> None:
    problems = problems_of(tmp_path, body)
    assert any(p.key == key and says in p.message for p in problems), problems


def _props(name: str, *, enabled: bool = True) -> SecretProperties:
    return SecretProperties(name, "v1", enabled=enabled)


def test_expand_maps_names_by_the_spec_rule_and_skips_disabled_unless_kept(tmp_path: Path) -> None:
    m = load_body(tmp_path, "env:\n  A: a\nenv_from:\n  - {prefix: app-}\n")
    listing = (_props("App-Db-Password"), _props("app-off", enabled=False), _props("other-x"))
    out = expand(m, {"kv": listing})
    assert [(e.name, e.prefix) for e in out.manifest.env] == [("A", None), ("DB_PASSWORD", "app-")]
    assert out.skipped == ("app-off (disabled; env_from[0] (prefix app-))",)
    kept = expand(m, {"kv": listing}, keep={"OFF"})
    assert [e.name for e in kept.manifest.env] == ["A", "DB_PASSWORD", "OFF"]


@pytest.mark.parametrize(
    ("names", "says"),
    [
        (("app-a",), "env.A (line 11) already sets"),
        (("app-",), "'', which is not an env var name"),
        (("app-1a",), "'1A', which is not an env var name"),
        (("app-x", "app-y/z"), "not a secret name"),
    ],
)
def test_expand_refuses_collisions_and_bad_names_naming_both_sources(
    tmp_path: Path, names: tuple[str, ...], says: str
) -> None:
    m = load_body(tmp_path, "env:\n  A: a\nenv_from:\n  - {prefix: app-}\n")
    with pytest.raises(ManifestError) as info:
        expand(m, {"kv": tuple(_props(n) for n in names)})
    assert says in str(info.value)


# --- provenance ---------------------------------------------------------------------------------


def test_provenance_records_each_part_format_and_prefix_and_reads_them_back(tmp_path: Path) -> None:
    m = load_body(
        tmp_path,
        """\
        env:
          URL:
            template: "{{ u }}@{{ h }}"
            from: {u: {secret: creds#user}, h: db.internal}
          TLS: {certificate: web-tls, format: key}
        """,
    )
    resolved = ResolvedEnv(
        (
            Resolved(
                "URL", Secret("x"), m.env[0].source, None, None, (("u", SecretProperties("creds", "v7")),)
            ),
            Resolved("TLS", Secret("k"), m.env[1].source, "v3", SecretProperties("web-tls", "v3")),
            Resolved(
                "X_Y", Secret("s"), SecretRef("app-x-y", "app-x-y", None, None, "kv"), "v9", None, (), "app-"
            ),
        )
    )
    origins = from_resolved(resolved, m)
    back = {o.env: o for o in from_label(encode(origins))}
    assert back["URL"].kind == "template" and back["URL"].template == origins[0].template
    assert [(p.env, p.kind, p.secret, p.key, p.version) for p in back["URL"].parts] == [
        ("u", "secret", "creds", "user", "v7"),
        ("h", "literal", None, None, None),
    ]
    assert (back["TLS"].secret, back["TLS"].format, back["TLS"].version) == ("web-tls", "key", "v3")
    assert (back["X_Y"].secret, back["X_Y"].prefix, back["X_Y"].version) == ("app-x-y", "app-", "v9")
    assert "db.internal" not in encode(origins)  # the literal part is in the digest only


def test_template_of_literal_parts_only_needs_no_fetch() -> None:
    source = TemplateValue("{{ a }}", (Placeholder("a"),), (("a", LiteralValue("v")),))
    assert compose(source, {}).value.reveal() == "v"


# --- the example ----------------------------------------------------------------------------------

SHAPES_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shapes.yaml"


def test_the_shapes_example_plans_every_shape_and_says_env_from_names_come_at_bake_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from baker.cli import main

    assert main(["plan", "-f", str(SHAPES_EXAMPLE), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    sources = {row["env"]: row["source"] for row in document["env"]}
    assert sources == {
        "LOG_LEVEL": "literal",
        "DATABASE_URL": "template",
        "TLS_CERT": "certificate",
        "TLS_KEY": "certificate",
    }
    [url] = [row for row in document["env"] if row["env"] == "DATABASE_URL"]
    assert [(p["env"], p["source"], p["key"]) for p in url["parts"]] == [
        ("user", "secret", "username"),
        ("password", "secret", "password"),
        ("host", "literal", None),
    ]
    assert url["parts"][1]["shared_with"] == "user"  # one fetch of database-credentials
    assert document["env_from"] == [
        {
            "prefix": "app-",
            "credential": "demo",
            "vault_url": "https://demo.vault.localhost:8443",
            "names": None,
            "known": "at bake time",
        }
    ]
    assert main(["plan", "-f", str(SHAPES_EXAMPLE)]) == 0
    text = capsys.readouterr().out
    assert "env_from prefix app- (credential demo" in text and "names known at bake time" in text
    assert "{{ password }}" in text and "certificate (key)" in text
    assert main(["validate", "-f", str(SHAPES_EXAMPLE)]) == 0
    assert "1 env_from prefix (names known at bake time)" in capsys.readouterr().out


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
PLAIN = st.text(st.characters(blacklist_characters="{", blacklist_categories=("Cs",)), max_size=12)


@given(st.lists(st.tuples(PLAIN, NAMES, st.sampled_from(["", " ", "\t", "  "])), max_size=5), PLAIN)
def test_split_template_finds_exactly_the_placeholders_written(
    pieces: list[tuple[str, str, str]], tail: str
) -> None:
    from baker.manifest.credentials import ManifestChecker
    from baker.manifest.values import split_template
    from baker.manifest.yamltree import YItem, YScalar

    text = "".join(f"{plain}{{{{{pad}{name}{pad}}}}}" for plain, name, pad in pieces) + tail
    check = ManifestChecker("f", {})
    item = YItem("template", 1, YScalar(1, "tag:yaml.org,2002:str", text, text))
    segments = split_template(check, item, "env.X.template", text)
    assert check.problems == [] and segments is not None
    assert [s.name for s in segments if isinstance(s, Placeholder)] == [name for _, name, _ in pieces]
    assert "".join(s for s in segments if isinstance(s, str)) == "".join(p for p, _, _ in pieces) + tail


@given(
    PLAIN, st.sampled_from(["{{", "{{ a.b }}", "{{ a | b }}", "{{ 'x' }}", "{{}}", "{{ a b }}", "{{{ a }}}"])
)
def test_split_template_refuses_any_other_double_brace(plain: str, bad: str) -> None:
    from baker.manifest.credentials import ManifestChecker
    from baker.manifest.values import split_template
    from baker.manifest.yamltree import YItem, YScalar

    text = plain + bad
    check = ManifestChecker("f", {})
    item = YItem("template", 1, YScalar(1, "tag:yaml.org,2002:str", text, text))
    assert split_template(check, item, "env.X.template", text) is None
    assert "is not a placeholder" in check.problems[0].message
