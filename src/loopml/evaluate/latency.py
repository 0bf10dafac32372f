"""Single-row prediction latency, as a serving endpoint would see it in-process.

:func:`measure_latency` times ``predict`` on one-row frames. Rules:

- ``n_requests`` rows are drawn with replacement by ``numpy.random.default_rng(seed)``; each
  one-row frame is built before the clock starts, so the time is the model's alone (input
  conversion inside ``predict``, such as a loaded package's signature check, is included).
- ``warmup`` calls on other drawn rows come first and are not counted (caches, lazy imports).
- Each call is timed with ``time.perf_counter_ns``. The percentiles are
  ``numpy.percentile`` (linear interpolation) of the ``n_requests`` times, in milliseconds.
- The times are wall-clock on a machine that may be busy: compare latencies measured on the
  same machine, and read p99 of 200 requests as the second-largest time, not as a tail bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from loopml.evaluate._checks import check_frame, check_int, check_predict, invalid

__all__ = ["Latency", "measure_latency"]


@dataclass(frozen=True, slots=True)
class Latency:
    """Percentiles and mean of single-row prediction times (ms), and every time measured."""

    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    n: int
    max_ms: float
    samples_ms: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "mean_ms": self.mean_ms,
            "max_ms": self.max_ms,
            "n": self.n,
            "samples_ms": list(self.samples_ms),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Latency:
        return cls(
            p50_ms=float(data["p50_ms"]),
            p95_ms=float(data["p95_ms"]),
            p99_ms=float(data["p99_ms"]),
            mean_ms=float(data["mean_ms"]),
            n=int(data["n"]),
            max_ms=float(data["max_ms"]),
            samples_ms=tuple(float(v) for v in data.get("samples_ms", ())),
        )


def measure_latency(
    predict: Callable[[pd.DataFrame], Any],
    frame: pd.DataFrame,
    *,
    n_requests: int = 200,
    warmup: int = 20,
    seed: int = 0,
) -> Latency:
    """Time ``predict`` on ``n_requests`` single rows of ``frame`` (see the module rules).

    >>> import pandas as pd
    >>> lat = measure_latency(lambda df: df["x"] * 2, pd.DataFrame({"x": [1.0, 2.0]}), n_requests=5)
    >>> lat.n, lat.p50_ms <= lat.p99_ms <= lat.max_ms
    (5, True)
    """
    func = "measure_latency"
    check_predict(func, "predict", predict)
    data = check_frame(func, "frame", frame)
    if len(data) == 0:
        invalid(func, "frame", "must hold at least one row", 0)
    requests = check_int(func, "n_requests", n_requests, low=1)
    warm = check_int(func, "warmup", warmup, low=0)
    rows = np.random.default_rng(seed).integers(0, len(data), warm + requests)
    singles = [data.iloc[[int(r)]] for r in rows]
    for row in singles[:warm]:
        predict(row)
    times = np.empty(requests, dtype=np.int64)
    for i, row in enumerate(singles[warm:]):
        start = time.perf_counter_ns()
        predict(row)
        times[i] = time.perf_counter_ns() - start
    ms = times / 1e6
    p50, p95, p99 = (float(v) for v in np.percentile(ms, [50, 95, 99]))
    return Latency(
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
        mean_ms=float(ms.mean()),
        n=requests,
        max_ms=float(ms.max()),
        samples_ms=tuple(float(v) for v in ms),
    )
