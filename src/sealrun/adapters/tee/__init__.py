"""TEE backends: start enclaves (worker side) and produce evidence (enclave side)."""

from sealrun.adapters.tee.backend import EnclaveLaunch, Quoter, TeeBackend
from sealrun.adapters.tee.report import (
    REPORT_VERSION,
    FailureReceipt,
    LogsInfo,
    ResultInfo,
    RunReport,
    Timings,
)
from sealrun.adapters.tee.sessions import SessionTee
from sealrun.adapters.tee.simulated import REPORT_NAME, SimulatedQuoter, SimulatedTee, load_simulator_key

__all__ = [
    "REPORT_NAME",
    "REPORT_VERSION",
    "EnclaveLaunch",
    "FailureReceipt",
    "LogsInfo",
    "Quoter",
    "ResultInfo",
    "RunReport",
    "SessionTee",
    "SimulatedQuoter",
    "SimulatedTee",
    "TeeBackend",
    "Timings",
    "load_simulator_key",
]
