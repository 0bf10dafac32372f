"""Reading the prediction log back: DuckDB over its Parquet files, as Arrow tables.

- :func:`read_predictions` returns the predictions of a deployment whose ``ts`` lies in
  ``[start, end)``, sorted by ``ts``; only the day partitions of that range are listed and
  read, and DuckDB skips the row groups outside it. Files of different model versions are read
  together by column name (``union_by_name``): a feature one version lacks is null there.
- :func:`joined` adds the feedback to each prediction: a feedback naming a ``request_id``
  applies to the rows of that request; one naming only a ``unit_id`` to every prediction of
  that unit. For each field (``label``, each ``o_<outcome>``) the latest non-null value wins,
  the request's before the unit's; ``feedback_ts`` is the time of the latest feedback that
  applied. Predictions without feedback have nulls there.
- :func:`read_feedback` returns the feedback rows as they were logged.

Times (``start``, ``end``) are datetimes (naive ones are UTC), dates (midnight UTC) or ISO 8601
strings; ``ts`` comes back as ``timestamp[ms, UTC]``. ``root`` is the log's root (default
``$LOOPML_PREDICTIONS_URI``, else ``$LOOPML_HOME/predictions``). An unknown deployment is
:class:`~loopml.core.errors.NotFound` with the closest known names.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from loopml.core.errors import (
    InvalidInput,
    NotFound,
    StoreError,
    did_you_mean,
    user_message,
    verbatim,
)
from loopml.predictions._layout import Root, open_root, visible
from loopml.predictions._tables import OUTCOME_PREFIX, PREDICTION_COLUMNS, TS_TYPE
from loopml.predictions.records import validate_deployment

__all__ = ["joined", "list_deployments", "read_feedback", "read_predictions"]

Moment = datetime.datetime | datetime.date | str

#: How many times a read re-lists its files when one vanished (a merge deleted it).
_ATTEMPTS = 3

_FIXED_TYPES = {"ts": TS_TYPE, "model_version": pa.int64(), "prediction": pa.null()}
_FIXED_TYPES |= {"proba": pa.float64(), "latency_ms": pa.float64()}
#: What a range without predictions returns: the fixed columns, no feature.
_EMPTY_PREDICTIONS = pa.schema([(n, _FIXED_TYPES.get(n, pa.string())) for n in PREDICTION_COLUMNS])
_EMPTY_FEEDBACK = pa.schema(
    [("ts", TS_TYPE), ("request_id", pa.string()), ("unit_id", pa.string()), ("label", pa.null())]
)


def _moment(name: str, value: object) -> datetime.datetime | None:
    """``value`` as an aware UTC datetime (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(
                user_message(
                    f"argument {name!r}",
                    "must be an ISO 8601 time",
                    value,
                    "e.g. '2024-05-01' or '2024-05-01T12:00:00Z'",
                )
            ) from None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.UTC)
    raise InvalidInput(
        user_message(
            f"argument {name!r}",
            "must be a datetime, a date or an ISO 8601 string",
            verbatim(f"<{type(value).__name__}>"),
        )
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_deployment(root: Root, deployment: str, days: list[datetime.date]) -> None:
    validate_deployment(deployment)
    if days:
        return
    known = root.deployments()
    if deployment in known:
        return
    raise NotFound(
        user_message(
            f"deployment {deployment!r}",
            f"has no prediction log under {root.uri!r}",
            fix=did_you_mean(deployment, known)
            or (
                f"the log holds {', '.join(map(repr, known))}"
                if known
                else "nothing was logged there yet: check the root (LOOPML_PREDICTIONS_URI)"
            ),
        )
    )


def _paths(
    root: Root,
    deployment: str,
    feedback: bool,
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
) -> list[str]:
    """The visible data files of the deployment's partitions that may hold ``[start, end)``."""
    days = root.days(deployment, feedback)
    if not feedback:
        _check_deployment(root, deployment, days)
    paths: list[str] = []
    for day in days:
        if start is not None and day < start.date():
            continue
        if end is not None and day > end.date():
            continue
        directory = root.partition_dir(deployment, day, feedback)
        paths.extend(root.duckdb_path(f.path) for f in visible(root.files(directory)))
    return paths


def _connect(root: Root) -> Any:
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    if not root.local:
        connection.register_filesystem(root.fs)
    return connection


def _ms(table: pa.Table) -> pa.Table:
    """``table`` with its timestamp columns back in milliseconds, UTC (DuckDB gives µs)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type != TS_TYPE and f.name.endswith("ts"):
            table = table.set_column(i, f.name, table.column(i).cast(TS_TYPE))
    return table


def _retrying(run: Any) -> pa.Table:
    """``run()`` again, with a fresh listing, when a file it listed vanished (merged away)."""
    import duckdb

    for _ in range(_ATTEMPTS - 1):
        try:
            return _ms(run())
        except duckdb.IOException:
            continue
    return _ms(run())


def _duckdb_errors(root: Root, what: str, available: list[str]) -> Any:
    import duckdb

    def translate(exc: Exception) -> Exception:
        if isinstance(exc, duckdb.BinderException):
            text = str(exc)
            name = text.split('"')[1] if text.count('"') >= 2 else ""
            return InvalidInput(
                user_message(
                    f"{what} column {name!r}" if name else f"{what} columns",
                    "does not exist in the log",
                    verbatim(f"<{text.splitlines()[0]}>"),
                    did_you_mean(name, available) or f"choose from {', '.join(available)}",
                )
            )
        return StoreError(
            user_message(
                f"prediction log {root.uri!r}",
                f"could not be read ({what})",
                verbatim(f"<{type(exc).__name__}: {exc}>"),
            )
        )

    return translate


def _scan(parameter: str) -> str:
    """The DuckDB table function reading the files of list parameter ``$parameter``."""
    return f"read_parquet(${parameter}, union_by_name = true, hive_partitioning = false)"


def _select(columns: Sequence[str] | None) -> str:
    if columns is None:
        return "*"
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns) or not columns:
        raise InvalidInput(
            user_message(
                "argument 'columns'",
                "must be a non-empty list of column names",
                columns,
                "e.g. ['ts', 'prediction', 'f_distance']",
            )
        )
    return ", ".join(_quote(c) for c in columns)


def _range_sql(start: datetime.datetime | None, end: datetime.datetime | None) -> str:
    conditions = []
    if start is not None:
        conditions.append("ts >= $start")
    if end is not None:
        conditions.append("ts < $end")
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def read_predictions(
    deployment: str,
    start: Moment | None = None,
    end: Moment | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The predictions of ``deployment`` with ``start <= ts < end``, sorted by ``ts``.

    ``columns`` picks columns (``['ts', 'prediction', 'f_distance']``): reading fewer is faster.
    """
    log_root = open_root(root)
    lower, upper = _moment("start", start), _moment("end", end)
    select = _select(columns)

    def run() -> pa.Table:
        paths = _paths(log_root, deployment, False, lower, upper)
        if not paths:
            empty = _EMPTY_PREDICTIONS.empty_table()
            return empty if columns is None else empty.select(list(columns))
        sql = f"SELECT {select} FROM {_scan('paths')}{_range_sql(lower, upper)} ORDER BY ts"
        params = {"paths": paths, "start": lower, "end": upper}
        return _run(log_root, sql, params, "prediction", paths)

    return _retrying(run)


def _run(root: Root, sql: str, params: dict[str, Any], what: str, paths: list[str]) -> pa.Table:
    import duckdb

    used = {k: v for k, v in params.items() if f"${k}" in sql}
    connection = _connect(root)
    try:
        try:
            return connection.sql(sql, params=used).to_arrow_table()
        except duckdb.IOException:
            raise
        except (duckdb.BinderException, duckdb.Error) as exc:
            available = _columns(connection, paths)
            raise _duckdb_errors(root, what, available)(exc) from exc
    finally:
        connection.close()


def _columns(connection: Any, paths: list[str]) -> list[str]:
    try:
        relation = connection.sql(
            f"DESCRIBE SELECT * FROM {_scan('paths')}",
            params={"paths": paths},
        )
        return [str(row[0]) for row in relation.fetchall()]
    except Exception:
        return []


def read_feedback(deployment: str, *, root: str | os.PathLike[str] | None = None) -> pa.Table:
    """Every feedback row of ``deployment`` as logged, sorted by ``ts``."""
    log_root = open_root(root)
    validate_deployment(deployment)

    def run() -> pa.Table:
        paths = _paths(log_root, deployment, True)
        if not paths:
            _paths(log_root, deployment, False)  # NotFound for an unknown deployment
            return _EMPTY_FEEDBACK.empty_table()
        sql = f"SELECT * FROM {_scan('paths')} ORDER BY ts"
        return _run(log_root, sql, {"paths": paths}, "feedback", paths)

    return _retrying(run)


def joined(
    deployment: str,
    start: Moment | None = None,
    end: Moment | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The predictions of :func:`read_predictions` with their feedback: ``label``, the
    ``o_<outcome>`` columns and ``feedback_ts`` (rules: module docstring)."""
    log_root = open_root(root)
    lower, upper = _moment("start", start), _moment("end", end)
    if columns is not None:
        _select(columns)

    def run() -> pa.Table:
        predictions = _paths(log_root, deployment, False, lower, upper)
        feedback = _paths(log_root, deployment, True)
        if not predictions:
            table = _EMPTY_PREDICTIONS.empty_table()
            table = table.append_column("label", pa.nulls(0))
            table = table.append_column("feedback_ts", pa.array([], TS_TYPE))
            return table if columns is None else table.select([*columns, "label", "feedback_ts"])
        source = f"SELECT * FROM {_scan('predictions')}{_range_sql(lower, upper)}"
        params: dict[str, Any] = {"predictions": predictions, "start": lower, "end": upper}
        if not feedback:
            sql = f"SELECT *, NULL AS label, NULL::TIMESTAMPTZ AS feedback_ts FROM ({source}) "
            table = _run(log_root, sql + "ORDER BY ts", params, "prediction", predictions)
        else:
            connection = _connect(log_root)
            try:
                fields = [
                    c
                    for c in _columns(connection, feedback)
                    if c == "label" or c.startswith(OUTCOME_PREFIX)
                ]
            finally:
                connection.close()
            latest = ", ".join(
                f"arg_max({_quote(c)}, ts) FILTER (WHERE {_quote(c)} IS NOT NULL) AS {_quote(c)}"
                for c in fields
            )
            merged = ", ".join(
                f"coalesce(r.{_quote(c)}, u.{_quote(c)}) AS {_quote(c)}" for c in fields
            )
            params["feedback"] = feedback
            sql = f"""
                WITH f AS (SELECT * FROM {_scan("feedback")}),
                by_request AS (
                    SELECT request_id AS _key, {latest}, max(ts) AS _ts
                    FROM f WHERE request_id IS NOT NULL GROUP BY request_id),
                by_unit AS (
                    SELECT unit_id AS _key, {latest}, max(ts) AS _ts
                    FROM f WHERE request_id IS NULL AND unit_id IS NOT NULL GROUP BY unit_id)
                SELECT p.*, {merged}, greatest(r._ts, u._ts) AS feedback_ts
                FROM ({source}) p
                LEFT JOIN by_request r ON p.request_id = r._key
                LEFT JOIN by_unit u ON p.unit_id = u._key
                ORDER BY p.ts
            """
            table = _run(log_root, sql, params, "prediction", predictions)
        if columns is None:
            return table
        extra = [n for n in table.column_names if n == "label" or n.startswith(OUTCOME_PREFIX)]
        wanted = [*columns, *extra, "feedback_ts"]
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise InvalidInput(
                user_message(
                    f"prediction column {missing[0]!r}",
                    "does not exist in the log",
                    fix=did_you_mean(missing[0], table.column_names)
                    or f"choose from {', '.join(table.column_names)}",
                )
            )
        return table.select(wanted)

    return _retrying(run)


def list_deployments(root: str | os.PathLike[str] | None = None) -> list[str]:
    """The deployments that have a log under ``root``, sorted."""
    return open_root(root).deployments()
