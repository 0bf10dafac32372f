"""The model zoo: candidate model kinds by name, each with its preprocessing, defaults and
search space.

Kinds (:data:`KINDS`): ``logistic_regression`` (classification), ``linear_regression`` and
``ridge`` (regression), ``random_forest``, ``hist_gradient_boosting``, ``lightgbm`` (extra
``lightgbm``) and ``xgboost`` (extra ``xgboost``) for both tasks. An unknown kind is an
:class:`~loopml.core.errors.InvalidInput` with a "did you mean"; a kind whose library is not
installed is a :class:`~loopml.core.errors.MissingDependency` naming the extra.

Rules:

- **One input frame for every kind.** :class:`Features` is fitted on the training frame and
  turns any frame into the *model frame*: the numeric columns as they are, then the categorical
  columns as pandas Categoricals with the levels seen in training (a value unseen then becomes
  missing, exactly as a loaded model's signature casts it). Every model of the zoo is fitted on
  and predicts from model frames. Log a model with ``signature=features.signature(train,
  model)``: it records the levels (so the loaded model also takes raw strings) and lets the
  categorical columns hold missing values (so it also takes model frames with unseen levels).
- **Preprocessing by kind.** Linear kinds: numeric columns imputed with the median and
  standardised, categorical ones one-hot encoded (unseen levels: all zeros). Random forest:
  categorical columns as ordinal codes (unseen: -1, missing: NaN, which the forest routes),
  numeric ones passed through. Histogram gradient boosting, LightGBM and XGBoost read the
  Categoricals natively and get no wrapper, so LightGBM and XGBoost models are saved in their
  own formats.
- **Every model saves without trust.** What :meth:`ModelKind.build` returns is made of
  scikit-learn types (saved with skops) or is a bare LightGBM/XGBoost wrapper (saved natively),
  so ``loopml.log_model`` + ``loopml.load_model`` round-trips it without ``trust=True`` and the
  loaded model predicts bit for bit the same (``tests/test_training_zoo.py``, per kind).
- **Parameters** are those of the final estimator (``C`` of the logistic regression,
  ``num_leaves`` of LightGBM, ...); an unknown name is an ``InvalidInput`` with a "did you
  mean". ``default_params`` are merged under the caller's. ``class_weight`` (a mapping
  ``label -> weight``, see :func:`loopml.training.rebalance`) goes to the estimator's own
  ``class_weight``; XGBoost has none and gets ``scale_pos_weight = w[positive] / w[negative]``
  (binary only). ``seed`` sets ``random_state``.
- **Search spaces are data.** A :class:`ParamSpec` is one dimension, written in
  ``loopml.yaml`` as ``{low, high, log, step, type: int | float | categorical, choices}``
  (``type`` defaults to ``categorical`` with ``choices``, else ``float``);
  :func:`parse_space` checks a whole space (against the kind's parameters when given),
  :func:`suggest_params` turns it into Optuna ``suggest_*`` calls. Each kind has a default
  space; ``supports_pruning`` says whether :func:`loopml.training.tune` can stop its trials
  early (per-iteration validation for LightGBM and XGBoost, warm-started stages for histogram
  gradient boosting).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd

from loopml.core.errors import did_you_mean, verbatim
from loopml.models.signature import Signature, infer_signature
from loopml.training._common import (
    Task,
    check_choice,
    check_columns,
    check_frame,
    check_seed,
    check_task,
    invalid,
    require,
)

__all__ = [
    "KINDS",
    "Features",
    "ModelKind",
    "ParamSpec",
    "build_model",
    "fit_model",
    "get_kind",
    "parse_space",
    "suggest_params",
]

ParamType = Literal["int", "float", "categorical"]
_PARAM_TYPES: tuple[ParamType, ...] = ("int", "float", "categorical")
_SPEC_KEYS = ("type", "low", "high", "log", "step", "choices")
#: Rows the outputs of a signature are inferred from.
_SIGNATURE_PROBE_ROWS = 100
#: The step name of the final estimator in the zoo's scikit-learn Pipelines.
MODEL_STEP = "model"


# --------------------------------------------------------------------------------------------
# Features: the one input frame of every kind


def _levels_of(column: pd.Series[Any]) -> tuple[Any, ...]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return tuple(column.cat.categories.tolist())
    values = pd.unique(column.dropna()).tolist()
    try:
        return tuple(sorted(values))
    except TypeError:  # mixed kinds: a stable order all the same
        return tuple(sorted(values, key=lambda v: (type(v).__name__, str(v))))


@dataclass(frozen=True)
class Features:
    """The model's input columns and the levels of its categorical columns, learned once from
    the training frame; :meth:`frame` makes the model frame of any frame.

    >>> train = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"], "y": [0, 1]})
    >>> features = Features.from_frame(train, numeric=["x"], categorical=["c"])
    >>> features.frame(pd.DataFrame({"c": ["b", "z"], "x": [3.0, 4.0]}))["c"].tolist()
    ['b', nan]
    """

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    levels: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        overlap = sorted(set(self.numeric) & set(self.categorical))
        if overlap:
            raise invalid(
                "Features", "must not list a column as both numeric and categorical", overlap
            )
        if not self.numeric and not self.categorical:
            raise invalid("Features", "must have at least one column", [], "list the features")
        missing = [c for c in self.categorical if c not in self.levels]
        if missing:
            raise invalid("Features levels", "must be given for every categorical column", missing)
        object.__setattr__(self, "levels", MappingProxyType(dict(self.levels)))

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, numeric: Sequence[str] = (), categorical: Sequence[str] = ()
    ) -> Features:
        """Features of ``frame``: ``numeric`` columns must hold numbers (or bools); the levels
        of each ``categorical`` column are its sorted distinct values (a Categorical's own
        categories, in their order)."""
        frame = check_frame(frame, "training frame")
        num = check_columns(frame, list(numeric), "numeric features")
        cat = check_columns(frame, list(categorical), "categorical features")
        for name in num:
            dtype = frame[name].dtype
            if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
                raise invalid(
                    f"numeric feature {name!r}",
                    "must hold numbers",
                    verbatim(f"dtype {dtype}"),
                    "list it under categorical",
                )
        return cls(tuple(num), tuple(cat), {c: _levels_of(frame[c]) for c in cat})

    @property
    def columns(self) -> tuple[str, ...]:
        """The model frame's columns, in order: numeric, then categorical."""
        return self.numeric + self.categorical

    def frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """The model frame of ``data``: its feature columns in order, categoricals cast to the
        training levels (unseen values become missing). Other columns are dropped."""
        data = check_frame(data, "model input")
        check_columns(data, list(self.columns), "model input columns")
        out = data.loc[:, list(self.columns)].copy()
        for name in self.categorical:
            levels = self.levels[name]
            if not _same_levels(out[name].dtype, levels):
                column = out[name]
                known = column.where(column.isin(levels))  # unseen -> missing, explicitly
                out[name] = known.astype(pd.CategoricalDtype(list(levels)))
        return out

    def signature(self, frame: pd.DataFrame, model: Any = None) -> Signature:
        """The signature to log a zoo model with: inferred from the model frame of ``frame``
        (the training frame) and ``model``'s predictions on a few of its rows, with every
        categorical column nullable, since a level unseen in training becomes missing."""
        inputs_frame = self.frame(frame)
        probe = inputs_frame.head(_SIGNATURE_PROBE_ROWS)
        inferred = infer_signature(inputs_frame, None if model is None else model.predict(probe))
        inputs = tuple(
            dataclasses.replace(spec, nullable=True) if spec.name in self.categorical else spec
            for spec in inferred.inputs
        )
        return Signature(inputs=inputs, outputs=inferred.outputs)


def _same_levels(dtype: Any, levels: tuple[Any, ...]) -> bool:
    return (
        isinstance(dtype, pd.CategoricalDtype)
        and not dtype.ordered
        and tuple(dtype.categories.tolist()) == levels
    )


# --------------------------------------------------------------------------------------------
# Search spaces as data


def _number(value: object) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


@dataclass(frozen=True)
class ParamSpec:
    """One dimension of a search space (Optuna's ``suggest_int``/``suggest_float``/
    ``suggest_categorical`` as data)."""

    type: ParamType = "float"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        where = "search space entry"
        check_choice(f"{where} type", self.type, _PARAM_TYPES)
        if self.type == "categorical":
            if self.low is not None or self.high is not None or self.log or self.step is not None:
                raise invalid(
                    f"categorical {where}", "takes choices only, not low/high/log/step", self
                )
            if not isinstance(self.choices, Sequence) or isinstance(self.choices, str):
                raise invalid(
                    f"categorical {where}", "needs a list of choices", self.choices, "e.g. [a, b]"
                )
            if not self.choices or not all(
                c is None or isinstance(c, bool | str) or _number(c) for c in self.choices
            ):
                raise invalid(
                    f"categorical {where} choices",
                    "must be a non-empty list of numbers, strings, booleans or null",
                    list(self.choices),
                )
            object.__setattr__(self, "choices", tuple(self.choices))
            return
        if self.choices is not None:
            raise invalid(f"{self.type} {where}", "takes low/high, not choices", self.choices)
        if not (_number(self.low) and _number(self.high)):
            raise invalid(
                f"{self.type} {where}",
                "needs finite numbers low and high",
                verbatim(f"low={self.low!r}, high={self.high!r}"),
            )
        low, high = float(self.low), float(self.high)  # type: ignore[arg-type]
        if not low < high:
            raise invalid(
                f"{where}", "needs low < high", verbatim(f"low={self.low!r}, high={self.high!r}")
            )
        if not isinstance(self.log, bool):
            raise invalid(f"{where} log", "must be true or false", self.log)
        if self.log and low <= 0:
            raise invalid(f"log-scaled {where}", "needs low > 0", self.low, "use log: false")
        if self.step is not None:
            if not _number(self.step) or float(self.step) <= 0:
                raise invalid(f"{where} step", "must be a positive number", self.step)
            if self.log:
                raise invalid(f"log-scaled {where}", "cannot have a step", self.step)
        if self.type == "int":
            for name, value in (("low", self.low), ("high", self.high), ("step", self.step)):
                if value is not None and float(value) != int(value):
                    raise invalid(f"int {where} {name}", "must be a whole number", value)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], name: str = "?") -> ParamSpec:
        """A spec from its ``loopml.yaml`` form (``{low, high, log, step, type, choices}``)."""
        if isinstance(spec, ParamSpec):
            return spec
        if not isinstance(spec, Mapping):
            raise invalid(
                f"search space entry {name!r}",
                "must be a mapping like {low: 0.01, high: 0.3, log: true}",
                spec,
            )
        for key in spec:
            if key not in _SPEC_KEYS:
                hint = did_you_mean(key, _SPEC_KEYS, ignore_case=True)
                raise invalid(
                    f"search space entry {name!r}",
                    f"takes the keys {', '.join(_SPEC_KEYS)}",
                    key,
                    f"{hint}?" if hint else None,
                )
        kind = spec.get("type", "categorical" if "choices" in spec else "float")
        choices = spec.get("choices")
        return cls(
            type=kind,
            low=spec.get("low"),
            high=spec.get("high"),
            log=spec.get("log", False),
            step=spec.get("step"),
            choices=tuple(choices) if isinstance(choices, list | tuple) else choices,
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``loopml.yaml`` form (only the keys that are set)."""
        if self.type == "categorical":
            return {"type": "categorical", "choices": list(self.choices or ())}
        out: dict[str, Any] = {"type": self.type, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out

    def suggest(self, trial: Any, name: str) -> Any:
        """The value of this dimension for ``trial`` (an ``optuna.Trial``)."""
        if self.type == "categorical":
            return trial.suggest_categorical(name, list(self.choices or ()))
        if self.type == "int":
            step = 1 if self.step is None else int(self.step)
            return trial.suggest_int(name, int(self.low), int(self.high), step=step, log=self.log)  # type: ignore[arg-type]
        return trial.suggest_float(
            name,
            float(self.low),  # type: ignore[arg-type]
            float(self.high),  # type: ignore[arg-type]
            step=None if self.step is None else float(self.step),
            log=self.log,
        )


def parse_space(
    space: Mapping[str, Any], *, kind: str | None = None, task: str | None = None
) -> dict[str, ParamSpec]:
    """``space`` (name -> :class:`ParamSpec` or its dict form) checked; with ``kind`` (and
    ``task``), every name must be a parameter of that kind's estimator."""
    if not isinstance(space, Mapping):
        raise invalid("search space", "must be a mapping of parameter name -> range", space)
    names: frozenset[str] | None = None
    if kind is not None:
        names = get_kind(kind).param_names(task or next(iter(get_kind(kind).tasks)))
    parsed: dict[str, ParamSpec] = {}
    for name, spec in space.items():
        if names is not None and name not in names:
            hint = did_you_mean(name, names, ignore_case=True)
            raise invalid(
                f"search space of {kind}",
                "must name parameters of the model",
                name,
                f"{hint}?" if hint else f"see {kind}'s parameters",
            )
        parsed[str(name)] = ParamSpec.from_dict(spec, str(name))
    return parsed


def suggest_params(trial: Any, space: Mapping[str, ParamSpec]) -> dict[str, Any]:
    """One value per dimension of ``space`` for ``trial`` (an ``optuna.Trial``)."""
    return {name: spec.suggest(trial, name) for name, spec in space.items()}


def _space(**entries: dict[str, Any]) -> Mapping[str, ParamSpec]:
    return MappingProxyType({k: ParamSpec.from_dict(v, k) for k, v in entries.items()})


# --------------------------------------------------------------------------------------------
# The kinds


def _linear_encoder(numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        scale = Pipeline(
            [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        )
        parts.append(("num", scale, list(numeric)))
    if categorical:
        onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        parts.append(("cat", onehot, list(categorical)))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def _ordinal_encoder(numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OrdinalEncoder

    parts: list[tuple[str, Any, list[str]]] = []
    if numeric:
        parts.append(("num", "passthrough", list(numeric)))
    if categorical:
        codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        parts.append(("cat", codes, list(categorical)))
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def _sklearn(module: str, classifier: str, regressor: str) -> Callable[[Task], Any]:
    def make(task: Task) -> Any:
        import importlib

        mod = importlib.import_module(module)
        return getattr(mod, classifier if task == "classification" else regressor)

    return make


def _library(module: str, extra: str, classifier: str, regressor: str) -> Callable[[Task], Any]:
    def make(task: Task) -> Any:
        mod = require(module, extra, f"the {extra} model kind")
        return getattr(mod, classifier if task == "classification" else regressor)

    return make


@dataclass(frozen=True)
class ModelKind:
    """A named kind of model: its estimator class per task, preprocessing, defaults and space."""

    name: str
    tasks: frozenset[Task]
    estimator_class: Callable[[Task], Any] = field(repr=False)
    encoder: Callable[[Sequence[str], Sequence[str]], Any] | None = field(repr=False)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    space: Mapping[str, ParamSpec] = field(default_factory=dict)
    supports_pruning: bool = False
    extra: str | None = None
    #: Defaults that apply to one task only (e.g. a classifier's solver settings).
    task_defaults: Mapping[Task, Mapping[str, Any]] = field(default_factory=dict)
    #: Parameters the estimator takes as keyword arguments beyond ``get_params()`` (LightGBM
    #: passes any of its own parameters through ``**kwargs``).
    extra_params: frozenset[str] = frozenset()

    def _check_task(self, task: object) -> Task:
        checked = check_task(task)
        if checked not in self.tasks:
            others = ", ".join(k for k in KINDS if checked in _KINDS[k].tasks)
            raise invalid(
                f"model kind {self.name!r}",
                f"is for {' and '.join(sorted(self.tasks))}",
                task,
                f"for {checked} use one of {others}",
            )
        return checked

    def default_params(self, task: str) -> dict[str, Any]:
        """The parameters a model of this kind gets unless the caller sets them."""
        checked = self._check_task(task)
        return {**self.defaults, **self.task_defaults.get(checked, {})}

    def param_names(self, task: str) -> frozenset[str]:
        """The parameters the final estimator accepts."""
        cls = self.estimator_class(self._check_task(task))
        return frozenset(cls().get_params(deep=False)) | self.extra_params

    def search_space(self, trial: Any, space: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Suggest parameters for ``trial`` from ``space`` (the kind's default space if None)."""
        dims = self.space if space is None else parse_space(space)
        return suggest_params(trial, dims)

    def build(
        self,
        task: str,
        params: Mapping[str, Any] | None = None,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = (),
        class_weight: Mapping[Any, float] | None = None,
        seed: int = 0,
    ) -> Any:
        """An unfitted model with its preprocessing (see the module rules)."""
        checked = self._check_task(task)
        cls = self.estimator_class(checked)
        accepted = frozenset(cls().get_params(deep=False)) | self.extra_params
        merged = {**self.default_params(checked), **dict(params or {})}
        for name in merged:
            if name not in accepted:
                hint = did_you_mean(name, accepted, ignore_case=True)
                raise invalid(
                    f"parameter of model kind {self.name!r}",
                    "must be a parameter of the model",
                    name,
                    f"{hint}?" if hint else f"the parameters are {', '.join(sorted(accepted))}",
                )
        if "random_state" in accepted and "random_state" not in (params or {}):
            merged["random_state"] = check_seed(seed)
        if class_weight is not None:
            merged.update(self._class_weight(checked, class_weight, accepted))
        try:
            estimator = cls(**merged)
        except (TypeError, ValueError) as exc:
            raise invalid(f"parameters of model kind {self.name!r}", str(exc), merged) from exc
        if self.encoder is None:
            return estimator
        from sklearn.pipeline import Pipeline

        return Pipeline(
            [("encode", self.encoder(list(numeric), list(categorical))), (MODEL_STEP, estimator)]
        )

    def _class_weight(
        self, task: Task, class_weight: Mapping[Any, float], accepted: frozenset[str]
    ) -> dict[str, Any]:
        if task != "classification":
            raise invalid("class_weight", "applies to classification only", dict(class_weight))
        if not isinstance(class_weight, Mapping) or not all(
            _number(w) and float(w) > 0 for w in class_weight.values()
        ):
            raise invalid(
                "class_weight",
                "must map each class label to a positive weight",
                class_weight,
                "use loopml.training.rebalance(..., method='class_weight')",
            )
        weights = {k: float(v) for k, v in class_weight.items()}
        if "class_weight" in accepted:
            return {"class_weight": weights}
        if len(weights) != 2:
            raise invalid(
                f"class_weight for {self.name}",
                "must have exactly two classes (it becomes scale_pos_weight)",
                weights,
                "pass per-row weights instead: rebalance(...).sample_weight",
            )
        negative, positive = sorted(weights)
        return {"scale_pos_weight": weights[positive] / weights[negative]}


_KINDS: dict[str, ModelKind] = {
    "logistic_regression": ModelKind(
        "logistic_regression",
        frozenset({"classification"}),
        _sklearn("sklearn.linear_model", "LogisticRegression", "LogisticRegression"),
        _linear_encoder,
        defaults={"C": 1.0, "max_iter": 1000},
        space=_space(C={"low": 1e-3, "high": 1e2, "log": True}),
    ),
    "linear_regression": ModelKind(
        "linear_regression",
        frozenset({"regression"}),
        _sklearn("sklearn.linear_model", "LinearRegression", "LinearRegression"),
        _linear_encoder,
    ),
    "ridge": ModelKind(
        "ridge",
        frozenset({"regression"}),
        _sklearn("sklearn.linear_model", "Ridge", "Ridge"),
        _linear_encoder,
        defaults={"alpha": 1.0},
        space=_space(alpha={"low": 1e-3, "high": 1e3, "log": True}),
    ),
    "random_forest": ModelKind(
        "random_forest",
        frozenset({"classification", "regression"}),
        _sklearn("sklearn.ensemble", "RandomForestClassifier", "RandomForestRegressor"),
        _ordinal_encoder,
        defaults={"n_estimators": 200, "min_samples_leaf": 5, "n_jobs": -1},
        space=_space(
            n_estimators={"type": "int", "low": 50, "high": 400, "log": True},
            max_depth={"type": "int", "low": 3, "high": 30, "log": True},
            min_samples_leaf={"type": "int", "low": 1, "high": 100, "log": True},
            max_features={"low": 0.1, "high": 1.0},
        ),
    ),
    "hist_gradient_boosting": ModelKind(
        "hist_gradient_boosting",
        frozenset({"classification", "regression"}),
        _sklearn(
            "sklearn.ensemble", "HistGradientBoostingClassifier", "HistGradientBoostingRegressor"
        ),
        None,
        defaults={"max_iter": 200, "learning_rate": 0.1, "early_stopping": False},
        space=_space(
            learning_rate={"low": 0.01, "high": 0.3, "log": True},
            max_leaf_nodes={"type": "int", "low": 7, "high": 127, "log": True},
            min_samples_leaf={"type": "int", "low": 5, "high": 200, "log": True},
            l2_regularization={"low": 1e-8, "high": 10.0, "log": True},
        ),
        supports_pruning=True,
    ),
    "lightgbm": ModelKind(
        "lightgbm",
        frozenset({"classification", "regression"}),
        _library("lightgbm", "lightgbm", "LGBMClassifier", "LGBMRegressor"),
        None,
        defaults={
            "n_estimators": 300,
            "learning_rate": 0.05,
            "num_leaves": 31,
            "subsample_freq": 1,
            "verbose": -1,
        },
        space=_space(
            learning_rate={"low": 0.01, "high": 0.3, "log": True},
            num_leaves={"type": "int", "low": 7, "high": 255, "log": True},
            min_child_samples={"type": "int", "low": 5, "high": 200, "log": True},
            subsample={"low": 0.5, "high": 1.0},
            colsample_bytree={"low": 0.5, "high": 1.0},
            reg_lambda={"low": 1e-8, "high": 10.0, "log": True},
        ),
        supports_pruning=True,
        extra="lightgbm",
        extra_params=frozenset(
            {
                "verbose",
                "max_bin",
                "min_data_in_bin",
                "cat_smooth",
                "cat_l2",
                "max_cat_to_onehot",
                "max_cat_threshold",
                "min_data_per_group",
                "path_smooth",
                "extra_trees",
                "deterministic",
                "force_row_wise",
                "force_col_wise",
                "linear_tree",
            }
        ),
    ),
    "xgboost": ModelKind(
        "xgboost",
        frozenset({"classification", "regression"}),
        _library("xgboost", "xgboost", "XGBClassifier", "XGBRegressor"),
        None,
        defaults={
            "n_estimators": 300,
            "learning_rate": 0.1,
            "max_depth": 6,
            "tree_method": "hist",
            "enable_categorical": True,
        },
        space=_space(
            learning_rate={"low": 0.01, "high": 0.3, "log": True},
            max_depth={"type": "int", "low": 2, "high": 10},
            min_child_weight={"low": 0.1, "high": 50.0, "log": True},
            subsample={"low": 0.5, "high": 1.0},
            colsample_bytree={"low": 0.5, "high": 1.0},
            reg_lambda={"low": 1e-8, "high": 10.0, "log": True},
        ),
        supports_pruning=True,
        extra="xgboost",
    ),
}
#: The kind names, in the order above.
KINDS: tuple[str, ...] = tuple(_KINDS)


def get_kind(name: object) -> ModelKind:
    """The kind called ``name`` (InvalidInput with a "did you mean" otherwise)."""
    return _KINDS[check_choice("model kind", name, KINDS)]


def build_model(
    kind: str,
    task: str,
    params: Mapping[str, Any] | None = None,
    *,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    class_weight: Mapping[Any, float] | None = None,
    seed: int = 0,
) -> Any:
    """``get_kind(kind).build(...)``: an unfitted model of ``kind`` for ``task``."""
    return get_kind(kind).build(task, params, numeric, categorical, class_weight, seed)


def fit_model(model: Any, frame: pd.DataFrame, y: Any, *, sample_weight: Any = None) -> Any:
    """Fit ``model`` (a zoo model or any estimator) on ``frame`` and return it;
    ``sample_weight`` is routed to the final estimator of a scikit-learn Pipeline."""
    if sample_weight is None:
        return model.fit(frame, y)
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        return model.fit(frame, y, **{f"{model.steps[-1][0]}__sample_weight": sample_weight})
    return model.fit(frame, y, sample_weight=sample_weight)
