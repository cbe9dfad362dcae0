"""Our ModernBERT text encoder: `load_encoder(path_or_model_id)` returns an `Encoder`.

Nothing here imports `indexer/` or `codesearch/`; they use the model through the `Encoder` protocol.
"""
from model.encoder import DEFAULT_MODEL_ID, Encoder, load_encoder
from model.errors import ModelError, ModelNotAvailable

__all__ = ["DEFAULT_MODEL_ID", "Encoder", "ModelError", "ModelNotAvailable", "load_encoder"]
