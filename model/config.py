"""The ModernBERT configuration, read from a checkpoint's `config.json` in either key style.

Field names are those of `config.json`. Two styles exist in the wild: the legacy one
(`global_attn_every_n_layers`, `global_rope_theta`, `local_rope_theta`) written by transformers < 5,
and the newer one (`layer_types`, `rope_parameters`). Both resolve to one per-layer description.
"""
from __future__ import annotations

import math
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
        """Read a `config.json` dict in either key style; unknown keys are ignored. Every value is
        checked (type and range): a folder's config is untrusted input that sizes the allocations."""
        if not isinstance(raw, dict):
            raise ModelError(f"config.json must hold a JSON object, not a {type(raw).__name__}")
        if raw.get("model_type", "modernbert") != "modernbert":
            raise ModelError(f"config.json describes a {raw['model_type']!r} model, not ModernBERT")
        known = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw and raw[k] is not None}
        known.pop("layer_types", None)
        config = cls(**known)
        config.validate()
        layers = config.num_hidden_layers

        if raw.get("layer_types"):
            if not isinstance(raw["layer_types"], list):
                raise ModelError("config.json layer_types must be a list")
            layer_types = tuple(raw["layer_types"])
        else:
            every = _integer("global_attn_every_n_layers", raw.get("global_attn_every_n_layers", 3))
            layer_types = tuple(GLOBAL if i % every == 0 else LOCAL for i in range(layers))
        if len(layer_types) != layers or not set(layer_types) <= {GLOBAL, LOCAL}:
            raise ModelError(f"config.json layer_types {list(layer_types)} do not fit {layers} layers")

        thetas = {GLOBAL: config.global_rope_theta, LOCAL: config.local_rope_theta}
        rope = raw.get("rope_parameters") or {}
        if not isinstance(rope, dict) or not all(isinstance(p, dict) for p in rope.values() if p):
            raise ModelError("config.json rope_parameters must map layer types to objects")
        for layer_type, params in rope.items():
            if layer_type in thetas and params:
                if params.get("rope_type", "default") != "default":
                    raise ModelError(f"unsupported RoPE type {params['rope_type']!r} in config.json")
                thetas[layer_type] = _positive_number("rope_theta", params.get("rope_theta", thetas[layer_type]))
        return cls(**{
            **config.__dict__,
            "layer_types": layer_types,
            "global_rope_theta": thetas[GLOBAL],
            "local_rope_theta": thetas[LOCAL],
        })

    def validate(self) -> None:
        """ModelError naming the first value of the wrong type or out of range."""
        for name in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                     "max_position_embeddings"):
            if _integer(name, getattr(self, name)) < 1:
                raise ModelError(f"config.json {name} must be at least 1, not {getattr(self, name)}")
        if _integer("local_attention", self.local_attention) < 2:
            raise ModelError(f"config.json local_attention must be at least 2, not {self.local_attention}")
        for name in ("pad_token_id", "cls_token_id", "sep_token_id"):
            if not 0 <= _integer(name, getattr(self, name)) < self.vocab_size:
                raise ModelError(f"config.json {name} {getattr(self, name)} is past the vocabulary "
                                 f"(vocab_size {self.vocab_size})")
        for name in ("norm_eps", "global_rope_theta", "local_rope_theta"):
            _positive_number(name, getattr(self, name))
        for name in ("norm_bias", "attention_bias", "mlp_bias"):
            if not isinstance(getattr(self, name), bool):
                raise ModelError(f"config.json {name} must be true or false, not {getattr(self, name)!r}")
        if self.hidden_activation not in ("gelu", "silu", "gelu_pytorch_tanh", "gelu_new"):
            raise ModelError(f"unsupported hidden_activation {self.hidden_activation!r} in config.json")
        if self.hidden_size % self.num_attention_heads:
            raise ModelError("hidden_size is not a multiple of num_attention_heads in config.json")
        if self.head_dim % 2:
            raise ModelError(f"config.json gives an odd head size ({self.head_dim}); rotary embeddings need it even")


def _integer(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelError(f"config.json {name} must be an integer, not {value!r}")
    if value < 1 and name == "global_attn_every_n_layers":
        raise ModelError(f"config.json {name} must be at least 1, not {value}")
    return value


def _positive_number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ModelError(f"config.json {name} must be a finite number above 0, not {value!r}")
    return float(value)
