"""The small part of OData's query language that Graph's mail API accepts, with Graph's own refusals.

Anything outside it is answered with 400, as Graph answers a query it cannot run, so an adapter that
asks for something unsupported fails in the tests instead of in a council's tenant.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.graph_server.store import GraphError

_CLAUSE = re.compile(r"^\s*(\w+)\s+(eq|ne|ge|gt|le|lt)\s+(true|false|'(?:[^']|'')*'|\d{4}-\d\d-\d\dT[\d:.]+Z?)\s*$", re.I)
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b, "le": lambda a, b: a <= b, "lt": lambda a, b: a < b,
}


def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


@dataclass(frozen=True)
class Clause:
    name: str
    operator: str
    value: object

    def matches(self, record: dict[str, object]) -> bool:
        actual = record.get(self.name)
        if actual is None:
            return False
        return _OPERATORS[self.operator](actual, self.value)


def parse_filter(text: str | None, fields: dict[str, type]) -> list[Clause]:
    """``a eq x and b ge y``: a conjunction over ``fields`` (name -> ``bool``, ``datetime`` or ``str``)."""
    if not text:
        return []
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.I):
        match = _CLAUSE.match(part)
        if not match:
            raise bad_request(f"Invalid filter clause: {part!r}")
        name, operator, literal = match.group(1), match.group(2).lower(), match.group(3)
        kind = fields.get(name)
        if kind is None:
            raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph'.",
                              code="RequestBroker--ParseUri")
        clauses.append(Clause(name, operator, _literal(literal, kind, name)))
    return clauses


def _literal(literal: str, kind: type, name: str) -> object:
    if kind is bool and literal.lower() in ("true", "false"):
        return literal.lower() == "true"
    if kind is str and literal.startswith("'"):
        return literal[1:-1].replace("''", "'").lower()
    if kind is datetime and literal[0].isdigit():
        return datetime.fromisoformat(literal)
    raise bad_request(f"A value of the wrong type was given for the property '{name}'.")


def parse_orderby(text: str | None, fields: dict[str, type]) -> list[tuple[str, bool]]:
    """``name [asc|desc], ...`` as (name, descending) pairs."""
    if not text:
        return []
    order = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or words[0] not in fields or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise bad_request(f"Invalid $orderby: {part!r}")
        order.append((words[0], len(words) == 2 and words[1] == "desc"))
    return order


def check_sort_is_indexed(clauses: list[Clause], order: list[tuple[str, bool]]) -> None:
    """Exchange's rule for $filter with $orderby: the sorted properties must come first in the filter, in order."""
    if not clauses or not order:
        return
    names = list(dict.fromkeys(clause.name for clause in clauses))
    if names[: len(order)] != [name for name, _ in order]:
        raise bad_request("The restriction or sort order is too complex for this operation.", code="InefficientFilter")


def parse_select(text: str | None, known: set[str]) -> list[str] | None:
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in known:
            raise bad_request(f"Could not find a property named '{name}' on type 'microsoft.graph.message'.",
                              code="RequestBroker--ParseUri")
    return names


def parse_count(text: str | None, name: str, maximum: int) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or not (0 <= int(text) <= maximum):
        raise bad_request(f"Invalid value for {name}: {text!r}")
    return int(text)
