"""``partition_expr`` as a SQL expression over columns: parsed, checked, rendered per dialect.

A table slice is selected by ``<expression> >= ? AND <expression> < ?`` with the partition
bounds bound as parameters. The expression is parsed with sqlglot and accepted only if every
node belongs to this small grammar:

- column references (validated identifiers, no table qualifier), numeric literals;
- arithmetic ``+ - * /`` (``/`` is true division in every dialect), unary minus, parentheses;
- ``CAST(x AS <type>)`` / ``x::<type>`` to DATE, TIMESTAMP, BIGINT, INTEGER, DOUBLE, VARCHAR;
- ``TO_TIMESTAMP(seconds)`` and ``EPOCH_MS(milliseconds)``: epoch numbers as UTC timestamps;
- ``STRPTIME(text, '<format>')`` with a format of ``%Y %m %d %H %M %S`` and ``- / : . space``.

The outermost node must give a date or timestamp (a cast to DATE or TIMESTAMP, or one of the
functions). Anything else (statements, subqueries, comments, other functions or literals,
qualified columns, comparisons) is refused with :class:`~.errors.MetadataError`.

Example::

    expr = parse_partition_expr("EPOCH_MS(ts_ms)", asset="market/trades")
    expr.columns  # ("ts_ms",)
    render_sql(expr, "postgres")  # ("(to_timestamp(\"ts_ms\" / 1000.0) AT TIME ZONE 'UTC')", ...)
    expr.evaluate(frame)  # the same values, computed by polars
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import polars as pl

if TYPE_CHECKING:
    from sqlglot import exp

from .errors import MetadataError, UnsafeExpressionError
from .naming import IDENTIFIER_PATTERN, IDENTIFIER_RULE, quote_identifier

Dialect = Literal["duckdb", "postgres", "sqlite"]
ResultKind = Literal["date", "timestamp"]
MAX_LENGTH = 500

GRAMMAR = (
    "partition_expr takes a column name or an expression over columns: arithmetic (+ - * /), "
    "CAST(x AS DATE|TIMESTAMP|BIGINT|INTEGER|DOUBLE|VARCHAR), TO_TIMESTAMP(epoch_seconds), "
    "EPOCH_MS(epoch_milliseconds), STRPTIME(text, '%Y-%m-%d'), e.g. "
    '"EPOCH_MS(ts_ms)", "TO_TIMESTAMP(ts_ms / 1000)", "CAST(day AS DATE)" '
    "(docs/io-managers.md, 'Partition expressions')"
)

# sqlglot's type names -> ours. sqlglot is imported where an expression is parsed: a plain
# column name (the usual partition_expr) never loads it, nor does the code location.
_CAST_TYPES = {
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMPNTZ": "timestamp",
    "BIGINT": "bigint",
    "INT": "integer",
    "DOUBLE": "double",
    "VARCHAR": "text",
    "TEXT": "text",
}
_FORMAT_PATTERN = re.compile(r"(?:%[YmdHMS]|[-/:. ])+")
_PG_FORMAT = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH24", "%M": "MI", "%S": "SS"}
_SQLITE_FORMATS = {"%Y-%m-%d", "%Y-%m-%d %H:%M:%S"}
_SQL_TYPES: dict[Dialect, dict[str, str]] = {
    "duckdb": {"bigint": "BIGINT", "integer": "INTEGER", "double": "DOUBLE", "text": "VARCHAR"},
    "postgres": {
        "bigint": "bigint",
        "integer": "integer",
        "double": "double precision",
        "text": "text",
    },
    "sqlite": {"bigint": "INTEGER", "integer": "INTEGER", "double": "REAL", "text": "TEXT"},
}
_POLARS_TYPES: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "bigint": pl.Int64(),
    "integer": pl.Int32(),
    "double": pl.Float64(),
    "text": pl.String(),
}
#: SQLite keeps timestamps as text; an expression's timestamps are rendered with milliseconds.
SQLITE_TIMESTAMP_DIGITS = 3
_SQLITE_TIMESTAMP = "'%Y-%m-%d %H:%M:%f'"


# -------------------------------------------------------------------- the checked tree


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Number:
    text: str


@dataclass(frozen=True)
class Arithmetic:
    op: Literal["+", "-", "*", "/"]
    left: Node
    right: Node


@dataclass(frozen=True)
class Negative:
    operand: Node


@dataclass(frozen=True)
class Cast:
    operand: Node
    to: str  # a key of _POLARS_TYPES


@dataclass(frozen=True)
class FromEpoch:
    operand: Node
    per_second: int  # 1 (seconds) or 1000 (milliseconds)


@dataclass(frozen=True)
class ParseTime:
    operand: Node
    format: str


Node = Column | Number | Arithmetic | Negative | Cast | FromEpoch | ParseTime


@dataclass(frozen=True)
class PartitionExpr:
    """A checked ``partition_expr`` expression; ``columns`` are the columns it reads.

    Example::

        expr = parse_partition_expr("CAST(day AS DATE)", asset="market/days")
        expr.kind  # "date": partition bounds are bound as dates
    """

    source: str
    tree: Node
    columns: tuple[str, ...]
    kind: ResultKind

    def evaluate(self, frame: pl.DataFrame) -> pl.Series:
        """The expression's value for each row of ``frame``, computed by polars (for checks
        and splits of frames): Date for kind ``date``, naive UTC Datetime for ``timestamp``;
        null where a value does not parse."""
        return _evaluate(self.tree, frame).alias(self.source)

    def check_dialect(self, dialect: Dialect, *, asset: str, manager: str) -> None:
        """Refuse an expression ``dialect`` cannot compute (SQLite: STRPTIME of a non-ISO
        format), before anything is written."""
        if dialect != "sqlite":
            return
        for node in _nodes(self.tree):
            if isinstance(node, ParseTime) and node.format not in _SQLITE_FORMATS:
                raise MetadataError(
                    f"Asset {asset}: partition_expr {self.source!r} cannot run on {manager} "
                    f"with SQLite: {_sqlite_format_problem(node.format)}"
                )

    def uses_only(self, available: list[str], *, asset: str, where: str) -> None:
        """Refuse an expression naming a column that ``where`` does not have."""
        missing = [c for c in self.columns if c not in available]
        if missing:
            raise MetadataError(
                f"Asset {asset}: partition_expr {self.source!r} reads column(s) "
                f"{', '.join(map(repr, missing))}, which the {where} does not have (columns: "
                f"{', '.join(available)}). Name existing columns in the expression."
            )


def _nodes(node: Node) -> list[Node]:
    """``node`` and every node under it."""
    if isinstance(node, Column | Number):
        return [node]
    if isinstance(node, Arithmetic):
        return [node, *_nodes(node.left), *_nodes(node.right)]
    return [node, *_nodes(node.operand)]


def _sqlite_format_problem(fmt: str) -> str:
    return (
        f"SQLite has no STRPTIME and parses only ISO text, so the format {fmt!r} is not "
        f"supported there ({' or '.join(sorted(_SQLITE_FORMATS))} are). Store the column as ISO "
        "text (then CAST(day AS DATE)), or compute a DATE column in the asset."
    )


def is_bare_column(text: str) -> bool:
    """Whether ``partition_expr`` is a plain column name (not an expression)."""
    return bool(IDENTIFIER_PATTERN.fullmatch(text))


def parse_partition_expr(text: str, *, asset: str) -> PartitionExpr:
    """Parse and check an expression; raise :class:`MetadataError` naming the problem and fix."""

    def refuse(problem: str) -> UnsafeExpressionError:
        return UnsafeExpressionError(
            f"Refusing partition_expr {text!r} of asset {asset}: {problem}. {GRAMMAR}."
        )

    if len(text) > MAX_LENGTH:
        raise refuse(f"it is longer than {MAX_LENGTH} characters")
    if "\x00" in text:
        raise refuse("it holds a NUL character")
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        tokens = sqlglot.tokenize(text, read="duckdb")
        statements = sqlglot.parse(text, read="duckdb")
    except SqlglotError as error:
        raise refuse(f"it is not valid SQL ({str(error).splitlines()[0]})") from None
    if any(token.comments for token in tokens):
        raise refuse("comments are not allowed")
    if len(statements) != 1 or statements[0] is None:
        raise refuse("it must be exactly one expression (no ';', no statements)")
    root = statements[0]
    for node in root.walk():
        if node.comments:
            raise refuse("comments are not allowed")
    columns: list[str] = []
    tree = _check(root, columns, refuse)
    if isinstance(tree, Cast) and tree.to in ("date", "timestamp"):
        kind: ResultKind = "date" if tree.to == "date" else "timestamp"
    elif isinstance(tree, FromEpoch | ParseTime):
        kind = "timestamp"
    else:
        raise MetadataError(
            f"Asset {asset}: partition_expr {text!r} does not give a date or timestamp: "
            "a time partition needs a DATE or TIMESTAMP value, so the outermost part must be "
            "CAST(... AS DATE|TIMESTAMP), TO_TIMESTAMP(...), EPOCH_MS(...) or STRPTIME(...), "
            'e.g. "EPOCH_MS(ts_ms)" or "CAST(day AS DATE)".'
        )
    return PartitionExpr(text, tree, tuple(dict.fromkeys(columns)), kind)


def _check(node: exp.Expr, columns: list[str], refuse: Callable[[str], Exception]) -> Node:
    from sqlglot import exp

    def sub(child: exp.Expr | None) -> Node:
        if child is None:
            raise refuse(f"{node.sql()!r} is incomplete")
        return _check(child, columns, refuse)

    if isinstance(node, exp.Paren):
        return sub(node.this)
    if isinstance(node, exp.Column):
        if node.table or node.args.get("db") or node.args.get("catalog"):
            raise refuse(f"column {node.sql()!r} is qualified; name the column alone")
        if not isinstance(node.this, exp.Identifier):
            raise refuse(f"{node.sql()!r} is not a column name")
        name = node.this.name
        if not IDENTIFIER_PATTERN.fullmatch(name):
            raise refuse(f"column {name!r} is not a valid identifier ({IDENTIFIER_RULE})")
        columns.append(name)
        return Column(name)
    if isinstance(node, exp.Literal):
        if node.is_string:
            raise refuse(
                f"the string {node.this!r} is not allowed here; strings are only the format of "
                "STRPTIME"
            )
        if not re.fullmatch(r"\d+(\.\d+)?", node.this):
            raise refuse(f"{node.this!r} is not a plain number")
        return Number(node.this)
    if isinstance(node, exp.Neg):
        return Negative(sub(node.this))
    ops = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/"}
    for kind, op in ops.items():
        if type(node) is kind:
            return Arithmetic(op, sub(node.this), sub(node.expression))  # type: ignore[arg-type]
    if type(node) is exp.Cast:
        to = node.args.get("to")
        target = _CAST_TYPES.get(to.this.name) if isinstance(to, exp.DataType) else None
        if target is None or (isinstance(to, exp.DataType) and to.expressions):
            raise refuse(
                f"CAST to {to.sql() if to is not None else '?'} is not supported; cast to "
                "DATE, TIMESTAMP, BIGINT, INTEGER, DOUBLE or VARCHAR"
            )
        return Cast(sub(node.this), target)
    if type(node) is exp.UnixToTime:
        scale = node.args.get("scale")
        extra = [k for k, v in node.args.items() if v is not None and k not in ("this", "scale")]
        if extra or (
            scale is not None and not (isinstance(scale, exp.Literal) and scale.this in ("3", "0"))
        ):
            raise refuse(
                f"{node.sql()!r}: only TO_TIMESTAMP(seconds) and EPOCH_MS(ms) are supported"
            )
        per_second = 1000 if scale is not None and scale.this == "3" else 1
        return FromEpoch(sub(node.this), per_second)
    if type(node) is exp.StrToTime:
        fmt = node.args.get("format")
        extra = [k for k, v in node.args.items() if v is not None and k not in ("this", "format")]
        if extra or not isinstance(fmt, exp.Literal) or not fmt.is_string:
            raise refuse("STRPTIME takes a column expression and a format string literal")
        if not _FORMAT_PATTERN.fullmatch(fmt.this):
            raise refuse(
                f"format {fmt.this!r} is not supported; use %Y %m %d %H %M %S separated by "
                "- / : . or spaces, e.g. '%Y-%m-%d'"
            )
        return ParseTime(sub(node.this), fmt.this)
    if isinstance(node, exp.Subquery | exp.Select | exp.Query):
        raise refuse("subqueries are not allowed")
    if isinstance(node, exp.Func):
        name = node.sql_name() if not isinstance(node, exp.Anonymous) else node.name
        raise refuse(f"function {name.upper()} is not in the allowed list")
    raise refuse(f"{node.key.upper()} ({node.sql()!r}) is not allowed in a partition expression")


# -------------------------------------------------------------------- rendering


def render_sql(
    expr: PartitionExpr, dialect: Dialect, quote: Callable[[str], str] = quote_identifier
) -> str:
    """The expression in ``dialect``'s SQL, its result comparable with bounds of ``expr.kind``
    (SQLite: text, timestamps with :data:`SQLITE_TIMESTAMP_DIGITS` fraction digits)."""
    return _sql(expr.tree, dialect, quote)


def _sql(node: Node, dialect: Dialect, quote: Callable[[str], str]) -> str:
    def sub(child: Node) -> str:
        return _sql(child, dialect, quote)

    if isinstance(node, Column):
        return quote(node.name)
    if isinstance(node, Number):
        return node.text
    if isinstance(node, Negative):
        return f"(-{sub(node.operand)})"
    if isinstance(node, Arithmetic):
        left = sub(node.left)
        if node.op == "/":
            # True division in every dialect (PostgreSQL and SQLite divide integers exactly).
            left = {
                "duckdb": left,
                "postgres": f"CAST({left} AS double precision)",
                "sqlite": f"CAST({left} AS REAL)",
            }[dialect]
        return f"({left} {node.op} {sub(node.right)})"
    if isinstance(node, FromEpoch):
        seconds = sub(node.operand)
        if node.per_second != 1:
            seconds = f"({seconds} / {node.per_second}.0)"
        # A UTC timestamp without time zone, whatever the session's time zone.
        return {
            "duckdb": f"make_timestamp(CAST(round({seconds} * 1000000) AS BIGINT))",
            "postgres": f"(to_timestamp({seconds}) AT TIME ZONE 'UTC')",
            "sqlite": f"strftime({_SQLITE_TIMESTAMP}, {seconds}, 'unixepoch')",
        }[dialect]
    if isinstance(node, ParseTime):
        text = sub(node.operand)
        if dialect == "duckdb":
            return f"strptime({text}, '{node.format}')"
        if dialect == "postgres":
            pg_format = re.sub(r"%[YmdHMS]", lambda m: _PG_FORMAT[m.group()], node.format)
            return f"CAST(to_timestamp({text}, '{pg_format}') AS timestamp)"
        if node.format not in _SQLITE_FORMATS:
            raise MetadataError(_sqlite_format_problem(node.format))
        return f"strftime({_SQLITE_TIMESTAMP}, {text})"
    operand = sub(node.operand)
    if node.to == "date":
        return f"date({operand})" if dialect == "sqlite" else f"CAST({operand} AS DATE)"
    if node.to == "timestamp":
        if dialect == "sqlite":
            return f"strftime({_SQLITE_TIMESTAMP}, {operand})"
        return f"CAST({operand} AS TIMESTAMP)"
    return f"CAST({operand} AS {_SQL_TYPES[dialect][node.to]})"


def _evaluate(node: Node, frame: pl.DataFrame) -> pl.Series:
    if isinstance(node, Column):
        return frame.get_column(node.name)
    if isinstance(node, Number):
        value = float(node.text) if "." in node.text else int(node.text)
        return pl.repeat(value, frame.height, eager=True)
    if isinstance(node, Negative):
        return -_evaluate(node.operand, frame)
    if isinstance(node, Arithmetic):
        left, right = _evaluate(node.left, frame), _evaluate(node.right, frame)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        return left / right
    if isinstance(node, FromEpoch):
        epoch = _evaluate(node.operand, frame).cast(pl.Float64, strict=False)
        micros = (epoch * (1_000_000 // node.per_second)).round().cast(pl.Int64)
        return micros.cast(pl.Datetime("us"))
    if isinstance(node, ParseTime):
        text = _evaluate(node.operand, frame).cast(pl.String, strict=False)
        return text.str.strptime(pl.Datetime("us"), node.format, strict=False)
    return _cast(_evaluate(node.operand, frame), node.to)


def _cast(series: pl.Series, to: str) -> pl.Series:
    """A cast as the databases do it: ISO text to dates and timestamps, UTC for instants."""
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        series = series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    if to == "date":
        if dtype == pl.String:
            return series.str.to_date("%Y-%m-%d", strict=False)
        if isinstance(dtype, pl.Datetime):
            return series.dt.date()
    elif to == "timestamp" and dtype == pl.String:
        return series.str.to_datetime(time_unit="us", strict=False)
    return series.cast(_POLARS_TYPES[to], strict=False)
