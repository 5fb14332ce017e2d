"""OpsGenie's search query language: parsed with lark, compiled into predicates.

Syntax (AND, OR, NOT are keywords in any case -- quote them to search for the word; whitespace
is free around ``:`` and operators)::

    field:value   field:"quoted value"   field:prefix*   field:(a OR b AND NOT c)
    field < v   field <= v   field > v   field >= v   field != v
    A AND B   A OR B   NOT A   (A)   A B  (juxtaposition = AND)
    bare_term   "bare phrase"   (searched in the field table's bare fields)

Matching is case-insensitive. Keyword fields match the whole value (``*`` = prefix, a lone ``*`` =
non-empty); text fields (message, description) match a run of words; numbers and times compare
numerically; times are epoch milliseconds or an ISO 8601 string (quote it when it has ``:``).

``parse(text)`` returns an immutable AST (cached); ``compile_predicate(ast, table)`` a callable;
``plan_alert_query(text)`` also pulls createdAt/updatedAt ranges out of the top-level AND so the
store can narrow the scan with its sorted indexes. Every error is a QueryError (the server answers
422 with its message).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Optional, Union

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from .timefmt import TimeFormatError, parse_iso

_GRAMMAR = r"""
start: expr
?expr: and_expr
     | expr _OR and_expr          -> or_
?and_expr: unary
     | and_expr _AND unary        -> and_
     | and_expr unary             -> and_
?unary: _NOT unary                -> not_
     | primary
?primary: _LPAR expr _RPAR
     | TERM _COLON fvalue         -> match
     | TERM CMP value             -> compare
     | value                      -> bare
?fvalue: value
     | _LPAR vexpr _RPAR
?vexpr: vand
     | vexpr _OR vand             -> or_
?vand: vunary
     | vand _AND vunary           -> and_
     | vand vunary                -> and_
?vunary: _NOT vunary              -> not_
     | value
     | _LPAR vexpr _RPAR
value: TERM | QUOTED
_AND.2: /and(?![^\s()":<>=!])/i
_OR.2: /or(?![^\s()":<>=!])/i
_NOT.2: /not(?![^\s()":<>=!])/i
_LPAR: "("
_RPAR: ")"
_COLON: ":"
CMP: "<=" | ">=" | "!=" | "<" | ">"
QUOTED: /"(?:\\.|[^"\\])*"/
TERM: /[^\s()":<>=!]+/
%import common.WS
%ignore WS
"""


class QueryError(ValueError):
    """A query that cannot be parsed or evaluated; ``str()`` is the message the server sends."""


# ---------------------------------------------------------------------------------------------- AST
@dataclass(frozen=True)
class Term:
    """``field op value``; ``field`` None is a bare term, ``op`` one of ``: < <= > >= !=``."""

    field: str | None
    op: str
    value: str
    quoted: bool


@dataclass(frozen=True)
class And:
    """All of ``items``."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Any of ``items``."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """Negation of ``item``."""

    item: Node


@dataclass(frozen=True)
class MatchAll:
    """The empty query."""


Node = Union[Term, And, Or, Not, MatchAll]


def _flat(cls: type, items: Sequence[Node]) -> tuple[Node, ...]:
    out: list[Node] = []
    for item in items:
        out.extend(item.items if isinstance(item, cls) else (item,))  # type: ignore[attr-defined]
    return tuple(out)


def _with_field(node: Node, field: str) -> Node:
    if isinstance(node, Term):
        return Term(field, node.op, node.value, node.quoted)
    if isinstance(node, And):
        return And(tuple(_with_field(i, field) for i in node.items))
    if isinstance(node, Or):
        return Or(tuple(_with_field(i, field) for i in node.items))
    if isinstance(node, Not):
        return Not(_with_field(node.item, field))
    return node


@v_args(inline=True)
class _ToAst(Transformer):
    def start(self, node: Node) -> Node:
        return node

    def value(self, token: Token) -> Term:
        text = str(token)
        if token.type == "QUOTED":
            return Term(None, ":", re.sub(r"\\(.)", r"\1", text[1:-1]), True)
        return Term(None, ":", text, False)

    def and_(self, left: Node, right: Node) -> Node:
        return And(_flat(And, (left, right)))

    def or_(self, left: Node, right: Node) -> Node:
        return Or(_flat(Or, (left, right)))

    def not_(self, item: Node) -> Node:
        return Not(item)

    def match(self, field: Token, value: Node) -> Node:
        return _with_field(value, str(field))

    def compare(self, field: Token, op: Token, value: Term) -> Node:
        return Term(str(field), str(op), value.value, value.quoted)

    def bare(self, value: Term) -> Node:
        return value


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", lexer="basic", maybe_placeholders=False)


def _describe(exc: LarkError, text: str) -> str:
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        return "unexpected end of query (an operand or ')' is missing)"
    if isinstance(exc, UnexpectedToken):
        return f"unexpected {str(exc.token)!r} at position {exc.column}"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character {text[exc.pos_in_stream]!r} at position {exc.column}"
    return "cannot parse"


@lru_cache(maxsize=1024)
def parse(text: str) -> Node:
    """Parse query ``text`` into an AST (cached). Raises QueryError when malformed."""
    if not text or not text.strip():
        return MatchAll()
    try:
        tree = _parser().parse(text)
    except LarkError as exc:
        raise QueryError(f"Invalid query [{text}]: {_describe(exc, text)}.") from None
    return _ToAst().transform(tree)


# ----------------------------------------------------------------------------- fields and matching
KEYWORD, KEYWORDS, TEXT, NUMBER, TIME, BOOL = (
    "keyword",
    "keywords",
    "text",
    "number",
    "time",
    "bool",
)
Getter = Callable[[Any], Any]


@dataclass(frozen=True)
class Field:
    """One searchable field: its ``kind`` (keyword, keywords, text, number, time, bool) and getter."""

    kind: str
    get: Getter
    numeric_keyword: bool = False  # keyword holding digits (tinyId): compared as numbers


@dataclass(frozen=True, eq=False)
class FieldTable:
    """The searchable fields of one kind of record (lower-case names), and the bare-term fields."""

    fields: dict[str, Field]
    bare: tuple[str, ...]
    dynamic: Callable[[str], Field | None] | None = None  # e.g. ``details.<key>``

    def lookup(self, name: str) -> Field:
        """The field called ``name`` (case-insensitive). Raises QueryError when unknown."""
        key = name.lower()
        field = self.fields.get(key) or (self.dynamic(name) if self.dynamic else None)
        if field is None:
            known = ", ".join(sorted(self.fields))
            raise QueryError(f"Invalid query: unknown field [{name}]. Known fields: {known}.")
        return field


_TOKEN_RE = re.compile(r"\w+")
_token_cache: dict[str, tuple[str, ...]] = {}


def tokens(text: str) -> tuple[str, ...]:
    """Lower-case words of ``text`` (cached: alert messages repeat)."""
    found = _token_cache.get(text)
    if found is None:
        if len(_token_cache) > 200_000:
            _token_cache.clear()
        found = _token_cache[text] = tuple(_TOKEN_RE.findall(text.lower()))
    return found


def _keyword_test(value: str, quoted: bool) -> Callable[[Any], bool]:
    low = value.lower()
    if not quoted and low == "*":
        return lambda v: v not in (None, "")
    if not quoted and low.endswith("*"):
        prefix = low[:-1]
        return lambda v: v is not None and str(v).lower().startswith(prefix)
    return lambda v: v is not None and str(v).lower() == low


def _text_test(value: str, quoted: bool) -> Callable[[Any], bool]:
    wildcard = not quoted and value.endswith("*")
    words = tokens(value[:-1] if wildcard else value)
    if not words:
        return _keyword_test(value, quoted)
    n = len(words)

    def test(text: Any) -> bool:
        if not text:
            return False
        have = tokens(str(text))
        for i in range(len(have) - n + 1):
            if have[i : i + n - 1] == words[:-1] and (
                have[i + n - 1].startswith(words[-1]) if wildcard else have[i + n - 1] == words[-1]
            ):
                return True
        return False

    return test


def _number(value: str, field: str) -> float:
    if not re.fullmatch(r"-?\d+", value.strip()):
        raise QueryError(f"Invalid query: [{value}] is not an integer value for field [{field}].")
    return int(value)


def time_value(value: str, field: str) -> int:
    """A time operand: epoch ms or ISO 8601 -> epoch ms. Raises QueryError."""
    text = value.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        return parse_iso(text)[0]
    except TimeFormatError:
        raise QueryError(
            f"Invalid query: [{value}] is not a date for field [{field}] "
            "(use epoch milliseconds or a quoted ISO 8601 date-time)."
        ) from None


_CMP = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compile_term(term: Term, table: FieldTable) -> Callable[[Any], bool]:
    if term.field is None:
        tests = []
        for name in table.bare:
            field = table.fields[name]
            tests.append(_compile_field(field, name, ":", term.value, term.quoted))
        return lambda rec: any(t(rec) for t in tests)
    field = table.lookup(term.field)
    return _compile_field(field, term.field, term.op, term.value, term.quoted)


def _compile_field(field: Field, name: str, op: str, value: str, quoted: bool) -> Callable:
    get = field.get
    if op == "!=":
        positive = _compile_field(field, name, ":", value, quoted)
        return lambda rec: not positive(rec)
    kind = field.kind
    if kind == BOOL:
        low = value.lower()
        if op != ":" or low not in ("true", "false"):
            raise QueryError(
                f"Invalid query: field [{name}] takes true or false, not [{op}{value}]."
            )
        want = low == "true"
        return lambda rec: bool(get(rec)) is want
    if kind in (NUMBER, TIME) or (field.numeric_keyword and op != ":"):
        parse_value = time_value if kind == TIME else _number
        if op == ":" and not quoted and value == "*":
            return lambda rec: get(rec) is not None
        target = parse_value(value, name)
        if op == ":":
            return lambda rec: get(rec) == target
        cmp = _CMP[op]

        def compare(rec: Any) -> bool:
            have = get(rec)
            if have is None:
                return False
            try:
                return cmp(int(have), target)
            except (TypeError, ValueError):
                return False

        return compare
    if op != ":":
        if kind == TEXT:
            raise QueryError(f"Invalid query: field [{name}] cannot be compared with [{op}].")
        low = value.lower()
        cmp = _CMP[op]
        if kind == KEYWORDS:
            return lambda rec: any(cmp(str(v).lower(), low) for v in get(rec) or ())
        return lambda rec: get(rec) is not None and cmp(str(get(rec)).lower(), low)
    if kind == TEXT:
        test = _text_test(value, quoted)
        return lambda rec: test(get(rec))
    test = _keyword_test(value, quoted)
    if kind == KEYWORDS:
        return lambda rec: any(test(v) for v in get(rec) or ())
    return lambda rec: test(get(rec))


def compile_predicate(node: Node, table: FieldTable) -> Callable[[Any], bool]:
    """Compile an AST against ``table`` into ``record -> bool``. Raises QueryError."""
    if isinstance(node, MatchAll):
        return lambda rec: True
    if isinstance(node, Term):
        return _compile_term(node, table)
    if isinstance(node, Not):
        inner = compile_predicate(node.item, table)
        return lambda rec: not inner(rec)
    parts = [compile_predicate(i, table) for i in node.items]
    if isinstance(node, And):
        if len(parts) == 2:
            first, second = parts
            return lambda rec: first(rec) and second(rec)
        return lambda rec: all(p(rec) for p in parts)
    return lambda rec: any(p(rec) for p in parts)


@lru_cache(maxsize=256)
def compile_query(text: str, table: FieldTable) -> Callable[[Any], bool]:
    """Parse and compile ``text`` against ``table`` (cached)."""
    return compile_predicate(parse(text), table)


# ------------------------------------------------------------------------ alert query planning
Range = tuple[Optional[int], Optional[int]]  # [lo inclusive, hi exclusive) in epoch ms
INDEXED_TIME_FIELDS = ("createdAt", "updatedAt")


@dataclass(frozen=True)
class AlertQueryPlan:
    """A parsed alert query split for the store's indexes.

    ``ranges`` maps createdAt/updatedAt to ``(lo, hi)`` (epoch ms, lo inclusive, hi exclusive, None =
    open) taken from the top-level AND; ``residual`` is the rest of that AND (``()`` = nothing
    else); ``empty`` is True when the ranges cannot match anything.
    """

    ranges: dict[str, Range]
    residual: tuple[Node, ...]
    empty: bool

    def residual_with_range(self, field: str) -> tuple[Node, ...]:
        """The residual plus the range on ``field`` re-expressed as terms (for another index)."""
        lo, hi = self.ranges.get(field, (None, None))
        extra: list[Node] = []
        if lo is not None:
            extra.append(Term(field, ">=", str(lo), False))
        if hi is not None:
            extra.append(Term(field, "<", str(hi), False))
        return self.residual + tuple(extra)


def _range_of(term: Term) -> Range | None:
    value = time_value(term.value, term.field or "")
    return {
        ":": (value, value + 1),
        ">=": (value, None),
        ">": (value + 1, None),
        "<": (None, value),
        "<=": (None, value + 1),
    }.get(term.op)


@lru_cache(maxsize=1024)
def plan_alert_query(text: str) -> AlertQueryPlan:
    """Parse an alert query and split createdAt/updatedAt ranges off its top-level AND (cached)."""
    root = parse(text)
    conjuncts = (
        root.items if isinstance(root, And) else (() if isinstance(root, MatchAll) else (root,))
    )
    ranges: dict[str, list[int | None]] = {}
    residual: list[Node] = []
    for node in conjuncts:
        canonical = None
        if (
            isinstance(node, Term)
            and node.field
            and node.op != "!="
            and not (node.op == ":" and node.value == "*" and not node.quoted)
        ):
            canonical = next(
                (f for f in INDEXED_TIME_FIELDS if f.lower() == node.field.lower()), None
            )
        rng = _range_of(node) if canonical else None
        if rng is None:
            residual.append(node)
            continue
        bounds = ranges.setdefault(canonical, [None, None])
        lo, hi = rng
        if lo is not None:
            bounds[0] = lo if bounds[0] is None else max(bounds[0], lo)
        if hi is not None:
            bounds[1] = hi if bounds[1] is None else min(bounds[1], hi)
    final = {k: (v[0], v[1]) for k, v in ranges.items()}
    empty = any(lo is not None and hi is not None and lo >= hi for lo, hi in final.values())
    return AlertQueryPlan(final, tuple(residual), empty)
