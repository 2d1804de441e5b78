"""Guards the SDK facade: what ``sealrun`` exports is deliberate, and importing it is cheap."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sealrun

FACADE = Path(sealrun.__file__)


def test_all_is_sorted_and_unique() -> None:
    assert list(sealrun.__all__) == sorted(set(sealrun.__all__))


def test_every_exported_name_resolves_and_is_public() -> None:
    for name in sealrun.__all__:
        assert not name.startswith("_")
        assert getattr(sealrun, name) is not None


def test_type_checking_imports_match_the_lazy_table() -> None:
    tree = ast.parse(FACADE.read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    typed = {
        alias.name: node.module
        for node in guarded.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert typed == sealrun._ORIGIN
    assert set(typed) == set(sealrun.__all__)


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError):
        sealrun.NoSuchThing  # noqa: B018


def test_importing_the_facade_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, sealrun; "
        "print(','.join(m for m in ('web3', 'sqlalchemy', 'fastapi') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


def test_errors_carry_stable_codes() -> None:
    error = sealrun.SealError("bad tag", code="SEAL_TAMPERED")
    assert error.code == "SEAL_TAMPERED"
    assert str(error) == "bad tag"
    assert isinstance(error, sealrun.SealrunError)
    assert sealrun.UnpackError("x").code == "UNPACK_REFUSED"
