"""Online serving: the prediction HTTP app (Open Inference Protocol v2 and plain JSON),
validation against the signature, adaptive micro-batching, deployments followed live, metrics.

>>> from loopml.serving import ServingConfig, StaticSource, create_app
>>> app = create_app(StaticSource("models:/flight-delay@champion"), config=ServingConfig())

Run it with ``loopml serve MODEL_URI`` or any ASGI server (``uvicorn.run(app)``).
"""

from loopml.serving.app import create_app
from loopml.serving.batching import PredictionSink
from loopml.serving.config import ServingConfig
from loopml.serving.errors import MalformedRequest, NotReady, Overloaded, PayloadTooLarge
from loopml.serving.sources import Arm, ModelSource, RoutingTable, StaticSource

__all__ = [
    "Arm",
    "MalformedRequest",
    "ModelSource",
    "NotReady",
    "Overloaded",
    "PayloadTooLarge",
    "PredictionSink",
    "RoutingTable",
    "ServingConfig",
    "StaticSource",
    "create_app",
]
