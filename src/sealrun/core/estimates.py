"""What a deal will cost and how long it should take, before anyone fills it (pure).

:func:`estimate_deal` takes the orders' prices, the volume, the chain's current gas price,
a gas table and the workerpool's recent task times (read by the SDK,
:mod:`sealrun.requester.estimates`) and returns an :class:`Estimate`:

- money, in the token's smallest unit: each party's price per task and in total, the
  requester's lock (price x volume) and the pool owner's stake (30% of the pool price per
  task, as the hub);
- gas, in wei at the given gas price: ``matchOrders`` (the requester sends it) and the
  settlement per task (the worker sends it; it is paid from the pool price, shown for
  information). :data:`GAS_TABLE` holds the figures ``benchmarks/gas.py`` measured on the
  embedded EVM (warm accounts);
- time: the median and the slowest of the pool's recent task times (match to settlement),
  or, without history, the category's maximum time as an upper bound.

Error code: ``CONFIG_ESTIMATE_INVALID`` (:class:`~sealrun.errors.ConfigError`) for a negative
price, gas price or time, or a volume out of range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from sealrun.errors import ConfigError

__all__ = ["GAS_TABLE", "MAX_VOLUME", "Estimate", "estimate_deal"]

#: Gas measured by ``benchmarks/gas.py`` (``uv run python benchmarks/gas.py --json``).
GAS_TABLE: Mapping[str, int] = MappingProxyType(
    {
        "match_with_dataset": 206_567,
        "match_without_dataset": 175_243,
        "match_with_grant": 208_537,
        "finalize": 80_595,
    }
)
#: Percent of the pool price the pool owner stakes per task (as the hub).
STAKE_RATIO = 30
#: A deal's volume is at most this (the market's bound on an order's volume is larger; an
#: estimate beyond it says nothing useful).
MAX_VOLUME = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """The figures ``sealrun estimate`` prints (see the module docstring)."""

    volume: int
    app_price: int
    dataset_price: int
    workerpool_price: int
    stake: int
    gas_price: int
    match_gas: int
    settle_gas: int
    task_seconds: int | None
    slowest_seconds: int | None
    samples: int
    max_seconds: int

    @property
    def task_price(self) -> int:
        """What one task costs the requester."""
        return self.app_price + self.dataset_price + self.workerpool_price

    def to_json(self) -> dict[str, object]:
        """One JSON object, every amount an integer."""
        return {
            "volume": self.volume,
            "prices": {
                "app": self.app_price,
                "dataset": self.dataset_price,
                "workerpool": self.workerpool_price,
                "task": self.task_price,
            },
            "requester_locks": self.task_price * self.volume,
            "payouts": {
                "app_owner": self.app_price * self.volume,
                "dataset_owner": self.dataset_price * self.volume,
                "workerpool": self.workerpool_price * self.volume,
            },
            "workerpool_stake": self.stake * self.volume,
            "gas": {
                "price_wei": self.gas_price,
                "match": self.match_gas,
                "match_wei": self.match_gas * self.gas_price,
                "settle_per_task": self.settle_gas,
                "settle_wei": self.settle_gas * self.gas_price * self.volume,
            },
            "time": {
                "task_seconds": self.task_seconds,
                "slowest_seconds": self.slowest_seconds,
                "samples": self.samples,
                "max_seconds": self.max_seconds,
            },
        }


def _median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) // 2


def estimate_deal(
    *,
    app_price: int,
    dataset_price: int,
    workerpool_price: int,
    volume: int,
    gas_price: int,
    task_times: Sequence[int],
    max_seconds: int,
    with_dataset: bool,
    with_grant: bool = False,
    gas_table: Mapping[str, int] = GAS_TABLE,
) -> Estimate:
    """Estimate a deal (see the module docstring).

    Raises:
        ConfigError: ``CONFIG_ESTIMATE_INVALID``.
    """
    prices = (app_price, dataset_price, workerpool_price)
    if any(p < 0 for p in prices) or gas_price < 0 or max_seconds < 0:
        raise ConfigError(
            "prices, the gas price and times cannot be negative", code="CONFIG_ESTIMATE_INVALID"
        )
    if not 0 < volume <= MAX_VOLUME:
        raise ConfigError(f"the volume must be 1 to {MAX_VOLUME}", code="CONFIG_ESTIMATE_INVALID")
    times = [t for t in task_times if t >= 0]
    kind = (
        "match_with_grant"
        if with_grant
        else "match_with_dataset"
        if with_dataset
        else "match_without_dataset"
    )
    return Estimate(
        volume=volume,
        app_price=app_price,
        dataset_price=dataset_price if with_dataset else 0,
        workerpool_price=workerpool_price,
        stake=workerpool_price * STAKE_RATIO // 100,
        gas_price=gas_price,
        match_gas=gas_table[kind],
        settle_gas=gas_table["finalize"],
        task_seconds=_median(times) if times else None,
        slowest_seconds=max(times) if times else None,
        samples=len(times),
        max_seconds=max_seconds,
    )
