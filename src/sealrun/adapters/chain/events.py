"""Reading contract events by block ranges, resuming from a durable checkpoint.

Services follow the hub (deals for a pool, finished tasks, ...) with an :class:`EventReader`.
Each :meth:`EventReader.poll` reads the blocks after the last checkpoint, up to the head
minus ``confirmations``, in ranges of at most ``batch_blocks``, decodes the logs with the
contract ABI into :class:`ChainEvent` values, hands them to the caller's handler, and only
then advances the checkpoint. So delivery is *at least once*: a crash between the handler
and the checkpoint replays those blocks, and handlers must be idempotent (key on
``(tx_hash, log_index)``). Nothing ever rescans from block 0: a fresh stream starts at the
deployment block of the profile.

Checkpoints live behind the small :class:`Checkpoint` interface:
:class:`FileCheckpoint` (one JSON file, atomic rename) and :class:`SqlCheckpoint` (a table
``chain_checkpoints`` through SQLAlchemy, for services that already have a database).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import sqlalchemy as sa
from web3.contract import Contract
from web3.types import FilterParams, LogReceipt

from sealrun.adapters.chain.rpc import Rpc
from sealrun.adapters.db.locks import create_tables
from sealrun.errors import ChainError

__all__ = ["ChainEvent", "Checkpoint", "EventReader", "FileCheckpoint", "SqlCheckpoint"]


@dataclass(frozen=True)
class ChainEvent:
    """One decoded contract event."""

    name: str
    args: Mapping[str, Any] = field(repr=False)
    block_number: int
    tx_hash: bytes
    log_index: int
    address: str


class Checkpoint(Protocol):
    """Where a stream remembers the last block it fully processed."""

    def load(self, stream: str) -> int | None:
        """The last processed block of ``stream``, or ``None`` if it never ran."""

    def save(self, stream: str, block: int) -> None:
        """Record that every block up to ``block`` is processed."""


class FileCheckpoint:
    """Checkpoints in one JSON file ``{stream: block}``, rewritten atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def load(self, stream: str) -> int | None:
        """See :class:`Checkpoint`."""
        value = self._read().get(stream)
        return int(value) if value is not None else None

    def save(self, stream: str, block: int) -> None:
        """See :class:`Checkpoint`."""
        with self._lock:
            data = {**self._read(), stream: block}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".checkpoint.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(data, handle, sort_keys=True)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            finally:
                Path(tmp).unlink(missing_ok=True)

    def _read(self) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise ChainError(
                f"checkpoint file {self.path} is unreadable: {error}", code="CHAIN_CHECKPOINT"
            ) from error
        if not isinstance(data, dict):
            raise ChainError(f"checkpoint file {self.path} is not an object", code="CHAIN_CHECKPOINT")
        return {str(k): int(v) for k, v in data.items()}


_metadata = sa.MetaData()
checkpoints_table = sa.Table(
    "chain_checkpoints",
    _metadata,
    sa.Column("stream", sa.String(200), primary_key=True),
    sa.Column("block", sa.BigInteger, nullable=False),
)


class SqlCheckpoint:
    """Checkpoints in the table ``chain_checkpoints(stream, block)`` (created if missing).

    Args:
        engine: a SQLAlchemy engine (SQLite or PostgreSQL).
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        create_tables(engine, _metadata, [checkpoints_table])

    def load(self, stream: str) -> int | None:
        """See :class:`Checkpoint`."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(checkpoints_table.c.block).where(checkpoints_table.c.stream == stream)
            ).first()
        return int(row[0]) if row is not None else None

    def save(self, stream: str, block: int) -> None:
        """See :class:`Checkpoint`."""
        update = sa.update(checkpoints_table).where(checkpoints_table.c.stream == stream).values(block=block)
        try:
            with self.engine.begin() as connection:
                if connection.execute(update).rowcount == 0:
                    connection.execute(sa.insert(checkpoints_table).values(stream=stream, block=block))
        except sa.exc.IntegrityError:
            # Two readers of one stream (replicas on one database) both found no row and both
            # inserted: the loser's insert failed on the primary key; the row exists now.
            with self.engine.begin() as connection:
                connection.execute(update)


class EventReader:
    """Follows one contract's events from a checkpoint.

    Args:
        rpc: the connection.
        contract: the web3 contract (address + ABI) whose events are decoded.
        checkpoint: where progress is stored.
        stream: this reader's name in the checkpoint store (e.g. ``"scheduler:0xpool"``).
        start_block: the first block of a fresh stream (the hub's deployment block).
        batch_blocks: the largest block range per ``eth_getLogs`` request.
        confirmations: blocks to stay behind the head (0 on devnets).
    """

    def __init__(
        self,
        rpc: Rpc,
        contract: Contract,
        checkpoint: Checkpoint,
        *,
        stream: str,
        start_block: int = 0,
        batch_blocks: int = 2_000,
        confirmations: int = 0,
    ) -> None:
        self.rpc = rpc
        self.contract = contract
        self.checkpoint = checkpoint
        self.stream = stream
        self.start_block = start_block
        self.batch_blocks = max(1, batch_blocks)
        self.confirmations = confirmations
        self._by_topic = {
            bytes.fromhex(str(self.contract.events[e["name"]]().topic).removeprefix("0x")): e["name"]
            for e in contract.abi
            if e["type"] == "event" and not e.get("anonymous")
        }

    def poll(self, handle: Callable[[list[ChainEvent]], None], *, names: Iterable[str] | None = None) -> int:
        """Deliver the events since the checkpoint to ``handle``, range by range.

        Args:
            handle: called once per non-empty range, before the checkpoint advances.
            names: only these event names (default: all of the contract's events).

        Returns:
            The number of events delivered.

        Raises:
            ChainError: if the node cannot be read (the checkpoint is left where it was).
        """
        wanted = set(names) if names is not None else None
        head = self.rpc.run("read the block number", lambda: int(self.rpc.w3.eth.block_number))
        last = head - self.confirmations
        done = self.checkpoint.load(self.stream)
        start = self.start_block if done is None else done + 1
        delivered = 0
        while start <= last:
            end = min(last, start + self.batch_blocks - 1)
            events = [e for e in self.read_range(start, end) if wanted is None or e.name in wanted]
            if events:
                handle(events)
                delivered += len(events)
            self.checkpoint.save(self.stream, end)
            start = end + 1
        return delivered

    def lag(self) -> int:
        """How many blocks the checkpoint is behind the head (``0`` when caught up).

        Raises:
            ChainError: if the node cannot be read.
        """
        head = self.rpc.run("read the block number", lambda: int(self.rpc.w3.eth.block_number))
        done = self.checkpoint.load(self.stream)
        behind = head - self.confirmations - (self.start_block - 1 if done is None else done)
        return max(0, behind)

    def read_range(self, first: int, last: int) -> list[ChainEvent]:
        """Decode the contract's events in blocks ``first..last`` (inclusive), in chain order."""
        query: FilterParams = {"address": self.contract.address, "fromBlock": first, "toBlock": last}
        logs: list[LogReceipt] = self.rpc.run(
            f"read events of blocks {first}-{last}", lambda: self.rpc.w3.eth.get_logs(query)
        )
        return [event for log in logs if (event := self.decode(log)) is not None]

    def decode(self, log: Mapping[str, Any]) -> ChainEvent | None:
        """Decode one raw log of the contract (``None`` for a topic the ABI does not know)."""
        topics = log.get("topics") or []
        name = self._by_topic.get(bytes(topics[0])) if topics else None
        if name is None:
            return None
        decoded = self.contract.events[name]().process_log(cast(LogReceipt, log))
        return ChainEvent(
            name=name,
            args=dict(decoded["args"]),
            block_number=int(log["blockNumber"]),
            tx_hash=bytes(log["transactionHash"]),
            log_index=int(log["logIndex"]),
            address=str(log["address"]),
        )
