"""DuckDB SQL → PostgreSQL SQL: the journal's one set of models, run on both databases.

The transforms, the data checks and the report's queries are written once, in DuckDB's
dialect. On PostgreSQL every statement goes through ``to_postgres``: sqlglot (the
version dlt pins) transpiles it, after the rewrites below, each one exact:

======================================  ================================================
DuckDB                                  PostgreSQL
======================================  ================================================
``a ASOF [LEFT] JOIN b ON k = k AND     one sorted pass: the keys and times of both
a.t >= b.t`` (or ``<=``)                sides in one window (``max``/``min`` of b's row
                                        number carried forward), then plain joins; b's
                                        rows are numbered once in a ``MATERIALIZED`` CTE
``QUALIFY cond``                        ``SELECT <its columns> FROM (SELECT ..., cond AS
                                        __keep) WHERE __keep``
``GROUP BY ALL``                        ``GROUP BY`` the positions of the non-aggregates
``* EXCLUDE (c)``, ``t.* EXCLUDE (c)``,  the columns listed, as PostgreSQL reports them
``UNION ALL BY NAME``                   for the same ``FROM`` (``resolve_columns``)
``any_value(x)``                        ``journal_int.okx_any_value(x)`` (first non-NULL)
``arg_max(x, (a, b))`` / ``arg_min``    ``(array_agg(x ORDER BY a DESC, b DESC))[1]``
``epoch_ms(ts)``, ``epoch(ts)``         ``extract(epoch ...)`` in ms / s
``try_cast(s AS UBIGINT/DECIMAL)``      a regular-expression guard, then the cast
``try_strptime(s, '%y%m%d')``           a guard, then ``to_timestamp(s, 'YYMMDD')``
``hash(a, b, ...)``                     ``md5`` of the row (only ever a partition key)
``unnest(generate_series(...))``        ``generate_series(...)`` (a set already)
``list``, ``list_slice``, ``starts_with``  ``array_agg``, ``[a:b]``, ``left(s, n) = p``
``dayname``, ``isodow``                 ``to_char(..., 'FMDay')``, ``extract(isodow)``
======================================  ================================================

Division: DuckDB divides in DOUBLE (``DECIMAL / DECIMAL`` too) and converts a DECIMAL
to DOUBLE as ``digits / 10^scale`` while the digits fit in 53 bits, else as
``double(integer part) + double(fraction digits) / 10^scale``; a DOUBLE
cast to ``DECIMAL(p, s)`` is ``round-half-away(double(x · 10^s))``, exact. Both are
reproduced by ``journal_int.okx_to_double`` and ``journal_int.okx_double_to_decimal``
(``SUPPORT_SQL``), so ratios such as ``entry_px`` or ``win_rate`` have the same digits on
both databases, not merely close ones. Every other money operation is exact ``NUMERIC``
arithmetic on both (PostgreSQL keeps the scale of each value as DuckDB keeps it in the
type).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

__all__ = ["SUPPORT_SCHEMA", "SUPPORT_SQL", "ColumnResolver", "TranslationError", "to_postgres"]

#: where the support functions live (the intermediate layer's schema)
SUPPORT_SCHEMA = "journal_int"

#: ``resolve_columns(sql)``: the column names PostgreSQL gives the query's result.
ColumnResolver = Callable[[str], Sequence[str]]

_F = SUPPORT_SCHEMA
#: Functions the translated SQL calls; created (``CREATE OR REPLACE``) before a build.
SUPPORT_SQL: tuple[str, ...] = (
    f"CREATE SCHEMA IF NOT EXISTS {_F}",
    # DuckDB's any_value: the first non-NULL value of the group
    f"""CREATE OR REPLACE FUNCTION {_F}.okx_first(anyelement, anyelement) RETURNS anyelement
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS 'SELECT $1'""",
    f"""CREATE OR REPLACE AGGREGATE {_F}.okx_any_value(anyelement)
        (SFUNC = {_F}.okx_first, STYPE = anyelement, PARALLEL = SAFE)""",
    # PL/pgSQL: about 5 us a call; a SQL function that PostgreSQL cannot inline (these
    # cannot: they read their argument several times) costs ten times that.
    # an integral DOUBLE (|r| < 2^127) as the exact NUMERIC it is: 32-bit pieces
    f"""CREATE OR REPLACE FUNCTION {_F}.okx_integral_double(r double precision) RETURNS numeric
        LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
        DECLARE hi double precision; mid double precision;
        BEGIN
            IF abs(r) < 4503599627370496 THEN RETURN r::bigint::numeric; END IF;
            hi := trunc(r / 18446744073709551616::float8);
            mid := trunc((r - hi * 18446744073709551616::float8) / 4294967296::float8);
            RETURN hi::bigint::numeric * 18446744073709551616 + mid::bigint::numeric * 4294967296
                   + (r - hi * 18446744073709551616::float8 - mid * 4294967296::float8)::bigint::numeric;
        END $$""",
    # DuckDB's DOUBLE -> DECIMAL(p, s): x * 10^s in DOUBLE, halves away from zero, exact
    f"""CREATE OR REPLACE FUNCTION {_F}.okx_double_to_decimal(v double precision, s integer)
        RETURNS numeric LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
        DECLARE x double precision := v * power(10::float8, s); r double precision;
        BEGIN
            r := CASE WHEN abs(x - trunc(x)) = 0.5 THEN trunc(x) + sign(x) ELSE round(x) END;
            RETURN {_F}.okx_integral_double(r) * ('1e-' || s)::numeric;
        END $$""",
    # a 128-bit integer to DOUBLE as DuckDB's hugeint cast does it: lower + upper * 2^64
    f"""CREATE OR REPLACE FUNCTION {_F}.okx_hugeint_to_double(f numeric) RETURNS double precision
        LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
        DECLARE u numeric;
        BEGIN
            IF f >= 0 AND f < 18446744073709551616 THEN RETURN f::float8; END IF;
            IF f < 0 AND f >= -18446744073709551616 THEN RETURN -((-f)::float8); END IF;
            u := div(f, 18446744073709551616)
                 - CASE WHEN f < 0 AND mod(f, 18446744073709551616) <> 0 THEN 1 ELSE 0 END;
            RETURN (f - u * 18446744073709551616)::float8 + u::float8 * 18446744073709551616::float8;
        END $$""",
    # DuckDB's DECIMAL -> DOUBLE: the digits as an integer over 10^scale (one correctly
    # rounded division) while they fit in 53 bits; beyond, double(integer part) +
    # double(fraction digits) / 10^scale
    f"""CREATE OR REPLACE FUNCTION {_F}.okx_to_double(v numeric) RETURNS double precision
        LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
        DECLARE s integer := scale(v); w numeric := v * power(10::numeric, scale(v));
        BEGIN
            IF abs(w) < 9007199254740992 THEN RETURN w::float8 / power(10::float8, s); END IF;
            RETURN {_F}.okx_hugeint_to_double(trunc(v))
                   + {_F}.okx_hugeint_to_double(w - trunc(v) * power(10::numeric, s))
                     / power(10::float8, s);
        END $$""",
)


class TranslationError(ValueError):
    """A DuckDB construct the translation does not know (the message names it)."""


class _Dialect(DuckDB):
    """DuckDB as the journal writes it: ``epoch_ms`` takes a timestamp (ms since 1970)."""

    class Parser(DuckDB.Parser):  # type: ignore[valid-type,misc]
        FUNCTIONS = {
            **DuckDB.Parser.FUNCTIONS,
            "EPOCH_MS": lambda args: exp.Anonymous(this="EPOCH_MS", expressions=args),
            "EPOCH": lambda args: exp.Anonymous(this="EPOCH", expressions=args),
            "HASH": lambda args: exp.Anonymous(this="HASH", expressions=args),
            "TRY_STRPTIME": lambda args: exp.Anonymous(this="TRY_STRPTIME", expressions=args),
        }


_DOUBLE = (exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT)
_TO_DOUBLE = f"{_F}.okx_to_double"


def _parse(sql: str) -> Any:
    tree = sqlglot.parse_one(sql, read=_Dialect)
    if tree is None:
        raise TranslationError("empty statement")
    return tree


def _fn(name: str, *args: Any) -> Any:
    return exp.Anonymous(this=name, expressions=list(args))


def _pg(sql: str) -> Any:
    return sqlglot.parse_one(sql, read="postgres")


def _is_double(node: Any) -> bool:
    """Whether DuckDB types the expression DOUBLE (syntactically: casts and divisions)."""
    if isinstance(node, exp.Paren):
        return _is_double(node.this)
    if isinstance(node, exp.Cast):
        return node.to.this in _DOUBLE
    if isinstance(node, exp.Div):
        return True
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == _TO_DOUBLE:
        return True
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Mod)):
        return _is_double(node.this) or _is_double(node.expression)
    if isinstance(node, exp.Neg):
        return _is_double(node.this)
    if isinstance(node, (exp.Sum, exp.Max, exp.Min, exp.Abs)):
        return _is_double(node.this)
    if isinstance(node, exp.Window):
        return _is_double(node.this)
    return False


def _as_double(node: Any) -> Any:
    if _is_double(node):
        return node
    if isinstance(node, exp.Literal) and not node.is_string:
        return exp.cast(node, exp.DataType.build("double", dialect="postgres"))
    return _fn(_TO_DOUBLE, node)


# ----------------------------------------------------------------------------- rewrites


def _rewrite_functions(tree: Any) -> Any:
    def rewrite(node: Any) -> Any:
        if isinstance(node, exp.IgnoreNulls) and str(node.this.this).endswith("okx_any_value"):
            return node.this  # DuckDB's any_value skips NULLs: so does okx_any_value
        if isinstance(node, exp.AnyValue):
            return _fn(f"{_F}.okx_any_value", node.this)
        if isinstance(node, (exp.ArgMax, exp.ArgMin)):
            return _arg_extreme(node)
        if isinstance(node, exp.TryCast):  # a Cast too: first
            return _try_cast(node)
        if isinstance(node, exp.Cast):
            return _cast(node)
        if isinstance(node, exp.Div):
            node.set("this", _as_double(node.this))
            node.set("expression", _as_double(node.expression))
            node.set("typed", False)
            return node
        if isinstance(node, exp.DayOfWeekIso):
            return exp.Cast(this=exp.Extract(this=exp.var("isodow"), expression=node.this),
                            to=exp.DataType.build("bigint"))
        if isinstance(node, exp.Dayname):
            return _fn("to_char", node.this, exp.Literal.string("FMDay"))
        if isinstance(node, exp.Explode) and isinstance(node.this, exp.GenerateSeries):
            return node.this  # already a set in PostgreSQL
        if isinstance(node, exp.Anonymous):
            return _anonymous(node)
        return node

    # children first: a rewritten node's arguments are rewritten already
    for node in reversed(list(tree.walk(bfs=False))):
        new = rewrite(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def _arg_extreme(node: Any) -> Any:
    by = node.expression
    keys = list(by.expressions) if isinstance(by, exp.Tuple) else [by]
    desc = isinstance(node, exp.ArgMax)
    order = exp.Order(expressions=[exp.Ordered(this=k.copy(), desc=desc) for k in keys])
    agg: Any = exp.ArrayAgg(this=exp.Order(this=node.this.copy(), expressions=order.expressions))
    if not isinstance(by, exp.Tuple):  # DuckDB skips rows whose key is NULL
        agg = exp.Filter(this=agg, expression=exp.Where(this=exp.Not(this=exp.Is(this=by.copy(), expression=exp.Null()))))
    return exp.Bracket(this=exp.Paren(this=agg), expressions=[exp.Literal.number(1)], offset=1)


def _cast(node: Any) -> Any:
    to = node.to
    if to.this in _DOUBLE:
        inner = node.this
        return node if _is_double(inner) else _fn(_TO_DOUBLE, inner)
    if to.this == exp.DataType.Type.DECIMAL and _is_double(node.this):
        params = to.expressions
        scale = int(params[1].name) if len(params) > 1 else 3
        converted = _fn(f"{_F}.okx_double_to_decimal", node.this, exp.Literal.number(scale))
        return exp.Cast(this=converted, to=to)
    if to.this == exp.DataType.Type.UBIGINT:
        return exp.Cast(this=node.this, to=exp.DataType.build("DECIMAL(20, 0)"))
    return node


_NUMERIC_TEXT = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
_UNSIGNED_TEXT = r"^\s*[+]?[0-9]{1,20}\s*$"
_INTEGER_TEXT = r"^\s*[+-]?[0-9]{1,18}\s*$"


def _try_cast(node: Any) -> Any:
    to = node.to
    kind = to.this
    T = exp.DataType.Type
    if kind in (T.UBIGINT, T.INT128, T.UINT128):
        pattern, target = (_UNSIGNED_TEXT if kind == T.UBIGINT else _INTEGER_TEXT.replace("{1,18}", "{1,38}")), \
            exp.DataType.build("DECIMAL(38, 0)" if kind != T.UBIGINT else "DECIMAL(20, 0)")
    elif kind in (T.BIGINT, T.INT, T.SMALLINT):
        pattern, target = _INTEGER_TEXT, to
    elif kind in (T.DECIMAL, *_DOUBLE):
        pattern, target = _NUMERIC_TEXT, to
    else:
        raise TranslationError(f"TRY_CAST to {to.sql()} has no PostgreSQL translation")
    text = exp.cast(node.this.copy(), exp.DataType.build("text"))
    guard = exp.RegexpLike(this=text, expression=exp.Literal.string(pattern))
    return exp.Case(ifs=[exp.If(this=guard, true=exp.Cast(this=node.this, to=target))])


_STRFTIME = {"%Y": "YYYY", "%y": "YY", "%m": "MM", "%d": "DD", "%H": "HH24", "%M": "MI", "%S": "SS"}


def _anonymous(node: Any) -> Any:
    name = str(node.this).upper()
    args = node.expressions
    if name == "EPOCH_MS":
        (arg,) = args
        if isinstance(arg, exp.Literal):
            return _pg(f"to_timestamp({arg.name} / 1000.0)")
        return exp.Cast(
            this=exp.Floor(this=exp.Mul(this=_extract_epoch(arg), expression=exp.Literal.number(1000))),
            to=exp.DataType.build("bigint"),
        )
    if name == "EPOCH":
        (arg,) = args
        return _extract_epoch(arg)
    if name == "HASH":
        row = exp.cast(exp.Tuple(expressions=list(args)), exp.DataType.build("text"))
        return exp.MD5(this=row)
    if name == "TRY_STRPTIME":
        value, fmt = args
        if not isinstance(fmt, exp.Literal):
            raise TranslationError("try_strptime needs a literal format")
        pg_fmt, pattern = fmt.name, fmt.name
        for token, repl in _STRFTIME.items():
            pg_fmt = pg_fmt.replace(token, repl)
            pattern = pattern.replace(token, "[0-9]{4}" if token == "%Y" else "[0-9]{2}")
        text = exp.cast(value.copy(), exp.DataType.build("text"))
        guard = exp.RegexpLike(this=text, expression=exp.Literal.string(f"^{pattern}$"))
        parsed = _fn("to_timestamp", value, exp.Literal.string(pg_fmt))
        utc = exp.AtTimeZone(this=parsed, zone=exp.Literal.string("UTC"))
        return exp.Case(ifs=[exp.If(this=guard, true=utc)])
    if name == "LIST_SLICE":
        lst, lo, hi = args
        return exp.Bracket(this=exp.Paren(this=lst), expressions=[exp.Slice(this=lo, expression=hi)], offset=1)
    if name == "STARTS_WITH":
        text, prefix = args
        return exp.EQ(this=_fn("left", text, exp.Length(this=prefix.copy())), expression=prefix)
    if name == "DAYNAME":
        (arg,) = args
        return _fn("to_char", arg, exp.Literal.string("FMDay"))
    if name == "ISODOW":
        (arg,) = args
        return exp.Extract(this=exp.var("isodow"), expression=arg)
    return node


def _extract_epoch(arg: Any) -> Any:
    return exp.Extract(this=exp.var("epoch"), expression=arg)


def _rewrite_group_by_all(tree: Any) -> None:
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if group is None or not group.args.get("all"):
            continue
        positions = []
        for i, projection in enumerate(select.expressions, start=1):
            inner = projection.this if isinstance(projection, exp.Alias) else projection
            aggregated = any(
                isinstance(n, exp.AggFunc) or (isinstance(n, exp.Anonymous) and str(n.this).lower().endswith("okx_any_value"))
                for n in inner.walk()
            )
            if not aggregated:
                positions.append(exp.Literal.number(i))
        select.set("group", exp.Group(expressions=positions) if positions else None)


# ----------------------------------------------------------------------------- ASOF


_counter = itertools.count(1)


def _source_name(table: Any) -> str:
    if isinstance(table, exp.Table):
        return table.alias_or_name
    raise TranslationError("ASOF JOIN on something other than a table or CTE")


def _asof_parts(
    on: Any, left: str, right: str
) -> tuple[list[tuple[Any, exp.Expression]], exp.Expression, exp.Expression, bool]:
    """(equalities as (left expr, right expr)), left time, right time, right <= left."""
    conds: list[Any] = []
    stack = [on]
    while stack:
        cur = stack.pop()
        if isinstance(cur, exp.And):
            stack.extend([cur.expression, cur.this])
        elif isinstance(cur, exp.Paren):
            stack.append(cur.this)
        else:
            conds.append(cur)

    def side(e: Any) -> str:
        tables = {c.table for c in e.find_all(exp.Column)}
        if tables == {left}:
            return "l"
        if tables == {right}:
            return "r"
        raise TranslationError(f"ASOF condition {e.sql()} mixes or misses the joined tables")

    eqs: list[tuple[Any, exp.Expression]] = []
    ineq: tuple[Any, exp.Expression, bool] | None = None
    for c in conds:
        a, b = c.this, c.expression
        if isinstance(c, exp.EQ):
            eqs.append((a, b) if side(a) == "l" else (b, a))
            continue
        if not isinstance(c, (exp.GTE, exp.GT, exp.LTE, exp.LT)) or ineq is not None:
            raise TranslationError(f"ASOF condition {c.sql()} is not one inequality")
        if isinstance(c, (exp.GT, exp.LT)):
            raise TranslationError("ASOF with a strict inequality has no translation")
        if side(a) == "r":  # normalise to: left OP right
            a, b = b, a
            c = exp.LTE(this=a, expression=b) if isinstance(c, exp.GTE) else exp.GTE(this=a, expression=b)
        ineq = (a, b, isinstance(c, exp.GTE))  # GTE: the latest right row at or before left
    if ineq is None:
        raise TranslationError("ASOF JOIN without an inequality")
    return eqs, ineq[0], ineq[1], ineq[2]


def _rewrite_asof(tree: Any) -> Any:
    """Every ``ASOF JOIN`` as plain joins over one sorted window (see the module doc)."""
    while True:
        join = next((j for j in tree.find_all(exp.Join) if str(j.args.get("method") or "").upper() == "ASOF"), None)
        if join is None:
            return tree
        select = join.parent
        assert isinstance(select, exp.Select)
        n = next(_counter)
        right_table = join.this
        right = _source_name(right_table)
        on = join.args.get("on")
        if on is None:
            raise TranslationError("ASOF JOIN without ON")
        # the left side: the one table the conditions read besides the right one
        left_tables = {c.table for c in on.find_all(exp.Column)} - {right}
        if len(left_tables) != 1:
            raise TranslationError("ASOF JOIN conditions must read one table on each side")
        (left,) = left_tables
        from_tables = [select.args["from_"].this, *[j.this for j in select.args.get("joins", []) if j is not join]]
        left_table = next(t for t in from_tables if isinstance(t, exp.Table) and t.alias_or_name == left)
        eqs, lt, rt, backward = _asof_parts(on, left, right)

        numbered, matches = f"__asof_r{n}", f"__asof_m{n}"
        keys = [f"__k{i}" for i in range(len(eqs))]

        def sql(e: Any, alias: str | None = None) -> str:
            e = e.copy()
            if alias is not None:
                for col in e.find_all(exp.Column):
                    col.set("table", exp.to_identifier(alias))
            return str(e.sql(dialect="postgres"))

        r_src = right_table.copy()
        r_src.set("alias", exp.TableAlias(this=exp.to_identifier("__r")))
        l_src = left_table.copy()
        l_src.set("alias", exp.TableAlias(this=exp.to_identifier("__l")))
        order_r = ", ".join([sql(r, "__r") for _, r in eqs] + [sql(rt, "__r")])
        numbered_sql = (
            f"SELECT __r.*, row_number() OVER (ORDER BY {order_r}) AS __asof_rn "
            f"FROM {r_src.sql(dialect='postgres')}"
        )
        l_cols = ", ".join([f"{sql(le, '__l')} AS {k}" for (le, _), k in zip(eqs, keys, strict=True)])
        r_cols = ", ".join([f"{sql(re_, '__r')} AS {k}" for (_, re_), k in zip(eqs, keys, strict=True)])
        sep_l = ", " if eqs else ""
        part = f"PARTITION BY {', '.join(keys)} " if keys else ""
        # backward (right.t <= left.t): right rows first at equal times, the latest so far;
        # forward (right.t >= left.t): right rows first at equal times, the earliest from here
        agg, direction = ("max", "") if backward else ("min", " DESC")
        matches_sql = (
            f"SELECT {', '.join(keys) + sep_l}__t, __pick FROM ("
            f"SELECT {', '.join(keys) + sep_l}__t, __side, {agg}(__asof_rn) OVER ({part}ORDER BY __t{direction}, __side "
            f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __pick FROM ("
            f"SELECT DISTINCT {l_cols + sep_l}{sql(lt, '__l')} AS __t, 1 AS __side, CAST(NULL AS BIGINT) AS __asof_rn "
            f"FROM {l_src.sql(dialect='postgres')} "
            f"UNION ALL SELECT {r_cols + sep_l}{sql(rt, '__r')} AS __t, 0 AS __side, __r.__asof_rn "
            f"FROM {numbered} AS __r) AS __both) AS __carried WHERE __side = 1"
        )
        m_on = " AND ".join(
            [f"{matches}.{k} = {sql(le)}" for (le, _), k in zip(eqs, keys, strict=True)]
            + [f"{matches}.__t = {sql(lt)}"]
        )
        side = "LEFT " if str(join.args.get("side") or "").upper() == "LEFT" else ""
        m_join = _pg(f"SELECT 1 FROM x {side}JOIN ({matches_sql}) AS {matches} ON {m_on}").args["joins"][0]
        r_join = _pg(
            f"SELECT 1 FROM x {side}JOIN {numbered} AS {right} ON {right}.__asof_rn = {matches}.__pick"
        ).args["joins"][0]
        joins = select.args["joins"]
        i = joins.index(join)
        select.set("joins", [*joins[:i], m_join, r_join, *joins[i + 1 :]])
        _add_cte(tree, select, numbered, numbered_sql)


def _add_cte(tree: Any, inside: Any, name: str, body_sql: str) -> None:
    """Adds ``name AS MATERIALIZED (body)`` to the statement's WITH, before the CTE that
    holds ``inside`` (or last, when ``inside`` is the main query)."""
    root = tree
    with_ = root.args.get("with_")
    cte = exp.CTE(
        this=_pg(body_sql),
        alias=exp.TableAlias(this=exp.to_identifier(name)),
        materialized=True,
    )
    if with_ is None:
        root.set("with_", exp.With(expressions=[cte]))
        return
    host = inside
    while host is not None and not (isinstance(host, exp.CTE) and host.parent is with_):
        host = host.parent
    ctes = list(with_.expressions)
    at = ctes.index(host) if host is not None else len(ctes)
    ctes.insert(at, cte)
    with_.set("expressions", ctes)


# ----------------------------------------------------------------------------- EXCLUDE


def _postorder(node: Any) -> list[Any]:
    out: list[Any] = []
    for child in node.iter_expressions():
        out.extend(_postorder(child))
    out.append(node)
    return out


def _resolve_with_columns(tree: Any, resolve: ColumnResolver | None) -> Any:
    """``* EXCLUDE`` and ``QUALIFY``, select by select, inner queries and earlier CTEs first
    (each probe then reads only SQL PostgreSQL already understands)."""
    for select in [n for n in _postorder(tree) if isinstance(n, exp.Select)]:
        _resolve_excludes(tree, select, resolve)
        if select.args.get("qualify"):
            tree = _rewrite_qualify(tree, select, resolve)
    return tree


def _resolve_excludes(tree: Any, owner: Any, resolve: ColumnResolver | None) -> None:
    """``* EXCLUDE (...)`` as the column list PostgreSQL reports for the same FROM."""
    stars = [
        s for p in owner.expressions for s in p.find_all(exp.Star)
        if s.args.get("except_") or s.args.get("except")
    ]
    if not stars:
        return
    if resolve is None:
        raise TranslationError("* EXCLUDE needs a connection to list the columns")
    for star in stars:
        holder = star.parent if isinstance(star.parent, exp.Column) else star
        select = holder.parent
        if not isinstance(select, exp.Select):
            raise TranslationError("* EXCLUDE outside a SELECT list")
        excluded = {e.name.lower() for e in (star.args.get("except_") or star.args.get("except") or [])}
        table = holder.table if isinstance(holder, exp.Column) else ""
        probe = select.copy()
        probe.set("expressions", [exp.Column(this=exp.Star(), table=exp.to_identifier(table)) if table else exp.Star()])
        probe.set("limit", exp.Limit(expression=exp.Literal.number(0)))
        for key in ("group", "having", "order", "qualify", "distinct"):
            probe.set(key, None)
        probe = _with_context(tree, select, probe)
        names = [c for c in resolve(probe.sql(dialect="postgres")) if c.lower() not in excluded]
        columns = [
            exp.Column(this=exp.to_identifier(c, quoted=c != c.lower()), table=exp.to_identifier(table) if table else None)
            for c in names
        ]
        projections = list(select.expressions)
        i = next(k for k, p in enumerate(projections) if p is holder)
        select.set("expressions", [*projections[:i], *columns, *projections[i + 1 :]])


_qualified = itertools.count()


def _rewrite_qualify(tree: Any, select: Any, resolve: ColumnResolver | None) -> Any:
    """``SELECT ... QUALIFY cond`` → ``SELECT <its columns> FROM (SELECT ..., cond AS
    __keep) WHERE __keep``: the columns as PostgreSQL lists them for the query."""
    n = next(_qualified)
    if resolve is None:
        raise TranslationError("QUALIFY needs a connection to list the columns")
    cond = select.args["qualify"].this
    inner = select.copy()
    inner.set("qualify", None)
    probe = inner.copy()
    probe.set("limit", exp.Limit(expression=exp.Literal.number(0)))
    probe.set("order", None)
    names = list(resolve(_with_context(tree, select, probe).sql(dialect="postgres")))
    inner.set("expressions", [*inner.expressions, exp.alias_(cond.copy(), "__keep")])
    alias = f"__qualified{n}"
    outer = exp.select(
        *[exp.column(exp.to_identifier(c, quoted=True), table=alias) for c in names]
    ).from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias))))
    outer = outer.where(exp.column("__keep", table=alias))
    if select is tree:
        outer.set("with_", inner.args.get("with_"))
        inner.set("with_", None)
        tree = outer
    else:
        select.replace(outer)
    return tree


def _resolve_union_by_name(tree: Any, resolve: ColumnResolver | None) -> None:
    """``a UNION [ALL] BY NAME b``: both sides select the columns of both, by name."""
    for union in list(tree.find_all(exp.Union)):
        if not union.args.get("by_name"):
            continue
        if resolve is None:
            raise TranslationError("UNION BY NAME needs a connection to list the columns")
        sides = [union.this, union.expression]
        names: list[list[str]] = []
        for side in sides:
            probe = exp.select("*").from_(exp.Subquery(this=side.copy(), alias=exp.TableAlias(this=exp.to_identifier("__p")))).limit(0)
            names.append(list(resolve(_with_context(tree, union, probe).sql(dialect="postgres"))))
        wanted = names[0] + [c for c in names[1] if c not in names[0]]
        for key, side, have in zip(("this", "expression"), sides, names, strict=True):
            if have == wanted:
                continue
            cols = [
                exp.column(exp.to_identifier(c, quoted=True), table="__s") if c in have
                else exp.alias_(exp.Null(), exp.to_identifier(c, quoted=True))
                for c in wanted
            ]
            wrapped = exp.select(*cols).from_(
                exp.Subquery(this=side.copy(), alias=exp.TableAlias(this=exp.to_identifier("__s"))))
            union.set(key, wrapped)
        union.set("by_name", None)


def _with_context(tree: Any, select: Any, probe: Any) -> Any:
    """The probe with the CTEs before the one holding ``select`` (all for the main query)."""
    with_ = tree.args.get("with_")
    if with_ is None or select is tree:
        if with_ is not None:
            probe.set("with_", with_.copy())
        return probe
    host: Any | None = select
    while host is not None and not (isinstance(host, exp.CTE) and host.parent is with_):
        host = host.parent
    ctes = list(with_.expressions)
    before = ctes[: ctes.index(host)] if host is not None else ctes
    if before:
        probe.set("with_", exp.With(expressions=[c.copy() for c in before]))
    return probe


# ----------------------------------------------------------------------------- entry point




def to_postgres(sql: str, resolve_columns: ColumnResolver | None = None) -> str:
    """One DuckDB statement as PostgreSQL runs it (see the module docstring).

    Args:
        sql: The statement, in the journal's DuckDB dialect.
        resolve_columns: Lists the columns of a PostgreSQL query (``LIMIT 0``); needed
            only for ``* EXCLUDE``.

    Raises:
        TranslationError: A construct without a translation.
    """
    try:
        tree = _parse(sql)
    except sqlglot.errors.ParseError as exc:
        raise TranslationError(str(exc).splitlines()[0]) from exc
    tree = _rewrite_functions(tree)
    _rewrite_group_by_all(tree)
    tree = _rewrite_asof(tree)
    for n, sub in enumerate(tree.find_all(exp.Subquery)):  # PostgreSQL 15 wants an alias
        if not sub.alias and isinstance(sub.parent, (exp.From, exp.Join)):
            sub.set("alias", exp.TableAlias(this=exp.to_identifier(f"__q{n}")))
    tree = _resolve_with_columns(tree, resolve_columns)
    _resolve_union_by_name(tree, resolve_columns)
    try:
        return str(tree.sql(dialect="postgres", unsupported_level=sqlglot.ErrorLevel.RAISE))
    except sqlglot.errors.UnsupportedError as exc:
        raise TranslationError(str(exc).splitlines()[0]) from exc
