"""The sealrun-app.toml manifest: parsing, validation codes, canonical form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.bundles import AppManifest, Resources, parse_manifest
from sealrun.errors import EnclaveError

MINIMAL = '[app]\nname = "hello"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'


def test_minimal_manifest_fills_defaults() -> None:
    manifest = parse_manifest(MINIMAL)
    assert manifest == AppManifest(name="hello", entrypoint=("python3", "app.py"), runtime="python3")
    assert manifest.resources == Resources()
    assert manifest.resources.memory_bytes == 512 << 20


def test_full_manifest() -> None:
    text = MINIMAL + (
        "[resources]\nmemory_mb = 128\nprocesses = 8\nfile_size_mb = 2\noutput_size_mb = 3\n"
        'wall_time_s = 10\ntmp_size_mb = 4\n[outputs]\ndeclared = ["a.txt", "dir/b.bin"]\n'
    )
    manifest = parse_manifest(text)
    assert manifest.resources == Resources(128, 8, 2, 3, 10, 4)
    assert manifest.declared_outputs == ("a.txt", "dir/b.bin")


def test_canonical_ignores_comments_order_and_written_defaults() -> None:
    reordered = (
        '# a comment\n[resources]\nmemory_mb = 512\n[app]\nruntime = "python3"\n'
        'entrypoint = ["python3", "app.py"]\nname = "hello"\n'
    )
    assert parse_manifest(reordered).canonical() == parse_manifest(MINIMAL).canonical()


def test_canonical_bytes_are_documented_json() -> None:
    assert parse_manifest(MINIMAL).canonical() == (
        b'{"app":{"entrypoint":["python3","app.py"],"name":"hello","runtime":"python3"},'
        b'"outputs":{"declared":[]},"resources":{"file_size_mb":256,"memory_mb":512,'
        b'"output_size_mb":256,"processes":64,"tmp_size_mb":64,"wall_time_s":3600}}'
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not = [toml", "MANIFEST_NOT_TOML"),
        ("[resources]\nmemory_mb = 1\n", "MANIFEST_INVALID"),  # no [app]
        (MINIMAL.replace('"hello"', '"bad name!"'), "MANIFEST_INVALID"),
        (MINIMAL.replace('["python3", "app.py"]', "[]"), "MANIFEST_INVALID"),
        (MINIMAL.replace('["python3", "app.py"]', '"python3 app.py"'), "MANIFEST_INVALID"),
        (MINIMAL.replace('runtime = "python3"', 'runtime = "docker"'), "MANIFEST_INVALID"),
        (MINIMAL + "unknown = 1\n", "MANIFEST_INVALID"),
        (MINIMAL.replace("[app]", "[app]\nversion = 2"), "MANIFEST_INVALID"),
        (MINIMAL + "[resources]\nmemory_mb = 0\n", "MANIFEST_INVALID"),
        (MINIMAL + "[resources]\nmemory_mb = true\n", "MANIFEST_INVALID"),
        (MINIMAL + '[resources]\nprocesses = "8"\n', "MANIFEST_INVALID"),
        (MINIMAL + "[resources]\ngpu = 1\n", "MANIFEST_INVALID"),
        (MINIMAL + '[outputs]\ndeclared = ["../escape"]\n', "MANIFEST_INVALID"),
        (MINIMAL + '[outputs]\ndeclared = ["/abs"]\n', "MANIFEST_INVALID"),
        (MINIMAL + '[outputs]\ndeclared = ["a", "a"]\n', "MANIFEST_INVALID"),
    ],
)
def test_invalid_manifests_have_clear_codes(text: str, code: str) -> None:
    with pytest.raises(EnclaveError) as caught:
        parse_manifest(text)
    assert caught.value.code == code


@given(st.text(max_size=300))
def test_parse_never_raises_anything_but_enclave_errors(text: str) -> None:
    codes = set()
    try:
        parse_manifest(text)
    except EnclaveError as error:
        codes.add(error.code)
    assert codes <= {"MANIFEST_INVALID", "MANIFEST_NOT_TOML"}


@given(
    memory=st.integers(32, 4096),
    processes=st.integers(1, 4096),
    wall=st.integers(1, 100_000),
    args=st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=["Cs"]), min_size=1),
        min_size=1,
        max_size=4,
    ),
)
def test_canonical_round_trips_through_toml(memory: int, processes: int, wall: int, args: list[str]) -> None:
    import tomli_w

    manifest = AppManifest(
        name="x",
        entrypoint=tuple(args),
        runtime="native",
        resources=Resources(memory, processes, wall_time_s=wall),
    )
    assert parse_manifest(tomli_w.dumps(manifest.to_dict())) == manifest


_MINIMAL = '[app]\nname = "a"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'


def test_an_app_can_require_strict_isolation_and_only_then_its_canonical_form_changes() -> None:
    """``[isolation] require = "strict"`` (decision 0080): measured, so an enclave cannot drop it;
    ``any`` (or no table) keeps the canonical bytes, hence every fingerprint made before it."""
    plain = parse_manifest(_MINIMAL)
    assert not plain.requires_strict
    assert parse_manifest(_MINIMAL + '[isolation]\nrequire = "any"\n').canonical() == plain.canonical()
    strict = parse_manifest(_MINIMAL + '[isolation]\nrequire = "strict"\n')
    assert strict.requires_strict
    assert b'"isolation":{"require":"strict"}' in strict.canonical()
    assert strict.canonical() != plain.canonical()


@pytest.mark.parametrize(
    "table",
    ['[isolation]\nrequire = "session"\n', "[isolation]\nrequire = 1\n", '[isolation]\nmode = "strict"\n'],
)
def test_an_isolation_requirement_other_than_any_or_strict_is_refused(table: str) -> None:
    with pytest.raises(EnclaveError) as caught:
        parse_manifest(_MINIMAL + table)
    assert caught.value.code == "MANIFEST_INVALID"
