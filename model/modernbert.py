"""ModernBERT's encoder forward pass over a packed, unpadded stream of tokens.

References: "Smarter, Better, Faster, Longer: A Modern Bidirectional Encoder" (Warner et al., 2024) and
transformers' `models/modernbert/modeling_modernbert.py`, whose parameter names we keep so that
checkpoints load unchanged. The structure: token embedding + LayerNorm; N pre-norm layers (no norm
before layer 0's attention) of rotary self-attention (global every 3rd layer, else a 128-token local
window, each with its own RoPE theta) and a gated MLP (GeGLU); a final LayerNorm.

All sequences of a batch are packed into one stream of rows: the linear layers (most of the FLOPs)
see no padding between sequences (at most a few blocks of it around the stream, for local attention),
positions restart at 0 for each sequence, and attention respects the sequence boundaries (see
`model/attention.py`).

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
        # Left uninitialised: the values always come from a checkpoint, and a random init on the meta
        # device (model/encoder.py) would import torch's compiler, a second of a cold start.
        self.tok_embeddings = nn.Embedding(
            config.vocab_size, config.hidden_size, _weight=torch.empty(config.vocab_size, config.hidden_size)
        )
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.norm(self.tok_embeddings(input_ids))  # (rows, hidden)


class Rotary:
    """Rotary position embeddings for one theta, as unit complex numbers per (position, pair)."""

    def __init__(self, theta: float, head_dim: int):
        # On the CPU even while the model is built on the meta device (model/encoder.py): not a weight.
        exponents = torch.arange(0, head_dim, 2, dtype=torch.float32, device="cpu") / head_dim
        self.inv_freq = 1.0 / (theta**exponents)

    def rotations(self, positions: torch.Tensor) -> torch.Tensor:
        angles = positions.float()[:, None] * self.inv_freq.to(positions.device)  # (rows, head_dim / 2)
        return torch.polar(torch.ones_like(angles), angles)[:, None, :]  # (rows, 1, head_dim / 2) complex64


def interleave_rotary_pairs(state: dict[str, torch.Tensor], config: ModernBertConfig) -> dict[str, torch.Tensor]:
    """Reorder the q and k outputs of every Wqkv so that each head's rotary pairs are adjacent.

    Checkpoints rotate dimension i with i + head_dim / 2 ("rotate half"). Attention scores q.k are
    unchanged by any permutation applied to both q and k, so we store q and k with the pairs
    interleaved (i, i + head_dim / 2 -> 2i, 2i + 1): RoPE then is one complex multiplication over
    contiguous memory, several times faster on the CPU than rotating strided halves.
    """
    heads, dim = config.num_attention_heads, config.head_dim
    within_head = torch.arange(dim).view(2, dim // 2).t().reshape(-1)  # 0, d/2, 1, d/2 + 1, ...
    qk_rows = (torch.arange(2 * heads)[:, None] * dim + within_head).reshape(-1)
    order = torch.cat([qk_rows, torch.arange(2 * heads * dim, 3 * heads * dim)])  # v stays as it is
    return {k: v[order] if k.endswith(("attn.Wqkv.weight", "attn.Wqkv.bias")) else v for k, v in state.items()}


def apply_rotary(qk: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """RoPE of interleaved `(rows, 2 * heads, head_dim)` q and k, computed in float32, returned in qk's dtype."""
    pairs = torch.view_as_complex(qk.float().unflatten(-1, (-1, 2)))  # (rows, 2 * heads, head_dim / 2)
    return torch.view_as_real(pairs * rotations).flatten(-2).to(qk.dtype)  # (rows, 2 * heads, head_dim)


class Attention(nn.Module):
    def __init__(self, config: ModernBertConfig, local: bool):
        super().__init__()
        self.heads, self.head_dim, self.local = config.num_attention_heads, config.head_dim, local
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=config.attention_bias)
        self.Wo = nn.Linear(config.hidden_size, config.hidden_size, bias=config.attention_bias)

    def forward(self, x: torch.Tensor, rotations: torch.Tensor, plan: AttentionPlan) -> torch.Tensor:
        rows, heads = x.shape[0], self.heads
        qkv = self.Wqkv(x).view(rows, 3 * heads, self.head_dim)  # (rows, 3 * heads, head_dim)
        qk = apply_rotary(qkv[:, : 2 * heads], rotations)  # (rows, 2 * heads, head_dim)
        out = attend(qk[:, :heads], qk[:, heads:], qkv[:, 2 * heads:], plan, self.local)  # (rows, hidden)
        return self.Wo(out)  # (rows, hidden)


class MLP(nn.Module):
    def __init__(self, config: ModernBertConfig):
        super().__init__()
        self.Wi = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=config.mlp_bias)
        self.Wo = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias)
        self.act = ACTIVATIONS[config.hidden_activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs, gate = self.Wi(x).chunk(2, dim=-1)  # (rows, intermediate) each
        return self.Wo(self.act(inputs).mul_(gate))  # (rows, hidden)


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

    def forward(self, x: torch.Tensor, rotations: torch.Tensor, plan: AttentionPlan, dtype: torch.dtype) -> torch.Tensor:
        # The residual stream stays float32; the sublayers' outputs (compute dtype) are added in place.
        x = x.add_(self.attn(self.attn_norm(x).to(dtype), rotations, plan))
        return x.add_(self.mlp(self.mlp_norm(x).to(dtype)))  # (rows, hidden), float32


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

    def load_checkpoint_state(self, state: dict[str, torch.Tensor]) -> None:
        """Take a checkpoint's state dict (its key names, no prefix; keys and shapes already checked).

        The tensors become the parameters (no copy), so a model built on the meta device works too.
        """
        self.load_state_dict(interleave_rotary_pairs(state, self.config), strict=True, assign=True)

    def forward(self, input_ids: torch.Tensor, seqlens: list[int]) -> torch.Tensor:
        """`input_ids` (total_tokens,) holds the sequences back to back, `seqlens` their lengths.

        Returns float32 `(total_tokens, hidden)` final hidden states.
        """
        plan = plan_attention(seqlens, self.config.half_window, input_ids.device, self.compute_dtype)
        rows = input_ids.new_zeros(plan.rows)  # padding rows (see model/attention.py) hold token 0
        rows[plan.tokens] = input_ids
        rotations = {t: rotary.rotations(plan.positions) for t, rotary in self.rotary.items()}

        x = self.embeddings(rows)  # (rows, hidden)
        for layer in self.layers:
            x = layer(x, rotations[layer.layer_type], plan, self.compute_dtype)
        return self.final_norm(x[plan.tokens])  # (total_tokens, hidden)
