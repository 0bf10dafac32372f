"""Batch scoring: a model over files or SQL, streamed in chunks, validated like the server, rejected rows to a side file; locally or on Dask."""
