"""The bundle fingerprint: known answer, byte layout, and sensitivity to every input."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.bundles import (
    BundleFile,
    Resources,
    bundle_fingerprint,
    parse_manifest,
    runtime_identity,
)
from sealrun.errors import EnclaveError

MANIFEST = parse_manifest('[app]\nname = "hello"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n')
APP = b"print('hello')\n"
FILES = (
    BundleFile("app.py", hashlib.sha256(APP).digest(), len(APP)),
    BundleFile("lib/data.bin", hashlib.sha256(b"").digest(), 0, executable=True),
)
RUNTIME = runtime_identity("python3", "1")
# The known answer documented in docs/enclave.md ("Fingerprint: a worked example").
KNOWN_ANSWER = "bb0c453aded7c2a991fbf60aa7a425a75e4013a730ffd9dac29b809af5d3c9b8"


def test_runtime_identity_text() -> None:
    assert RUNTIME == "sealrun-enclave/1;sandbox=bubblewrap;runtime=python3"


def test_known_answer() -> None:
    assert bundle_fingerprint(MANIFEST, FILES, RUNTIME).hex() == KNOWN_ANSWER


def test_layout_spelled_out_byte_by_byte() -> None:
    canonical = MANIFEST.canonical()
    expected = hashlib.sha256(
        b"sealrun-bundle-v1\x00"
        + struct.pack(">I", len(canonical)) + canonical
        + struct.pack(">I", 2)
        + struct.pack(">H", 6) + b"app.py"
        + b"\x00" + struct.pack(">Q", len(APP)) + hashlib.sha256(APP).digest()
        + struct.pack(">H", 12) + b"lib/data.bin"
        + b"\x01" + struct.pack(">Q", 0) + hashlib.sha256(b"").digest()
        + struct.pack(">H", len(RUNTIME)) + RUNTIME.encode()
    ).digest()  # fmt: skip
    assert bundle_fingerprint(MANIFEST, FILES, RUNTIME) == expected


def test_file_order_does_not_matter() -> None:
    assert bundle_fingerprint(MANIFEST, FILES[::-1], RUNTIME) == bundle_fingerprint(MANIFEST, FILES, RUNTIME)


@pytest.mark.parametrize(
    "change",
    [
        lambda m, f, r: (m, (replace(f[0], sha256=hashlib.sha256(b"other").digest()), f[1]), r),
        lambda m, f, r: (m, (replace(f[0], path="app2.py"), f[1]), r),
        lambda m, f, r: (m, (f[0], replace(f[1], executable=False)), r),
        lambda m, f, r: (m, (replace(f[0], size=f[0].size + 1), f[1]), r),
        lambda m, f, r: (m, f[:1], r),
        lambda m, f, r: (m, (*f, BundleFile("new", hashlib.sha256(b"").digest(), 0)), r),
        lambda m, f, r: (replace(m, name="hello2"), f, r),
        lambda m, f, r: (replace(m, entrypoint=("python3", "-u", "app.py")), f, r),
        lambda m, f, r: (replace(m, runtime="native"), f, r),
        lambda m, f, r: (replace(m, resources=Resources(memory_mb=513)), f, r),
        lambda m, f, r: (replace(m, resources=Resources(processes=65)), f, r),
        lambda m, f, r: (replace(m, resources=Resources(file_size_mb=1)), f, r),
        lambda m, f, r: (replace(m, resources=Resources(output_size_mb=1)), f, r),
        lambda m, f, r: (replace(m, resources=Resources(wall_time_s=1)), f, r),
        lambda m, f, r: (replace(m, resources=Resources(tmp_size_mb=1)), f, r),
        lambda m, f, r: (replace(m, declared_outputs=("out.txt",)), f, r),
        lambda m, f, r: (m, f, runtime_identity("python3", "2")),
    ],
)
def test_any_change_changes_the_fingerprint(change) -> None:  # type: ignore[no-untyped-def]
    before = bundle_fingerprint(MANIFEST, FILES, RUNTIME)
    assert bundle_fingerprint(*change(MANIFEST, FILES, RUNTIME)) != before


def test_duplicate_and_manifest_entries_are_refused() -> None:
    with pytest.raises(EnclaveError, match="twice") as caught:
        bundle_fingerprint(MANIFEST, (*FILES, FILES[0]), RUNTIME)
    assert caught.value.code == "BUNDLE_INVALID"
    with pytest.raises(EnclaveError):
        bundle_fingerprint(MANIFEST, (BundleFile("sealrun-app.toml", bytes(32), 0),), RUNTIME)


@pytest.mark.parametrize("path", ["", "/abs", "a/../b", "./a", "a//b", "a\0b", "a/"])
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(EnclaveError) as caught:
        BundleFile(path, bytes(32), 0)
    assert caught.value.code == "BUNDLE_INVALID"


_names = st.text(alphabet="abcdefgh./_", min_size=1, max_size=12).filter(
    lambda p: all(s not in ("", ".", "..") for s in p.split("/"))
)


@given(st.dictionaries(_names, st.binary(max_size=16), min_size=1, max_size=6), st.data())
def test_changing_one_file_content_always_changes_it(contents: dict[str, bytes], data: st.DataObject) -> None:
    files = [BundleFile(p, hashlib.sha256(c).digest(), len(c)) for p, c in contents.items()]
    victim = data.draw(st.sampled_from(sorted(contents)))
    new = data.draw(st.binary(max_size=16).filter(lambda b: b != contents[victim]))
    changed = [
        BundleFile(f.path, hashlib.sha256(new).digest(), len(new)) if f.path == victim else f for f in files
    ]
    assert bundle_fingerprint(MANIFEST, files, RUNTIME) != bundle_fingerprint(MANIFEST, changed, RUNTIME)


def test_a_symlink_is_measured_by_its_target_text_with_its_own_mode() -> None:
    link = BundleFile.symlink("bin/run", "../app.py")
    expected = hashlib.sha256(
        b"sealrun-bundle-v1\x00"
        + struct.pack(">I", len(MANIFEST.canonical())) + MANIFEST.canonical()
        + struct.pack(">I", 3)
        + struct.pack(">H", 6) + b"app.py"
        + b"\x00" + struct.pack(">Q", len(APP)) + hashlib.sha256(APP).digest()
        + struct.pack(">H", 7) + b"bin/run"
        + b"\x02" + struct.pack(">Q", 9) + hashlib.sha256(b"../app.py").digest()
        + struct.pack(">H", 12) + b"lib/data.bin"
        + b"\x01" + struct.pack(">Q", 0) + hashlib.sha256(b"").digest()
        + struct.pack(">H", len(RUNTIME)) + RUNTIME.encode()
    ).digest()  # fmt: skip
    assert bundle_fingerprint(MANIFEST, [*FILES, link], RUNTIME) == expected
    # Re-pointing the link, or a regular file holding the same text, measures differently.
    other = BundleFile.symlink("bin/run", "../lib/data.bin")
    as_file = BundleFile("bin/run", hashlib.sha256(b"../app.py").digest(), 9)
    prints = {bundle_fingerprint(MANIFEST, [*FILES, entry], RUNTIME) for entry in (link, other, as_file)}
    assert len(prints) == 3
    assert bundle_fingerprint(MANIFEST, FILES, RUNTIME).hex() == KNOWN_ANSWER


@pytest.mark.parametrize(
    ("path", "target"),
    [("a", "/etc/shadow"), ("a", ".."), ("a/b", "../../x"), ("a", "b/../../x"), ("a", ""), ("a", "x" * 4097)],
)
def test_symlinks_leaving_the_bundle_are_refused(path: str, target: str) -> None:
    with pytest.raises(EnclaveError) as caught:
        BundleFile.symlink(path, target)
    assert caught.value.code == "BUNDLE_INVALID"


def test_a_symlink_entry_must_carry_its_target_digest() -> None:
    with pytest.raises(EnclaveError) as caught:
        BundleFile("a", hashlib.sha256(b"x").digest(), 1, link="b")
    assert caught.value.code == "BUNDLE_INVALID"
