"""A process that forks after using a store (multiprocessing, joblib) keeps working, and so do
its children: each opens its own connections instead of sharing the parent's."""

from __future__ import annotations

import multiprocessing

import pytest

import loopml

_URI = ""
_RUN = ""


def _child(index: int) -> int:
    client = loopml.Client(_URI)
    for step in range(50):
        client.log_metric(_RUN, f"child{index}", float(step), step=step)
    return len(client.get_metric_history(_RUN, f"child{index}"))


@pytest.mark.slow
def test_forked_children_and_parent_keep_logging(tracking_uri: str) -> None:
    global _URI, _RUN
    client = loopml.Client(tracking_uri)
    experiment = client.create_experiment("fork")
    _URI, _RUN = tracking_uri, client.create_run(experiment).run_id
    client.log_metric(_RUN, "parent", 0.0)  # the parent's pool now holds a connection
    with multiprocessing.get_context("fork").Pool(3) as pool:
        assert pool.map(_child, range(3)) == [50, 50, 50]
    for step in range(1, 50):
        client.log_metric(_RUN, "parent", float(step), step=step)
    assert len(client.get_metric_history(_RUN, "parent")) == 50
    assert set(client.get_run(_RUN).data.metrics) == {"parent", "child0", "child1", "child2"}
