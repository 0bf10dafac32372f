"""The tracking store on SQLAlchemy Core: SQLite (default) and PostgreSQL.

Core rather than the ORM: logging is the hot path (a training loop may log a metric per step), and
Core statements with cached compilation cost a fraction of an ORM flush. Each public method is one
transaction; a batch is validated before it gets here and is written whole or not at all.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from loopml.core.entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    Page,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    ViewType,
)
from loopml.core.errors import Conflict, InvalidInput, LoopmlError, NotFound, user_message
from loopml.core.ids import check_run_id, now_ms
from loopml.core.search_ast import Comparison, OrderBy
from loopml.core.validation import (
    ValidBatch,
    validate_dataset_input,
    validate_experiment_name,
    validate_run_name,
    validate_user,
)
from loopml.store.sql.audit import write_audit
from loopml.store.sql.database import Database
from loopml.store.sql.raw import RawCursor, RawStatement, raw_transaction
from loopml.store.sql.schema import (
    datasets,
    experiment_tags,
    experiments,
    latest_metrics,
    metrics,
    params,
    run_inputs,
    runs,
    tags,
)
from loopml.store.sql.search import build_search_query, decode_page_token, encode_page_token
from loopml.store.tracking import SEARCH_MAX_RESULTS_LIMIT

__all__ = ["SqlTrackingStore"]

_ACTIVE = LifecycleStage.ACTIVE.value
_DELETED = LifecycleStage.DELETED.value
_POINT = ("run_id", "key", "value", "timestamp", "step")


def _experiment_id(value: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0 or str(number) != str(value):
        raise InvalidInput(
            user_message(
                "experiment id",
                "must be a non-negative integer string",
                value,
                "look it up with `loopml experiments list`",
            )
        )
    return number


_STATUS = {s.value: s for s in RunStatus}
_STAGE = {s.value: s for s in LifecycleStage}
#: Positions of the columns of ``runs`` in a row read with ``select(runs)``.
_RUN_COLUMNS = {name: i for i, name in enumerate(runs.c.keys())}
_RUN_ID = _RUN_COLUMNS["run_id"]


def _run_info(row: Sequence[Any]) -> RunInfo:
    """RunInfo from a full row of ``runs`` (a tuple in column order)."""
    at = _RUN_COLUMNS
    return RunInfo(
        run_id=row[at["run_id"]],
        experiment_id=str(row[at["experiment_id"]]),
        run_name=row[at["run_name"]],
        user_id=row[at["user_id"]],
        status=_STATUS[row[at["status"]]],
        start_time=row[at["start_time"]],
        end_time=row[at["end_time"]],
        lifecycle_stage=_STAGE[row[at["lifecycle_stage"]]],
        artifact_uri=row[at["artifact_uri"]],
        parent_run_id=row[at["parent_run_id"]],
    )


def _binds(*names: str) -> dict[str, Any]:
    return {name: sa.bindparam(name) for name in names}


class SqlTrackingStore:
    """:class:`~loopml.store.tracking.TrackingStore` on a :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._insert = sqlite_dialect.insert if database.dialect == "sqlite" else pg_dialect.insert
        self._tags_upsert = self._build_tags_upsert()
        # The logging hot path: statements compiled once, executed on the DBAPI cursor (raw.py).
        engine = database.engine
        self._raw_stage = RawStatement(
            sa.select(runs.c.lifecycle_stage).where(runs.c.run_id == sa.bindparam("run_id")), engine
        )
        self._raw_param_insert = RawStatement(
            self._insert(params)
            .values(_binds("run_id", "key", "value"))
            .on_conflict_do_nothing(index_elements=[params.c.run_id, params.c.key]),
            engine,
        )
        self._raw_param_value = RawStatement(
            sa.select(params.c.value).where(
                params.c.run_id == sa.bindparam("run_id"), params.c.key == sa.bindparam("key")
            ),
            engine,
        )
        self._raw_metric_insert = RawStatement(metrics.insert().values(_binds(*_POINT)), engine)
        self._raw_latest_upsert = RawStatement(self._build_latest_upsert(_binds(*_POINT)), engine)
        self._raw_tag_upsert = RawStatement(
            self._build_tags_upsert(_binds("run_id", "key", "value")), engine
        )
        # Run lifecycle: create, end (status, end time, name) and read back.
        self._raw_experiment_stage = RawStatement(
            sa.select(experiments.c.lifecycle_stage).where(
                experiments.c.experiment_id == sa.bindparam("experiment_id")
            ),
            engine,
        )
        self._raw_run_insert = RawStatement(runs.insert().values(_binds(*runs.c.keys())), engine)
        self._raw_run_update = RawStatement(
            runs.update()
            .where(runs.c.run_id == sa.bindparam("target"))
            .values(
                status=sa.func.coalesce(sa.bindparam("new_status", type_=sa.String), runs.c.status),
                end_time=sa.func.coalesce(
                    sa.bindparam("new_end_time", type_=sa.BigInteger), runs.c.end_time
                ),
                run_name=sa.func.coalesce(
                    sa.bindparam("new_run_name", type_=sa.String), runs.c.run_name
                ),
            ),
            engine,
        )
        self._raw_page = self._build_page_statements()
        self._raw_history = RawStatement(
            sa.select(metrics.c.key, metrics.c.value, metrics.c.timestamp, metrics.c.step)
            .where(metrics.c.run_id == sa.bindparam("run_id"), metrics.c.key == sa.bindparam("key"))
            .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.metric_id),
            engine,
        )
        self._raw_run_row = RawStatement(
            sa.select(runs).where(runs.c.run_id == sa.bindparam("run_id")), engine
        )

    # -- experiments --------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
        actor: str = "",
    ) -> str:
        validate_experiment_name(name)
        now = now_ms()
        try:
            with self.db.write() as conn:
                result = conn.execute(
                    experiments.insert().values(
                        name=name,
                        artifact_location=artifact_location or "",
                        lifecycle_stage=_ACTIVE,
                        creation_time=now,
                        last_update_time=now,
                    )
                )
                (experiment_id,) = result.inserted_primary_key or (None,)
                if tags:
                    conn.execute(
                        experiment_tags.insert(),
                        [
                            {"experiment_id": experiment_id, "key": k, "value": v}
                            for k, v in tags.items()
                        ],
                    )
                write_audit(
                    conn,
                    actor,
                    "experiment.create",
                    "experiment",
                    str(experiment_id),
                    None,
                    {"name": name},
                )
        except Conflict:
            raise Conflict(
                user_message(
                    f"experiment {name!r}",
                    "already exists (names are unique, deleted experiments included)",
                    fix=f"use set_experiment({name!r}) to log into it, or pick another name",
                )
            ) from None
        return str(experiment_id)

    def _experiment_rows(self, conn: Connection, where: Any) -> list[Experiment]:
        rows = conn.execute(
            sa.select(experiments).where(where).order_by(experiments.c.experiment_id)
        ).all()
        if not rows:
            return []
        ids = [r.experiment_id for r in rows]
        tag_rows = conn.execute(
            sa.select(experiment_tags).where(experiment_tags.c.experiment_id.in_(ids))
        ).all()
        by_exp: dict[int, dict[str, str]] = defaultdict(dict)
        for t in tag_rows:
            by_exp[t.experiment_id][t.key] = t.value
        return [
            Experiment(
                experiment_id=str(r.experiment_id),
                name=r.name,
                artifact_location=r.artifact_location,
                lifecycle_stage=LifecycleStage(r.lifecycle_stage),
                creation_time=r.creation_time,
                last_update_time=r.last_update_time,
                tags=by_exp.get(r.experiment_id, {}),
            )
            for r in rows
        ]

    def get_experiment(self, experiment_id: str) -> Experiment:
        number = _experiment_id(experiment_id)
        with self.db.read() as conn:
            found = self._experiment_rows(conn, experiments.c.experiment_id == number)
        if not found:
            raise NotFound(
                user_message(
                    f"experiment {experiment_id!r}",
                    "does not exist",
                    fix="list experiments with `loopml experiments list`",
                )
            )
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self.db.read() as conn:
            found = self._experiment_rows(conn, experiments.c.name == name)
        return found[0] if found else None

    def list_experiments(self, view_type: ViewType = ViewType.ACTIVE_ONLY) -> list[Experiment]:
        stages = [s.value for s in view_type.stages()]
        with self.db.read() as conn:
            return self._experiment_rows(conn, experiments.c.lifecycle_stage.in_(stages))

    def _set_stage(
        self,
        kind: str,
        object_id: str,
        id_column: Any,
        key: object,
        stage: str,
        actor: str,
        missing: LoopmlError,
        **changes: Any,
    ) -> None:
        """Soft-delete or restore one experiment or run, with its audit event, in one
        transaction; a no-op when it is already in ``stage``."""
        table = id_column.table
        with self.db.write() as conn:
            before = conn.execute(
                sa.select(table.c.lifecycle_stage).where(id_column == key)
            ).scalar_one_or_none()
            if before is None:
                raise missing
            if before == stage:
                return
            conn.execute(
                table.update().where(id_column == key).values(lifecycle_stage=stage, **changes)
            )
            write_audit(
                conn,
                actor,
                f"{kind}.{'delete' if stage == _DELETED else 'restore'}",
                kind,
                object_id,
                {"lifecycle_stage": before},
                {"lifecycle_stage": stage},
            )

    def _set_experiment_stage(self, experiment_id: str, stage: str, actor: str) -> None:
        self._set_stage(
            "experiment",
            experiment_id,
            experiments.c.experiment_id,
            _experiment_id(experiment_id),
            stage,
            actor,
            NotFound(user_message(f"experiment {experiment_id!r}", "does not exist")),
            last_update_time=now_ms(),
        )

    def delete_experiment(self, experiment_id: str, actor: str = "") -> None:
        self._set_experiment_stage(experiment_id, _DELETED, actor)

    def restore_experiment(self, experiment_id: str, actor: str = "") -> None:
        self._set_experiment_stage(experiment_id, _ACTIVE, actor)

    # -- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        run_name: str,
        tags: Sequence[tuple[str, str]] = (),
        parent_run_id: str | None = None,
        run_id: str | None = None,
    ) -> Run:
        from loopml.core.ids import new_run_id

        number = _experiment_id(experiment_id)
        validate_run_name(run_name)
        validate_user(user_id)
        run_id = run_id or new_run_id()
        tag_map = dict(tags)
        with raw_transaction(self.db.engine, self.db.uri) as cur:
            found = cur.execute(self._raw_experiment_stage, {"experiment_id": number})
            if not found:
                raise NotFound(user_message(f"experiment {experiment_id!r}", "does not exist"))
            if found[0][0] != _ACTIVE:
                raise Conflict(
                    user_message(
                        f"experiment {experiment_id!r}",
                        "is deleted, so it cannot take new runs",
                        fix="restore it or use another experiment",
                    )
                )
            if parent_run_id is not None:
                self._check_active(cur, parent_run_id, what="parent run")
            cur.execute(
                self._raw_run_insert,
                {
                    "run_id": run_id,
                    "experiment_id": number,
                    "run_name": run_name,
                    "user_id": user_id,
                    "status": RunStatus.RUNNING.value,
                    "start_time": start_time,
                    "end_time": None,
                    "lifecycle_stage": _ACTIVE,
                    "artifact_uri": f"runs:/{run_id}",
                    "parent_run_id": parent_run_id,
                    "deleted_time": None,
                },
            )
            cur.executemany(
                self._raw_tag_upsert,
                [{"run_id": run_id, "key": k, "value": v} for k, v in sorted(tag_map.items())],
            )
        info = RunInfo(
            run_id=run_id,
            experiment_id=str(number),
            run_name=run_name,
            user_id=user_id,
            status=RunStatus.RUNNING,
            start_time=start_time,
            end_time=None,
            lifecycle_stage=LifecycleStage.ACTIVE,
            artifact_uri=f"runs:/{run_id}",
            parent_run_id=parent_run_id,
        )
        return Run(info=info, data=RunData(tags=tag_map))

    def _build_tags_upsert(self, values: dict[str, Any] | None = None) -> Any:
        stmt = self._insert(tags)
        if values:
            stmt = stmt.values(values)
        return stmt.on_conflict_do_update(
            index_elements=[tags.c.run_id, tags.c.key], set_={"value": stmt.excluded.value}
        )

    def _build_latest_upsert(self, values: dict[str, Any]) -> Any:
        """Keep the point with the largest (step, timestamp, value), as MLflow does."""
        stmt = self._insert(latest_metrics).values(values)
        current = latest_metrics.c
        newer = sa.or_(
            stmt.excluded.step > current.step,
            sa.and_(
                stmt.excluded.step == current.step, stmt.excluded.timestamp > current.timestamp
            ),
            sa.and_(
                stmt.excluded.step == current.step,
                stmt.excluded.timestamp == current.timestamp,
                stmt.excluded.value > current.value,
            ),
        )
        return stmt.on_conflict_do_update(
            index_elements=[current.run_id, current.key],
            set_={
                "value": stmt.excluded.value,
                "timestamp": stmt.excluded.timestamp,
                "step": stmt.excluded.step,
            },
            where=newer,
        )

    def _require_active_run(self, conn: Connection, run_id: str, what: str = "run") -> None:
        check_run_id(run_id)
        stage = conn.execute(
            sa.select(runs.c.lifecycle_stage).where(runs.c.run_id == run_id)
        ).scalar_one_or_none()
        if stage is None:
            raise self._run_not_found(run_id, what)
        if stage != _ACTIVE:
            raise self._run_deleted(run_id, what)

    @staticmethod
    def _run_deleted(run_id: str, what: str = "run") -> Conflict:
        return Conflict(
            user_message(
                f"{what} {run_id}",
                "is deleted, so nothing can be logged to it",
                fix=f"restore it first: loopml.Client().restore_run({run_id!r})",
            )
        )

    @staticmethod
    def _run_not_found(run_id: str, what: str = "run") -> NotFound:
        return NotFound(
            user_message(
                f"{what} {run_id}", "does not exist", fix="list runs with `loopml runs list`"
            )
        )

    def get_run(self, run_id: str) -> Run:
        check_run_id(run_id)
        with raw_transaction(self.db.engine, self.db.uri, write=False) as cur:
            rows = cur.execute(self._raw_run_row, {"run_id": run_id})
            if not rows:
                raise self._run_not_found(run_id)
            return self._load_runs(cur, rows)[0]

    def _load_runs(self, cur: RawCursor, run_rows: Sequence[Sequence[Any]]) -> list[Run]:
        """Complete runs from full rows of ``runs`` (in that order): params and tags in one
        statement, latest metrics and inputs in one each, whatever the number of runs (the ids
        travel as one array parameter, so no bind-parameter limit applies)."""
        if not run_rows:
            return []
        run_ids = [row[_RUN_ID] for row in run_rows]
        ids = {"ids": self._ids_param(run_ids)}
        param_map: dict[str, dict[str, str]] = defaultdict(dict)
        tag_map: dict[str, dict[str, str]] = defaultdict(dict)
        metric_map: dict[str, dict[str, float]] = defaultdict(dict)
        input_map: dict[str, list[DatasetInput]] = defaultdict(list)
        keyed = (param_map, tag_map)
        for kind, run_id, key, value in cur.execute(self._raw_page["params_and_tags"], ids):
            keyed[kind][run_id][key] = value
        for run_id, key, value in cur.execute(self._raw_page["latest_metrics"], ids):
            metric_map[run_id][key] = value
        for (
            run_id,
            context,
            name,
            digest,
            source,
            source_type,
            schema,
            profile,
            rows,
        ) in cur.execute(self._raw_page["inputs"], ids):
            input_map[run_id].append(
                DatasetInput(name, digest, source, source_type, schema, profile, rows, context)
            )
        return [
            Run(
                info=_run_info(row),
                data=RunData(
                    metrics=metric_map[row[_RUN_ID]],
                    params=param_map[row[_RUN_ID]],
                    tags=tag_map[row[_RUN_ID]],
                ),
                inputs=tuple(input_map[row[_RUN_ID]]),
            )
            for row in run_rows
        ]

    def _ids_param(self, run_ids: Sequence[str]) -> Any:
        """The run ids as one parameter: a JSON array (SQLite) or an array (PostgreSQL)."""
        return json.dumps(list(run_ids)) if self.db.dialect == "sqlite" else list(run_ids)

    def _build_page_statements(self) -> dict[str, RawStatement]:
        engine = self.db.engine
        if self.db.dialect == "sqlite":
            listed = sa.func.json_each(sa.bindparam("ids", type_=sa.String)).table_valued("value")

            def among(column: Any) -> Any:
                return column.in_(sa.select(listed.c.value))
        else:
            from sqlalchemy.dialects.postgresql import ARRAY

            def among(column: Any) -> Any:
                return column == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.String)))

        params_and_tags = sa.union_all(
            *(
                sa.select(sa.literal(kind), table.c.run_id, table.c.key, table.c.value).where(
                    among(table.c.run_id)
                )
                for kind, table in ((0, params), (1, tags))
            )
        )
        metric_values = sa.select(
            latest_metrics.c.run_id, latest_metrics.c.key, latest_metrics.c.value
        ).where(among(latest_metrics.c.run_id))
        inputs = (
            sa.select(
                run_inputs.c.run_id,
                run_inputs.c.context,
                datasets.c.name,
                datasets.c.digest,
                datasets.c.source,
                datasets.c.source_type,
                datasets.c.schema,
                datasets.c.profile,
                datasets.c.num_rows,
            )
            .join(datasets, run_inputs.c.dataset_id == datasets.c.dataset_id)
            .where(among(run_inputs.c.run_id))
            .order_by(datasets.c.dataset_id)
        )
        return {
            "params_and_tags": RawStatement(params_and_tags, engine),
            "latest_metrics": RawStatement(metric_values, engine),
            "inputs": RawStatement(inputs, engine),
        }

    def update_run(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        check_run_id(run_id)
        new_status = RunStatus(status).value if status is not None else None
        new_name = validate_run_name(run_name) if run_name is not None else None
        with raw_transaction(self.db.engine, self.db.uri) as cur:
            self._check_active(cur, run_id)
            cur.execute(
                self._raw_run_update,
                {
                    "target": run_id,
                    "new_status": new_status,
                    "new_end_time": end_time,
                    "new_run_name": new_name,
                },
            )
            if new_name is not None:
                cur.execute(
                    self._raw_tag_upsert,
                    {"run_id": run_id, "key": "loopml.runName", "value": new_name},
                )
            (row,) = cur.execute(self._raw_run_row, {"run_id": run_id})
        return _run_info(row)

    def _set_run_stage(self, run_id: str, stage: str, actor: str) -> None:
        self._set_stage(
            "run",
            run_id,
            runs.c.run_id,
            check_run_id(run_id),
            stage,
            actor,
            self._run_not_found(run_id),
            deleted_time=now_ms() if stage == _DELETED else None,
        )

    def delete_run(self, run_id: str, actor: str = "") -> None:
        self._set_run_stage(run_id, _DELETED, actor)

    def restore_run(self, run_id: str, actor: str = "") -> None:
        self._set_run_stage(run_id, _ACTIVE, actor)

    # -- logging ------------------------------------------------------------------------------

    def _check_active(self, cur: RawCursor, run_id: str, what: str = "run") -> None:
        """Inside a raw transaction: the run exists and is not deleted."""
        check_run_id(run_id)
        rows = cur.execute(self._raw_stage, {"run_id": run_id})
        if not rows:
            raise self._run_not_found(run_id, what)
        if rows[0][0] != _ACTIVE:
            raise self._run_deleted(run_id, what)

    def log_batch(self, run_id: str, batch: ValidBatch) -> None:
        with raw_transaction(self.db.engine, self.db.uri) as cur:
            self._check_active(cur, run_id)
            if batch.params:
                self._write_params(cur, run_id, batch)
            if batch.metrics:
                self._write_metrics(cur, run_id, batch.metrics)
            if batch.tags:
                last = {t.key: t.value for t in batch.tags}
                cur.executemany(
                    self._raw_tag_upsert,
                    [{"run_id": run_id, "key": k, "value": v} for k, v in sorted(last.items())],
                )

    def _write_params(self, cur: RawCursor, run_id: str, batch: ValidBatch) -> None:
        wanted = {p.key: p.value for p in batch.params}
        cur.executemany(
            self._raw_param_insert,
            [{"run_id": run_id, "key": k, "value": v} for k, v in sorted(wanted.items())],
        )
        for key, value in wanted.items():
            (stored,) = cur.execute(self._raw_param_value, {"run_id": run_id, "key": key})[0]
            if stored != value:
                raise Conflict(
                    user_message(
                        f"param {key!r} of run {run_id}",
                        f"is already logged as {stored!r} and params cannot change",
                        value,
                        "log the new value under another key, or start a new run",
                    )
                )

    def _write_metrics(self, cur: RawCursor, run_id: str, points: Sequence[Metric]) -> None:
        cur.executemany_tuples(
            self._raw_metric_insert,
            _POINT,
            [(run_id, m.key, m.value, m.timestamp, m.step) for m in points],
        )
        latest: dict[str, Metric] = {}
        for m in points:
            held = latest.get(m.key)
            if held is None or (m.step, m.timestamp, m.value) > (
                held.step,
                held.timestamp,
                held.value,
            ):
                latest[m.key] = m
        # Sorted keys: concurrent writers to one run take row locks in the same order (no deadlock).
        cur.executemany(
            self._raw_latest_upsert,
            [
                {
                    "run_id": run_id,
                    "key": m.key,
                    "value": m.value,
                    "timestamp": m.timestamp,
                    "step": m.step,
                }
                for _, m in sorted(latest.items())
            ],
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.db.write() as conn:
            self._require_active_run(conn, run_id)
            result = conn.execute(tags.delete().where(tags.c.run_id == run_id, tags.c.key == key))
            if result.rowcount == 0:
                raise NotFound(user_message(f"tag {key!r} of run {run_id}", "does not exist"))

    def log_inputs(self, run_id: str, inputs: Sequence[DatasetInput]) -> None:
        checked = [validate_dataset_input(d) for d in inputs]
        with self.db.write() as conn:
            self._require_active_run(conn, run_id)
            for d in checked:
                # Insert-or-ignore, then read: concurrent writers of the same new dataset both
                # succeed (a select-then-insert races on PostgreSQL).
                conn.execute(
                    self._insert(datasets)
                    .values(
                        name=d.name,
                        digest=d.digest,
                        source_type=d.source_type,
                        source=d.source,
                        schema=d.schema,
                        profile=d.profile,
                        num_rows=d.num_rows,
                        created_time=now_ms(),
                    )
                    .on_conflict_do_nothing(index_elements=[datasets.c.name, datasets.c.digest])
                )
                dataset_id = conn.execute(
                    sa.select(datasets.c.dataset_id).where(
                        datasets.c.name == d.name, datasets.c.digest == d.digest
                    )
                ).scalar_one()
                conn.execute(
                    self._insert(run_inputs).on_conflict_do_nothing(),
                    {"run_id": run_id, "dataset_id": dataset_id, "context": d.context},
                )

    # -- reading ------------------------------------------------------------------------------

    def count_runs(
        self, experiment_ids: Sequence[str], view_type: ViewType = ViewType.ACTIVE_ONLY
    ) -> dict[str, int]:
        ids = [_experiment_id(e) for e in experiment_ids]
        if not ids:
            return {}
        stages = [s.value for s in ViewType(view_type).stages()]
        query = (
            sa.select(runs.c.experiment_id, sa.func.count())
            .where(runs.c.experiment_id.in_(ids), runs.c.lifecycle_stage.in_(stages))
            .group_by(runs.c.experiment_id)
        )
        with self.db.read() as conn:
            counted = {str(e): int(n) for e, n in conn.execute(query)}
        return {str(e): counted.get(str(e), 0) for e in ids}

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        check_run_id(run_id)
        with raw_transaction(self.db.engine, self.db.uri, write=False) as cur:
            rows = cur.execute(self._raw_history, {"run_id": run_id, "key": key})
            if not rows and not cur.execute(self._raw_stage, {"run_id": run_id}):
                raise self._run_not_found(run_id)
        return list(map(Metric._make, rows))

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filters: Sequence[Comparison] = (),
        order_by: Sequence[OrderBy] = (),
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Run]:
        if (
            isinstance(max_results, bool)
            or not isinstance(max_results, int)
            or not (0 < max_results <= SEARCH_MAX_RESULTS_LIMIT)
        ):
            raise InvalidInput(
                user_message(
                    "max_results",
                    f"must be an integer from 1 to {SEARCH_MAX_RESULTS_LIMIT}",
                    max_results,
                    "page through larger results with page_token",
                )
            )
        offset = decode_page_token(page_token)
        ids = [_experiment_id(e) for e in experiment_ids]
        query = build_search_query(
            ids, filters, order_by, ViewType(view_type), max_results + 1, offset, self.db.dialect
        )
        statement = RawStatement(query, self.db.engine)
        with raw_transaction(self.db.engine, self.db.uri, write=False) as cur:
            rows = cur.execute(statement, {})  # full rows of runs, in order
            more = len(rows) > max_results
            loaded = self._load_runs(cur, rows[:max_results])
        token = encode_page_token(offset + max_results) if more else None
        return Page(tuple(loaded), token)
