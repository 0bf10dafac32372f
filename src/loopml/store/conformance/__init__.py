"""Conformance suites: the contract of each persistence seam, as named checks every backend runs.

Modelled on scikit-learn's ``check_estimator``: a ``check_*`` function takes a factory of fresh
backends and yields ``(name, check)`` pairs; one parametrised test runs them all per backend.
"""

from loopml.store.conformance.artifacts import check_artifact_store
from loopml.store.conformance.deployments import check_deployment_store
from loopml.store.conformance.registry import check_registry_store
from loopml.store.conformance.snapshots import check_snapshot_store
from loopml.store.conformance.tracking import check_tracking_store

__all__ = [
    "check_artifact_store",
    "check_deployment_store",
    "check_registry_store",
    "check_snapshot_store",
    "check_tracking_store",
]
