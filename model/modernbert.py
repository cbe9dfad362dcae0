"""ModernBERT's encoder forward pass over a packed, unpadded stream of tokens.

References: "Smarter, Better, Faster, Longer: A Modern Bidirectional Encoder" (Warner et al., 2024) and
transformers' `models/modernbert/modeling_modernbert.py`, whose parameter names we keep so that
checkpoints load unchanged. The structure: token embedding + LayerNorm; N pre-norm layers (no norm
before layer 0's attention) of rotary self-attention (global every 3rd layer, else a 128-token local
window, each with its own RoPE theta) and a gated MLP (GeGLU); a final LayerNorm.

All sequences of a batch are packed into one stream of `total_tokens` rows: the linear layers (most of
the FLOPs) never see padding, positions restart at 0 for each sequence, and attention respects the
sequence boundaries (see `model/attention.py`).

Precision: the residual stream, LayerNorms, RoPE and softmax statistics stay in float32; the linear
layers and attention run in `compute_dtype` (float32 or bfloat16).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.attention import AttentionPlan, attend, plan_attention
from model.config import LOCAL, ModernBertConfig

ACTIVATIONS = {
    "gelu": F.gelu,
    "silu": F.silu,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
}


class Embeddings(nn.Module):
    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.tok_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.norm(self.tok_embeddings(input_ids))  # (total_tokens, hidden)


class Rotary:
    """cos/sin tables of rotary position embeddings for one theta, at the given positions."""

    def __init__(self, theta: float, head_dim: int):
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))

    def tables(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = positions.float()[:, None] * self.inv_freq.to(positions.device)  # (total_tokens, head_dim / 2)
        return freqs.cos()[:, None, :], freqs.sin()[:, None, :]  # (total_tokens, 1, head_dim / 2) each


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate-half RoPE of `(total_tokens, heads, head_dim)` in float32, returned in x's dtype."""
    x1, x2 = x.float().chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, config: ModernBertConfig, local: bool):
        super().__init__()
        self.heads, self.head_dim, self.local = config.num_attention_heads, config.head_dim, local
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=config.attention_bias)
        self.Wo = nn.Linear(config.hidden_size, config.hidden_size, bias=config.attention_bias)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor], plan: AttentionPlan) -> torch.Tensor:
        qkv = self.Wqkv(x).view(x.shape[0], 3, self.heads, self.head_dim)  # (total_tokens, 3, heads, head_dim)
        q, k, v = qkv.unbind(dim=1)
        q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        out = attend(q, k, v.contiguous(), plan, self.local)  # (total_tokens, heads, head_dim)
        return self.Wo(out.reshape(x.shape[0], -1))  # (total_tokens, hidden)


class MLP(nn.Module):
    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.Wi = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=config.mlp_bias)
        self.Wo = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias)
        self.act = ACTIVATIONS[config.hidden_activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs, gate = self.Wi(x).chunk(2, dim=-1)  # (total_tokens, intermediate) each
        return self.Wo(self.act(inputs) * gate)  # (total_tokens, hidden)


class Layer(nn.Module):
    def __init__(self, config: ModernBertConfig, index: int):
        super().__init__()
        self.layer_type = config.layer_types[index]
        # Layer 0 has no attention norm: the embedding norm already normalised its input.
        self.attn_norm = (
            nn.LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias) if index else nn.Identity()
        )
        self.attn = Attention(config, local=self.layer_type == LOCAL)
        self.mlp_norm = nn.LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, rope, plan: AttentionPlan, dtype: torch.dtype) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x).to(dtype), rope, plan).float()
        return x + self.mlp(self.mlp_norm(x).to(dtype)).float()  # (total_tokens, hidden), float32


class ModernBertModel(nn.Module):
    """The bare encoder: packed token ids in, final hidden states of every token out."""

    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.config = config
        self.embeddings = Embeddings(config)
        self.layers = nn.ModuleList(Layer(config, i) for i in range(config.num_hidden_layers))
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)
        self.rotary = {t: Rotary(config.rope_theta(t), config.head_dim) for t in set(config.layer_types)}
        self.compute_dtype = torch.float32  # the linear layers' dtype; see model/encoder.py

    def forward(self, input_ids: torch.Tensor, seqlens: list[int]) -> torch.Tensor:
        """`input_ids` (total_tokens,) holds the sequences back to back, `seqlens` their lengths.

        Returns float32 `(total_tokens, hidden)` final hidden states.
        """
        device = input_ids.device
        starts = torch.tensor([0] + seqlens[:-1], device=device).cumsum(0)
        lengths = torch.tensor(seqlens, device=device)
        positions = torch.arange(input_ids.shape[0], device=device) - torch.repeat_interleave(starts, lengths)
        ropes = {t: rotary.tables(positions) for t, rotary in self.rotary.items()}
        plan = plan_attention(seqlens, self.config.half_window, device)

        x = self.embeddings(input_ids)  # (total_tokens, hidden)
        for layer in self.layers:
            x = layer(x, ropes[layer.layer_type], plan, self.compute_dtype)
        return self.final_norm(x)  # (total_tokens, hidden)
