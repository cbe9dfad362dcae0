"""Our ModernBERT text encoder: `load_encoder(path_or_model_id)` returns an `Encoder`.

Nothing here imports `indexer/` or `codesearch/`; they use the model through the `Encoder` protocol.
The names below are imported on first use, so that `model.errors`, `model.loading` and `model.query`
(a search query embedded without torch) do not import torch.
"""
from model.errors import ModelError, ModelNotAvailable

__all__ = ["DEFAULT_MODEL_ID", "Encoder", "ModelError", "ModelNotAvailable", "load_encoder"]


def __getattr__(name: str):
    if name in ("DEFAULT_MODEL_ID", "Encoder", "load_encoder"):
        from model import encoder

        return getattr(encoder, name)
    raise AttributeError(f"module 'model' has no attribute {name!r}")
