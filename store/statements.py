"""Hot statements run straight on the driver's cursor, inside the session's transaction.

SQLAlchemy spends about 200 µs of CPU around every statement it executes, even a Core statement
built once: it looks the compiled form up in its cache, builds an execution context and a result.
The driver alone needs about 80 µs. Over the request story's hundred statements per request,
running them here took about a tenth off the app's CPU (docs/architecture.md, "Statements on
the hot path").

A :class:`Prepared` statement compiles once per dialect (and, for INSERT and UPDATE, per set of
parameter names), keeps SQLAlchemy's bind and result processors, and then runs each call on
the cursor of the connection the session already holds, so it joins the session's transaction
and its SQLite ``BEGIN IMMEDIATE``. What it keeps from SQLAlchemy's own execution:

- the session's pending ORM objects are flushed first, as autoflush would;
- driver errors become SQLAlchemy's (``IntegrityError``, ``OperationalError``…), and a lost
  connection is invalidated;
- the engine's ``before_execute``, ``before_cursor_execute`` and ``after_execute`` listeners
  still see every statement (the operations metrics, the statement counters of the tests).

Lists bound to ``IN`` are expanded by SQLAlchemy's own code, as its execution would, except
on PostgreSQL: there such a list is bound as one array (``= ANY(%(ids)s::VARCHAR[])``), so that
the SQL stays the same whatever the list's length and psycopg parses it once. Expanding a sweep's
500 request ids (one placeholder and one cast each) and parsing the result again at every
execution took a sixth of a mass expiry's CPU. A
statement whose compiled form needs more of SQLAlchemy at run time (defaults computed in Python,
literal-execute parameters, parameter names it escapes) simply runs through ``session.execute``.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

from sqlalchemy import Table, bindparam, exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, UpdateBase
from sqlalchemy.sql.elements import BindParameter, TextClause
from sqlalchemy.sql.selectable import Select

Params = Mapping[str, Any]
Statement = Select[*tuple[Any, ...]] | UpdateBase | TextClause


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    """The parameters in the order the driver takes them (positional dialects)."""
    positional: bool
    bind: tuple[tuple[str, Callable[[Any], Any]], ...]
    compiled: SQLCompiler
    row: Callable[[Iterable[Any]], Any] | None
    """Builds a row (a named tuple) from the driver's, its result processors applied."""

    expanding: bool
    """Some parameter is a list rendered as one placeholder per element (``IN``)."""
    arrays: frozenset[str] = frozenset()
    """Parameters bound as one array each (PostgreSQL's ``IN`` lists, see :func:`_as_arrays`)."""
    rows_template: tuple[str, str, str] | None = None
    """An INSERT's SQL around its one row of placeholders: ``many`` writes several rows per
    statement with them (see :func:`_rows_template`)."""
    _multi: dict[int, str] = field(default_factory=dict)
    """The SQL for so many rows, built once per number of rows."""

    @property
    def rows_at_once(self) -> int | None:
        """The most rows ``many`` writes as one multi-row INSERT (None: any number, in
        statements of at most :data:`ROW_PARAMETERS` parameters)."""
        if self.rows_template is None:
            return 0
        if self.positional:
            return None
        head, row, tail = self.rows_template
        widest = len(_NAMED.sub(r"%(\1__9999)s", row)) + 2  # a row's SQL and its ", "
        return max(0, (NAMED_SQL_KEPT - len(head) - len(tail)) // widest)

    def bound(self, params: Params) -> tuple[str, Any]:
        """The SQL and the driver's parameters for one execution."""
        values = self.compiled.construct_params(params)  # refuses a parameter left out
        if self.expanding:
            # SQLAlchemy's own expansion (what its execution context does for these).
            state = self.compiled._process_parameters_for_postcompile(values)
            expanded = dict(state.parameters)
            # The statement's own processors, then those of the lists' elements.
            for name, processor in (*self.bind, *state.processors.items()):
                if name in expanded:
                    expanded[name] = processor(expanded[name])
            if self.positional:
                return state.statement, tuple(expanded[n] for n in state.positiontup or ())
            return state.statement, expanded
        for name in self.arrays:  # any iterable: the driver adapts only a list as an array
            values[name] = list(values[name])
        for name, process in self.bind:
            values[name] = process(values[name])
        if self.positional:
            return self.sql, tuple(values[name] for name in self.names)
        return self.sql, values

    def rows_sql(self, count: int) -> str:
        """The INSERT of ``count`` rows; a named dialect's row ``i`` binds ``name__i``."""
        try:
            return self._multi[count]
        except KeyError:
            pass
        assert self.rows_template is not None
        head, row, tail = self.rows_template
        if self.positional:
            rows = [row] * count
        else:
            rows = [_NAMED.sub(rf"%(\1__{i})s", row) for i in range(count)]
        sql = self._multi[count] = f"{head}{', '.join(rows)}{tail}"
        return sql


_NAMED: Final = re.compile(r"%\((\w+)\)s")
"""A placeholder of the ``pyformat`` style (psycopg's), its name captured."""
_POSITIONAL: Final = {"qmark": "?", "format": "%s"}
"""The placeholder of each positional style (SQLite's, MySQL drivers')."""
ROW_PARAMETERS: Final = 2_000
"""At most so many parameters in one multi-row INSERT: far inside every driver's and server's
limit (SQLite's is 32,766), and a thousand audit events still take only a handful."""
NAMED_SQL_KEPT: Final = 4_096
"""psycopg parses a statement's named placeholders once and keeps the result only for SQL up to
this long (``psycopg._queries.MAX_CACHED_STATEMENT_LENGTH``); a longer one is parsed again at
every execution, which for a sweep's batches cost more than the multi-row INSERT saved. So on
PostgreSQL only as many rows as fit go in one statement, and a larger batch is pipelined."""

_NEEDS_SQLALCHEMY: Final = None
"""Cached in place of a compiled form: this statement runs through ``session.execute``."""


class Prepared:
    """A Core statement built once and run on the driver's cursor (see the module's docstring).

    ``first``, ``all`` and ``scalar`` return named tuples (attribute and index access, like
    SQLAlchemy's rows); ``run`` returns the number of rows matched; ``many`` writes many
    parameter sets (an INSERT's as multi-row INSERTs where it can)."""

    __slots__ = ("_distinct_keys", "_dml", "_forms", "statement")

    def __init__(self, statement: Statement, *, distinct_keys: bool = False) -> None:
        """``distinct_keys``: an upsert whose callers never pass two rows with the same
        conflict key to one ``many``, so that its rows may go in one statement too."""
        self.statement = statement
        self._forms: dict[tuple[str, frozenset[str] | None], _Compiled | None] = {}
        self._dml = isinstance(statement, UpdateBase)
        self._distinct_keys = distinct_keys

    def first(self, session: Session, params: Params | None = None) -> Any | None:
        rows = self._fetch(session, params or {}, one=True)
        return rows[0] if rows else None

    def all(self, session: Session, params: Params | None = None) -> list[Any]:
        return self._fetch(session, params or {}, one=False)

    def scalar(self, session: Session, params: Params | None = None) -> Any:
        row = self.first(session, params)
        return None if row is None else row[0]

    def scalars(self, session: Session, params: Params | None = None) -> list[Any]:
        return [row[0] for row in self._fetch(session, params or {}, one=False)]

    def run(self, session: Session, params: Params | None = None) -> int:
        """Execute; the number of rows the statement matched."""
        given = params or {}
        connection, form = self._prepare(session, given)
        if form is None:
            return int(session.execute(self.statement, given).rowcount)  # type: ignore[attr-defined]  # a CursorResult
        cursor = self._execute(connection, form, given)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def many(self, session: Session, rows: Sequence[Params]) -> None:
        """Execute once per parameter set: a plain INSERT as multi-row INSERTs, anything else
        through the driver's ``executemany`` (which pipelines them)."""
        if not rows:
            return
        connection, form = self._prepare(session, rows[0])
        if form is None:
            session.execute(self.statement, list(rows))
            return
        if form.expanding:  # one SQL per execution; executemany wants one for all
            session.execute(self.statement, list(rows))
            return
        values = [form.bound(row)[1] for row in rows]
        at_once = form.rows_at_once
        if at_once is None or len(rows) <= at_once:
            self._insert_rows(connection, form, rows, values)
            return
        self._before(connection, form.sql, values, multiparams=rows, params={})
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(form.sql, values)
        except connection.dialect.loaded_dbapi.Error as error:
            _raise(connection, form.sql, values, error)
        finally:
            cursor.close()
        self._after(connection, multiparams=rows, params={})

    def _insert_rows(
        self, connection: Connection, form: _Compiled, rows: Sequence[Params], values: list[Any]
    ) -> None:
        """The rows in as few statements as :data:`ROW_PARAMETERS` allows: for the handful a
        transaction usually writes, one statement costs the driver and the server a third of
        a pipeline of single-row ones."""
        per_statement = max(1, ROW_PARAMETERS // max(1, len(form.names) or len(values[0])))
        self._before_execute(connection, multiparams=rows, params={})
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            for start in range(0, len(values), per_statement):
                chunk = values[start : start + per_statement]
                sql = form.rows_sql(len(chunk))
                bound: Any
                if form.positional:
                    bound = tuple(value for row in chunk for value in row)
                else:
                    bound = {f"{k}__{i}": v for i, row in enumerate(chunk) for k, v in row.items()}
                self._before_cursor(connection, sql, bound, many=False)
                try:
                    cursor.execute(sql, bound)
                except connection.dialect.loaded_dbapi.Error as error:
                    _raise(connection, sql, bound, error)
        finally:
            cursor.close()
        self._after(connection, multiparams=rows, params={})

    def _fetch(self, session: Session, params: Params, *, one: bool) -> list[Any]:
        connection, form = self._prepare(session, params)
        if form is None:
            result = session.execute(self.statement, params)
            return [result.first()] if one else list(result.all())
        cursor = self._execute(connection, form, params)
        try:
            fetched = [cursor.fetchone()] if one else cursor.fetchall()
        finally:
            cursor.close()
        make = form.row
        assert make is not None, "a statement that returns no rows was asked for rows"
        return [make(row) for row in fetched if row is not None]

    def _prepare(self, session: Session, params: Params) -> tuple[Connection, _Compiled | None]:
        if session.autoflush:
            session.flush()
        connection = session.connection()
        dialect = connection.dialect
        key = (dialect.name, frozenset(params) if self._dml else None)
        try:
            form = self._forms[key]
        except KeyError:
            form = self._forms[key] = _compile(
                self.statement, dialect, key[1], distinct_keys=self._distinct_keys
            )
        return connection, form

    def _execute(self, connection: Connection, form: _Compiled, params: Params) -> Any:
        sql, values = form.bound(params)
        self._before(connection, sql, values, multiparams=(), params=params)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, values)
        except connection.dialect.loaded_dbapi.Error as error:
            cursor.close()
            _raise(connection, sql, values, error)
        self._after(connection, multiparams=(), params=params)
        return cursor

    # Listeners see what SQLAlchemy would show them: the statement and the caller's parameters
    # at the execute level, the SQL and the driver's parameters at the cursor level.

    def _before(
        self,
        connection: Connection,
        sql: str,
        values: Any,
        *,
        multiparams: Sequence[Params],
        params: Params,
    ) -> None:
        self._before_execute(connection, multiparams=multiparams, params=params)
        self._before_cursor(connection, sql, values, many=bool(multiparams))

    def _before_execute(
        self, connection: Connection, *, multiparams: Sequence[Params], params: Params
    ) -> None:
        dispatch = connection.dispatch
        if dispatch.before_execute:
            options = connection.get_execution_options()
            for listener in dispatch.before_execute:
                listener(connection, self.statement, list(multiparams), params, options)

    @staticmethod
    def _before_cursor(connection: Connection, sql: str, values: Any, *, many: bool) -> None:
        for listener in connection.dispatch.before_cursor_execute:
            listener(connection, None, sql, values, None, many)

    def _after(
        self, connection: Connection, *, multiparams: Sequence[Params], params: Params
    ) -> None:
        dispatch = connection.dispatch
        if dispatch.after_execute:
            options = connection.get_execution_options()
            for listener in dispatch.after_execute:
                listener(connection, self.statement, list(multiparams), params, options, None)


def new_values(table: Table, names: Iterable[str], *, prefix: str) -> dict[str, BindParameter[Any]]:
    """An UPDATE's SET clause for the columns ``names``, each bound to ``prefix + name`` with the
    column's own type (so its bind processor applies); the prefix keeps these parameters apart
    from the WHERE clause's."""
    return {name: bindparam(prefix + name, type_=table.c[name].type) for name in names}


def _compile(
    statement: Statement, dialect: Dialect, keys: frozenset[str] | None, *, distinct_keys: bool
) -> _Compiled | None:
    compiled = statement.compile(
        dialect=dialect, column_keys=sorted(keys) if keys is not None else None
    )
    assert isinstance(compiled, SQLCompiler)
    if (
        compiled.literal_execute_params
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or getattr(compiled, "_numeric_binds", False)
        or compiled.escaped_bind_names  # names such as "created.at", bound under other names
    ):
        return _NEEDS_SQLALCHEMY
    processors: list[tuple[str, Callable[[Any], Any]]] = [
        (name, p) for name, p in compiled._bind_processors.items() if callable(p)
    ]
    if len(processors) != len(compiled._bind_processors):
        return _NEEDS_SQLALCHEMY  # a tuple's processors, one per element
    sql, arrays = compiled.string, frozenset[str]()
    if as_arrays := _as_arrays(compiled, dialect):
        sql, arrays = as_arrays
        processors = [(n, _each(p) if n in arrays else p) for n, p in processors]
    columns = compiled._result_columns
    return _Compiled(
        rows_template=_rows_template(statement, compiled, keys, distinct_keys=distinct_keys),
        sql=sql,
        names=tuple(compiled.positiontup or ()),
        positional=bool(compiled.positional),
        bind=tuple(processors),
        compiled=compiled,
        expanding=bool(compiled.post_compile_params) and not arrays,
        arrays=arrays,
        row=_row_maker(columns, dialect) if columns else None,
    )


_IN_LIST: Final = re.compile(r"(NOT )?IN \(__\[POSTCOMPILE_(\w+)\]\)")
"""An expanding ``IN`` as SQLAlchemy renders it before expansion."""


def _as_arrays(compiled: SQLCompiler, dialect: Dialect) -> tuple[str, frozenset[str]] | None:
    """PostgreSQL's SQL with every ``IN`` list bound as one array, and those lists' names; None
    where a list cannot be (another dialect, a tuple ``IN``, a list rendered elsewhere).

    ``x IN (list)`` is ``x = ANY(array)`` and ``x NOT IN (list)`` is ``x <> ALL(array)``, empty
    lists and NULLs included; the cast is the one SQLAlchemy gives each element, so the server
    picks the same operator (and index) as for the expanded list."""
    if dialect.name != "postgresql" or not compiled.post_compile_params:
        return None
    binds = {compiled.bind_names[b]: b for b in compiled.post_compile_params}
    if any(not b.expanding or b.type._is_tuple_type for b in binds.values()):
        return None

    def array(match: re.Match[str]) -> str:
        negated, name = match.groups()
        bind = binds[name]
        impl = bind.type._unwrapped_dialect_impl(dialect)
        placeholder = f"%({name})s"
        if impl.render_bind_cast:  # SQLAlchemy's cast of one element, made an array's
            cast: str = compiled.render_bind_cast(bind.type, impl, placeholder)  # type: ignore[no-untyped-call]
            placeholder = f"{cast}[]"
        return f"{'<> ALL' if negated else '= ANY'} ({placeholder})"

    sql = _IN_LIST.sub(array, compiled.string)
    if "__[POSTCOMPILE_" in sql:
        return None
    return sql, frozenset(binds)


def _each(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An element's bind processor, applied to every element of a list bound as an array."""
    return lambda values: [process(value) for value in values]


def _rows_template(
    statement: Statement, single: SQLCompiler, keys: frozenset[str] | None, *, distinct_keys: bool
) -> tuple[str, str, str] | None:
    """An INSERT of one row of parameters, split around that row: what precedes it, the row,
    what follows it (an upsert's ``ON CONFLICT``).

    A plain INSERT, as SQLAlchemy itself batches into multi-row INSERTs; an upsert only when
    its callers promise distinct keys: one statement meeting its own key twice is refused by
    PostgreSQL ("cannot affect row a second time"), where one execution per row is not."""
    if not (
        isinstance(statement, Insert)
        and statement.select is None
        and (statement._post_values_clause is None or distinct_keys)
        and not statement._returning
        and not statement._multi_values
    ):
        return None
    # Compiled as for executemany, so without the RETURNING of the new key a single row gets.
    compiled = statement.compile(
        dialect=single.dialect, column_keys=sorted(keys or ()), for_executemany=True
    )
    if tuple(compiled.positiontup or ()) != tuple(single.positiontup or ()):
        return None  # rows must bind as the single row does
    head, values, rest = compiled.string.partition(" VALUES (")
    if not values:
        return None
    end = _closing_parenthesis(rest)
    if end is None:
        return None
    row, tail = f"({rest[:end]})", rest[end + 1 :]
    if _binds_in(tail, compiled):
        return None  # a bind outside the row would have to be bound once per statement
    return f"{head} VALUES ", row, tail


def _closing_parenthesis(text: str) -> int | None:
    """Where the parenthesis open before ``text`` closes (a row's binds nest some)."""
    depth = 1
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index
    return None


def _binds_in(sql: str, compiled: SQLCompiler) -> bool:
    if not compiled.positional:
        return _NAMED.search(sql) is not None
    return _POSITIONAL.get(compiled.dialect.paramstyle, "?") in sql


def _row_maker(columns: Sequence[Any], dialect: Dialect) -> Callable[[Iterable[Any]], Any]:
    shape = namedtuple("Row", [column.keyname for column in columns], rename=True)  # type: ignore[misc]
    processors = [column.type._cached_result_processor(dialect, None) for column in columns]
    make = shape._make
    if not any(processors):
        return make
    steps = tuple((index, process) for index, process in enumerate(processors) if process)

    def processed(row: Iterable[Any]) -> Any:
        values = list(row)
        for index, process in steps:
            values[index] = process(values[index])
        return make(values)

    return processed


def _raise(connection: Connection, sql: str, values: Any, error: Any) -> NoReturn:
    dialect = connection.dialect
    if dialect.is_disconnect(error, connection.connection.dbapi_connection, None):
        connection.invalidate(error)
    raise exc.DBAPIError.instance(
        sql, values, error, dialect.loaded_dbapi.Error, dialect=dialect
    ) from error
