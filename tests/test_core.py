"""Core rules: validation messages, settings parsing, the error tree."""

from __future__ import annotations

import pytest

from loopml.core import errors
from loopml.core.entities import Metric
from loopml.core.settings import Settings, load_settings, mask_url
from loopml.core.validation import (
    MAX_KEY_LENGTH,
    validate_batch,
    validate_key,
    validate_metric,
    validate_param,
    validate_tag,
)


def test_every_error_derives_from_one_root() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, errors.LoopmlError), name
    assert issubclass(errors.InvalidInput, ValueError)
    assert issubclass(errors.NotFound, LookupError)
    assert issubclass(errors.SchemaOutdated, errors.StoreError)


def test_message_shape_names_rule_value_fix() -> None:
    text = errors.user_message("metric 'auc'", "must be a finite number", float("nan"), "log 0")
    assert text == "metric 'auc' must be a finite number; got nan. Fix: log 0."


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "must be a non-empty string"),
        (None, "must be a non-empty string"),
        ("a" * (MAX_KEY_LENGTH + 1), "at most 250 characters"),
        ("bad*key", r"may contain only .* rename it, e.g. 'bad_key'"),
        ("a/../b", "no '..'"),
        ("/abs", "no leading '/'"),
    ],
)
def test_bad_keys(key: object, message: str) -> None:
    with pytest.raises(errors.InvalidInput, match=message):
        validate_key("metric", key)


def test_valid_keys_pass_and_are_memoised() -> None:
    for key in ("auc", "val/auc", "loss.train", "a b", "x-y:z", "ü_unicode"):
        assert validate_key("metric", key) == key
        assert validate_key("metric", key) == key


def test_metric_rules() -> None:
    assert validate_metric("m", 1, 5, 2) == Metric("m", 1.0, 5, 2)
    assert validate_metric("m", 0.5).timestamp > 0
    with pytest.raises(errors.InvalidInput, match="step of metric 'm' must be an integer"):
        validate_metric("m", 1.0, None, 1.5)
    with pytest.raises(errors.InvalidInput, match="must fit in 64 bits"):
        validate_metric("m", 1.0, None, 2**70)
    with pytest.raises(errors.InvalidInput, match="timestamp of metric 'm' must be an integer"):
        validate_metric("m", 1.0, "now", 0)


def test_param_and_tag_limits() -> None:
    assert validate_param("p", 3).value == "3"
    with pytest.raises(errors.InvalidInput, match="log_text or log_dict"):
        validate_param("p", "x" * 8001)
    with pytest.raises(errors.InvalidInput, match="at most 8000"):
        validate_tag("t", "x" * 8001)


def test_batch_with_one_bad_entry_is_refused_whole() -> None:
    with pytest.raises(errors.InvalidInput, match="metric 'b'"):
        validate_batch([Metric("a", 1.0, 0, 0), Metric("b", float("nan"), 0, 0)])
    with pytest.raises(errors.InvalidInput, match="appears twice in one batch"):
        validate_batch(params=[validate_param("p", 1), validate_param("p", 2)])


def test_settings_parse_honestly() -> None:
    s = load_settings({"LOOPML_HOME": "/x", "LOOPML_RECORD_GIT": "FALSE", "LOOPML_DB_TIMEOUT": "5"})
    assert s.home == "/x"
    assert s.record_git is False
    assert s.db_timeout == 5.0
    assert s.resolved_tracking_uri() == "sqlite:////x/loopml.db"
    assert s.resolved_artifact_uri() == "/x/artifacts"
    with pytest.raises(
        errors.InvalidInput, match="LOOPML_RECORD_GIT must be a boolean; got 'maybe'"
    ):
        load_settings({"LOOPML_RECORD_GIT": "maybe"})
    with pytest.raises(errors.InvalidInput, match="LOOPML_DB_TIMEOUT must be a number"):
        load_settings({"LOOPML_DB_TIMEOUT": "soon"})
    with pytest.raises(errors.InvalidInput, match="NORMAL or FULL"):
        load_settings({"LOOPML_SQLITE_SYNCHRONOUS": "OFF"})


def test_secrets_are_masked_in_repr() -> None:
    s = Settings(tracking_uri="postgresql+psycopg://me:hunter2@db/loopml")
    assert "hunter2" not in repr(s)
    assert mask_url("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
