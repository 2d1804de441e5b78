"""The shipped artifacts match contracts/, every revert reason is tested, the benchmark runs."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import boa
import pytest

from sealrun.core.orders.reasons import REVERT_REASONS
from tests.contracts.market import Market

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "src" / "sealrun" / "adapters" / "chain" / "artifacts"


def test_artifacts_are_in_sync_with_the_sources() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "compile_contracts.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_artifacts_have_the_promised_keys() -> None:
    for name in ("Hub", "Registry", "Token"):
        document = json.loads((ARTIFACTS / f"{name}.json").read_text())
        assert {"abi", "bytecode", "vyper_version", "sources_sha256"} <= set(document)
        assert document["vyper_version"].startswith("0.4.3")
        assert document["bytecode"].startswith("0x")
    reasons = json.loads((ARTIFACTS / "revert_reasons.json").read_text())["reasons"]
    assert set(reasons) == set(REVERT_REASONS)
    assert all(set(entry) == {"code", "sentence", "contract"} for entry in reasons.values())


def test_every_revert_reason_is_exercised_by_a_test() -> None:
    # A reason counts as tested when a test in this folder expects it by name (boa.reverts,
    # expect_both, or a parametrized case table).
    text = "\n".join(path.read_text() for path in Path(__file__).parent.glob("test_*.py"))
    quoted = set(re.findall(r'"([a-z][a-z: -]*)"', text))
    # Tests parametrized over the four order kinds build the reason as f"{kind}-<what>".
    for what in re.findall(r'f"\{kind\}-([a-z-]+)"', text):
        quoted |= {f"{kind}-{what}" for kind in ("app", "dataset", "workerpool", "request")}
    missing = sorted(reason for reason in REVERT_REASONS if reason not in quoted)
    assert not missing, f"revert reasons no test expects: {missing}"


def _load_benchmark() -> object:
    spec = importlib.util.spec_from_file_location("gas_benchmark", REPO / "benchmarks" / "gas.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_gas_benchmark_measures_real_receipts() -> None:
    gas = _load_benchmark()
    figures = gas.measure(volume=3)  # type: ignore[attr-defined]
    for key in ("match_with_dataset", "match_without_dataset", "finalize", "report_failure", "claim"):
        assert isinstance(figures[key], int)
        assert 21_000 < figures[key] < 400_000, (key, figures[key])
    assert figures["single_task_total"] == figures["match_with_dataset"] + figures["finalize"]
    assert figures["match_without_dataset"] < figures["match_with_dataset"]
    assert figures["per_task_amortized_3"] < figures["single_task_total"]
    # The goal for one confidential task with a dataset (PoCo: 1,629,005).
    assert figures["single_task_total"] <= 300_000
    # A result callback (issue 21): the hub adds at most 10,000 beyond the callee's own gas.
    assert figures["finalize_with_callback"] > figures["finalize"] + figures["callback_callee"]
    assert 0 < figures["callback_overhead"] <= 10_000
    assert "sealrun" in gas.report(figures, 3)  # type: ignore[attr-defined]


def test_docs_list_every_revert_reason() -> None:
    text = (REPO / "docs" / "contracts.md").read_text()
    missing = sorted(
        reason for reason in REVERT_REASONS if f"| `{reason}` | `{REVERT_REASONS[reason].code}` |" not in text
    )
    assert not missing, f"docs/contracts.md lacks {missing}"


def test_every_deployed_contract_fits_eip_170(market: Market) -> None:
    """A contract whose runtime code passes 24,576 bytes cannot be deployed on a real chain
    (EIP-170): the Hub is close (grants went to the Registry for this reason, decision 0070)."""
    for contract in (market.hub, market.registry, market.token):
        size = len(boa.env.get_code(contract.address))
        assert 0 < size <= 24_576, (contract, size)
