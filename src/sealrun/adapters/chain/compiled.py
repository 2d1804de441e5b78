"""The compiled contracts shipped with the package (``artifacts/*.json``).

The contracts build writes ``artifacts/Hub.json`` and ``artifacts/Token.json`` (keys
``abi``, ``bytecode``, ``vyper_version``, ``sources_sha256``) and ``revert_reasons.json``;
this module reads them once per process. Error code: ``CHAIN_ARTIFACT_INVALID``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from eth_typing import ABI

from sealrun.adapters.chain.reverts import RevertTable
from sealrun.errors import ChainError

__all__ = ["ARTIFACTS", "CompiledContract", "compiled", "revert_table"]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@dataclass(frozen=True)
class CompiledContract:
    """One contract's ABI and deployment bytecode."""

    name: str
    abi: ABI = field(repr=False)
    bytecode: bytes = field(repr=False)
    vyper_version: str = ""


@functools.cache
def compiled(name: str) -> CompiledContract:
    """Return the compiled contract ``name`` (``"Hub"`` or ``"Token"``).

    Raises:
        ChainError: ``CHAIN_ARTIFACT_INVALID`` if the artifact is missing or malformed.
    """
    path = ARTIFACTS / f"{name}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        abi = document["abi"]
        code = str(document["bytecode"])
        bytecode = bytes.fromhex(code.removeprefix("0x"))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ChainError(
            f"the compiled contract {path} is missing or malformed ({type(error).__name__})",
            code="CHAIN_ARTIFACT_INVALID",
        ) from error
    if not isinstance(abi, list) or not bytecode:
        raise ChainError(
            f"the compiled contract {path} has no ABI or bytecode", code="CHAIN_ARTIFACT_INVALID"
        )
    return CompiledContract(
        name=name, abi=abi, bytecode=bytecode, vyper_version=str(document.get("vyper_version", ""))
    )


@functools.cache
def revert_table() -> RevertTable:
    """The contracts' revert-reason table (empty if the build did not produce one)."""
    path = ARTIFACTS / "revert_reasons.json"
    if not path.exists():
        return RevertTable.empty()
    return RevertTable.load(path)
