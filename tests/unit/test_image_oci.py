"""The pure transform of `--in-registry`: base config/manifest/index in, baked bytes out."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from baker.errors import ImageError
from baker.image import oci

AWKWARD = {
    "PEM": "-----BEGIN KEY-----\nabc\r\ndef\n-----END KEY-----\n",
    "QUOTES": "'single' \"double\" `back`",
    "DOLLAR": "$HOME ${PATH} $$",
    "BACKSLASH": "a\\b\\\\c\\n",
    "UNICODE": "ünï©ødé 😀 \u2028",
    "EMPTY": "",
    "SPACES": "  leading and trailing  ",
    "PATH": "/baked/bin",
}

BASE_CONFIG: dict[str, Any] = {
    "architecture": "arm64",
    "os": "linux",
    "variant": "v8",
    "created": "2020-01-01T00:00:00Z",
    "author": "someone",
    "config": {
        "Env": ["PATH=/usr/local/bin:/usr/bin", "LANG=C.UTF-8", "PEM=base-pem", "KEEP=1"],
        "Cmd": ["sh", "-c", "echo hi"],
        "Entrypoint": ["/entry"],
        "WorkingDir": "/srv",
        "User": "1000:1000",
        "Labels": {"org.example": "x"},
        "ExposedPorts": {"80/tcp": {}},
        "StopSignal": "SIGQUIT",
    },
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "a" * 64, "sha256:" + "b" * 64]},
    "history": [{"created_by": "ADD rootfs"}, {"created_by": "ADD more"}],
    "x-unknown": {"nested": [1, 2.5, None, True]},
}


def _bake(base: dict[str, Any] = BASE_CONFIG, env: dict[str, str] = AWKWARD) -> dict[str, Any]:
    blob = oci.bake_config(
        json.dumps(base).encode(),
        list(env.items()),
        {"dev.baker.provenance": '{"v":1}'},
        created="2026-11-30T12:00:00.000000Z",
        comment="baked by baker",
        media_type="application/vnd.oci.image.config.v1+json",
    )
    return dict(json.loads(blob.data))


def test_every_awkward_value_arrives_byte_exact_in_env() -> None:
    env = dict(item.split("=", 1) for item in _bake()["config"]["Env"])
    for name, value in AWKWARD.items():
        assert env[name] == value


def test_baked_variable_replaces_base_variable_in_place_and_new_ones_follow_in_manifest_order() -> None:
    names = [item.split("=", 1)[0] for item in _bake()["config"]["Env"]]
    assert names == [
        "PATH",
        "LANG",
        "PEM",
        "KEEP",
        "QUOTES",
        "DOLLAR",
        "BACKSLASH",
        "UNICODE",
        "EMPTY",
        "SPACES",
    ]


def test_merge_env_drops_later_duplicates_of_a_baked_name() -> None:
    merged = oci.merge_env(["A=1", "B=2", "A=3"], [("A", "new"), ("C", "c")])
    assert merged == ["A=new", "B=2", "C=c"]


def test_base_config_is_kept_except_env_labels_created_and_history() -> None:
    baked = _bake()
    for key in ("architecture", "os", "variant", "author", "rootfs", "x-unknown"):
        assert baked[key] == BASE_CONFIG[key]
    for key in ("Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "StopSignal"):
        assert baked["config"][key] == BASE_CONFIG["config"][key]
    assert baked["config"]["Labels"] == {"org.example": "x", "dev.baker.provenance": '{"v":1}'}
    assert baked["created"] == "2026-11-30T12:00:00.000000Z"


def test_history_gets_one_empty_layer_entry_naming_the_variables() -> None:
    history = _bake()["history"]
    assert history[:2] == BASE_CONFIG["history"]
    assert history[2] == {
        "created": "2026-11-30T12:00:00.000000Z",
        "created_by": "baker: ENV PEM QUOTES DOLLAR BACKSLASH UNICODE EMPTY SPACES PATH"
        " (values from Key Vault)",
        "empty_layer": True,
        "comment": "baked by baker",
    }


def _forms(value: str) -> set[str]:
    raw = value.encode()
    return {
        f
        for f in {
            value,
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
            base64.b64encode(raw).decode(),
            raw.hex(),
            hashlib.sha256(raw).hexdigest(),
        }
        if len(f) >= 6
    }


def test_no_value_appears_in_the_config_outside_env() -> None:
    baked = _bake()
    del baked["config"]["Env"]
    text = json.dumps(baked) + json.dumps(baked, ensure_ascii=False)
    for name, value in AWKWARD.items():
        if name == "PATH":  # also a base value
            continue
        for form in _forms(value):
            assert form not in text, name


def test_config_without_env_labels_or_history_gets_them() -> None:
    baked = _bake(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}, {"A": "1"}
    )
    assert baked["config"]["Env"] == ["A=1"]
    assert baked["config"]["Labels"] == {"dev.baker.provenance": '{"v":1}'}
    assert len(baked["history"]) == 1


@pytest.mark.parametrize(
    "raw", [b"[]", b"not json", b'{"config": []}', b'{"config": {"Env": "x"}}', b"[" * 100000]
)
def test_a_malformed_base_config_is_an_image_error(raw: bytes) -> None:
    with pytest.raises(ImageError):
        oci.bake_config(raw, [("A", "1")], {}, created="c", comment="c", media_type="m")


def test_blob_repr_never_shows_its_bytes() -> None:
    blob = oci.Blob(b'{"config":{"Env":["A=SECRET-VALUE"]}}', "m")
    assert "SECRET" not in repr(blob)
    assert blob.digest in repr(blob)


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
# Every value a process environment can carry: any text but NUL and lone surrogates.
_BAKEABLE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@given(st.dictionaries(_NAMES, _BAKEABLE, max_size=6))
def test_any_value_round_trips_through_the_serialized_config(env: dict[str, str]) -> None:
    blob = oci.bake_config(b"{}", list(env.items()), {}, created="c", comment="c", media_type="m")
    assert blob.data.isascii()
    assert blob.digest == "sha256:" + hashlib.sha256(blob.data).hexdigest()
    baked = json.loads(blob.data)["config"]["Env"]
    assert dict(item.split("=", 1) for item in baked) == env


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_a_base_config_are_refused_as_not_json(constant: str) -> None:
    raw = ('{"config":{},"x":' + constant + "}").encode()
    with pytest.raises(ImageError, match="not a JSON object"):
        oci.bake_config(raw, [("A", "1")], {}, created="c", comment="c", media_type="m")


def test_every_number_in_a_base_config_is_written_back_as_the_base_wrote_it() -> None:
    numbers = ["-0", "1E+2", "1e999", "2.50", "0.10000000000000000001", "9" * 5000, "-12.5e-3"]
    raw = ('{"config":{"Env":[]},"n":[' + ",".join(numbers) + '],"m":{"k":-0.0}}').encode()
    data = oci.bake_config(raw, [("A", "1")], {}, created="c", comment="c", media_type="m").data
    assert b'"n":[' + ",".join(numbers).encode() + b"]" in data
    assert b'"m":{"k":-0.0}' in data
    assert oci.parse_config(data)["n"] == numbers


json_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=6), json_trees, max_size=5))
def test_serialize_writes_what_json_dumps_writes_for_a_document_without_kept_numbers(
    document: dict[str, Any],
) -> None:
    assert oci.serialize(document) == json.dumps(document, separators=(",", ":")).encode()


LAYER = {
    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
    "digest": "sha256:" + "c" * 64,
    "size": 10,
}


def test_manifest_keeps_media_type_layers_and_annotations_and_points_at_the_new_config() -> None:
    base: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": oci.DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": "sha256:0",
            "size": 1,
        },
        "layers": [LAYER],
        "annotations": {"a": "b"},
    }
    config = oci.Blob(b"{}", "application/vnd.docker.container.image.v1+json")
    baked = oci.bake_manifest(base, config, oci.DOCKER_MANIFEST)
    document = json.loads(baked.data)
    assert document["mediaType"] == oci.DOCKER_MANIFEST
    assert document["layers"] == [LAYER]
    assert document["annotations"] == {"a": "b"}
    assert document["config"] == {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "digest": config.digest,
        "size": 2,
    }
    assert base["config"]["digest"] == "sha256:0"  # the base is not changed


def _entry(digest: str, os: str, arch: str, **extra: Any) -> dict[str, Any]:
    return {
        "mediaType": oci.OCI_MANIFEST,
        "digest": digest,
        "size": 5,
        "platform": {"os": os, "architecture": arch},
        **extra,
    }


def test_index_points_each_platform_at_its_baked_manifest_and_drops_attestations() -> None:
    attestation = _entry(
        "sha256:att", "unknown", "unknown", annotations={"vnd.docker.reference.type": "attestation-manifest"}
    )
    base = {
        "schemaVersion": 2,
        "mediaType": oci.OCI_INDEX,
        "manifests": [
            _entry("sha256:amd", "linux", "amd64"),
            _entry("sha256:arm", "linux", "arm64"),
            attestation,
        ],
        "annotations": {"org.opencontainers.image.ref.name": "x"},
    }
    amd, arm = oci.Blob(b"amd", oci.OCI_MANIFEST), oci.Blob(b"arm64", oci.OCI_MANIFEST)
    document = json.loads(oci.bake_index(base, {"sha256:amd": amd, "sha256:arm": arm}, oci.OCI_INDEX).data)
    assert [(e["digest"], e["size"], e["platform"]) for e in document["manifests"]] == [
        (amd.digest, 3, {"os": "linux", "architecture": "amd64"}),
        (arm.digest, 5, {"os": "linux", "architecture": "arm64"}),
    ]
    assert document["annotations"] == base["annotations"]
    assert document["mediaType"] == oci.OCI_INDEX


@pytest.mark.parametrize(
    ("entry", "attestation"),
    [
        (_entry("d", "unknown", "unknown"), True),
        (
            _entry("d", "linux", "amd64", annotations={"vnd.docker.reference.type": "attestation-manifest"}),
            True,
        ),
        (_entry("d", "linux", "amd64"), False),
        (_entry("d", "windows", "amd64"), False),
    ],
)
def test_attestation_entries_are_recognised(entry: dict[str, Any], attestation: bool) -> None:
    assert oci.is_attestation(entry) is attestation


def test_an_index_entry_baker_cannot_bake_is_an_error_not_dropped() -> None:
    nested = {
        "mediaType": oci.OCI_INDEX,
        "digest": "sha256:x",
        "size": 1,
        "platform": {"os": "linux", "architecture": "amd64"},
    }
    with pytest.raises(ImageError, match="cannot bake"):
        oci.image_entries({"manifests": [nested]})


def test_an_index_of_attestations_only_is_an_error() -> None:
    with pytest.raises(ImageError, match="only attestations"):
        oci.image_entries({"manifests": [_entry("sha256:d", "unknown", "unknown")]})


@pytest.mark.parametrize("digest", ["d", "sha256:", "sha256:ab\n::error::x", "sha256:ab ##vso[x]", 5])
def test_a_digest_outside_the_oci_grammar_is_refused_before_any_message_names_it(digest: Any) -> None:
    with pytest.raises(ImageError, match="without a digest") as caught:
        oci.image_entries({"manifests": [_entry(digest, "linux", "amd64")]})
    assert "error" not in caught.value.message and "vso" not in caught.value.message
    with pytest.raises(ImageError, match="without a digest"):
        oci.layer_descriptors({"layers": [{**LAYER, "digest": digest}]})


def test_a_hostile_media_type_or_platform_is_named_escaped() -> None:
    entry = _entry("sha256:d", "linux\n##vso[task]", "amd64", mediaType="x\x1b[31m")
    with pytest.raises(ImageError, match="cannot bake") as caught:
        oci.image_entries({"manifests": [entry]})
    assert "\n" not in caught.value.message and "\x1b" not in caught.value.message
    assert "##vso[" not in caught.value.message


@pytest.mark.parametrize(
    ("platform", "name"),
    [
        ({"os": "linux", "architecture": "amd64"}, "linux/amd64"),
        ({"os": "linux", "architecture": "arm", "variant": "v7"}, "linux/arm/v7"),
        (None, "unknown"),
    ],
)
def test_platform_names_read_as_docker_writes_them(platform: Any, name: str) -> None:
    assert oci.platform_name(platform) == name


@pytest.mark.parametrize(
    ("document", "content_type", "expected"),
    [
        ({"mediaType": oci.DOCKER_LIST}, "", oci.DOCKER_LIST),
        ({}, oci.DOCKER_MANIFEST + "; charset=utf-8", oci.DOCKER_MANIFEST),
        ({"manifests": []}, "application/json", oci.OCI_INDEX),
        ({"layers": []}, "", oci.OCI_MANIFEST),
    ],
)
def test_media_type_is_the_documents_own_else_the_content_type(
    document: dict[str, Any], content_type: str, expected: str
) -> None:
    assert oci.media_type_of(document, content_type) == expected


@given(st.text(max_size=8), st.sampled_from(["\x00", "\ud800", "\udfff"]), st.text(max_size=8))
def test_a_value_with_a_nul_or_a_lone_surrogate_is_refused_naming_the_variable_never_the_value(
    before: str, odd: str, after: str
) -> None:
    value = before + odd + after + "-c4n4ry"
    with pytest.raises(ImageError) as caught:
        oci.bake_config(b"{}", [("OK", "fine"), ("ODD", value)], {}, created="c", comment="c", media_type="m")
    assert caught.value.message.startswith("ODD: ")
    assert "c4n4ry" not in caught.value.message and "c4n4ry" not in str(caught.value.hint)


def test_render_and_the_pure_bake_refuse_a_value_in_the_same_words() -> None:
    from baker.errors import RenderError
    from baker.render import render_texts

    for value in ("a\x00b", "a\ud800b"):
        with pytest.raises(RenderError) as rendered:
            render_texts({"ODD": value}, base="busybox:1", labels={}, tags=[])
        with pytest.raises(ImageError) as baked:
            oci.bake_config(b"{}", [("ODD", value)], {}, created="c", comment="c", media_type="m")
        assert (rendered.value.message, rendered.value.hint) == (baked.value.message, baked.value.hint)


def _manifest(**extra: Any) -> dict[str, Any]:
    config = {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:" + "c" * 64,
        "size": 2,
    }
    layer = {
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
        "digest": "sha256:" + "d" * 64,
        "size": 3,
    }
    return {"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST, "config": config, "layers": [layer], **extra}


@pytest.mark.parametrize(
    ("document", "keys"),
    [
        ({**BASE_CONFIG, "config": {**BASE_CONFIG["config"], "env": ["A=base"]}}, ("Env", "env")),
        ({**BASE_CONFIG, "Config": {"Env": ["A=base"]}}, ("config", "Config")),
        ({**BASE_CONFIG, "config": {**BASE_CONFIG["config"], "ENV": []}}, ("Env", "ENV")),
        # Go folds beyond ASCII: LONG S is `s`, KELVIN SIGN is `k`.
        ({**BASE_CONFIG, "config": {**BASE_CONFIG["config"], "Label\u017f": {}}}, ("Labels", "Label\u017f")),
        ({**BASE_CONFIG, "histor\u0079": [], "Hi\u017ftory": []}, ("history", "Hi\u017ftory")),
        ({**BASE_CONFIG, "rootFS": {}}, ("rootfs", "rootFS")),
    ],
)
def test_a_config_with_keys_go_reads_as_one_field_is_refused_naming_both(
    document: dict[str, Any], keys: tuple[str, str]
) -> None:
    with pytest.raises(ImageError, match="differ only in case") as caught:
        oci.bake_config(
            json.dumps(document).encode(), [("A", "1")], {}, created="c", comment="c", media_type="m"
        )
    assert all(f"`{key}`" in caught.value.message for key in keys)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({k: v for k, v in BASE_CONFIG.items() if k != "config"} | {"CONFIG": {"Env": []}}, "config"),
        ({**BASE_CONFIG, "config": {"ENV": ["A=1"]}}, "Env"),
        ({**BASE_CONFIG, "config": {"labels": {}}}, "Labels"),
    ],
)
def test_a_config_spelling_a_field_baker_edits_in_another_case_is_refused(
    document: dict[str, Any], field: str
) -> None:
    with pytest.raises(ImageError, match=f"spells `{field}` as"):
        oci.bake_config(
            json.dumps(document).encode(), [("A", "1")], {}, created="c", comment="c", media_type="m"
        )


def test_map_keys_that_differ_only_in_case_are_kept_since_go_reads_maps_exactly() -> None:
    config = {
        **BASE_CONFIG["config"],
        "Labels": {"a": "1", "A": "2"},
        "ExposedPorts": {"80/TCP": {}, "80/tcp": {}},
    }
    baked = _bake({**BASE_CONFIG, "config": config})
    assert baked["config"]["Labels"]["a"] == "1" and baked["config"]["Labels"]["A"] == "2"
    assert set(baked["config"]["ExposedPorts"]) == {"80/TCP", "80/tcp"}


@pytest.mark.parametrize(
    "manifest",
    [
        _manifest(Config={"mediaType": "x", "digest": "sha256:" + "e" * 64, "size": 2}),
        _manifest(Layers=[]),
        _manifest(mediatype=oci.OCI_MANIFEST),
        {**_manifest(), "config": {**_manifest()["config"], "Digest": "sha256:" + "e" * 64}},
        {**_manifest(), "layers": [{**_manifest()["layers"][0], "DIGEST": "sha256:" + "e" * 64}]},
    ],
)
def test_a_manifest_with_keys_go_reads_as_one_field_is_refused(manifest: dict[str, Any]) -> None:
    config = oci.Blob(b"{}", "m")
    with pytest.raises(ImageError, match="differ only in case"):
        oci.bake_manifest(manifest, config, oci.OCI_MANIFEST)


@pytest.mark.parametrize(
    "entry",
    [
        {"Digest": "sha256:" + "e" * 64},
        {"platform": {"os": "linux", "architecture": "amd64", "OS": "windows"}},
        {"Platform": {"os": "unknown", "architecture": "unknown"}},
        {"\u212aind": "x", "kind": "y"},  # KELVIN SIGN: Go folds it to `k` (an unknown key twice)
    ],
)
def test_an_index_with_keys_go_reads_as_one_field_is_refused(entry: dict[str, Any]) -> None:
    base = {
        "mediaType": oci.OCI_MANIFEST,
        "digest": "sha256:" + "a" * 64,
        "size": 10,
        "platform": {"os": "linux", "architecture": "amd64"},
    }
    index = {"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": [{**base, **entry}]}
    with pytest.raises(ImageError, match="case"):
        oci.image_entries(index)


def test_a_baked_config_over_what_clients_read_is_refused_naming_its_size_only() -> None:
    value = "v" * (oci.CONFIG_MAX // 2)
    with pytest.raises(ImageError, match=r"baked config would be 4\.0 MiB, over the 4 MiB") as caught:
        oci.bake_config(b"{}", [("A", value), ("B", value)], {}, created="c", comment="c", media_type="m")
    assert "vvvv" not in caught.value.message


@pytest.mark.parametrize(
    "raw",
    [
        b'{"config":{"Env":["A=base"],"Entrypoint":["/e"]},"config":{"Cmd":["sh"]}}',
        b'{"config":{"Env":[],"Labels":{"k":"1","k":"2"}}}',
        b'{"x":[{"a":1,"a":2}]}',
    ],
)
def test_a_config_with_a_key_written_twice_in_one_object_is_refused_naming_it(raw: bytes) -> None:
    """Go merges the two objects into one field (the first's Entrypoint and the second's Cmd), Python
    keeps the last: no reading of it could be sure to run what baker bakes."""
    with pytest.raises(ImageError, match="twice in one object"):
        oci.bake_config(raw, [("A", "1")], {}, created="c", comment="c", media_type="m")


def test_a_manifest_with_a_key_written_twice_is_refused_and_other_json_left_to_its_parser() -> None:
    with pytest.raises(ImageError, match="`digest` twice"):
        oci.check_duplicates(b'{"config":{"digest":"sha256:1","digest":"sha256:2"}}', "manifest")
    oci.check_duplicates(b"not json", "manifest")  # the caller's own parse says what it is


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("kind", "\u212aind"),  # KELVIN SIGN: Go's caseOrbit {K, k, U+212A}
        ("class", "clas\u017f"),  # LONG S: {S, s, U+017F}
        ("\u00e5", "\u212b"),  # ANGSTROM SIGN folds to a with ring
        ("\u03c9", "\u2126"),  # OHM SIGN folds to omega
        ("\u00df", "\u1e9e"),  # capital sharp s folds to sharp s
        ("\u03b9", "\u0345"),  # COMBINING GREEK YPOGEGRAMMENI: {U+0345, U+0399, U+03B9, U+1FBE}
    ],
)
def test_keys_go_folds_together_beyond_ascii_are_one_field(one: str, other: str) -> None:
    with pytest.raises(ImageError, match="differ only in case"):
        oci.check_keys({one: 1, other: 2}, "config", ())


@pytest.mark.parametrize(("one", "other"), [("i", "\u0130"), ("I", "\u0131")])
def test_dotted_and_dotless_i_are_not_folded_with_i_as_go_does_not(one: str, other: str) -> None:
    """Go's caseOrbit holds U+0130 and U+0131 alone (only Turkic folding joins them to i and I)."""
    oci.check_keys({one: 1, other: 2}, "config", ())
