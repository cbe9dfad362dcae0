"""The ModernBERT configuration, read from a checkpoint's `config.json` in either key style.

Field names are those of `config.json`. Two styles exist in the wild: the legacy one
(`global_attn_every_n_layers`, `global_rope_theta`, `local_rope_theta`) written by transformers < 5,
and the newer one (`layer_types`, `rope_parameters`). Both resolve to one per-layer description.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from model.errors import ModelError

GLOBAL, LOCAL = "full_attention", "sliding_attention"


@dataclass(frozen=True)
class ModernBertConfig:
    vocab_size: int = 50368
    hidden_size: int = 768
    intermediate_size: int = 1152
    num_hidden_layers: int = 22
    num_attention_heads: int = 12
    hidden_activation: str = "gelu"  # GeGLU with exact (erf) GELU; "silu" gives SwiGLU
    max_position_embeddings: int = 8192
    norm_eps: float = 1e-5
    norm_bias: bool = False
    attention_bias: bool = False
    mlp_bias: bool = False
    local_attention: int = 128  # the whole local window: each token sees 64 to either side
    global_rope_theta: float = 160_000.0
    local_rope_theta: float = 10_000.0
    layer_types: tuple[str, ...] = field(default=())  # GLOBAL or LOCAL per layer
    pad_token_id: int = 50283
    cls_token_id: int = 50281
    sep_token_id: int = 50282

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def half_window(self) -> int:
        """Local layers attend to keys with |i - j| <= half_window."""
        return self.local_attention // 2

    def rope_theta(self, layer_type: str) -> float:
        return self.global_rope_theta if layer_type == GLOBAL else self.local_rope_theta

    @classmethod
    def from_dict(cls, raw: dict) -> "ModernBertConfig":
        """Read a `config.json` dict in either key style; unknown keys are ignored."""
        if raw.get("model_type", "modernbert") != "modernbert":
            raise ModelError(f"config.json describes a {raw['model_type']!r} model, not ModernBERT")
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw and raw[k] is not None}
        known.pop("layer_types", None)
        config = cls(**known)
        layers = config.num_hidden_layers

        if raw.get("layer_types"):
            layer_types = tuple(raw["layer_types"])
        else:
            every = int(raw.get("global_attn_every_n_layers", 3))
            layer_types = tuple(GLOBAL if i % every == 0 else LOCAL for i in range(layers))
        if len(layer_types) != layers or set(layer_types) - {GLOBAL, LOCAL}:
            raise ModelError(f"config.json layer_types {list(layer_types)} do not fit {layers} layers")

        thetas = {GLOBAL: config.global_rope_theta, LOCAL: config.local_rope_theta}
        for layer_type, params in (raw.get("rope_parameters") or {}).items():
            if layer_type in thetas and params:
                if params.get("rope_type", "default") != "default":
                    raise ModelError(f"unsupported RoPE type {params['rope_type']!r} in config.json")
                thetas[layer_type] = float(params.get("rope_theta", thetas[layer_type]))

        if config.hidden_size % config.num_attention_heads:
            raise ModelError("hidden_size is not a multiple of num_attention_heads in config.json")
        if config.hidden_activation not in ("gelu", "silu", "gelu_pytorch_tanh", "gelu_new"):
            raise ModelError(f"unsupported hidden_activation {config.hidden_activation!r} in config.json")
        return cls(**{
            **config.__dict__,
            "layer_types": layer_types,
            "global_rope_theta": thetas[GLOBAL],
            "local_rope_theta": thetas[LOCAL],
        })
