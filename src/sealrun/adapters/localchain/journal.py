"""The embedded chain's journal: every state-changing request, appended and fsynced.

py-evm is deterministic once its three free inputs are pinned: the genesis timestamp, each
block's timestamp and each block's ``mix_hash`` (:mod:`.embedded` derives the latter from the
parent hash). So the journal records the genesis timestamp once, then every request that can
change state (``eth_sendRawTransaction``, ``eth_sendTransaction``, ``evm_mine``,
``evm_increaseTime``, ``evm_snapshot``, ``evm_revert``) with the timestamp its block was
given, its answer, and the head block (number, hash) after it. Replaying the records in
order re-executes the same transactions in the same blocks at the same times: the same state,
the same transaction and block hashes, the same events, so what the services indexed stays
true. Each record is written and fsynced *before* the request is answered: a client never
holds a hash the journal does not.

Format (version 1): UTF-8 JSON lines. The first line is the header
``{"format": "sealrun-chain-journal", "version": 1, "genesis_timestamp": T, "link": L0}``;
each following line is a record ``{"seq", "method", "params", "timestamp", "result",
"error", "block", "head", "link"}``. ``link`` is ``sha256(previous link ‖ canonical JSON of
the line without its link)`` in hex, so an edited, inserted or removed record breaks the chain.

Crash safety: a record is one ``write`` of one line. A crash can leave only the *last* line
torn (no final newline, or NUL fill); :func:`read_journal` drops that tail and reports it so
the writer truncates it before appending. Any other damage is refused.

Error codes (:class:`~sealrun.errors.ChainError`): ``CHAIN_JOURNAL_CORRUPT`` (unreadable
header or record, broken link), ``CHAIN_JOURNAL_LOCKED`` (another process holds it).
``CHAIN_JOURNAL_MISMATCH`` (a replay that does not reproduce the journaled head) is raised by
:mod:`.embedded`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sealrun.core.jsontypes import JsonObject, JsonValue
from sealrun.errors import ChainError

__all__ = [
    "JOURNAL_FORMAT",
    "JOURNAL_VERSION",
    "MUTATING_METHODS",
    "ChainJournal",
    "JournalContents",
    "JournalRecord",
    "decode_value",
    "encode_value",
    "parse_header",
    "parse_record",
    "read_journal",
]

JOURNAL_FORMAT = "sealrun-chain-journal"
JOURNAL_VERSION = 1
MUTATING_METHODS = frozenset(
    {
        "eth_sendRawTransaction",
        "eth_sendTransaction",
        "evm_mine",
        "evm_increaseTime",
        "evm_snapshot",
        "evm_revert",
    }
)
_RECORD_KEYS = frozenset({"seq", "method", "params", "timestamp", "result", "error", "block", "head", "link"})
_HEADER_KEYS = frozenset({"format", "version", "genesis_timestamp", "link"})
_BYTES_TAG = "$bytes"


def _corrupt(message: str) -> ChainError:
    return ChainError(message, code="CHAIN_JOURNAL_CORRUPT")


def encode_value(value: object) -> JsonValue:
    """A request parameter or answer as JSON data (bytes tagged, tuples as lists)."""
    if isinstance(value, bytes | bytearray):
        return {_BYTES_TAG: bytes(value).hex()}
    if isinstance(value, Mapping):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def decode_value(value: JsonValue) -> object:
    """The inverse of :func:`encode_value` (lists stay lists)."""
    if isinstance(value, dict):
        tagged = value.get(_BYTES_TAG)
        if set(value) == {_BYTES_TAG} and isinstance(tagged, str):
            return bytes.fromhex(tagged)
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def _canonical(data: Mapping[str, JsonValue]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _link(previous: str, body: Mapping[str, JsonValue]) -> str:
    return hashlib.sha256(previous.encode() + b"\n" + _canonical(body)).hexdigest()


@dataclass(frozen=True)
class JournalRecord:
    """One state-changing request and what it did.

    Attributes:
        seq: its position (1, 2, ...).
        method: the JSON-RPC method.
        params: its parameters as the provider received them (encoded, see :func:`encode_value`).
        timestamp: the timestamp of the block it was (or would have been) mined in.
        result: the answer's ``result`` (encoded), or ``None``.
        error: the exception's class name if the request raised, else ``None``.
        block: the head block number after it.
        head: the head block hash after it (``0x`` hex).
    """

    seq: int
    method: str
    params: JsonValue
    timestamp: int
    result: JsonValue
    error: str | None
    block: int
    head: str

    def body(self) -> JsonObject:
        """The record's fields, without its link."""
        return {
            "seq": self.seq,
            "method": self.method,
            "params": self.params,
            "timestamp": self.timestamp,
            "result": self.result,
            "error": self.error,
            "block": self.block,
            "head": self.head,
        }


@dataclass(frozen=True)
class JournalContents:
    """What :func:`read_journal` found.

    Attributes:
        genesis_timestamp: the chain's genesis timestamp (``None`` for an empty file).
        records: the complete records, in order.
        link: the link of the last complete line (the header's for no records).
        valid_length: bytes of the file that hold complete lines (the rest is a torn tail).
        torn: whether a torn tail was found after ``valid_length``.
    """

    genesis_timestamp: int | None
    records: tuple[JournalRecord, ...]
    link: str
    valid_length: int
    torn: bool


def _int(data: Mapping[str, JsonValue], key: str, line: int) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _corrupt(f"chain journal line {line}: {key} is not a non-negative integer")
    return value


def _object(raw: bytes, keys: frozenset[str], line: int) -> JsonObject:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _corrupt(f"chain journal line {line} is not JSON") from None
    if not isinstance(data, dict) or set(data) != keys:
        raise _corrupt(f"chain journal line {line} does not have the fields of its kind")
    return data


def parse_header(raw: bytes) -> tuple[int, str]:
    """Parse the header line; returns ``(genesis_timestamp, link)``.

    Raises:
        ChainError: ``CHAIN_JOURNAL_CORRUPT``.
    """
    data = _object(raw, _HEADER_KEYS, 1)
    if data["format"] != JOURNAL_FORMAT or data["version"] != JOURNAL_VERSION:
        raise _corrupt("chain journal line 1 is not a version 1 sealrun chain journal header")
    genesis = _int(data, "genesis_timestamp", 1)
    link = data.pop("link")
    if not isinstance(link, str) or link != _link("", data):
        raise _corrupt("chain journal line 1: its link does not match its content")
    return genesis, link


def parse_record(raw: bytes, *, previous: str, seq: int, line: int | None = None) -> JournalRecord:
    """Parse one record line and check its place in the chain.

    Args:
        raw: the line, without its newline.
        previous: the link of the line before.
        seq: the sequence number it must carry.
        line: its line number, for messages (default ``seq + 1``).

    Raises:
        ChainError: ``CHAIN_JOURNAL_CORRUPT`` for anything but a well-formed, linked record.
    """
    number = seq + 1 if line is None else line
    data = _object(raw, _RECORD_KEYS, number)
    if _int(data, "seq", number) != seq:
        raise _corrupt(f"chain journal line {number}: sequence {data['seq']} where {seq} was due")
    method, error, head = data["method"], data["error"], data["head"]
    if not isinstance(method, str) or method not in MUTATING_METHODS:
        raise _corrupt(f"chain journal line {number}: {method!r} is not a journaled method")
    if error is not None and not isinstance(error, str):
        raise _corrupt(f"chain journal line {number}: error is not a string")
    if not isinstance(head, str) or len(head) != 66 or not head.startswith("0x"):
        raise _corrupt(f"chain journal line {number}: head is not a block hash")
    link = data.pop("link")
    if not isinstance(link, str) or link != _link(previous, data):
        raise _corrupt(f"chain journal line {number}: its link does not match (edited, inserted or removed)")
    return JournalRecord(
        seq=seq,
        method=method,
        params=data["params"],
        timestamp=_int(data, "timestamp", number),
        result=data["result"],
        error=error,
        block=_int(data, "block", number),
        head=head,
    )


def read_journal(data: bytes) -> JournalContents:
    """Parse a whole journal, dropping a torn last line.

    A final piece without a newline, or made of NUL bytes (a crash mid-write), is the torn
    tail: reported, not an error. Every newline-terminated line must parse and link.

    Raises:
        ChainError: ``CHAIN_JOURNAL_CORRUPT``.
    """
    # NUL fill at the end: the file system extended the file but the write was lost.
    trimmed = data.rstrip(b"\0")
    end = trimmed.rfind(b"\n") + 1
    torn = end < len(data)
    complete = data[:end]
    lines = complete.split(b"\n")[:-1] if complete else []
    if not lines:
        return JournalContents(None, (), "", 0, torn)
    genesis, link = parse_header(lines[0])
    records = []
    for seq, raw in enumerate(lines[1:], start=1):
        record = parse_record(raw, previous=link, seq=seq)
        link = _link(link, record.body())
        records.append(record)
    return JournalContents(genesis, tuple(records), link, end, torn)


class ChainJournal:
    """The journal file of one chain, open for appending, held with an exclusive lock.

    Use :meth:`open`; then :meth:`append` each state-changing request before answering it.
    """

    def __init__(self, path: Path, fd: int, contents: JournalContents) -> None:
        self.path = path
        self._fd = fd
        self.contents = contents
        self._link = contents.link
        self._seq = len(contents.records)

    @classmethod
    def open(cls, path: Path, *, genesis_timestamp: int) -> ChainJournal:
        """Open (or create) the journal, lock it, read it and cut a torn tail.

        Args:
            path: the file (its folder is created 0700; the file is 0600).
            genesis_timestamp: written in the header of a new journal.

        Raises:
            ChainError: ``CHAIN_JOURNAL_LOCKED`` if another process has it open,
                ``CHAIN_JOURNAL_CORRUPT`` if it does not read.
        """
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ChainError(
                    f"the chain journal {path} is in use by another chain process",
                    code="CHAIN_JOURNAL_LOCKED",
                ) from None
            with open(fd, "rb", closefd=False) as handle:
                contents = read_journal(handle.read())
            if contents.torn:
                os.ftruncate(fd, contents.valid_length)
                os.fsync(fd)
            journal = cls(path, fd, contents)
            if contents.genesis_timestamp is None:
                journal._write_header(genesis_timestamp)
            return journal
        except BaseException:
            os.close(fd)
            raise

    @property
    def genesis_timestamp(self) -> int:
        """The genesis timestamp the chain must be built with."""
        assert self.contents.genesis_timestamp is not None  # set by open()
        return self.contents.genesis_timestamp

    def _write_header(self, genesis_timestamp: int) -> None:
        body: JsonObject = {
            "format": JOURNAL_FORMAT,
            "version": JOURNAL_VERSION,
            "genesis_timestamp": genesis_timestamp,
        }
        self._link = _link("", body)
        self._write({**body, "link": self._link})
        self.contents = JournalContents(genesis_timestamp, (), self._link, 0, False)
        # The header must outlive a crash too: the folder entry of a new file is synced.
        with contextlib.suppress(OSError):
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def _write(self, data: Mapping[str, JsonValue]) -> None:
        line = _canonical(data) + b"\n"
        os.lseek(self._fd, 0, os.SEEK_END)
        written = os.write(self._fd, line)
        if written != len(line):
            raise ChainError(f"short write to the chain journal {self.path}", code="CHAIN_JOURNAL_CORRUPT")
        os.fsync(self._fd)

    def append(
        self,
        *,
        method: str,
        params: object,
        timestamp: int,
        result: object,
        error: str | None,
        block: int,
        head: str,
    ) -> JournalRecord:
        """Append one record and fsync it; returns it."""
        self._seq += 1
        record = JournalRecord(
            seq=self._seq,
            method=method,
            params=encode_value(params),
            timestamp=timestamp,
            result=encode_value(result),
            error=error,
            block=block,
            head=head,
        )
        body = record.body()
        self._link = _link(self._link, body)
        self._write({**body, "link": self._link})
        return record

    def close(self) -> None:
        """Release the lock and close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
