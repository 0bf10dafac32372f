"""The prediction server on a real uvicorn on loopback: batching under concurrency, load shedding,
graceful shutdown, and ``loopml serve`` as a user runs it."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from _harness import child_env
from conftest import run_cli
from loopml.predictions import read_predictions
from loopml.serving import ServingConfig, StaticSource, create_app
from test_serving import bc_path, bc_rows, metric, slow_package  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")

_STARTUP_SECONDS = 60.0


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """``app`` on a real uvicorn (uvloop, httptools) on a free loopback port; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + _STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(_STARTUP_SECONDS)
        sock.close()


async def _post_many(base: str, values: list[float]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(values))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        return list(
            await asyncio.gather(
                *(client.post("/predict", json={"records": [{"x": v}]}) for v in values)
            )
        )


def test_concurrent_requests_are_coalesced_into_batches(tmp_path: Path) -> None:
    app = create_app(StaticSource(slow_package(tmp_path, 0.05), trust=True))
    values = [float(i) for i in range(16)]
    with running(app) as base:
        responses = asyncio.run(_post_many(base, values))
        text = httpx.get(f"{base}/metrics").text
    assert [r.status_code for r in responses] == [200] * 16
    assert [r.json()["predictions"] for r in responses] == [[2 * v] for v in values]
    labels = {"arm": "slow-0.05-2.0"}
    assert metric(text, "loopml_batch_rows_sum", **labels) == 16
    batches = metric(text, "loopml_batch_rows_count", **labels)
    assert 1 <= batches <= 8, f"16 concurrent requests took {batches:g} batches"


def test_overload_is_shed_with_503_and_retry_after(tmp_path: Path) -> None:
    config = ServingConfig(max_batch_size=1, latency_budget_ms=150)
    app = create_app(StaticSource(slow_package(tmp_path, 0.1), trust=True), config=config)
    with running(app) as base:
        responses = asyncio.run(_post_many(base, [1.0] * 12))
        text = httpx.get(f"{base}/metrics").text
    statuses = [r.status_code for r in responses]
    shed = [r for r in responses if r.status_code == 503]
    assert set(statuses) == {200, 503}, statuses
    assert statuses.count(200) >= 2
    assert all(r.json()["code"] == "OVERLOADED" for r in shed)
    assert all(int(r.headers["retry-after"]) >= 1 for r in shed)
    assert "latency budget (150 ms)" in shed[0].json()["error"]
    assert metric(text, "loopml_errors_total", status="503", code="OVERLOADED") == len(shed)


def test_stopping_the_server_answers_the_queued_requests(tmp_path: Path) -> None:
    config = ServingConfig(max_batch_size=1)
    app = create_app(StaticSource(slow_package(tmp_path, 0.05), trust=True), config=config)
    results: list[list[httpx.Response]] = []
    with running(app) as base:
        worker = threading.Thread(
            target=lambda: results.append(asyncio.run(_post_many(base, [1.0] * 5)))
        )
        worker.start()
        deadline = time.monotonic() + 10
        while metric(httpx.get(f"{base}/metrics").text, "loopml_queue_rows") < 2:
            assert time.monotonic() < deadline, "the requests never queued"
            time.sleep(0.005)
    worker.join(30)  # the server has stopped: what was queued was answered first
    assert [r.status_code for r in results[0]] == [200] * 5


def test_fast_models_answer_a_crowd(bc_path: Path) -> None:  # noqa: F811
    rows = bc_rows(32)
    with running(create_app(StaticSource(bc_path))) as base:

        async def crowd() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                return list(
                    await asyncio.gather(
                        *(client.post("/predict", json={"records": [row]}) for row in rows)
                    )
                )

        responses = asyncio.run(crowd())
        single = httpx.post(f"{base}/predict", json={"records": rows}).json()
    assert [r.json()["probabilities"][0] for r in responses] == single["probabilities"]


# --------------------------------------------------------------------------------------------
# loopml serve


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _serve(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "loopml", "serve", *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**child_env(), "COLUMNS": "200"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + _STARTUP_SECONDS
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"loopml serve exited with {proc.returncode}:\n{proc.communicate()}")
            try:
                if httpx.get(f"{base}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("loopml serve did not become ready")
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.slow
def test_loopml_serve_predicts_and_flushes_its_log_on_ctrl_c(
    bc_path: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    log = tmp_path / "log"
    with _serve(str(bc_path), "--name", "cancer", "--predictions-uri", str(log)) as (base, proc):
        body = httpx.post(f"{base}/predict", json={"records": bc_rows(3)}).json()
        docs = httpx.get(f"{base}/openapi.json").json()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Serving cancer: cancer (sklearn)" in out
    assert body["model_name"] == "cancer"
    assert "/predict" in docs["paths"]
    table = read_predictions("cancer", root=log)
    assert table.column("request_id").to_pylist() == [body["request_id"]] * 3


@pytest.mark.slow
def test_loopml_serve_with_two_workers(bc_path: Path) -> None:  # noqa: F811
    with _serve(str(bc_path), "--workers", "2", "--no-log-predictions") as (base, proc):
        bodies = [httpx.post(f"{base}/predict", json={"records": bc_rows()}) for _ in range(4)]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert [b.status_code for b in bodies] == [200] * 4


def test_loopml_serve_names_a_missing_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "serve", "models:/nope/1")
    assert code == 3
    assert "nope" in err
    assert "Traceback" not in err


def test_loopml_serve_refuses_a_bad_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "serve", "models:/nope/1", "--log-level", "loud")
    assert code == 2
    assert "--log-level must be one of" in err
