"""Reading a bundle folder from disk: digests, refusals, fingerprint changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sealrun.adapters.bundlefiles import load_bundle
from sealrun.errors import EnclaveError

MANIFEST = '[app]\nname = "hello"\nentrypoint = ["python3", "app.py"]\nruntime = "python3"\n'


def _bundle(root: Path) -> Path:
    (root / "lib").mkdir(parents=True)
    (root / "sealrun-app.toml").write_text(MANIFEST)
    (root / "app.py").write_text("print('hi')\n")
    (root / "lib" / "helper.py").write_text("X = 1\n")
    return root


def test_load_lists_files_except_the_manifest(tmp_path: Path) -> None:
    bundle = load_bundle(_bundle(tmp_path))
    assert [f.path for f in sorted(bundle.files, key=lambda f: f.path)] == ["app.py", "lib/helper.py"]
    assert bundle.fingerprint_hex.startswith("0x")
    assert len(bundle.fingerprint) == 32
    assert load_bundle(tmp_path).fingerprint == bundle.fingerprint


def test_fingerprint_changes_with_a_file_a_mode_and_a_setting(tmp_path: Path) -> None:
    root = _bundle(tmp_path)
    seen = {load_bundle(root).fingerprint}
    (root / "lib" / "helper.py").write_text("X = 2\n")
    seen.add(load_bundle(root).fingerprint)
    (root / "app.py").chmod(0o755)
    seen.add(load_bundle(root).fingerprint)
    (root / "extra.txt").write_text("")
    seen.add(load_bundle(root).fingerprint)
    (root / "sealrun-app.toml").write_text(MANIFEST + "[resources]\nprocesses = 3\n")
    seen.add(load_bundle(root).fingerprint)
    assert len(seen) == 5
    (root / "sealrun-app.toml").write_text(
        "# only a comment added\n" + MANIFEST + "[resources]\nprocesses = 3\n"
    )
    assert load_bundle(root).fingerprint in seen


def test_symlinks_and_special_files_are_refused(tmp_path: Path) -> None:
    root = _bundle(tmp_path)
    (root / "shadow").symlink_to("/etc/shadow")
    with pytest.raises(EnclaveError) as caught:
        load_bundle(root)
    assert caught.value.code == "BUNDLE_INVALID"
    (root / "shadow").unlink()
    os.mkfifo(root / "fifo")
    with pytest.raises(EnclaveError) as caught:
        load_bundle(root)
    assert caught.value.code == "BUNDLE_INVALID"


def test_missing_folder_and_manifest(tmp_path: Path) -> None:
    with pytest.raises(EnclaveError) as caught:
        load_bundle(tmp_path / "nope")
    assert caught.value.code == "BUNDLE_NOT_FOUND"
    with pytest.raises(EnclaveError) as caught:
        load_bundle(tmp_path)
    assert caught.value.code == "BUNDLE_NO_MANIFEST"
    (tmp_path / "sealrun-app.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(EnclaveError) as caught:
        load_bundle(tmp_path)
    assert caught.value.code == "MANIFEST_NOT_TOML"


def test_symlinks_inside_the_bundle_are_kept_and_measured(tmp_path: Path) -> None:
    root = _bundle(tmp_path / "b")
    before = load_bundle(root).fingerprint
    (root / "node_modules" / ".bin").mkdir(parents=True)
    (root / "node_modules" / ".bin" / "helper").symlink_to("../../lib/helper.py")
    (root / "lib-link").symlink_to("lib")
    bundle = load_bundle(root)
    links = {f.path: f.link for f in bundle.files if f.link is not None}
    assert links == {"node_modules/.bin/helper": "../../lib/helper.py", "lib-link": "lib"}
    assert bundle.fingerprint != before
    (root / "lib-link").unlink()
    (root / "lib-link").symlink_to("lib/")
    assert load_bundle(root).fingerprint != bundle.fingerprint  # the target text is measured


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("shadow", "/etc/shadow"),
        ("up", "../outside"),
        ("dangling", "nothing-here"),
        # Lexically inside ("s/../outside" is "outside"), but s is the bundle itself, so the
        # kernel resolves s/.. to the bundle's parent: only the on-disk check sees it.
        ("via-link", "s/../outside"),
    ],
)
def test_symlinks_leaving_the_bundle_are_refused(tmp_path: Path, name: str, target: str) -> None:
    root = _bundle(tmp_path / "b")
    (tmp_path / "outside").write_text("secret")
    if name == "via-link":
        (root / "s").symlink_to(".")
    (root / name).symlink_to(target)
    with pytest.raises(EnclaveError) as caught:
        load_bundle(root)
    assert caught.value.code == "BUNDLE_INVALID"
