"""PostgreSQL's binary COPY format, encoded column by column with Arrow kernels.

``encode_copy_binary(frame)`` yields the bytes of ``COPY ... FROM STDIN (FORMAT binary)``: the
``PGCOPY`` header, then per row a 16-bit field count and per field a 32-bit length (-1 for NULL)
and the value in PostgreSQL's binary send format (big-endian), then the -1 trailer. No Python loop
runs over rows or values. Dtypes map to the column types of :mod:`.types`.

Example::

    with cursor.copy('COPY "s"."t" ("ts", "close") FROM STDIN (FORMAT binary)') as copy:
        for chunk in encode_copy_binary(frame.select("ts", "close")):
            copy.write(chunk)
"""

from __future__ import annotations

import array
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    import pyarrow as pa

# Rows per COPY chunk: bounds the memory of the encoded copy of the frame.
COPY_CHUNK_ROWS = 100_000
# PostgreSQL's binary timestamps and dates count from 2000-01-01.
PG_EPOCH_MICROSECONDS = 946_684_800_000_000
PG_EPOCH_DAYS = 10_957
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
NULL_FIELD = struct.pack(">i", -1)
NUMERIC_NEGATIVE = 0x4000


def encode_copy_binary(frame: pl.DataFrame, chunk_rows: int = COPY_CHUNK_ROWS) -> Iterator[bytes]:
    """The frame in PostgreSQL's binary COPY format, in chunks of ``chunk_rows`` rows.

    Each column becomes its wire form with polars expressions (big-endian fixed-width values,
    length-prefixed bytes). Adjacent fixed-width columns without nulls are laid out together by
    strided byte copies; Arrow's element-wise binary join then glues the fields of each row. No
    Python loop runs over rows or values. Types follow :func:`.types.column_type`.
    """
    import pyarrow as pa

    empty = pa.scalar(b"", pa.large_binary())
    null_field = pa.scalar(NULL_FIELD, pa.large_binary())
    row_header = pa.scalar(struct.pack(">h", frame.width), pa.large_binary())
    plans = [_field_plan(name, dtype) for name, dtype in frame.schema.items()]
    prepared = frame.select(expr for plan in plans for expr in plan.exprs)

    yield COPY_HEADER
    for chunk in prepared.iter_slices(chunk_rows):
        table = chunk.to_arrow()
        fields = []
        block: list[tuple[_FixedLayout, pa.Array]] = []
        for plan in plans:
            arrays = [table.column(name).combine_chunks() for name in plan.columns]
            if plan.fixed is not None and not arrays[0].null_count:
                block.append((plan.fixed, arrays[0]))
                continue
            if block:
                fields.append(_fixed_block(block))
                block = []
            encoded = plan.encode(arrays)
            # A row field is NULL when its first source column is null.
            if arrays[0].null_count:
                encoded = _if_else(arrays[0].is_valid(), encoded, null_field)
            fields.append(encoded)
        if block:
            fields.append(_fixed_block(block))
        rows = _binary_join(row_header, *fields, empty)
        yield _large_binary_data(rows)
    yield COPY_TRAILER


@dataclass(frozen=True)
class _FieldPlan:
    """Wire columns of one frame column (``exprs``) and how to turn them into COPY fields."""

    columns: tuple[str, ...]
    exprs: tuple[pl.Expr, ...]
    encode: Callable[[list[pa.Array]], pa.Array]
    fixed: _FixedLayout | None = None  # set for fixed-width fields


@dataclass(frozen=True)
class _FixedLayout:
    """A fixed-width field: big-endian value of ``width`` bytes (array ``typecode``) + suffix."""

    typecode: str
    width: int
    suffix: bytes = b""

    @property
    def template(self) -> bytes:
        """The field with a zero value: length prefix, value bytes, suffix."""
        return struct.pack(">i", self.width + len(self.suffix)) + bytes(self.width) + self.suffix


# Big-endian fixed-width encodings: array typecode and byte width.
_FIXED = {
    pl.Int16: ("h", 2),
    pl.Int32: ("i", 4),
    pl.Int64: ("q", 8),
    pl.Float32: ("f", 4),
    pl.Float64: ("d", 8),
    pl.UInt8: ("B", 1),
}


def _field_plan(name: str, dtype: pl.DataType) -> _FieldPlan:
    col = pl.col(name)
    if dtype == pl.Boolean:
        return _fixed_plan(name, col.cast(pl.UInt8), pl.UInt8)
    if dtype in (pl.Int8, pl.Int16, pl.UInt8):
        return _fixed_plan(name, col.cast(pl.Int16), pl.Int16)
    if dtype in (pl.Int32, pl.UInt16):
        return _fixed_plan(name, col.cast(pl.Int32), pl.Int32)
    if dtype in (pl.Int64, pl.UInt32):
        return _fixed_plan(name, col.cast(pl.Int64), pl.Int64)
    if dtype in (pl.Float32, pl.Float64):
        return _fixed_plan(name, col, dtype)
    if dtype == pl.UInt64:
        return _numeric_plan(name, col.cast(pl.Decimal(20, 0)), 20, 0)
    if isinstance(dtype, pl.Decimal):
        return _numeric_plan(name, col, dtype.precision, dtype.scale)
    if dtype == pl.Date:
        return _fixed_plan(name, col.cast(pl.Int32) - PG_EPOCH_DAYS, pl.Int32)
    if isinstance(dtype, pl.Datetime):
        return _fixed_plan(name, col.dt.epoch("us") - PG_EPOCH_MICROSECONDS, pl.Int64)
    if dtype == pl.Time:
        return _fixed_plan(name, col.to_physical() // 1000, pl.Int64)
    if isinstance(dtype, pl.Duration):
        # interval: microseconds, then days and months (zero).
        return _fixed_plan(name, col.dt.total_microseconds(), pl.Int64, suffix=bytes(8))
    if dtype == pl.Binary:
        return _variable_plan(name, col)
    # String, Categorical, Enum, Null: text.
    return _variable_plan(name, col.cast(pl.String).cast(pl.Binary))


def _fixed_plan(
    name: str, expr: pl.Expr, wire: type[pl.DataType] | pl.DataType, suffix: bytes = b""
) -> _FieldPlan:
    import pyarrow as pa

    typecode, width = _FIXED[wire if isinstance(wire, type) else type(wire)]
    prefix = pa.scalar(struct.pack(">i", width + len(suffix)), pa.large_binary())
    tail = pa.scalar(suffix, pa.large_binary())

    def encode(arrays: list[pa.Array]) -> pa.Array:
        values = _big_endian(arrays[0], typecode, width)
        return _binary_join(prefix, values, tail, pa.scalar(b"", pa.large_binary()))

    layout = _FixedLayout(typecode, width, suffix)
    return _FieldPlan((name,), (expr.alias(name),), encode, fixed=layout)


def _fixed_block(columns: list[tuple[_FixedLayout, pa.Array]]) -> pa.Array:
    """Adjacent null-free fixed-width fields as one fixed-size element per row.

    The row template is repeated, then each value byte lands by one strided copy: cheaper than an
    element-wise binary join per column.
    """
    import pyarrow as pa

    rows = len(columns[0][1])
    template = b"".join(layout.template for layout, _ in columns)
    size = len(template)
    block = bytearray(template) * rows
    offset = 0
    for layout, values in columns:
        data = _big_endian_bytes(values, layout.typecode, layout.width)
        start = offset + 4  # after the length prefix
        for k in range(layout.width):
            block[start + k :: size] = data[k :: layout.width]
        offset += len(layout.template)
    fixed = pa.Array.from_buffers(pa.binary(size), rows, [None, pa.py_buffer(block)])
    return fixed.cast(pa.large_binary())


def _variable_plan(name: str, expr: pl.Expr) -> _FieldPlan:
    import pyarrow as pa

    empty = pa.scalar(b"", pa.large_binary())

    def encode(arrays: list[pa.Array]) -> pa.Array:
        values = arrays[0].cast(pa.large_binary())
        lengths = _binary_length(values).cast(pa.int32()).fill_null(0)
        return _binary_join(_big_endian(lengths, "i", 4), values, empty)

    return _FieldPlan((name,), (expr.alias(name),), encode)


def _numeric_plan(name: str, expr: pl.Expr, precision: int, scale: int) -> _FieldPlan:
    """NUMERIC in binary: digit count, weight, sign, scale, then base-10000 digits.

    Every value gets the same digit layout (the groups of a NUMERIC(precision, scale)), built with
    string operations on the exact decimal text; PostgreSQL strips the zero groups on receipt.
    """
    import pyarrow as pa

    integer_groups = -(-(precision - scale) // 4)
    fraction_groups = -(-scale // 4)
    groups = integer_groups + fraction_groups
    text = expr.cast(pl.String)
    unsigned = text.str.strip_prefix("-")
    parts = unsigned.str.split_exact(".", 1)
    pieces = []
    if integer_groups:
        pieces.append(parts.struct.field("field_0").str.pad_start(4 * integer_groups, "0"))
    if fraction_groups:
        fraction = parts.struct.field("field_1").fill_null("")
        pieces.append(fraction.str.pad_end(4 * fraction_groups, "0"))
    digits = pl.concat_str(pieces)
    # Helper column names contain "#", which validated column names cannot, so never collide.
    sign_column = f"{name}#sign"
    digit_columns = [f"{name}#{k}" for k in range(groups)]
    exprs = (
        text.alias(name),
        pl.when(text.str.starts_with("-"))
        .then(NUMERIC_NEGATIVE)
        .otherwise(0)
        .cast(pl.Int16)
        .alias(sign_column),
        *(digits.str.slice(4 * k, 4).cast(pl.Int16).alias(c) for k, c in enumerate(digit_columns)),
    )
    head = pa.scalar(
        struct.pack(">ihh", 8 + 2 * groups, groups, integer_groups - 1), pa.large_binary()
    )
    dscale = pa.scalar(struct.pack(">h", scale), pa.large_binary())
    empty = pa.scalar(b"", pa.large_binary())

    def encode(arrays: list[pa.Array]) -> pa.Array:
        sign = _big_endian(arrays[1].fill_null(0), "h", 2)
        digit_arrays = [_big_endian(a.fill_null(0), "h", 2) for a in arrays[2:]]
        return _binary_join(head, sign, dscale, *digit_arrays, empty)

    return _FieldPlan((name, sign_column, *digit_columns), exprs, encode)


# pyarrow generates most compute functions (if_else, binary_length, binary_join_element_wise)
# when pyarrow.compute is imported, so type checkers do not see them as attributes of the
# module. They are called by name through the declared pc.call_function instead, which is what
# the generated functions do with default options.


def _if_else(condition: pa.Array, when_true: pa.Array, when_false: pa.Scalar) -> pa.Array:
    import pyarrow.compute as pc

    return pc.call_function("if_else", [condition, when_true, when_false])


def _binary_length(values: pa.Array) -> pa.Array:
    import pyarrow.compute as pc

    return pc.call_function("binary_length", [values])


def _binary_join(*parts: pa.Array | pa.Scalar) -> pa.Array:
    """Arrow's ``binary_join_element_wise``: the parts of each row joined by the last part."""
    import pyarrow.compute as pc

    return pc.call_function("binary_join_element_wise", list(parts))


def _big_endian_bytes(values: pa.Array, typecode: str, width: int) -> bytes:
    """The values of a fixed-width array, big-endian, back to back (null slots hold garbage)."""
    data = values.buffers()[1]
    assert data is not None
    raw = memoryview(data)[values.offset * width : (values.offset + len(values)) * width]
    if width == 1 or sys.byteorder == "big":
        return raw.tobytes()
    swapped = array.array(typecode)
    swapped.frombytes(raw)
    swapped.byteswap()
    return swapped.tobytes()


def _big_endian(values: pa.Array, typecode: str, width: int) -> pa.Array:
    """Fixed-width values as big-endian ``large_binary`` elements (null slots hold garbage)."""
    import pyarrow as pa

    raw = pa.py_buffer(_big_endian_bytes(values, typecode, width))
    fixed = pa.Array.from_buffers(pa.binary(width), len(values), [None, raw])
    return fixed.cast(pa.large_binary())


def _large_binary_data(rows: pa.Array) -> bytes:
    """The concatenated bytes of a ``large_binary`` array without nulls."""
    offsets = memoryview(rows.buffers()[1]).cast("q")
    start, end = offsets[rows.offset], offsets[rows.offset + len(rows)]
    return memoryview(rows.buffers()[2])[start:end].tobytes()
