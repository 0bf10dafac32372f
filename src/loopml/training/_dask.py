"""Parallel trials on Dask: the study on the scheduler, one trial per task, data scattered once.

The driver keeps one task in flight per worker thread and submits the next when one finishes,
until the trial budget is spent, the deadline has passed, or the first trials all failed. A
task that starts after the deadline (it may have waited in a queue) returns without running a
trial. Each task loads the study with its own ``TPESampler(seed + task index)``: samplers
unpickled from one state would all draw the same first random trials.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from typing import Any

from loopml.core.errors import verbatim
from loopml.training._common import invalid, require
from loopml.training._scoring import Direction
from loopml.training._trial import TrialContext, TrialData, run_objective

__all__ = ["run_on_dask"]

log = logging.getLogger(__name__)
_EXTRA = "dask"


def _sampler(seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def _pruner(name: str) -> Any:
    from loopml.training.hpo import _pruner as make

    return make(name)


def _client(address: Any, n_workers: int) -> tuple[Any, Callable[[], None]]:
    distributed = require("distributed", _EXTRA, "tuning on Dask")
    if address is None:
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise invalid("n_workers", "must be a positive int", n_workers)
        cluster = distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = distributed.Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()

        return client, close
    if isinstance(address, str):
        client = distributed.Client(address)
        return client, client.close
    if isinstance(address, distributed.Client):
        return address, lambda: None
    raise invalid(
        "address",
        "must be None (a local cluster), a scheduler address, or a distributed.Client",
        verbatim(type(address).__name__),
    )


def _storage(name: str | None = None, client: Any = None) -> Any:
    """A ``DaskStorage``: registered on the scheduler (driver) or attached by name (worker).
    Optuna flags the class experimental; that warning is for us, not for users."""
    import optuna

    dask = require("optuna_integration.dask", _EXTRA, "tuning on Dask")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name is None:
            return dask.DaskStorage(client=client)
        return dask.DaskStorage(name=name, register=False)


def _run_trial(
    study_name: str,
    storage_name: str,
    index: int,
    pruner: str,
    context: TrialContext,
    data: TrialData,
    deadline: float | None,
) -> bool:
    """One trial on a worker; False when the deadline had passed before it could start."""
    import optuna

    if deadline is not None and time.time() >= deadline:
        return False
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=study_name,
        storage=_storage(storage_name),
        sampler=_sampler(context.seed + index),
        pruner=_pruner(pruner),
    )
    study.optimize(
        lambda trial: run_objective(trial, context, data), n_trials=1, catch=(Exception,)
    )
    return True


def _all_failed(study: Any, minimum: int) -> bool:
    import optuna

    finished = [t.state for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    return len(finished) >= minimum and all(s == optuna.trial.TrialState.FAIL for s in finished)


def run_on_dask(
    context: TrialContext,
    data: TrialData,
    *,
    direction: Direction,
    pruner: str,
    n_trials: int | None,
    timeout: float | None,
    address: Any,
    n_workers: int,
) -> list[Any]:
    """Run the search on Dask; returns its trials (read from the scheduler before the client
    closes)."""
    import optuna

    distributed = require("distributed", _EXTRA, "tuning on Dask")
    require("optuna_integration.dask", _EXTRA, "tuning on Dask")
    from loopml.training.hpo import FAIL_FAST

    client, close = _client(address, n_workers)
    try:
        storage = _storage(client=client)
        study = optuna.create_study(
            storage=storage,
            direction=direction,
            sampler=_sampler(context.seed),
            pruner=_pruner(pruner),
        )
        shared = client.scatter(data, broadcast=True)
        workers = client.scheduler_info()["workers"].values()
        slots = max(1, sum(int(w.get("nthreads", 1)) for w in workers))
        deadline = None if timeout is None else time.time() + timeout
        submitted = 0
        stopped = False

        def more() -> bool:
            return (
                not stopped
                and (n_trials is None or submitted < n_trials)
                and (deadline is None or time.time() < deadline)
            )

        def submit() -> Any:
            nonlocal submitted
            future = client.submit(
                _run_trial,
                study.study_name,
                storage.name,
                submitted,
                pruner,
                context,
                shared,
                deadline,
                pure=False,
            )
            submitted += 1
            return future

        running = distributed.as_completed([submit() for _ in range(slots) if more()])
        for future in running:
            future.result()  # a worker lost, say: not a trial's failure
            stopped = stopped or _all_failed(study, FAIL_FAST)
            if more():
                running.add(submit())
        log.info("ran %d Dask trial tasks on %d threads", submitted, slots)
        return list(study.get_trials(deepcopy=True))
    finally:
        close()
