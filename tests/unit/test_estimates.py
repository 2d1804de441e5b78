"""The pure deal estimate: prices, stake, gas at a fee and time from a pool's history."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sealrun.core.estimates import GAS_TABLE, MAX_VOLUME, estimate_deal
from sealrun.errors import ConfigError


def _estimate(**changes: Any) -> Any:
    values: dict[str, Any] = {
        "app_price": 5, "dataset_price": 3, "workerpool_price": 100, "volume": 4, "gas_price": 7,
        "task_times": [30, 10, 20, 40], "max_seconds": 1200, "with_dataset": True,
    }  # fmt: skip
    values.update(changes)
    return estimate_deal(**values)


def test_the_figures_of_a_deal() -> None:
    found = _estimate().to_json()
    assert found["prices"] == {"app": 5, "dataset": 3, "workerpool": 100, "task": 108}
    assert found["requester_locks"] == 432
    assert found["payouts"] == {"app_owner": 20, "dataset_owner": 12, "workerpool": 400}
    assert found["workerpool_stake"] == 120  # 30% of 100, per task
    gas = found["gas"]
    assert gas["match"] == GAS_TABLE["match_with_dataset"]
    assert gas["match_wei"] == GAS_TABLE["match_with_dataset"] * 7
    assert gas["settle_wei"] == GAS_TABLE["finalize"] * 7 * 4
    assert found["time"] == {"task_seconds": 25, "slowest_seconds": 40, "samples": 4, "max_seconds": 1200}


def test_without_dataset_or_history_and_under_a_grant() -> None:
    bare = _estimate(with_dataset=False, task_times=[]).to_json()
    assert bare["prices"]["dataset"] == 0
    assert bare["gas"]["match"] == GAS_TABLE["match_without_dataset"]
    assert bare["time"]["task_seconds"] is None
    assert bare["time"]["max_seconds"] == 1200
    granted = _estimate(with_grant=True).to_json()
    assert granted["gas"]["match"] == GAS_TABLE["match_with_grant"]
    assert _estimate(task_times=[9]).task_seconds == 9


@pytest.mark.parametrize(
    "changes",
    [
        {"app_price": -1},
        {"dataset_price": -1},
        {"workerpool_price": -1},
        {"gas_price": -1},
        {"max_seconds": -1},
        {"volume": 0},
        {"volume": MAX_VOLUME + 1},
    ],
)
def test_bad_input_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as raised:
        _estimate(**changes)
    assert raised.value.code == "CONFIG_ESTIMATE_INVALID"


@given(
    prices=st.tuples(*[st.integers(0, 2**64)] * 3),
    volume=st.integers(1, MAX_VOLUME),
    times=st.lists(st.integers(0, 10**6), max_size=30),
)
def test_the_lock_is_every_payout(prices: tuple[int, int, int], volume: int, times: list[int]) -> None:
    app, dataset, pool = prices
    found = _estimate(
        app_price=app, dataset_price=dataset, workerpool_price=pool, volume=volume, task_times=times
    )
    assert found.to_json()["requester_locks"] == sum(found.to_json()["payouts"].values())
    if times:
        assert min(times) <= found.task_seconds <= found.slowest_seconds == max(times)
