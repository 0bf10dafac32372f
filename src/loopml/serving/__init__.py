"""Online serving: the prediction HTTP app (Open Inference Protocol v2 and plain JSON), validation against the signature, adaptive micro-batching, deployments followed live, metrics."""
