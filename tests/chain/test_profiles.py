"""The project config: chain profiles read and written atomically, validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealrun.adapters.profiles import ChainProfile, ProjectConfig, default_config
from sealrun.errors import ConfigError

HUB = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_default_config_round_trips_with_a_deployed_profile(tmp_path: Path) -> None:
    path = tmp_path / "sealrun.toml"
    config = default_config(path, embedded_url="http://127.0.0.1:8545", anvil_url="http://127.0.0.1:8546")
    config.save()
    deployed = ChainProfile(
        "anvil", "anvil", "http://127.0.0.1:8546", hub=HUB.lower(), token=HUB, chain_id=31337
    )
    config.with_profile(deployed).save()
    loaded = ProjectConfig.load(path)
    assert loaded.profile == "embedded"
    assert loaded.chain("anvil").deployed() == (HUB, HUB)
    assert loaded.wallet_dir == tmp_path / "wallets"
    assert not list(tmp_path.glob(".sealrun.*"))  # no temp file left behind


def test_custom_rpc_profile_is_selected(tmp_path: Path) -> None:
    config = default_config(
        tmp_path / "s.toml", embedded_url="http://a:1", anvil_url="http://b:2", rpc_url="https://rpc"
    )
    assert config.chain().name == "custom"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not toml = = 1", "CONFIG_INVALID"),
        ('[profiles.x]\nkind = "moon"\nrpc_url = "http://a"\n[project]\nprofile = "x"', "CONFIG_INVALID"),
        ('[profiles.x]\nkind = "custom"\nrpc_url = "ftp://a"\n[project]\nprofile = "x"', "CONFIG_INVALID"),
        (
            '[profiles.x]\nkind = "custom"\nrpc_url = "http://a"\nhub = "0x12"\n[project]\nprofile = "x"',
            "CONFIG_INVALID",
        ),
        (
            '[profiles.x]\nkind = "custom"\nrpc_url = "http://a"\n[project]\nprofile = "y"',
            "PROFILE_NOT_FOUND",
        ),
    ],
)
def test_bad_configs_are_refused_with_a_reason(tmp_path: Path, text: str, code: str) -> None:
    path = tmp_path / "sealrun.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        ProjectConfig.load(path)
    assert caught.value.code == code


def test_missing_config_and_undeployed_profile(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        ProjectConfig.load(tmp_path / "nope.toml")
    assert missing.value.code == "CONFIG_NOT_FOUND"
    with pytest.raises(ConfigError) as undeployed:
        ChainProfile("e", "embedded", "http://a").deployed()
    assert undeployed.value.code == "PROFILE_NOT_DEPLOYED"
