"""The prediction server through its ASGI app (httpx, lifespan run): /predict, the Open Inference
Protocol v2, validation diffs, the error statuses, metrics, routing, swaps, the prediction log.

Real models (scikit-learn packages, a pyfunc that sleeps), a real prediction log, and sources
that implement the ModelSource protocol; no mocks. The other serving tests import the helpers
here: ``test_serving_server`` (a real uvicorn), ``test_serving_schema`` (schemathesis).
"""

from __future__ import annotations

import asyncio
import doctest
import gc
import importlib
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

import loopml
from loopml.core.errors import InvalidInput
from loopml.models.loaded import LoadedModel
from loopml.models.package import save_model
from loopml.models.signature import SignatureMismatch
from loopml.predictions import PredictionBatch, PredictionLog, read_predictions
from loopml.registry import load_model
from loopml.serving import (
    Arm,
    RoutingTable,
    ServingConfig,
    StaticSource,
    create_app,
)
from loopml.serving.batching import Batcher
from loopml.serving.metrics import Metrics
from loopml.serving.outputs import Predictor
from loopml.serving.validation import InputPlan

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --------------------------------------------------------------------------------------------
# Models (built once per module) and helpers


class Slow:
    """A pyfunc model that takes ``delay`` seconds per batch and doubles ``x``."""

    def __init__(self, delay: float, factor: float = 2.0) -> None:
        self.delay = delay
        self.factor = factor

    def predict(self, frame: pd.DataFrame) -> Any:
        time.sleep(self.delay)
        return frame["x"].to_numpy() * self.factor


def _breast_cancer() -> tuple[pd.DataFrame, pd.Series[Any]]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def bc_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HistGradientBoosting on breast_cancer (the benchmark's model), with an input example."""
    X, y = _breast_cancer()
    with threadpool_limits(1):
        model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("models") / "bc"
    save_model(model, path, input_example=X.head(5))
    return path


def mixed_frame(n: int = 300, seed: int = 3) -> tuple[pd.DataFrame, Any]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "distance": rng.gamma(2.0, 400.0, n),
            "hour": rng.integers(5, 23, n),
            "carrier": rng.choice(["AA", "DL", "UA"], n),
            "origin": pd.Categorical(rng.choice(["EWR", "JFK", "LGA"], n)),
            "weekend": rng.random(n) < 0.3,
        }
    )
    y = ((frame["hour"] > 14) ^ (frame["carrier"] == "UA")).astype(int)
    return frame, y


@pytest.fixture(scope="module")
def mixed_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Pipeline over float, int, string (with a domain), category and bool columns."""
    frame, y = mixed_frame()
    encode = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["carrier", "origin"]),
        remainder="passthrough",
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=500)).fit(frame, y)
    path = tmp_path_factory.mktemp("models") / "mixed"
    save_model(model, path, signature=frame, input_example=frame.head(5))
    return path


def slow_package(directory: Path, delay: float, factor: float = 2.0) -> Path:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    path = directory / f"slow-{delay}-{factor}"
    save_model(Slow(delay, factor), path, flavor="pyfunc", input_example=frame)
    return path


def bc_rows(n: int = 1, start: int = 0) -> list[dict[str, float]]:
    X, _ = _breast_cancer()
    return [{k: float(v) for k, v in X.iloc[i].items()} for i in range(start, start + n)]


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (lifespan) and an httpx client on it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serving") as client:
            yield client


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return 0.0


class Collected:
    """A prediction sink that keeps every batch (a fake of the prediction log)."""

    def __init__(self) -> None:
        self.batches: list[PredictionBatch] = []

    def log(self, batch: PredictionBatch) -> None:
        self.batches.append(batch)


class Switchable:
    """A ModelSource whose next table the test sets; refresh() publishes it."""

    def __init__(self, table: RoutingTable) -> None:
        self._table = table
        self.next: RoutingTable | None = None

    def table(self) -> RoutingTable:
        return self._table

    def refresh(self) -> bool:
        if self.next is None:
            return False
        self._table, self.next = self.next, None
        return True


def _table(name: str, *arms: Arm) -> RoutingTable:
    return RoutingTable(name, arms)


# --------------------------------------------------------------------------------------------
# POST /predict


async def test_predict_answers_what_the_model_predicts(bc_path: Path) -> None:
    model = load_model(bc_path)
    rows = bc_rows(3)
    async with serving(create_app(StaticSource(bc_path))) as client:
        response = await client.post("/predict", json={"records": rows})
    assert response.status_code == 200
    body = response.json()
    frame = pd.DataFrame(rows)
    assert body["predictions"] == model.predict(frame).tolist()
    assert body["probabilities"] == model.predict_proba(frame).tolist()
    assert body["classes"] == [0, 1]
    assert body["model_name"] == "bc"
    assert body["model_version"] is None
    assert body["arm"] == "bc"
    assert body["latency_ms"] > 0
    assert body["request_id"] == response.headers["x-request-id"]
    assert "warnings" not in body


async def test_records_and_columns_are_the_same_request(bc_path: Path) -> None:
    rows = bc_rows(4)
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    async with serving(create_app(StaticSource(bc_path))) as client:
        by_rows = (await client.post("/predict", json={"records": rows})).json()
        by_columns = (await client.post("/predict", json={"columns": columns})).json()
    assert by_rows["probabilities"] == by_columns["probabilities"]
    assert by_rows["request_id"] != by_columns["request_id"]


async def test_a_mixed_signature_predicts_through_the_fast_path(mixed_path: Path) -> None:
    frame, _ = mixed_frame(20, seed=8)
    model = load_model(mixed_path)
    records = orjson.loads(frame.to_json(orient="records"))
    async with serving(create_app(StaticSource(mixed_path))) as client:
        body = (await client.post("/predict", json={"records": records})).json()
    assert body["predictions"] == model.predict(frame).tolist()
    assert np.allclose(body["probabilities"], model.predict_proba(frame))


async def test_the_client_request_id_is_kept_when_valid(bc_path: Path) -> None:
    async with serving(create_app(StaticSource(bc_path))) as client:
        kept = await client.post(
            "/predict", json={"records": bc_rows()}, headers={"x-request-id": "abc-123"}
        )
        replaced = await client.post(
            "/predict", json={"records": bc_rows()}, headers={"x-request-id": "bad id!"}
        )
    assert kept.json()["request_id"] == kept.headers["x-request-id"] == "abc-123"
    assert replaced.headers["x-request-id"] != "bad id!"
    assert len(replaced.headers["x-request-id"]) == 32


async def test_a_wrong_request_is_a_422_whose_body_is_the_diff(bc_path: Path) -> None:
    row = bc_rows()[0]
    wrong = {**row, "mean radius": "big", "colour": "red"}
    del wrong["mean texture"]
    async with serving(create_app(StaticSource(bc_path))) as client:
        response = await client.post("/predict", json={"records": [wrong]})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "SIGNATURE_MISMATCH"
    assert body["request_id"] == response.headers["x-request-id"]
    problems = {(p["kind"], p["column"]): p for p in body["diff"]["problems"]}
    assert set(problems) == {
        ("wrong_type", "mean radius"),
        ("unknown_column", "colour"),
        ("missing_column", "mean texture"),
    }
    assert problems["wrong_type", "mean radius"]["examples"] == ["big"]
    assert problems["wrong_type", "mean radius"]["got"] == "string"
    assert body["diff"]["ok"] is False
    assert "'mean radius' must hold float values" in body["error"]


async def test_nulls_bools_and_nested_values_are_diffs_not_crashes(mixed_path: Path) -> None:
    frame, _ = mixed_frame(2)
    record = orjson.loads(frame.to_json(orient="records"))[0]
    cases = {
        "distance": None,
        "hour": 1.5,
        "weekend": "yes",
        "carrier": 7,
        "origin": [1, 2],
    }
    async with serving(create_app(StaticSource(mixed_path))) as client:
        for column, value in cases.items():
            response = await client.post("/predict", json={"records": [{**record, column: value}]})
            assert response.status_code == 422, (column, response.text)
            kinds = {(p["kind"], p["column"]) for p in response.json()["diff"]["problems"]}
            expected = "null_not_allowed" if value is None else "wrong_type"
            assert (expected, column) in kinds


async def test_an_unseen_category_is_answered_with_a_warning(mixed_path: Path) -> None:
    frame, _ = mixed_frame(2)
    record = {**orjson.loads(frame.to_json(orient="records"))[0], "carrier": "ZZ"}
    async with serving(create_app(StaticSource(mixed_path))) as client:
        body = (await client.post("/predict", json={"records": [record]})).json()
        strict = create_app(StaticSource(mixed_path), config=ServingConfig(category_policy="error"))
        async with serving(strict) as strict_client:
            refused = await strict_client.post("/predict", json={"records": [record]})
    assert [(w["kind"], w["column"]) for w in body["warnings"]] == [("unknown_category", "carrier")]
    assert len(body["predictions"]) == 1
    assert refused.status_code == 422


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "must be valid JSON"),
        (b"[1, 2]", "must be a JSON object with 'records' or 'columns'"),
        (b'{"records": []}', "records must hold at least one row"),
        (b'{"records": [1]}', "records[0] must be a JSON object"),
        (b'{"records": [{}], "columns": {}}', "exactly one of 'records'"),
        (b'{"record": [{}]}', "did you mean 'records'"),
        (b'{"columns": {"a": [1], "b": [1, 2]}}', "must all have the same length"),
        (b'{"columns": {"a": 1}}', "column 'a' must be a list of values"),
        (b'{"records": [{"a": 1}], "unit_id": true}', "unit_id must be a string"),
        (b'{"records": [{"a": 1}], "unit_ids": "u"}', "unit_ids must be a list"),
    ],
)
async def test_a_malformed_request_is_a_400(bc_path: Path, content: bytes, message: str) -> None:
    async with serving(create_app(StaticSource(bc_path))) as client:
        response = await client.post(
            "/predict", content=content, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "MALFORMED_REQUEST"
    assert message in response.json()["error"]


async def test_unit_ids_must_match_the_rows(bc_path: Path) -> None:
    async with serving(create_app(StaticSource(bc_path))) as client:
        response = await client.post("/predict", json={"records": bc_rows(2), "unit_ids": ["a"]})
    assert response.status_code == 400
    assert "unit_ids must have one id per row (2)" in response.json()["error"]


async def test_a_body_over_the_limit_is_a_413(bc_path: Path) -> None:
    app = create_app(StaticSource(bc_path), config=ServingConfig(max_body_bytes=2_000))
    async with serving(app) as client:
        response = await client.post("/predict", json={"records": bc_rows(5)})
        small = await client.post("/predict", json={"records": bc_rows(1)})

        async def chunks() -> AsyncIterator[bytes]:  # no content-length: counted as it streams
            yield b'{"records": ['
            for _ in range(20):
                yield orjson.dumps(bc_rows()[0]) + b","
            yield b"{}]}"

        streamed = await client.post("/predict", content=chunks())
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert "at most 2000 bytes" in response.json()["error"]
    assert small.status_code == 200
    assert streamed.status_code == 413


async def test_a_model_without_a_signature_takes_the_columns_as_they_are(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    model = LinearRegression().fit(X, X["a"] * 2 + X["b"])
    save_model(model, tmp_path / "lin")
    assert load_model(tmp_path / "lin").signature is None
    async with serving(create_app(StaticSource(tmp_path / "lin"))) as client:
        body = (await client.post("/predict", json={"records": [{"a": 1.0, "b": 1.0}]})).json()
    assert body["predictions"] == pytest.approx([3.0])
    assert "probabilities" not in body


# --------------------------------------------------------------------------------------------
# The Open Inference Protocol v2


def _tensors(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": [r[name] for r in rows]}
        for name in rows[0]
    ]


async def test_infer_per_column_tensors(bc_path: Path) -> None:
    rows = bc_rows(2)
    model = load_model(bc_path)
    async with serving(create_app(StaticSource(bc_path))) as client:
        response = await client.post(
            "/v2/models/bc/infer", json={"id": "req-9", "inputs": _tensors(rows)}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["model_name"] == "bc"
    assert "model_version" not in body  # an unregistered model has no versions
    assert body["id"] == "req-9"
    assert body["parameters"]["arm"] == "bc"
    assert body["parameters"]["request_id"] == response.headers["x-request-id"]
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["prediction"] == {
        "name": "prediction",
        "datatype": "INT64",
        "shape": [2],
        "data": model.predict(pd.DataFrame(rows)).tolist(),
    }
    assert outputs["probabilities"]["shape"] == [2, 2]
    assert (
        outputs["probabilities"]["data"] == model.predict_proba(pd.DataFrame(rows)).ravel().tolist()
    )


async def test_infer_one_tensor_of_rows_and_chosen_outputs(bc_path: Path) -> None:
    rows = bc_rows(3)
    matrix = [list(r.values()) for r in rows]
    async with serving(create_app(StaticSource(bc_path))) as client:
        by_tensor = await client.post(
            "/v2/models/bc/infer",
            json={
                "inputs": [{"name": "x", "shape": [3, 30], "datatype": "FP64", "data": matrix}],
                "outputs": [{"name": "probabilities"}],
            },
        )
        by_columns = await client.post("/v2/models/bc/infer", json={"inputs": _tensors(rows)})
    assert [o["name"] for o in by_tensor.json()["outputs"]] == ["probabilities"]
    probabilities = {o["name"]: o for o in by_columns.json()["outputs"]}["probabilities"]
    assert by_tensor.json()["outputs"][0]["data"] == probabilities["data"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([], "inputs must be a non-empty list of tensors"),
        ([{"name": "a", "shape": [2], "datatype": "FP64", "data": [1.0]}], "must hold 2 values"),
        ([{"name": "a", "shape": [1], "datatype": "fp64", "data": [1.0]}], "did you mean 'FP64'"),
        ([{"name": "a", "shape": [-1], "datatype": "FP64", "data": [1.0]}], "non-negative"),
        ([{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}], "30 values"),
    ],
)
async def test_a_malformed_inference_request_is_a_400(
    bc_path: Path, inputs: list[Any], message: str
) -> None:
    async with serving(create_app(StaticSource(bc_path))) as client:
        response = await client.post("/v2/models/bc/infer", json={"inputs": inputs})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


async def test_an_unknown_output_is_a_400(bc_path: Path) -> None:
    async with serving(create_app(StaticSource(bc_path))) as client:
        response = await client.post(
            "/v2/models/bc/infer",
            json={"inputs": _tensors(bc_rows()), "outputs": [{"name": "probability"}]},
        )
    assert response.status_code == 400
    assert "did you mean 'probabilities'" in response.json()["error"]


async def test_unknown_models_and_versions_are_404s(bc_path: Path) -> None:
    async with serving(create_app(StaticSource(bc_path))) as client:
        model = await client.post("/v2/models/bcc/infer", json={"inputs": _tensors(bc_rows())})
        version = await client.get("/v2/models/bc/versions/7")
        ready = await client.get("/v2/models/nope/ready")
        route = await client.get("/v3")
    assert model.status_code == 404
    assert model.json()["code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "did you mean 'bc'" in model.json()["error"]
    assert version.status_code == 404
    assert "is not served here" in version.json()["error"]
    assert ready.status_code == 404
    assert route.status_code == 404
    assert route.json()["code"] == "ENDPOINT_NOT_FOUND"


async def test_health_and_metadata(bc_path: Path) -> None:
    async with serving(create_app(StaticSource(bc_path))) as client:
        live = (await client.get("/v2/health/live")).json()
        ready = await client.get("/v2/health/ready")
        server = (await client.get("/v2")).json()
        meta = (await client.get("/v2/models/bc")).json()
        model_ready = (await client.get("/v2/models/bc/ready")).json()
    assert live == {"live": True}
    assert ready.status_code == 200
    assert ready.json() == {"ready": True}
    assert server["name"] == "loopml"
    assert server["version"] == loopml.__version__
    assert meta["platform"] == "loopml_sklearn"
    assert meta["inputs"][0] == {"name": "mean radius", "datatype": "FP64", "shape": [-1]}
    assert len(meta["inputs"]) == 30
    assert [o["name"] for o in meta["outputs"]] == ["prediction", "probabilities"]
    assert model_ready == {"name": "bc", "ready": True}


async def test_a_server_that_has_not_started_is_not_ready(bc_path: Path) -> None:
    app = create_app(StaticSource(bc_path))
    transport = httpx.ASGITransport(app=app)  # no lifespan: the models were never loaded
    async with httpx.AsyncClient(transport=transport, base_url="http://serving") as client:
        ready = await client.get("/v2/health/ready")
        predict = await client.post("/predict", json={"records": bc_rows()})
    assert ready.status_code == 503
    assert ready.json() == {"ready": False}
    assert predict.status_code == 503
    assert predict.json()["code"] == "NOT_READY"
    assert predict.headers["retry-after"] == "1"


# --------------------------------------------------------------------------------------------
# Registered models, metrics, the prediction log


async def test_a_registered_alias_is_served_with_its_version(bc_path: Path) -> None:
    version = loopml.register_model(str(bc_path), "cancer")
    loopml.ModelRegistry().set_alias("cancer", "champion", version.version)
    async with serving(create_app(StaticSource("models:/cancer@champion"))) as client:
        body = (await client.post("/predict", json={"records": bc_rows()})).json()
        infer = (
            await client.post(
                "/v2/models/cancer/versions/1/infer", json={"inputs": _tensors(bc_rows())}
            )
        ).json()
        meta = (await client.get("/v2/models/cancer")).json()
    assert (body["model_name"], body["model_version"], body["arm"]) == (
        "cancer",
        1,
        "cancer@champion",
    )
    assert infer["model_version"] == "1"
    assert meta["versions"] == ["1"]


async def test_metrics_count_requests_errors_and_batches(bc_path: Path) -> None:
    async with serving(create_app(StaticSource(bc_path))) as client:
        for _ in range(3):
            await client.post("/predict", json={"records": bc_rows(2)})
        await client.post("/predict", json={"records": [{"x": 1}]})
        text = (await client.get("/metrics")).text
    labels = {"model": "bc", "version": "", "arm": "bc"}
    assert metric(text, "loopml_requests_total", endpoint="/predict", status="200") == 3
    assert (
        metric(
            text,
            "loopml_errors_total",
            endpoint="/predict",
            status="422",
            code="SIGNATURE_MISMATCH",
        )
        == 1
    )
    assert metric(text, "loopml_batch_rows_sum", **labels) == 6
    assert metric(text, "loopml_batch_rows_count", **labels) == 3
    assert metric(text, "loopml_request_latency_seconds_count", **labels) == 3
    assert metric(text, "loopml_queue_rows", **labels) == 0


async def test_every_prediction_reaches_the_prediction_log(bc_path: Path, tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", flush_interval=0.05)
    ids = []
    async with serving(create_app(StaticSource(bc_path), log=log)) as client:
        for i in range(3):
            body = (
                await client.post(
                    "/predict", json={"records": bc_rows(2, start=i), "unit_ids": ["u1", "u2"]}
                )
            ).json()
            ids.append(body["request_id"])
    log.close()
    table = read_predictions("bc", root=tmp_path / "log").to_pandas()
    assert sorted(table["request_id"]) == sorted(rid for rid in ids for _ in range(2))
    assert set(table["unit_id"]) == {"u1", "u2"}
    assert set(table["arm"]) == {"bc"}
    assert table["model_version"].isna().all()
    assert table["f_mean radius"].tolist() == pytest.approx(
        [r["mean radius"] for i in range(3) for r in bc_rows(2, start=i)]
    )
    assert (table["latency_ms"] > 0).all()


async def test_a_failing_sink_never_fails_a_prediction(bc_path: Path) -> None:
    class Broken:
        def log(self, batch: PredictionBatch) -> None:
            raise OSError("disk full")

    async with serving(create_app(StaticSource(bc_path), log=Broken())) as client:
        responses = [await client.post("/predict", json={"records": bc_rows()}) for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 200]


# --------------------------------------------------------------------------------------------
# Routing, shadows, swaps


def _arm(
    model: LoadedModel, name: str, version: int, mode: str = "primary", weight: float = 100
) -> Arm:
    return Arm(name, "slow", version, model, mode, weight)  # type: ignore[arg-type]


async def test_canary_split_follows_the_unit_id_and_shadows_are_logged(tmp_path: Path) -> None:
    old = load_model(slow_package(tmp_path, 0.0, 2.0), trust=True)
    new = load_model(slow_package(tmp_path, 0.0, 3.0), trust=True)
    table = _table(
        "pricing",
        _arm(old, "slow/1", 1, "primary", 70),
        _arm(new, "slow/2", 2, "canary", 30),
        _arm(new, "slow/2-shadow", 2, "shadow", 100),
    )
    sink = Collected()
    async with serving(create_app(Switchable(table), log=sink)) as client:
        arms: dict[str, str] = {}
        for i in range(60):
            body = (
                await client.post("/predict", json={"records": [{"x": 1.0}], "unit_id": f"u{i}"})
            ).json()
            arms[f"u{i}"] = body["arm"]
            assert body["predictions"] == [2.0 if body["arm"] == "slow/1" else 3.0]
        again = (
            await client.post("/predict", json={"records": [{"x": 1.0}], "unit_id": "u7"})
        ).json()
        direct = (
            await client.post(
                "/v2/models/slow/versions/2/infer",
                json={"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]},
            )
        ).json()
        await asyncio.sleep(0.05)  # the shadow copies finish in the background
    assert again["arm"] == arms["u7"]
    assert 5 < list(arms.values()).count("slow/2") < 35
    assert direct["parameters"]["arm"] == "slow/2"
    shadowed = [b for b in sink.batches if b.arm == "slow/2-shadow"]
    assert sum(b.rows for b in shadowed) == 61  # every /predict request copied, not the direct one
    assert {b.deployment for b in sink.batches} == {"pricing"}


async def test_a_swap_under_load_fails_no_request(tmp_path: Path) -> None:
    old = load_model(slow_package(tmp_path, 0.02, 2.0), trust=True)
    new = load_model(slow_package(tmp_path, 0.02, 3.0), trust=True)
    source = Switchable(_table("slow", _arm(old, "slow/1", 1)))
    app = create_app(source, config=ServingConfig(poll_interval=0.01))
    async with serving(app) as client:

        async def ask() -> tuple[int, float, str]:
            response = await client.post("/predict", json={"records": [{"x": 1.0}]})
            body = response.json()
            return response.status_code, body["predictions"][0], body["arm"]

        first = [asyncio.create_task(ask()) for _ in range(20)]
        await asyncio.sleep(0.005)
        source.next = _table("slow", _arm(new, "slow/2", 2))
        during = [asyncio.create_task(ask()) for _ in range(20)]
        results = await asyncio.gather(*first, *during)
        for _ in range(200):  # the poll publishes the new table within a few intervals
            if (await ask())[2] == "slow/2":
                break
            await asyncio.sleep(0.01)
        after = await ask()
    assert all(status == 200 for status, _, _ in results)
    assert all(value == {"slow/1": 2.0, "slow/2": 3.0}[arm] for _, value, arm in results)
    assert after == (200, 3.0, "slow/2")


class Failing:
    """A pyfunc model that cannot predict (it fails its warm-up)."""

    def predict(self, frame: pd.DataFrame) -> Any:
        raise RuntimeError("corrupt model")


async def test_a_failing_swap_keeps_the_old_table(tmp_path: Path) -> None:
    old = load_model(slow_package(tmp_path, 0.0, 2.0), trust=True)
    save_model(Failing(), tmp_path / "failing", input_example=pd.DataFrame({"x": [1.0]}))
    failing = load_model(tmp_path / "failing", trust=True)
    source = Switchable(_table("slow", _arm(old, "slow/1", 1)))
    async with serving(create_app(source, config=ServingConfig(poll_interval=0.01))) as client:
        source.next = _table("slow", _arm(failing, "slow/2", 2))
        await asyncio.sleep(0.1)
        body = (await client.post("/predict", json={"records": [{"x": 1.0}]})).json()
    assert body["arm"] == "slow/1"


async def test_the_collector_is_frozen_once_the_models_are_warm(bc_path: Path) -> None:
    gc.unfreeze()
    try:
        app = create_app(StaticSource(bc_path), config=ServingConfig(freeze_gc=False))
        async with serving(app):
            assert gc.get_freeze_count() == 0
        async with serving(create_app(StaticSource(bc_path))):
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


# --------------------------------------------------------------------------------------------
# Building blocks: config, tables, the fast path, the predictor


async def test_a_fast_model_runs_inline_and_a_slow_one_on_a_worker_that_outlives_a_drain(
    bc_path: Path, tmp_path: Path
) -> None:
    fast = load_model(bc_path)
    slow = load_model(slow_package(tmp_path, 0.01), trust=True)
    batchers = [
        Batcher(Arm(name, name, 1, model), ServingConfig(), deployment="d", metrics=Metrics())
        for name, model in (("bc", fast), ("slow", slow))
    ]
    for batcher in batchers:
        batcher.warm()
    assert [b.inline for b in batchers] == [True, False]
    slow_batcher = batchers[1]
    features = slow_batcher.plan.read_fast(records=[{"x": 2.0}])
    assert features is not None
    await slow_batcher.drain()
    late = await slow_batcher.predict(features, "late")  # looked up just before a swap
    assert late.predictions.tolist() == [4.0]
    await slow_batcher.drain()


def test_config_names_the_broken_rule() -> None:
    with pytest.raises(InvalidInput, match=r"max_batch_size must be an integer >= 1; got 0"):
        ServingConfig(max_batch_size=0)
    with pytest.raises(InvalidInput, match=r"category_policy must be one of warn, error, ignore"):
        ServingConfig(category_policy="strict")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"latency_budget_ms must be a finite number > 0"):
        ServingConfig(latency_budget_ms=0)
    with pytest.raises(InvalidInput, match=r"probabilities must be true or false; got 'yes'"):
        ServingConfig(probabilities="yes")  # type: ignore[arg-type]


def test_a_routing_table_needs_a_serving_arm_and_unique_names(bc_path: Path) -> None:
    model = load_model(bc_path)
    with pytest.raises(InvalidInput, match="must have a primary or canary arm"):
        RoutingTable("d", (Arm("a", "bc", 1, model, "shadow", 100),))
    with pytest.raises(InvalidInput, match="must name each arm once"):
        RoutingTable("d", (Arm("a", "bc", 1, model), Arm("a", "bc", 2, model, "canary", 0)))
    with pytest.raises(InvalidInput, match=r"weight must be a percentage \(0 to 100\); got 150"):
        Arm("a", "bc", 1, model, "primary", 150)


def test_a_static_source_loads_on_refresh_and_names_its_arm(bc_path: Path) -> None:
    source = StaticSource(bc_path, name="cancer")
    assert source.refresh() is True
    assert source.refresh() is False
    table = source.table()
    assert (table.name, table.arms[0].name, table.arms[0].version) == ("cancer", "cancer", None)
    with pytest.raises(InvalidInput, match="model URI"):
        StaticSource("models:/")


_FINITE = st.floats(allow_nan=False, allow_infinity=False)
#: Rows of the mixed model's columns, each value of a type its column takes as it is.
_GOOD_ROW = st.fixed_dictionaries(
    {
        "distance": st.one_of(_FINITE, st.integers(-(2**53), 2**53)),
        "hour": st.integers(-(2**63), 2**63 - 1),
        "carrier": st.sampled_from(["AA", "DL", "UA"]),
        "origin": st.sampled_from(["EWR", "JFK", "LGA"]),
        "weekend": st.booleans(),
    }
)
#: Rows that are often wrong: wrong types, nulls, unseen categories, extra and missing fields.
_ANY_ROW = st.fixed_dictionaries(
    {
        "distance": st.one_of(_FINITE, st.integers(), st.none(), st.text(max_size=2)),
        "hour": st.one_of(st.integers(-(2**63), 2**63 - 1), _FINITE, st.booleans()),
        "carrier": st.one_of(st.sampled_from(["AA", "DL", "UA", "ZZ"]), st.integers(0, 3)),
        "origin": st.one_of(st.sampled_from(["EWR", "JFK", "LGA", "SFO"]), st.none()),
    },
    optional={"weekend": st.one_of(st.booleans(), st.integers(0, 1)), "extra": st.just(1)},
)


@pytest.fixture(scope="module")
def mixed_plan(mixed_path: Path) -> InputPlan:
    plan = InputPlan(load_model(mixed_path).signature)
    assert plan.fast
    return plan


@given(rows=st.lists(_GOOD_ROW, min_size=1, max_size=6))
@hsettings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_fast_path_builds_the_frame_conform_builds(
    mixed_plan: InputPlan, rows: list[dict[str, Any]]
) -> None:
    """Rows and columns of the right types take the fast path, which builds exactly the frame
    of the reference path (validate + conform); only the column labels' Index type differs."""
    reference = mixed_plan.read(records=rows).frame
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    for fast in (mixed_plan.read_fast(records=rows), mixed_plan.read_fast(columns=columns)):
        assert fast is not None
        pd.testing.assert_frame_equal(
            mixed_plan.frame([fast]), reference, check_exact=True, check_column_type=False
        )


@given(rows=st.lists(_ANY_ROW, min_size=1, max_size=4))
@hsettings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_what_the_fast_path_refuses_the_reference_path_explains_or_accepts(
    mixed_plan: InputPlan, rows: list[dict[str, Any]]
) -> None:
    fast = mixed_plan.read_fast(records=rows)
    try:
        reference = mixed_plan.read(records=rows)
    except SignatureMismatch as exc:
        refused = exc.diff.errors
    else:
        refused = ()
    if refused:
        assert fast is None
        return
    assert reference.frame is not None
    if fast is not None:
        pd.testing.assert_frame_equal(
            mixed_plan.frame([fast]), reference.frame, check_exact=True, check_column_type=False
        )


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _FINITE | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
_NAMES = st.sampled_from(["distance", "hour", "carrier", "origin", "weekend", "", "x"])


@given(rows=st.lists(st.dictionaries(_NAMES, _JSON, max_size=6), min_size=1, max_size=3))
@hsettings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_json_rows_are_predicted_or_refused_as_the_clients_mistake(
    mixed_plan: InputPlan, mixed_predictor: Predictor, rows: list[dict[str, Any]]
) -> None:
    """Whatever JSON a client sends as rows, the server either predicts it or refuses it with
    an InvalidInput (a 4xx): never an error of its own."""
    try:
        features = mixed_plan.read_fast(records=rows) or mixed_plan.read(records=rows)
    except InvalidInput:
        return
    frame = features.frame if features.frame is not None else mixed_plan.frame([features])
    predictions, _ = mixed_predictor(frame)
    assert len(predictions) == len(rows)


@pytest.fixture(scope="module")
def mixed_predictor(mixed_path: Path) -> Predictor:
    return Predictor(load_model(mixed_path))


def test_the_fast_path_concatenates_requests_in_order(mixed_plan: InputPlan) -> None:
    frame, _ = mixed_frame(6, seed=2)
    records = orjson.loads(frame.to_json(orient="records"))
    parts = [mixed_plan.read_fast(records=records[:2]), mixed_plan.read_fast(records=records[2:])]
    assert all(p is not None for p in parts)
    whole = mixed_plan.read(records=records).frame
    pd.testing.assert_frame_equal(
        mixed_plan.frame([p for p in parts if p]), whole, check_column_type=False
    )


def _labels_match(model: Any, frame: pd.DataFrame, tmp: Path, name: str) -> None:
    save_model(model, tmp / name, input_example=frame.head(3))
    loaded = load_model(tmp / name)
    labels, proba = Predictor(loaded)(frame)
    np.testing.assert_array_equal(labels, model.predict(frame))
    np.testing.assert_array_equal(proba, model.predict_proba(frame))


def test_labels_are_exactly_predict_also_when_read_from_probabilities(tmp_path: Path) -> None:
    X, y = _breast_cancer()
    _labels_match(HistGradientBoostingClassifier(max_iter=20).fit(X, y), X, tmp_path, "hgb")
    _labels_match(RandomForestClassifier(n_estimators=5).fit(X, y), X, tmp_path, "rf")
    frame, target = mixed_frame()
    _labels_match(
        make_pipeline(
            make_column_transformer(
                (OneHotEncoder(), ["carrier", "origin"]), remainder="passthrough"
            ),
            HistGradientBoostingClassifier(max_iter=10),
        ).fit(frame, target),
        frame,
        tmp_path,
        "pipe",
    )
    # Every probability tied at 0.5: predict decides, as the model does.
    tied = LogisticRegression().fit(X.iloc[:, :2], y)
    tied.coef_[:] = 0.0
    tied.intercept_[:] = 0.0
    _labels_match(tied, X.iloc[:, :2], tmp_path, "tied")


@pytest.mark.parametrize(
    "name",
    [
        "loopml.serving",
        "loopml.serving.app",
        "loopml.serving.config",
        "loopml.serving.sources",
        "loopml.serving.validation",
    ],
)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
