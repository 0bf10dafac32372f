"""The prediction log: every prediction and the feedback that comes later (labels, outcomes),
written asynchronously to Parquet partitions, read back joined."""
