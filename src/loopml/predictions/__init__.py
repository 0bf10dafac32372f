"""The prediction log: every prediction and the feedback that comes later (labels, outcomes),
written asynchronously to Parquet partitions, read back joined.

::

    from loopml.predictions import PredictionLog, joined

    log = PredictionLog()                     # $LOOPML_PREDICTIONS_URI or $LOOPML_HOME/predictions
    log.log(batch)                            # a PredictionBatch; never waits for I/O
    log.log_feedback("flight-delay", [{"request_id": "r1", "label": 1}])
    log.close()                               # flushes everything
    table = joined("flight-delay", start="2024-05-01")   # predictions + label, o_*, feedback_ts

Rules of writing: :mod:`loopml.predictions.log`; of reading: :mod:`loopml.predictions.read`;
the file layout: :mod:`loopml.predictions._layout`.
"""

from loopml.predictions.log import LogStats, PredictionLog
from loopml.predictions.read import joined, list_deployments, read_feedback, read_predictions
from loopml.predictions.records import Feedback, PredictionBatch

__all__ = [
    "Feedback",
    "LogStats",
    "PredictionBatch",
    "PredictionLog",
    "joined",
    "list_deployments",
    "read_feedback",
    "read_predictions",
]
