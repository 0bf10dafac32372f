"""In-memory objects (dicts, figures, data frames) as artifact bytes or dataset references."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import PurePosixPath
from typing import Any

from loopml.core.entities import DatasetInput
from loopml.core.errors import InvalidInput, MissingDependency, user_message, verbatim

__all__ = ["dataset_input_from_frame", "dict_bytes", "figure_bytes"]

_MPL_FORMATS = {"png", "svg", "pdf", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp"}


def dict_bytes(dictionary: Any, artifact_file: str) -> bytes:
    """JSON (default) or YAML, chosen by the file's extension."""
    suffix = PurePosixPath(artifact_file).suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_dump(dictionary, sort_keys=False).encode()
    try:
        return json.dumps(dictionary, indent=2, default=_json_default).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            user_message("dictionary", "must be JSON-serialisable", verbatim(f"<{exc}>"))
        ) from exc


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def figure_bytes(figure: Any, artifact_file: str) -> bytes:
    """A matplotlib or plotly figure, in the format the file's extension names."""
    suffix = PurePosixPath(artifact_file).suffix.lower().lstrip(".")
    module = type(figure).__module__
    if module.startswith("matplotlib") and hasattr(figure, "savefig"):
        if suffix not in _MPL_FORMATS:
            raise InvalidInput(
                user_message(
                    "matplotlib figure file",
                    f"must end in one of {', '.join(sorted(_MPL_FORMATS))}",
                    artifact_file,
                    "e.g. 'roc.png'",
                )
            )
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix)
        return buffer.getvalue()
    if module.startswith("plotly") and hasattr(figure, "to_html"):
        if suffix == "html":
            # Self-contained: plotly.js is embedded, so the page works offline (no CDN).
            return str(figure.to_html(include_plotlyjs=True, full_html=True)).encode()
        if suffix == "json":
            return str(figure.to_json()).encode()
        try:
            return bytes(figure.to_image(format=suffix))
        except (ValueError, ImportError, RuntimeError) as exc:
            raise MissingDependency(
                user_message(
                    "plotly figure as an image",
                    "needs kaleido and a browser",
                    artifact_file,
                    "log it as .html or .json instead, or pip install kaleido",
                )
            ) from exc
    raise InvalidInput(
        user_message(
            "figure",
            "must be a matplotlib Figure or a plotly Figure",
            verbatim(f"<{type(figure).__module__}.{type(figure).__name__}>"),
        )
    )


def dataset_input_from_frame(
    frame: Any, name: str, context: str = "", source: str = ""
) -> DatasetInput:
    """A reference to a pandas DataFrame: content digest, schema and row count."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(
            user_message(
                "dataset",
                "must be a pandas DataFrame or a loopml DatasetInput",
                verbatim(f"<{type(frame).__name__}>"),
            )
        )
    digest = hashlib.sha256()
    schema = {str(col): str(dtype) for col, dtype in frame.dtypes.items()}
    digest.update(json.dumps(schema, sort_keys=False).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return DatasetInput(
        name=name,
        digest=digest.hexdigest(),
        source=source,
        source_type="pandas",
        schema=json.dumps(schema),
        num_rows=len(frame),
        context=context,
    )
