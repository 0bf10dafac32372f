"""The xgboost, lightgbm, onnx and pyfunc flavors, and verified export to ONNX.

Every round trip goes through ``save_model`` -> ``load_package`` and compares predictions with
the original model bit for bit (``np.array_equal`` and the same dtype).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from loopml.core.errors import IntegrityError, InvalidInput, MissingDependency, NotTrusted
from loopml.models.flavors import detect_flavor, get_flavor
from loopml.models.manifest import MANIFEST_NAME
from loopml.models.package import load_package, save_model

xgb = pytest.importorskip("xgboost")
lgb = pytest.importorskip("lightgbm")
onnx_flavor_module = pytest.importorskip("loopml.models.flavors.onnx")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")

from sklearn.compose import make_column_transformer  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.neighbors import NearestCentroid  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from loopml.models.flavors.lightgbm import LGBMBoosterClassifier  # noqa: E402
from loopml.models.flavors.onnx import ConversionMismatch, export_onnx  # noqa: E402
from loopml.models.flavors.pyfunc import LogisticRule  # noqa: E402

FLAVORS = ("xgboost", "lightgbm", "onnx", "pyfunc")


def assert_identical(expected: Any, actual: Any) -> None:
    expected, actual = np.asarray(expected), np.asarray(actual)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert np.array_equal(actual, expected)


def round_trip(model: Any, frame: pd.DataFrame, path: Path, **kwargs: Any) -> Any:
    """Save, load and check predict / predict_proba bit for bit; returns the loaded model."""
    manifest = save_model(model, path, input_example=frame.head(20), **kwargs)
    loaded = load_package(path, trust=manifest.flavor == "pyfunc")
    flavor = get_flavor(manifest.flavor)
    assert_identical(flavor.predict(model, frame), loaded.predict(frame))
    assert loaded.has_proba == flavor.has_proba(model)
    if loaded.has_proba:
        assert_identical(flavor.predict_proba(model, frame), loaded.predict_proba(frame))
    return loaded


def mixed_frame(rng: np.random.Generator, n: int = 400) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "distance": rng.gamma(2.0, 400.0, n),
            "hour": rng.integers(5, 23, n),
            "carrier": pd.Categorical(rng.choice(["AA", "DL", "UA", "B6"], n)),
        }
    )


def late(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    score = frame["hour"] + 4 * (frame["carrier"] == "B6") + rng.normal(0, 3, len(frame))
    return np.asarray(score > 16)


# ------------------------------------------------------------------ every flavor's example


@pytest.mark.parametrize("name", FLAVORS)
def test_example_round_trip_records_flavor_versions_and_hashes(name: str, tmp_path: Path) -> None:
    flavor = get_flavor(name)
    model, frame = flavor.example()
    assert detect_flavor(model).name == name
    path = tmp_path / "pkg"
    loaded = round_trip(model, frame, path)

    manifest = loaded.manifest
    assert manifest.flavor == name
    assert manifest.safe is (name != "pyfunc")
    for dist in flavor.distributions:
        assert manifest.libraries[dist] == importlib.metadata.version(dist)
    model_file = manifest.options["model_file"]
    assert set(manifest.files) == {model_file, "input_example.json", "requirements.txt"}
    for file, digest in manifest.files.items():
        assert hashlib.sha256((path / file).read_bytes()).hexdigest() == digest
    on_disk = yaml.safe_load((path / MANIFEST_NAME).read_text())
    assert on_disk["flavor"] == name
    assert on_disk["files"][model_file] == manifest.files[model_file]


@pytest.mark.parametrize("name", ["xgboost", "lightgbm", "onnx"])
def test_changed_model_bytes_are_refused(name: str, tmp_path: Path) -> None:
    model, _ = get_flavor(name).example()
    manifest = save_model(model, tmp_path / "pkg")
    model_file = tmp_path / "pkg" / manifest.options["model_file"]
    model_file.write_bytes(model_file.read_bytes()[:-1] + b"\x00")
    with pytest.raises(IntegrityError, match="does not match the sha256"):
        load_package(tmp_path / "pkg")


def test_optional_libraries_are_not_imported_to_detect_or_name_a_flavor() -> None:
    code = textwrap.dedent(
        """
        import sys
        from loopml.models.flavors import FLAVOR_NAMES, detect_flavor, get_flavor
        class Rule:
            def predict(self, df):
                return df
        assert detect_flavor(Rule()).name == "pyfunc"
        for name in FLAVOR_NAMES:
            get_flavor(name)
        heavy = ["xgboost", "lightgbm", "onnx", "onnxruntime", "skl2onnx"]
        print([m for m in heavy if m in sys.modules])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


# ------------------------------------------------------------------------------- xgboost


def test_xgboost_wrappers_round_trip(rng: np.random.Generator, tmp_path: Path) -> None:
    full = mixed_frame(rng)
    frame, target = full[["distance", "hour"]], late(full, rng).astype(int)
    three = rng.integers(0, 3, len(frame))
    models = [
        xgb.XGBClassifier(n_estimators=10, n_jobs=1).fit(frame, target),
        xgb.XGBClassifier(n_estimators=10, n_jobs=1).fit(frame, three),
        xgb.XGBRegressor(n_estimators=10, n_jobs=1).fit(frame, frame["distance"]),
        xgb.XGBRFClassifier(n_estimators=5, n_jobs=1).fit(frame, target),
    ]
    for i, model in enumerate(models):
        loaded = round_trip(model, frame, tmp_path / f"m{i}")
        assert type(loaded.native) is type(model)
        assert loaded.manifest.options["model_class"] == type(model).__name__
        if hasattr(model, "classes_"):
            assert_identical(model.classes_, loaded.native.classes_)


def test_xgboost_categorical_features_round_trip(rng: np.random.Generator, tmp_path: Path) -> None:
    frame = mixed_frame(rng)
    model = xgb.XGBClassifier(n_estimators=20, n_jobs=1, enable_categorical=True)
    model.fit(frame, late(frame, rng).astype(int))
    loaded = round_trip(model, frame, tmp_path / "pkg")
    assert loaded.native.get_booster().feature_types == ["float", "int", "c"]


def test_xgboost_missing_value_marker_is_restored(rng: np.random.Generator, tmp_path: Path) -> None:
    frame = mixed_frame(rng)[["distance", "hour"]].astype(float)
    frame.loc[::5, "distance"] = -1.0
    model = xgb.XGBRegressor(n_estimators=10, n_jobs=1, missing=-1.0)
    model.fit(frame, frame["hour"] * 3 + frame["distance"] / 100)
    loaded = round_trip(model, frame, tmp_path / "pkg")
    assert loaded.manifest.options["missing"] == -1.0
    # The test is not vacuous: a wrapper rebuilt with the default marker predicts otherwise.
    default = xgb.XGBRegressor()
    default.load_model(bytearray((tmp_path / "pkg" / "model.ubj").read_bytes()))
    assert not np.array_equal(default.predict(frame), model.predict(frame))


def test_xgboost_raw_booster_predicts_from_a_frame(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    frame = mixed_frame(rng)
    dtrain = xgb.DMatrix(frame, label=late(frame, rng).astype(int), enable_categorical=True)
    booster = xgb.train({"objective": "binary:logistic", "nthread": 1}, dtrain, num_boost_round=10)
    assert detect_flavor(booster).name == "xgboost"
    loaded = round_trip(booster, frame, tmp_path / "pkg")
    assert loaded.manifest.options["model_class"] == "Booster"
    assert not loaded.has_proba
    assert_identical(
        booster.predict(xgb.DMatrix(frame, enable_categorical=True)), loaded.predict(frame)
    )


def test_xgboost_subclass_is_not_taken_for_xgboost() -> None:
    class MyClassifier(xgb.XGBClassifier):  # type: ignore[misc]
        pass

    assert not get_flavor("xgboost").matches(MyClassifier())


def test_xgboost_package_naming_another_class_is_refused(tmp_path: Path) -> None:
    model, _ = get_flavor("xgboost").example()
    save_model(model, tmp_path / "pkg")
    manifest = tmp_path / "pkg" / MANIFEST_NAME
    data = yaml.safe_load(manifest.read_text())
    data["options"]["model_class"] = "DMatrix"
    manifest.write_text(yaml.safe_dump(data))
    with pytest.raises(IntegrityError, match=r"model_class.*must be Booster or one of"):
        load_package(tmp_path / "pkg")


# ------------------------------------------------------------------------------ lightgbm


def test_lightgbm_classifier_with_categorical_column(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    frame = mixed_frame(rng)
    labels = np.where(late(frame, rng), "late", "on_time")
    model = lgb.LGBMClassifier(n_estimators=20, n_jobs=1, verbose=-1).fit(frame, labels)
    loaded = round_trip(model, frame, tmp_path / "pkg")
    native = loaded.native
    assert isinstance(native, LGBMBoosterClassifier)
    assert_identical(model.classes_, native.classes_)
    assert loaded.classes == ["late", "on_time"]
    assert native.feature_name_ == model.feature_name_
    # Categories listed in another order map by value, as in LightGBM's own wrapper.
    reordered = frame.assign(
        carrier=frame["carrier"].cat.reorder_categories(["UA", "DL", "B6", "AA"])
    )
    assert_identical(model.predict_proba(reordered), native.predict_proba(reordered))


def test_lightgbm_multiclass_regressor_and_early_stopping(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    frame = mixed_frame(rng)
    three = rng.choice([10, 20, 30], len(frame))
    target = late(frame, rng)
    if "eval_X" in inspect.signature(lgb.LGBMClassifier.fit).parameters:  # LightGBM >= 4.7
        evaluation: dict[str, Any] = {"eval_X": (frame[300:],), "eval_y": (target[300:],)}
    else:
        evaluation = {"eval_set": [(frame[300:], target[300:])]}
    stopped = lgb.LGBMClassifier(n_estimators=300, n_jobs=1, verbose=-1).fit(
        frame[:300],
        target[:300],
        callbacks=[lgb.early_stopping(3, verbose=False)],
        **evaluation,
    )
    assert 0 < stopped.best_iteration_ < 300
    models = [
        lgb.LGBMClassifier(n_estimators=10, n_jobs=1, verbose=-1).fit(frame, three),
        lgb.LGBMRegressor(n_estimators=10, n_jobs=1, verbose=-1).fit(frame, frame["distance"]),
        stopped,
    ]
    for i, model in enumerate(models):
        loaded = round_trip(model, frame, tmp_path / f"m{i}")
        assert loaded.manifest.options["model_class"] == type(model).__name__
    assert not hasattr(load_package(tmp_path / "m1").native, "predict_proba")


def test_lightgbm_raw_booster(rng: np.random.Generator, tmp_path: Path) -> None:
    frame = mixed_frame(rng)
    data = lgb.Dataset(frame, label=late(frame, rng).astype(int))
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": 1}, data, 10)
    loaded = round_trip(booster, frame, tmp_path / "pkg")
    assert loaded.manifest.options["model_class"] == "Booster"
    assert not loaded.has_proba
    assert_identical(booster.predict(frame), loaded.predict(frame))


def test_lightgbm_loaded_adapter_saves_again(tmp_path: Path) -> None:
    model, frame = get_flavor("lightgbm").example()
    save_model(model, tmp_path / "a")
    again = load_package(tmp_path / "a").native
    loaded = round_trip(again, frame, tmp_path / "b")
    assert_identical(model.predict(frame), loaded.predict(frame))


def test_lightgbm_classifier_with_custom_objective_is_refused(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    full = mixed_frame(rng)
    frame = full[["distance", "hour"]]

    def logloss(y: Any, raw: Any) -> tuple[Any, Any]:
        p = 1.0 / (1.0 + np.exp(-raw))
        return p - y, p * (1.0 - p)

    model = lgb.LGBMClassifier(n_estimators=5, objective=logloss, verbose=-1)
    model.fit(frame, late(full, rng).astype(int))
    with pytest.raises(InvalidInput, match=r"custom objective.*save model.booster_"):
        save_model(model, tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


# ---------------------------------------------------------------------------------- onnx


def test_onnx_model_with_one_input_per_column(rng: np.random.Generator, tmp_path: Path) -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    frame = mixed_frame(rng).astype({"carrier": str})
    sk = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["carrier"]), remainder="passthrough"),
        LogisticRegression(max_iter=500),
    ).fit(frame, late(frame, rng).astype(int))
    proto = convert_sklearn(  # with ZipMap: probabilities come as a list of dicts
        sk,
        initial_types=[
            ("distance", FloatTensorType([None, 1])),
            ("hour", Int64TensorType([None, 1])),
            ("carrier", StringTensorType([None, 1])),
        ],
        target_opset=17,
    )
    loaded = round_trip(proto, frame, tmp_path / "pkg")
    probabilities = loaded.predict_proba(frame)
    assert probabilities.shape == (len(frame), 2)
    assert probabilities.dtype == np.float32
    assert np.max(np.abs(probabilities - sk.predict_proba(frame))) < 1e-5
    assert_identical(sk.predict(frame), loaded.predict(frame))


def test_onnx_regressor_output_is_one_dimensional(rng: np.random.Generator, tmp_path: Path) -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    frame = mixed_frame(rng)[["distance", "hour"]]
    sk = LinearRegression().fit(frame, frame["distance"] * 0.1 + frame["hour"])
    proto = convert_sklearn(sk, initial_types=[("x", DoubleTensorType([None, 2]))], target_opset=17)
    loaded = round_trip(proto, frame, tmp_path / "pkg")
    assert loaded.predict(frame).shape == (len(frame),)
    assert not loaded.has_proba


# ------------------------------------------------------------------------------- pyfunc


def test_pyfunc_needs_trust(tmp_path: Path) -> None:
    model, frame = get_flavor("pyfunc").example()
    save_model(model, tmp_path / "pkg", input_example=frame)
    with pytest.raises(NotTrusted, match="pickle"):
        load_package(tmp_path / "pkg")
    # The flavor refuses on its own too, whatever the manifest says.
    with pytest.raises(NotTrusted, match=r"cloudpickle.*trust=True"):
        get_flavor("pyfunc").load(None, {"model_class": "x.Rule"}, trust=False)  # type: ignore[arg-type]
    loaded = load_package(tmp_path / "pkg", trust=True)
    assert_identical(model.predict(frame), loaded.predict(frame))


def test_pyfunc_predict_proba_only_when_the_object_has_it(tmp_path: Path) -> None:
    class Constant:
        def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
            return np.zeros(len(frame))

    frame = pd.DataFrame({"x": [1.0, 2.0]})
    loaded = round_trip(Constant(), frame, tmp_path / "pkg")
    assert not loaded.has_proba
    with pytest.raises(InvalidInput, match="has no predict_proba"):
        loaded.predict_proba(frame)


def test_pyfunc_is_never_chosen_for_a_class_or_a_known_model() -> None:
    model, _ = get_flavor("xgboost").example()
    assert detect_flavor(model).name == "xgboost"
    assert not get_flavor("pyfunc").matches(LogisticRule)
    assert get_flavor("pyfunc").matches(LogisticRule("x", 0.0, 1.0))


def _run(code: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.slow
def test_pyfunc_class_from_a_local_module_loads_where_the_module_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "flight_rules_local.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def _scale(x):
                return x * 2.0

            class DoubledDelay:
                def predict(self, df):
                    return _scale(df["dep_delay"].to_numpy())
            """
        )
    )
    monkeypatch.syspath_prepend(str(source))
    module = importlib.import_module("flight_rules_local")
    monkeypatch.setitem(sys.modules, "flight_rules_local", module)
    frame = pd.DataFrame({"dep_delay": [1.5, -3.0, 40.0]})
    manifest = save_model(module.DoubledDelay(), tmp_path / "pkg")
    assert manifest.options["pickled_by_value"] == ["flight_rules_local"]
    cloudpickle = importlib.import_module("cloudpickle")
    assert "flight_rules_local" not in cloudpickle.list_registry_pickle_by_value()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = _run(
        textwrap.dedent(
            f"""
            import json, importlib.util
            import pandas as pd
            from loopml.models.package import load_package
            assert importlib.util.find_spec("flight_rules_local") is None
            model = load_package({str(tmp_path / "pkg")!r}, trust=True)
            frame = pd.DataFrame({{"dep_delay": [1.5, -3.0, 40.0]}})
            print(json.dumps(model.predict(frame).tolist()))
            """
        ),
        elsewhere,
    )
    assert json.loads(out) == module.DoubledDelay().predict(frame).tolist()


@pytest.mark.slow
def test_pyfunc_class_from_a_script_loads_in_another_process(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from loopml.models.package import save_model

            class Threshold:
                def __init__(self, limit):
                    self.limit = limit
                def predict(self, df):
                    return (df["dep_delay"] > self.limit).to_numpy()

            save_model(Threshold(15.0), {str(tmp_path / "pkg")!r})
            """
        )
    )
    subprocess.run([sys.executable, str(script)], check=True, timeout=120, cwd=tmp_path)
    out = _run(
        textwrap.dedent(
            f"""
            import pandas as pd
            from loopml.models.package import load_package
            model = load_package({str(tmp_path / "pkg")!r}, trust=True)
            print(model.predict(pd.DataFrame({{"dep_delay": [1.0, 20.0]}})).tolist())
            """
        ),
        tmp_path,
    )
    assert out == "[False, True]"


# ---------------------------------------------------------------------- missing extras


@pytest.mark.parametrize(
    ("name", "module", "hint"),
    [
        ("xgboost", "xgboost", "pip install 'loopml[xgboost]'"),
        ("lightgbm", "lightgbm", "pip install 'loopml[lightgbm]'"),
        ("onnx", "onnxruntime", "pip install 'loopml[onnx]'"),
        ("pyfunc", "cloudpickle", "pip install cloudpickle"),
    ],
)
def test_missing_library_names_the_extra(
    name: str, module: str, hint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = get_flavor(name).example()
    save_model(model, tmp_path / "pkg")
    monkeypatch.setitem(sys.modules, module, None)  # what `import module` sees when absent
    with pytest.raises(MissingDependency) as caught:
        load_package(tmp_path / "pkg", trust=True)
    assert hint in str(caught.value)
    assert isinstance(caught.value.__cause__, ImportError)


# --------------------------------------------------------------------------- ONNX export


def sklearn_package(model: Any, frame: pd.DataFrame, path: Path) -> Any:
    save_model(model, path, input_example=frame)
    return load_package(path)


def test_export_numeric_pipeline(rng: np.random.Generator, tmp_path: Path) -> None:
    full = mixed_frame(rng)
    frame = full[["distance", "hour"]]
    sk = make_pipeline(StandardScaler(), LogisticRegression())
    sk.fit(frame, np.where(late(full, rng), "late", "on_time"))
    loaded = sklearn_package(sk, frame, tmp_path / "sk")
    manifest = export_onnx(loaded, tmp_path / "onnx")

    assert manifest.flavor == "onnx"
    assert manifest.signature == loaded.signature
    export = manifest.options["export"]
    assert export["inputs"] == "double matrix"
    assert export["tolerance"] == 1e-4
    assert 0 <= export["max_abs_diff"] <= 1e-4
    assert manifest.options["inputs"] == {"input": "tensor(double)"}

    onnx_model = load_package(tmp_path / "onnx")
    assert onnx_model.predict(frame).tolist() == sk.predict(frame).tolist()  # str, as object
    proba = onnx_model.predict_proba(frame)
    assert np.max(np.abs(proba - sk.predict_proba(frame))) == pytest.approx(export["max_abs_diff"])
    assert onnx_model.classes == ["late", "on_time"]
    # Columns in another order are put back in training order by the signature.
    assert_identical(onnx_model.predict(frame), onnx_model.predict(frame[["hour", "distance"]]))


def test_export_mixed_pipeline_one_input_per_column(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    model, frame = get_flavor("sklearn").example()
    manifest = export_onnx(sklearn_package(model, frame, tmp_path / "sk"), tmp_path / "onnx")
    assert manifest.options["inputs"] == {
        "distance": "tensor(float)",
        "hour": "tensor(int64)",
        "carrier": "tensor(string)",
    }
    # The forest compares float32 thresholds: declared as double, a few rows land on the other
    # side of a split, so the float declaration is the faithful one.
    assert manifest.options["export"]["inputs"] == "float per column"
    onnx_model = load_package(tmp_path / "onnx")
    assert_identical(model.predict(frame), onnx_model.predict(frame))
    assert np.max(np.abs(onnx_model.predict_proba(frame) - model.predict_proba(frame))) <= 1e-4


def test_export_refused_beyond_tolerance(rng: np.random.Generator, tmp_path: Path) -> None:
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    full = mixed_frame(rng)
    frame = full[["distance", "hour"]]
    sk = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        frame, late(full, rng).astype(int)
    )
    loaded = sklearn_package(sk, frame, tmp_path / "sk")
    # Not vacuous: onnxruntime's probabilities really differ from scikit-learn's here.
    proto = convert_sklearn(
        sk,
        initial_types=[("input", DoubleTensorType([None, 2]))],
        options={id(sk): {"zipmap": False}},
    )
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    measured = np.max(
        np.abs(
            session.run(["probabilities"], {"input": frame.to_numpy()})[0] - sk.predict_proba(frame)
        )
    )
    assert measured > 0

    with pytest.raises(ConversionMismatch, match=r"within tolerance 0\b") as caught:
        export_onnx(loaded, tmp_path / "onnx", tolerance=0.0)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.tolerance == 0.0
    assert error.max_abs_diff == pytest.approx(measured)
    assert f"double matrix: max abs difference {measured:.3g}" in str(error)
    assert len(error.attempts) == 4
    assert not (tmp_path / "onnx").exists()
    # The same model exports under the default tolerance: only the tolerance refused it.
    export_onnx(loaded, tmp_path / "onnx", tolerance=1e-4)


def test_export_refuses_labels_that_differ(rng: np.random.Generator, tmp_path: Path) -> None:
    full = mixed_frame(rng)
    frame = full[["distance", "hour"]]
    forest = make_pipeline(
        StandardScaler(), RandomForestClassifier(n_estimators=10, random_state=0)
    )
    forest.fit(frame, late(full, rng).astype(int))
    loaded = sklearn_package(forest, frame, tmp_path / "sk")
    with pytest.raises(ConversionMismatch, match=r"double matrix: .*labels differ on \d+ of 400"):
        export_onnx(loaded, tmp_path / "onnx", tolerance=0.0)


def test_export_refuses_labels_of_another_kind(rng: np.random.Generator, tmp_path: Path) -> None:
    full = mixed_frame(rng)
    frame = full[["distance", "hour"]]
    sk = LogisticRegression().fit(frame, late(full, rng))  # bool labels; ONNX gives int64
    with pytest.raises(ConversionMismatch, match="labels are int64 where the original's are bool"):
        export_onnx(sklearn_package(sk, frame, tmp_path / "sk"), tmp_path / "onnx")


def test_export_unconvertible_model_names_its_type(
    rng: np.random.Generator, tmp_path: Path
) -> None:
    full = mixed_frame(rng)
    frame = full[["distance", "hour"]]
    model = NearestCentroid().fit(frame, late(full, rng))
    with pytest.raises(InvalidInput, match=r"NearestCentroid.*cannot be converted to ONNX"):
        export_onnx(sklearn_package(model, frame, tmp_path / "sk"), tmp_path / "onnx")


def test_export_needs_an_sklearn_package_and_an_example(tmp_path: Path) -> None:
    model, frame = get_flavor("xgboost").example()
    save_model(model, tmp_path / "xgb", input_example=frame)
    with pytest.raises(InvalidInput, match=r"flavor 'xgboost'.*converts scikit-learn packages"):
        export_onnx(load_package(tmp_path / "xgb"), tmp_path / "onnx")

    sk, frame = get_flavor("sklearn").example()
    save_model(sk, tmp_path / "sk")
    loaded = load_package(tmp_path / "sk")
    with pytest.raises(InvalidInput, match=r"no input example.*pass example="):
        export_onnx(loaded, tmp_path / "onnx")
    with pytest.raises(InvalidInput, match="tolerance must be a finite number >= 0"):
        export_onnx(loaded, tmp_path / "onnx", tolerance=-1.0, example=frame)
    manifest = export_onnx(loaded, tmp_path / "onnx", example=frame)
    assert manifest.input_example == "input_example.json"


def test_export_without_skl2onnx_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, frame = get_flavor("sklearn").example()
    loaded = sklearn_package(model, frame, tmp_path / "sk")
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(MissingDependency, match=r"pip install 'loopml\[onnx\]'"):
        export_onnx(loaded, tmp_path / "onnx")


def test_sklearn_types_outside_the_safe_set_need_trust(tmp_path: Path) -> None:
    """HistGradientBoosting holds a functools.partial (safe: skops checks the wrapped function);
    a manifest that vouches for any other standard-library type needs trust=True."""
    import yaml
    from sklearn.ensemble import HistGradientBoostingClassifier

    from loopml.core.errors import NotTrusted
    from loopml.models.package import load_package, save_model

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"x": rng.normal(size=200), "c": pd.Categorical(rng.choice(["a", "b"], 200))}
    )
    target = (frame["x"] > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=10, categorical_features="from_dtype")
    model.fit(frame, target)
    path = tmp_path / "hgb"
    save_model(model, path, signature=frame)
    manifest = yaml.safe_load((path / "loopml-model.yaml").read_text())
    assert "functools.partial" in manifest["options"]["trusted_types"]
    loaded = load_package(path)  # no trust needed
    assert np.array_equal(loaded.predict_proba(frame), model.predict_proba(frame))

    manifest["options"]["trusted_types"].append("builtins.eval")
    (path / "loopml-model.yaml").write_text(yaml.safe_dump(manifest))
    with pytest.raises(NotTrusted, match=r"builtins\.eval"):
        load_package(path)
