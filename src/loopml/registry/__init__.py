"""The model registry: log models to runs, register versions, move aliases, load by URI."""

from loopml.registry.client import ModelInfo, ModelRegistry
from loopml.registry.fluent import load_model, log_model, register_model

__all__ = ["ModelInfo", "ModelRegistry", "load_model", "log_model", "register_model"]
