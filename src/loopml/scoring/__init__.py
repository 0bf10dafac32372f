"""Batch scoring: a model over files or SQL, streamed in chunks, validated like the server,
rejected rows to a side file; locally or on Dask.

:func:`score` reads its input with :func:`loopml.data.sources.open_source` (CSV, Parquet, JSON
lines, a SQL query, a DuckDB query, a DataFrame or Table) as Arrow record batches of
``chunk_rows`` rows (default :data:`DEFAULT_CHUNK_ROWS`), and for each chunk:

1. validates its rows against the model signature, as the server validates a request
   (:meth:`Signature.validate <loopml.models.signature.Signature.validate>`, same
   ``category_policy``, default ``"warn"``): a row with a null where the model had none at fit
   time, a value of the wrong type (strings are never read as numbers), or, with
   ``category_policy="error"``, a value outside a recorded domain is *rejected*; values outside a
   domain under ``"warn"`` are scored and counted in :attr:`ScoreReport.warnings`. A signature
   column missing from the input (or repeated) is not a row's fault: it raises
   :class:`~loopml.models.signature.SignatureMismatch` before anything is written;
2. conforms the valid rows (:meth:`Signature.conform`: signature order, training dtypes) and
   predicts them with one call;
3. appends the output rows to ``output`` and the rejected rows to the side file.

Files:

- ``output`` (Parquet, one row group per chunk): the *id columns* of every valid row, in input
  order, then ``prediction`` (``prediction_0`` .. for a model predicting several values per
  row), then for a classifier with ``predict_proba`` (unless ``probabilities=False``) its
  probabilities: a binary classifier's probability of its second class (``classes[1]``) as
  ``probability``, others one ``probability_<class>`` per class. The predictions are exactly
  ``model.predict``'s (for the scikit-learn classifiers whose ``predict`` is the argmax of
  ``predict_proba``, read from the probabilities rather than predicted twice). The id columns
  are every input column the signature does not name (a key, a label, a timestamp), or those
  named by ``id_columns``; they keep their Arrow types.
- the side file ``rejected`` (default: the output's name with ``.rejected.parquet`` in place of
  ``.parquet``), always written, empty when nothing was rejected: every input column of each
  rejected row, then ``_row`` (its 0-based position in the input) and ``_reason`` (each problem
  of the row, ``"; "``-joined: ``column 'month' must hold integer values``).

Both files are written under temporary names beside their paths and renamed into place when the
whole input was scored: a failed or interrupted job leaves neither (nor touches older files of
those names). An existing file is a :class:`~loopml.core.errors.Conflict` unless
``overwrite=True``. Memory holds a few chunks, whatever the input's size (one chunk being read,
one being scored, one being written; on Dask two per worker thread).

Executors: ``"local"`` scores the chunks one after the other in this process (the model's own
threads, such as histogram boosting's OpenMP ones, use the cores); ``"dask"`` scores them in
parallel on a cluster (``address``: None for a ``LocalCluster`` of ``n_workers`` processes, a
scheduler address, or a ``distributed.Client``; see ``_dask`` for what the workers need) and
writes them in input order, so both give the same files. Dask needs ``pip install
'loopml[dask]'``.

The model is loaded (every file hash-checked) from a ``models:/``, ``runs:/`` URI or a package
directory, from the store of ``tracking_uri`` (default: the fluent API's); pickle-based packages
need ``trust=True``. A model without a signature is given every input column that is not an id
column (``id_columns`` then defaults to none), and nothing is validated.
"""

from loopml.scoring.report import ScoreProgress, ScoreReport
from loopml.scoring.score import DEFAULT_CHUNK_ROWS, rejected_path_for, score

__all__ = ["DEFAULT_CHUNK_ROWS", "ScoreProgress", "ScoreReport", "rejected_path_for", "score"]
