"""The model registry: log models to runs, register versions, move aliases, load by URI; the
deployments that route traffic to them."""

from loopml.registry.client import ModelInfo, ModelRegistry
from loopml.registry.deployments import Deployments
from loopml.registry.fluent import load_model, log_model, register_model

__all__ = ["Deployments", "ModelInfo", "ModelRegistry", "load_model", "log_model", "register_model"]
