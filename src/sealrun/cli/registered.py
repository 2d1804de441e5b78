"""``show`` of a registered asset (app, dataset, workerpool): one shape for the three nouns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sealrun.cli.output import Output
from sealrun.cli.session import Session, parse_address
from sealrun.errors import ChainError

if TYPE_CHECKING:
    from sealrun.adapters.chain.registry import RegistryClient

T = TypeVar("T")


def show_registered(
    kind: str,
    address: str,
    *,
    read: Callable[[RegistryClient, str], T | None],
    fields: Callable[[T], dict[str, object]],
    unknown_code: str,
    chain: str | None,
    config: Path | None,
    json_out: bool,
) -> None:
    """Read the asset of ``kind`` at ``address`` from the registry and print ``fields`` of it.

    Raises:
        ConfigError: ``CONFIG_INVALID`` for an address that is not one; ChainError:
            ``unknown_code`` when nothing of ``kind`` is registered there.
    """
    out = Output(json_out)
    checked = parse_address(address, kind)
    found = read(Session.load(config, chain).market(wallet=False).registry, checked)
    if found is None:
        raise ChainError(f"no {kind} is registered at {checked}", code=unknown_code)
    out.result(fields(found))
