"""The project's order files: ``orders.json`` (templates) and ``signed-orders.json``.

Like iExec's ``iexec.json``/``orders.json``, both live next to ``sealrun.toml``, each keyed by
kind (``apporder``, ``datasetorder``, ``workerpoolorder``, ``requestorder``) in the JSON format
of :func:`sealrun.core.orders.order_to_json`.

Error codes: ``ORDER_JSON_INVALID``, ``ORDER_MISSING`` (:class:`~sealrun.errors.OrderError`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TypeAlias

from sealrun.core.orders import ORDER_KINDS, Order, order_from_json
from sealrun.errors import OrderError

__all__ = [
    "KINDS",
    "TYPES",
    "OrdersFile",
    "load_kind",
    "order_files",
    "read_orders_file",
    "write_orders_file",
]

#: The name of each kind of order in an orders file, and its model (:data:`ORDER_KINDS`).
KINDS = {name: kind.file_key for name, kind in ORDER_KINDS.items()}
TYPES: dict[str, type[Order]] = {name: kind.type for name, kind in ORDER_KINDS.items()}

OrdersFile: TypeAlias = dict[str, object]
"""An orders file's object: kind key (:data:`KINDS`) → order document, checked when loaded."""


def read_orders_file(path: Path) -> OrdersFile:
    """Read an orders file (templates or signed orders); a missing file is empty.

    Raises:
        OrderError: ``ORDER_JSON_INVALID`` if it is not a JSON object.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise OrderError(
            f"{path} is not a valid JSON orders file: {error}", code="ORDER_JSON_INVALID"
        ) from error
    if not isinstance(data, dict):
        raise OrderError(f"{path} must hold a JSON object", code="ORDER_JSON_INVALID")
    return data


def write_orders_file(path: Path, data: OrdersFile) -> None:
    """Write an orders file atomically (temp file, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def order_files(project_root: Path) -> tuple[Path, Path]:
    """Return the project's ``orders.json`` (templates) and ``signed-orders.json`` paths."""
    return project_root / "orders.json", project_root / "signed-orders.json"


def load_kind(data: OrdersFile, kind: str, path: Path) -> Order:
    """The order of ``kind`` in an orders file's ``data``.

    Raises:
        OrderError: ``ORDER_MISSING``, ``ORDER_JSON_INVALID``.
    """
    if KINDS[kind] not in data:
        raise OrderError(f"{path} has no {KINDS[kind]}: run `sealrun order init` first", code="ORDER_MISSING")
    order = order_from_json(data[KINDS[kind]])
    if not isinstance(order, TYPES[kind]):
        raise OrderError(f"{path}: {KINDS[kind]} holds a {type(order).__name__}", code="ORDER_JSON_INVALID")
    return order
