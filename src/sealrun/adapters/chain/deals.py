"""A durable index of deals and their task ids, fed by ``OrdersMatched`` events.

The hub stores only a hash per deal; the deal itself is in its ``OrdersMatched`` event. To
answer "what is deal X" or "which deal is task Y" without scanning the chain each time,
:class:`DealIndex` follows the hub with a checkpointed
:class:`~sealrun.adapters.chain.events.EventReader` and stores each deal (JSON) and each of
its task ids in SQL (SQLite or PostgreSQL through SQLAlchemy). A lookup that misses
catches up from the checkpoint first, so a deal matched a second ago is found.

Tables: ``chain_deals(deal_id, hub, block, body)``, ``chain_tasks(task_id, deal_id, idx)``,
``chain_deal_grants(deal_id, grant_id)`` (a deal matched under a dataset grant: the event's
``datasetHash`` is then the grant id, decision 0070) and the checkpoint table of
:class:`~sealrun.adapters.chain.events.SqlCheckpoint`.
"""

from __future__ import annotations

import json
import threading

import sqlalchemy as sa

from sealrun.adapters.chain.events import ChainEvent, EventReader, SqlCheckpoint
from sealrun.adapters.chain.hub import HubClient
from sealrun.adapters.chain.models import Deal
from sealrun.adapters.db.locks import create_tables
from sealrun.api.ids import deal_id_hex, parse_deal_id, task_id_hex
from sealrun.core.orders.grants import is_grant_id
from sealrun.core.tasks import task_id as compute_task_id

__all__ = ["DealIndex"]

_metadata = sa.MetaData()
deals_table = sa.Table(
    "chain_deals",
    _metadata,
    sa.Column("deal_id", sa.String(66), primary_key=True),
    sa.Column("hub", sa.String(42), nullable=False, index=True),
    sa.Column("block", sa.BigInteger, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)
tasks_table = sa.Table(
    "chain_tasks",
    _metadata,
    sa.Column("task_id", sa.String(66), primary_key=True),
    sa.Column("deal_id", sa.String(66), nullable=False, index=True),
    sa.Column("idx", sa.BigInteger, nullable=False),
)

grants_table = sa.Table(
    "chain_deal_grants",
    _metadata,
    sa.Column("deal_id", sa.String(66), primary_key=True),
    sa.Column("grant_id", sa.String(66), nullable=False),
)


def _deal_from_json(body: str) -> Deal:
    data = json.loads(body)
    for key in ("deal_id", "tag", "request_hash"):
        data[key] = bytes.fromhex(data[key].removeprefix("0x"))
    return Deal(**data)


class DealIndex:
    """Deals of one hub, indexed from its events.

    Args:
        hub: the hub client (read-only is enough).
        engine: where the index lives.
        start_block: the hub's deployment block (where a fresh index starts reading).
        batch_blocks: blocks per ``eth_getLogs`` request.
    """

    def __init__(
        self, hub: HubClient, engine: sa.Engine, *, start_block: int = 0, batch_blocks: int = 2_000
    ) -> None:
        self.hub = hub
        self.engine = engine
        create_tables(engine, _metadata)
        self._reader = EventReader(
            hub.rpc,
            hub.contract,
            SqlCheckpoint(engine),
            stream=f"deals:{hub.address}",
            start_block=start_block,
            batch_blocks=batch_blocks,
        )
        self._lock = threading.Lock()

    def sync(self) -> int:
        """Read the new ``OrdersMatched`` events; returns how many deals were added."""
        with self._lock:
            return self._reader.poll(self._store, names=["OrdersMatched"])

    def deal(self, deal_id: bytes) -> Deal | None:
        """The deal with this id (catching up with the chain on a miss)."""
        found = self._find_deal(deal_id)
        if found is None:
            self.sync()
            found = self._find_deal(deal_id)
        return found

    def task(self, task_id: bytes) -> tuple[Deal, int] | None:
        """The deal and index of a task (catching up with the chain on a miss)."""
        found = self._find_task(task_id)
        if found is None:
            self.sync()
            found = self._find_task(task_id)
        if found is None:
            return None
        deal = self._find_deal(parse_deal_id(found[0]))
        return (deal, found[1]) if deal is not None else None

    def deals(
        self, *, requester: str | None = None, workerpool: str | None = None, limit: int = 100
    ) -> list[Deal]:
        """Known deals, newest first, optionally of one requester or pool (after a sync)."""
        self.sync()
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(deals_table.c.body)
                .where(deals_table.c.hub == self.hub.address)
                .order_by(deals_table.c.block.desc())
            ).all()
        deals = [_deal_from_json(row[0]) for row in rows]
        if requester is not None:
            deals = [d for d in deals if d.requester.lower() == requester.lower()]
        if workerpool is not None:
            deals = [d for d in deals if d.workerpool.lower() == workerpool.lower()]
        return deals[:limit]

    def _store(self, events: list[ChainEvent]) -> None:
        try:
            self._store_once(events)
        except sa.exc.IntegrityError:
            # Another index on this database (a replica) stored some of these deals between
            # our look-up and our insert; the retry sees them and skips them.
            self._store_once(events)

    def _store_once(self, events: list[ChainEvent]) -> None:
        with self.engine.begin() as connection:
            for event in events:
                deal = Deal.from_event(
                    bytes(event.args["dealid"]),
                    event.args["deal"],
                    params=str(event.args["params"]),
                    block_number=event.block_number,
                )
                key = deal_id_hex(deal.deal_id)
                exists = connection.execute(
                    sa.select(deals_table.c.deal_id).where(deals_table.c.deal_id == key)
                ).first()
                if exists is not None:  # a replay after a crash: already indexed
                    continue
                body = json.dumps(deal.to_json(), sort_keys=True)
                connection.execute(
                    sa.insert(deals_table).values(
                        deal_id=key, hub=self.hub.address, block=deal.block_number, body=body
                    )
                )
                dataset_hash = bytes(event.args["datasetHash"])
                if is_grant_id(dataset_hash):
                    connection.execute(
                        sa.insert(grants_table).values(deal_id=key, grant_id="0x" + dataset_hash.hex())
                    )
                connection.execute(
                    sa.insert(tasks_table),
                    [
                        {"task_id": task_id_hex(compute_task_id(deal.deal_id, i)), "deal_id": key, "idx": i}
                        for i in range(deal.volume)
                    ],
                )

    def grant_of(self, deal_id: bytes) -> bytes | None:
        """The dataset grant a deal was matched under (``None``: a signed dataset order)."""
        if self.deal(deal_id) is None:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(grants_table.c.grant_id).where(grants_table.c.deal_id == deal_id_hex(deal_id))
            ).first()
        return None if row is None else bytes.fromhex(str(row[0])[2:])

    def _find_deal(self, deal_id: bytes) -> Deal | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(deals_table.c.body).where(deals_table.c.deal_id == deal_id_hex(deal_id))
            ).first()
        return _deal_from_json(row[0]) if row is not None else None

    def _find_task(self, task_id: bytes) -> tuple[str, int] | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(tasks_table.c.deal_id, tasks_table.c.idx).where(
                    tasks_table.c.task_id == task_id_hex(task_id)
                )
            ).first()
        return (str(row[0]), int(row[1])) if row is not None else None
