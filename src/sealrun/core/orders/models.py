"""The four order types of iExec PoCo v5, as frozen, validated dataclasses.

Field names are PoCo's (``appprice``, ``datasetrestrict``, ...) so a signed order reads the
same in sealrun, in iExec's SDK and in the EIP-712 payload a wallet shows. Addresses are
stored checksummed, ``tag`` and ``salt`` as 32 bytes, ``sign`` as the signature (empty when
the order is pre-signed on chain, 64 bytes for EIP-2098 compact, 65 bytes ``r ‖ s ‖ v``).

Errors: :class:`~sealrun.errors.OrderError` with code ``ORDER_FIELD_INVALID`` for a bad field.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from sealrun.errors import OrderError

__all__ = [
    "MAX_PARAMS_BYTES",
    "ZERO_ADDRESS",
    "AppOrder",
    "DatasetOrder",
    "Order",
    "RequestOrder",
    "WorkerpoolOrder",
]

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
#: The contract's bound on RequestOrder.params (UTF-8 bytes).
MAX_PARAMS_BYTES = 4096
_UINT256_MAX = 2**256 - 1
_ZERO32 = bytes(32)


def _invalid(kind: str, name: str, why: str) -> OrderError:
    return OrderError(f"{kind}.{name} {why}", code="ORDER_FIELD_INVALID")


class _OrderBase:
    """Validation shared by the four order types, driven by each class's ``EIP712_FIELDS``."""

    __slots__ = ()

    #: (field name, EIP-712 type) in the type string's order; ``sign`` is not part of it.
    EIP712_FIELDS: ClassVar[tuple[tuple[str, str], ...]]
    #: the EIP-712 primary type name, e.g. ``"AppOrder"``.
    TYPE_NAME: ClassVar[str]

    def __post_init__(self) -> None:
        from eth_utils import is_address, to_checksum_address  # a third of a CPU s: not at import

        kind = self.TYPE_NAME
        for name, kind_of_field in self.EIP712_FIELDS:
            value = getattr(self, name)
            if kind_of_field == "address":
                if not isinstance(value, str) or not is_address(value):
                    raise _invalid(kind, name, f"is not an address: {value!r}")
                object.__setattr__(self, name, to_checksum_address(value))
            elif kind_of_field == "uint256":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT256_MAX:
                    raise _invalid(kind, name, f"is not a uint256: {value!r}")
            elif kind_of_field == "bytes32":
                if not isinstance(value, bytes | bytearray) or len(value) != 32:
                    raise _invalid(kind, name, "must be 32 bytes")
                object.__setattr__(self, name, bytes(value))
            elif kind_of_field == "string":
                if not isinstance(value, str):
                    raise _invalid(kind, name, "must be a string")
                if len(value.encode()) > MAX_PARAMS_BYTES:
                    raise _invalid(kind, name, f"is longer than {MAX_PARAMS_BYTES} bytes")
        sign = self.sign  # type: ignore[attr-defined]
        if not isinstance(sign, bytes | bytearray) or len(sign) not in (0, 64, 65):
            raise _invalid(kind, "sign", "must be empty (pre-signed), 64 or 65 bytes")
        object.__setattr__(self, "sign", bytes(sign))

    def message(self) -> dict[str, str]:
        """Return the EIP-712 message: every signed field, JSON-safe (uints as decimal strings)."""
        out: dict[str, str] = {}
        for name, kind_of_field in self.EIP712_FIELDS:
            value = getattr(self, name)
            if kind_of_field == "uint256":
                out[name] = str(value)
            elif kind_of_field == "bytes32":
                out[name] = "0x" + value.hex()
            else:
                out[name] = value
        return out

    def to_abi(self) -> tuple[Any, ...]:
        """Return the order as the ABI tuple the hub's functions take (``sign`` last)."""
        return tuple(getattr(self, field.name) for field in fields(self))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class AppOrder(_OrderBase):
    """An app owner's offer to run ``app`` for ``appprice`` per task, ``volume`` times."""

    TYPE_NAME: ClassVar[str] = "AppOrder"
    EIP712_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("app", "address"),
        ("appprice", "uint256"),
        ("volume", "uint256"),
        ("tag", "bytes32"),
        ("datasetrestrict", "address"),
        ("workerpoolrestrict", "address"),
        ("requesterrestrict", "address"),
        ("salt", "bytes32"),
    )

    app: str
    appprice: int
    volume: int
    tag: bytes
    datasetrestrict: str = ZERO_ADDRESS
    workerpoolrestrict: str = ZERO_ADDRESS
    requesterrestrict: str = ZERO_ADDRESS
    salt: bytes = _ZERO32
    sign: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetOrder(_OrderBase):
    """A dataset owner's offer to let apps use ``dataset`` for ``datasetprice`` per task."""

    TYPE_NAME: ClassVar[str] = "DatasetOrder"
    EIP712_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("dataset", "address"),
        ("datasetprice", "uint256"),
        ("volume", "uint256"),
        ("tag", "bytes32"),
        ("apprestrict", "address"),
        ("workerpoolrestrict", "address"),
        ("requesterrestrict", "address"),
        ("salt", "bytes32"),
    )

    dataset: str
    datasetprice: int
    volume: int
    tag: bytes
    apprestrict: str = ZERO_ADDRESS
    workerpoolrestrict: str = ZERO_ADDRESS
    requesterrestrict: str = ZERO_ADDRESS
    salt: bytes = _ZERO32
    sign: bytes = b""

    @classmethod
    def none(cls) -> DatasetOrder:
        """The empty dataset order the hub takes for a deal without dataset."""
        return cls(dataset=ZERO_ADDRESS, datasetprice=0, volume=0, tag=_ZERO32)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerpoolOrder(_OrderBase):
    """A pool owner's offer of ``volume`` tasks of ``category`` at ``workerpoolprice`` each."""

    TYPE_NAME: ClassVar[str] = "WorkerpoolOrder"
    EIP712_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("workerpool", "address"),
        ("workerpoolprice", "uint256"),
        ("volume", "uint256"),
        ("tag", "bytes32"),
        ("category", "uint256"),
        ("trust", "uint256"),
        ("apprestrict", "address"),
        ("datasetrestrict", "address"),
        ("requesterrestrict", "address"),
        ("salt", "bytes32"),
    )

    workerpool: str
    workerpoolprice: int
    volume: int
    tag: bytes
    category: int
    trust: int = 1
    apprestrict: str = ZERO_ADDRESS
    datasetrestrict: str = ZERO_ADDRESS
    requesterrestrict: str = ZERO_ADDRESS
    salt: bytes = _ZERO32
    sign: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestOrder(_OrderBase):
    """A requester's order: run ``app`` (over ``dataset``) ``volume`` times, at most these prices."""

    TYPE_NAME: ClassVar[str] = "RequestOrder"
    EIP712_FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("app", "address"),
        ("appmaxprice", "uint256"),
        ("dataset", "address"),
        ("datasetmaxprice", "uint256"),
        ("workerpool", "address"),
        ("workerpoolmaxprice", "uint256"),
        ("requester", "address"),
        ("volume", "uint256"),
        ("tag", "bytes32"),
        ("category", "uint256"),
        ("trust", "uint256"),
        ("beneficiary", "address"),
        ("callback", "address"),
        ("params", "string"),
        ("salt", "bytes32"),
    )

    app: str
    appmaxprice: int
    dataset: str
    datasetmaxprice: int
    workerpool: str
    workerpoolmaxprice: int
    requester: str
    volume: int
    tag: bytes
    category: int
    trust: int = 1
    beneficiary: str = ZERO_ADDRESS
    callback: str = ZERO_ADDRESS
    params: str = ""
    salt: bytes = _ZERO32
    sign: bytes = b""


#: Any of the four order types.
Order = AppOrder | DatasetOrder | WorkerpoolOrder | RequestOrder
