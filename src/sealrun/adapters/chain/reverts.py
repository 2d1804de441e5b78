"""Revert reasons turned into sentences, from the contracts' revert-reason table.

The hub reverts with short reason strings; ``artifacts/revert_reasons.json`` (written by the
contracts build) maps each to a stable code and a sentence. A sentence may quote values the
caller knows (``"request category {request_category} ≠ workerpool category
{workerpool_category}"``): :meth:`RevertTable.translate` fills them from ``context`` and
falls back to the plain description when a value is missing. A reason missing from the table
is still reported, verbatim, as ``CHAIN_REVERTED``.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from eth_abi import decode
from eth_abi.exceptions import DecodingError

from sealrun.errors import ChainError

__all__ = ["RevertContext", "RevertReason", "RevertTable", "reason_of"]

RevertContext: TypeAlias = Mapping[str, object]
"""Values a revert sentence may quote, by template field name (only ``str.format`` reads them)."""

_ERROR_SELECTOR = bytes.fromhex("08c379a0")

# Sentences that quote the orders' own values for the matchOrders checks, used when the
# caller passes the orders as context (``<kind>_<field>``, see ``hub.order_context``).
_DETAILS = {
    "category-mismatch": "request category {request_category} ≠ workerpool category {workerpool_category}",
    "category-unknown": "request category {request_category} does not exist on this hub",
    "trust-mismatch": "request trust {request_trust} > workerpool trust {workerpool_trust}",
    "app-price": "app price {app_appprice} > the request's maximum app price {request_appmaxprice}",
    "dataset-price": "dataset price {dataset_datasetprice} > the request's maximum {request_datasetmaxprice}",
    "workerpool-price": (
        "workerpool price {workerpool_workerpoolprice} > the request's maximum {request_workerpoolmaxprice}"
    ),
    "app-mismatch": "the request names app {request_app} but the app order is for {app_app}",
    "dataset-mismatch": "the request names dataset {request_dataset}, the dataset order {dataset_dataset}",
    "workerpool-mismatch": (
        "the request names workerpool {request_workerpool}, the workerpool order {workerpool_workerpool}"
    ),
}


@dataclass(frozen=True)
class RevertReason:
    """One row of the table: the contract's reason, our code, a sentence and an optional template."""

    reason: str
    code: str
    sentence: str
    template: str | None = None


def reason_of(error: BaseException) -> str:
    """Extract the revert reason string from a web3 or eth-tester revert exception."""
    data = getattr(error, "data", None)
    if isinstance(data, str) and data.startswith("0x08c379a0"):
        try:
            return str(decode(["string"], bytes.fromhex(data[10:]))[0])
        except (DecodingError, ValueError):
            pass
    message = getattr(error, "message", None) or (str(error.args[0]) if error.args else "")
    if isinstance(message, bytes):
        if message.startswith(_ERROR_SELECTOR):
            try:
                return str(decode(["string"], message[4:])[0])
            except DecodingError:
                return "0x" + message.hex()
        return "0x" + message.hex()
    text = str(message)
    for prefix in ("execution reverted: ", "execution reverted", "revert: "):
        if text.startswith(prefix):
            return text[len(prefix) :].strip()
    return text.strip()


class RevertTable:
    """The mapping from contract revert reasons to codes and sentences.

    Args:
        rows: the table's rows, keyed by reason string.
    """

    def __init__(self, rows: dict[str, RevertReason]) -> None:
        self.rows = rows

    @classmethod
    def empty(cls) -> RevertTable:
        """A table that knows no reason (every revert reads ``CHAIN_REVERTED``)."""
        return cls({})

    @classmethod
    def load(cls, path: Path) -> RevertTable:
        """Read ``revert_reasons.json``.

        Accepted shapes: ``{reason: sentence}``, ``{reason: {code, message|sentence, template?}}``,
        or a list of ``{reason, code, message|sentence, template?}`` objects.

        Raises:
            ChainError: ``CHAIN_ARTIFACT_INVALID`` if the file is unreadable or malformed.
        """
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ChainError(
                f"cannot read the revert table {path}: {error}", code="CHAIN_ARTIFACT_INVALID"
            ) from error
        if isinstance(document, dict) and isinstance(document.get("reasons"), list | dict):
            document = document["reasons"]
        items: list[tuple[str, Any]]
        if isinstance(document, dict):
            items = list(document.items())
        elif isinstance(document, list):
            items = [(str(row.get("reason", "")), row) for row in document if isinstance(row, dict)]
        else:
            raise ChainError(f"{path}: unexpected revert table shape", code="CHAIN_ARTIFACT_INVALID")
        rows: dict[str, RevertReason] = {}
        for reason, entry in items:
            rows[reason] = _row(reason, entry)
        return cls(rows)

    def translate(self, error: BaseException, *, what: str, context: RevertContext) -> ChainError:
        """Return the :class:`ChainError` that says, in words, why ``what`` reverted."""
        reason = reason_of(error)
        row = self.rows.get(reason)
        if row is None:
            shown = reason or "no reason given"
            return ChainError(f"cannot {what}: the contract refused ({shown})", code="CHAIN_REVERTED")
        sentence = row.sentence
        template = row.template or _DETAILS.get(reason)
        if template is not None:
            fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
            if fields <= context.keys():
                detail = template.format(**{name: context[name] for name in fields})
                sentence = detail if row.template else f"{detail} ({row.sentence})"
        return ChainError(f"cannot {what}: {sentence}", code=row.code)


def _row(reason: str, entry: Any) -> RevertReason:
    if isinstance(entry, str):
        return RevertReason(reason, "CHAIN_REVERTED", entry)
    if not isinstance(entry, dict):
        return RevertReason(reason, "CHAIN_REVERTED", reason)
    code = str(entry.get("code") or "CHAIN_REVERTED")
    sentence = str(entry.get("sentence") or entry.get("message") or entry.get("description") or reason)
    template = entry.get("template")
    return RevertReason(reason, code, sentence, str(template) if template else None)
