"""JSON as a type: the values :func:`json.loads` returns and :func:`json.dumps` accepts.

For documents whose shape is truly open (a claim set's extra fields, a CLI's ``--json``
report assembled from several parts). Known shapes get their own ``TypedDict``, dataclass
or pydantic model; these aliases are for the rest, and unlike ``Any`` they keep mypy
checking what is put in and taken out.
"""

from __future__ import annotations

from typing import TypeAlias

JsonValue: TypeAlias = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]
"""Any JSON value."""

JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object (what ``json.loads`` returns for ``{...}``)."""
