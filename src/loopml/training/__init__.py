"""Training: baselines, candidate models and their search spaces, class-imbalance handling,
Optuna hyperparameter search (pruning, budgets, tracked and parallel trials), and ensembles.

::

    from loopml.training import Features, build_model, fit_model, tune

    features = Features.from_frame(train, numeric=["distance"], categorical=["carrier"])
    found = tune("lightgbm", train, valid, "delayed", task="classification", metric="roc_auc",
                 numeric=["distance"], categorical=["carrier"], n_trials=50, executor="dask")
    model = build_model("lightgbm", "classification", found.best_params,
                        numeric=features.numeric, categorical=features.categorical)
    fit_model(model, features.frame(train), train["delayed"])
    loopml.log_model(model, signature=features.signature(train, model))
"""

from loopml.training.baselines import GroupRateBaseline, MajorityBaseline, RuleBaseline, saveable
from loopml.training.ensembles import ENSEMBLE_KINDS, build_ensemble, needs_trust
from loopml.training.hpo import PRUNERS, TrialRecord, TuneFailed, TuneResult, tune
from loopml.training.imbalance import IMBALANCE_METHODS, Rebalanced, rebalance
from loopml.training.zoo import (
    KINDS,
    Features,
    ModelKind,
    ParamSpec,
    build_model,
    fit_model,
    get_kind,
    parse_space,
    suggest_params,
)

__all__ = [
    "ENSEMBLE_KINDS",
    "IMBALANCE_METHODS",
    "KINDS",
    "PRUNERS",
    "Features",
    "GroupRateBaseline",
    "MajorityBaseline",
    "ModelKind",
    "ParamSpec",
    "Rebalanced",
    "RuleBaseline",
    "TrialRecord",
    "TuneFailed",
    "TuneResult",
    "build_ensemble",
    "build_model",
    "fit_model",
    "get_kind",
    "needs_trust",
    "parse_space",
    "rebalance",
    "saveable",
    "suggest_params",
    "tune",
]
