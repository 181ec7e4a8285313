"""Model manifests (sha256, licence, I/O contract) and the registry that loads each model once."""
from edge_face.models.registry import ModelContract, ModelError, ModelManifest, ModelRegistry

__all__ = ["ModelContract", "ModelError", "ModelManifest", "ModelRegistry"]
