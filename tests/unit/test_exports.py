"""Guards the SDK facade: what ``sealrun`` exports is deliberate."""

from __future__ import annotations

import sealrun


def test_all_is_sorted_and_unique() -> None:
    assert list(sealrun.__all__) == sorted(set(sealrun.__all__))


def test_every_exported_name_resolves_and_is_public() -> None:
    for name in sealrun.__all__:
        assert not name.startswith("_")
        assert getattr(sealrun, name) is not None


def test_nothing_public_is_left_out() -> None:
    public = {name for name in vars(sealrun) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(sealrun, name)).__name__ == "module"}
    assert public - modules == set(sealrun.__all__)


def test_errors_carry_stable_codes() -> None:
    error = sealrun.SealError("bad tag", code="SEAL_TAMPERED")
    assert error.code == "SEAL_TAMPERED"
    assert str(error) == "bad tag"
    assert isinstance(error, sealrun.SealrunError)
    assert sealrun.UnpackError("x").code == "UNPACK_REFUSED"
