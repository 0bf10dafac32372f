"""``loopml models`` as a new user tries it: list, show, versions, card, alias, export, audit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

import loopml
from conftest import run_cli


@pytest.fixture
def registered(isolated_home: Path) -> tuple[pd.DataFrame, RandomForestClassifier]:
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"distance": rng.gamma(2, 300, 200), "hour": rng.integers(5, 23, 200)})
    y = (X["hour"] > 14).astype(int)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    for _ in range(2):
        with loopml.start_run():
            loopml.log_metric("auc", 0.7)
            loopml.log_model(
                model,
                "model",
                signature=X,
                input_example=X.head(20),
                registered_model_name="delay",
            )
    return X, model


def test_list_show_versions(capsys: pytest.CaptureFixture[str], registered: object) -> None:
    code, out, _ = run_cli(capsys, "models", "list")
    assert code == 0
    assert "delay" in out
    code, out, _ = run_cli(capsys, "models", "list", "--json")
    assert json.loads(out)[0]["latest_version"] == 2
    code, out, _ = run_cli(capsys, "models", "versions", "delay", "--json")
    assert [v["version"] for v in json.loads(out)] == [2, 1]
    code, out, _ = run_cli(capsys, "models", "show", "delay")
    assert code == 0
    assert "Versions" in out
    code, out, _ = run_cli(capsys, "models", "show", "delay", "1", "--json")
    shown = json.loads(out)
    assert shown["version"] == 1
    assert shown["manifest"]["flavor"] == "sklearn"


def test_alias_set_move_delete(capsys: pytest.CaptureFixture[str], registered: object) -> None:
    code, out, _ = run_cli(capsys, "models", "alias", "set", "delay", "champion", "1")
    assert code == 0
    assert "version 1" in out
    code, out, _ = run_cli(capsys, "models", "alias", "set", "delay", "champion", "2")
    assert "was version 1" in out
    code, out, _ = run_cli(capsys, "models", "show", "delay", "@champion", "--json")
    assert json.loads(out)["version"] == 2
    code, _, err = run_cli(capsys, "models", "delete-version", "delay", "2")
    assert code == 1
    assert "champion" in err
    assert "Traceback" not in err
    code, _, _ = run_cli(capsys, "models", "alias", "delete", "delay", "champion")
    assert code == 0
    code, out, _ = run_cli(capsys, "models", "audit", "delay", "--json")
    actions = [e["action"] for e in json.loads(out)]
    assert actions.count("alias.set") == 2
    assert "alias.delete" in actions


def test_card_show_and_set(
    capsys: pytest.CaptureFixture[str], registered: object, tmp_path: Path
) -> None:
    code, out, _ = run_cli(capsys, "models", "card", "delay", "1", "--raw")
    assert code == 0
    assert out.startswith("# delay — version 1")
    edited = tmp_path / "card.md"
    edited.write_text("# delay v1\n\nReviewed by the risk team.\n")
    code, _, _ = run_cli(capsys, "models", "card", "delay", "1", "--set", str(edited))
    assert code == 0
    code, out, _ = run_cli(capsys, "models", "card", "delay", "1", "--raw")
    assert "Reviewed by the risk team." in out


def test_user_errors_are_one_line(capsys: pytest.CaptureFixture[str], registered: object) -> None:
    cases = [
        (("models", "show", "nope"), 3),
        (("models", "alias", "set", "delay", "champion", "9"), 3),
        (("models", "alias", "set", "delay", "v2", "1"), 2),
        (("models", "card", "delay", "@nobody"), 3),
        (("models", "export", "models:/delay/1", "-o", "x"), 2),
        (("models", "register", "runs:/" + "0" * 32 + "/model", "delay"), 3),
    ]
    for argv, expected in cases:
        code, _, err = run_cli(capsys, *argv)
        assert code == expected, (argv, err)
        assert err.startswith("Error:"), argv
        assert "Traceback" not in err, argv


def test_export_onnx_and_register(
    capsys: pytest.CaptureFixture[str],
    registered: tuple[pd.DataFrame, RandomForestClassifier],
    tmp_path: Path,
) -> None:
    pytest.importorskip("onnxruntime")
    X, model = registered
    out_dir = tmp_path / "onnx"
    code, _out, err = run_cli(
        capsys,
        "models", "export", "models:/delay/1", "--onnx", "-o", str(out_dir),
        "--register", "delay-onnx",
    )  # fmt: skip
    assert code == 0, err
    loaded = loopml.load_model("models:/delay-onnx/1")
    assert loaded.manifest.flavor == "onnx"
    assert np.array_equal(loaded.predict(X), model.predict(X))
