"""Ensembles of candidate models: soft voting or stacking, as scikit-learn estimators.

:func:`build_ensemble` returns an unfitted ``VotingClassifier`` (``voting="soft"``: the mean of
the members' probabilities, weighted by ``weights``) or ``VotingRegressor``, or a
``StackingClassifier`` (a logistic regression on the members' probabilities) or
``StackingRegressor`` (a ridge regression with the penalty chosen by cross-validation on the
members' predictions). Rules:

- A member that is already **fitted** is wrapped in ``sklearn.frozen.FrozenEstimator``: the
  ensemble's ``fit`` keeps it as it is. A fitted stacking ensemble learns its final estimator
  from the members' predictions on the data passed to ``fit``, so fit a stacking ensemble of
  fitted members on rows they were not trained on (the validation part), or its final
  estimator learns to trust the members' training fit. An **unfitted** member is fitted by the
  ensemble (for stacking: on ``cv`` folds for the final estimator's inputs, then on all rows).
- A baseline member must be fitted; it enters as its ``estimator_`` (scikit-learn types).
- Every member takes the same input frame (the zoo's model frame, see
  :class:`loopml.training.Features`).
- **Saving.** The ensemble is a scikit-learn object saved with skops. Members made of
  scikit-learn types (every zoo kind but LightGBM and XGBoost, and the baselines) keep it
  loadable without ``trust=True``, bit-identically. A LightGBM or XGBoost member cannot be: its
  flavor saves only a bare LightGBM/XGBoost model in the library's own format, so inside a
  scikit-learn ensemble skops has to rebuild the library's own classes (``lightgbm.basic.
  Booster``, ``xgboost.core.Booster``, ...), whose state restoration runs their code; loopml
  then asks for ``trust=True`` at load, as it must for any type outside scikit-learn, numpy
  and scipy. :func:`needs_trust` tells beforehand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loopml.core.errors import verbatim
from loopml.training._common import check_choice, check_seed, check_task, invalid
from loopml.training.baselines import _Baseline, saveable

__all__ = ["ENSEMBLE_KINDS", "build_ensemble", "needs_trust"]

ENSEMBLE_KINDS = ("voting", "stacking")


def _is_fitted(model: Any) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError:
        return False
    except TypeError:  # not an estimator at all: reported by the caller
        return False
    return True


def _member(name: str, model: Any) -> Any:
    from sklearn.frozen import FrozenEstimator

    if not (callable(getattr(model, "fit", None)) and callable(getattr(model, "predict", None))):
        raise invalid(
            f"ensemble member {name!r}",
            "must be a scikit-learn compatible estimator (with fit and predict)",
            verbatim(type(model).__name__),
        )
    if isinstance(model, _Baseline):
        if not hasattr(model, "estimator_"):
            raise invalid(
                f"ensemble member {name!r}",
                "is a baseline and must be fitted first",
                verbatim(type(model).__name__),
                "call .fit(X, y) on it before building the ensemble",
            )
        return FrozenEstimator(saveable(model))
    return FrozenEstimator(model) if _is_fitted(model) else model


def needs_trust(model: Any) -> bool:
    """Whether ``loopml.load_model`` will need ``trust=True`` for ``model`` once saved: the
    flavor's own rule, applied to what skops would record for a scikit-learn object (a type
    from outside scikit-learn, numpy and scipy, such as a LightGBM member or a custom class)."""
    from loopml.models.flavors import detect_flavor
    from loopml.models.flavors.sklearn import SAFE_MODULE_ROOTS, SAFE_TYPES

    flavor = detect_flavor(model)
    if flavor.name != "sklearn":
        return flavor.name == "pyfunc"
    import skops.io as sio

    recorded = sio.get_untrusted_types(data=sio.dumps(model))
    return any(t not in SAFE_TYPES and t.split(".")[0] not in SAFE_MODULE_ROOTS for t in recorded)


def build_ensemble(
    kind: str,
    members: Mapping[str, Any],
    task: str,
    *,
    weights: Sequence[float] | None = None,
    cv: int = 5,
    seed: int = 0,
) -> Any:
    """An unfitted voting or stacking ensemble of ``members`` (name -> fitted or unfitted
    estimator) for ``task``; see the module rules.

    ``weights`` (voting only) weigh the members in order. ``cv`` is the number of folds a
    stacking ensemble predicts its unfitted members out of fold with; ``seed`` fixes the
    stacking final estimator's randomness.
    """
    chosen = check_choice("ensemble kind", kind, ENSEMBLE_KINDS)
    checked = check_task(task)
    seed = check_seed(seed)
    if not isinstance(members, Mapping) or len(members) < 2:
        raise invalid(
            "ensemble members",
            "must map at least two names to models",
            verbatim(f"{len(members) if isinstance(members, Mapping) else type(members).__name__}"),
        )
    for name in members:
        if not isinstance(name, str) or not name or "__" in name:
            raise invalid("ensemble member name", "must be a non-empty string without '__'", name)
    estimators = [(name, _member(name, model)) for name, model in members.items()]
    if weights is not None:
        if chosen != "voting":
            raise invalid("ensemble weights", "apply to voting only", list(weights))
        if len(weights) != len(estimators) or any(float(w) < 0 for w in weights):
            raise invalid(
                "ensemble weights",
                f"must be {len(estimators)} non-negative numbers, one per member",
                list(weights),
            )
    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise invalid("ensemble cv", "must be an int >= 2", cv)
    from sklearn import ensemble, linear_model

    if chosen == "voting":
        if checked == "classification":
            return ensemble.VotingClassifier(estimators, voting="soft", weights=weights)
        return ensemble.VotingRegressor(estimators, weights=weights)
    if checked == "classification":
        final = linear_model.LogisticRegression(max_iter=1000, random_state=seed)
        return ensemble.StackingClassifier(estimators, final_estimator=final, cv=cv)
    return ensemble.StackingRegressor(estimators, final_estimator=linear_model.RidgeCV(), cv=cv)
