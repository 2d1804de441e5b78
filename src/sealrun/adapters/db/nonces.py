"""Single-use nonces of signed requests, in a service's own SQL table.

Every service that accepts EIP-712 signed requests (:mod:`sealrun.core.requests`) must
refuse a replayed one. The ledger records each ``(signer, nonce)`` pair once: the table's
primary key makes a second insert fail inside the same transaction, so two replicas of a
service cannot both accept one request. Pairs are forgotten an hour after they expire,
when the request's timestamp window has long made them useless.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sealrun.errors import RequestError

__all__ = ["SqlNonceLedger"]

_RETENTION_S = 3600


class SqlNonceLedger:
    """The replay ledger of one service.

    Args:
        sessions: the service's session factory.
        model: its mapped nonce class, with ``signer``, ``nonce`` (``0x`` hex) and
            ``expires_at`` (UNIX seconds) columns and ``(signer, nonce)`` as primary key.
    """

    def __init__(self, sessions: sessionmaker[Session], model: type[Any]) -> None:
        self._sessions = sessions
        self._model = model

    def consume(self, signer: str, nonce: bytes, *, expires_at: int) -> None:
        """Record the pair or raise ``REQUEST_REPLAYED``; forgets pairs long expired.

        Raises:
            RequestError: ``REQUEST_REPLAYED`` if the pair was recorded before.
        """
        model = self._model
        try:
            with self._sessions.begin() as session:
                session.execute(delete(model).where(model.expires_at < expires_at - _RETENTION_S))
                session.add(model(signer=signer, nonce="0x" + nonce.hex(), expires_at=expires_at))
        except IntegrityError:
            raise RequestError("this request was already used", code="REQUEST_REPLAYED") from None
