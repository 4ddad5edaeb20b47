"""Transformer layers (MultiHeadAttention, TransformerBlock, position embeddings) and the GPT model."""
import math

import numpy as np

import minigrad.functions as F
from minigrad.backend import get_array_module
from minigrad.core import Parameter, as_variable
from minigrad.layers import Dropout, EmbedID, Layer, LayerNorm, Linear, LinearCrossEntropy
from minigrad.models import Model
from minigrad.shapes import check_size


class MultiHeadAttention(Layer):
    """Self-attention over x (N, T, embed_dim): one Linear makes q, k and v (qkv), num_heads heads of
    embed_dim // num_heads attend with F.scaled_dot_product_attention, and a Linear (proj) mixes them."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, dtype=np.float32):
        super().__init__()
        embed_dim, num_heads = check_size(embed_dim, "MultiHeadAttention", "embed_dim"), \
            check_size(num_heads, "MultiHeadAttention", "num_heads")
        if embed_dim % num_heads:
            raise ValueError(f"MultiHeadAttention: embed_dim {embed_dim} is not a multiple of num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.qkv = Linear(3 * embed_dim, in_size=embed_dim, nobias=not bias, dtype=dtype)
        self.proj = Linear(embed_dim, in_size=embed_dim, nobias=not bias, dtype=dtype)

    def forward(self, x, mask=None, is_causal=False):
        x = as_variable(x, "MultiHeadAttention: x")
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiHeadAttention: expected x of shape (N, T, {self.embed_dim}), got {x.shape}")
        n, t, e = x.shape
        h = self.num_heads
        q, k, v = (F.transpose(F.reshape(a, (n, t, h, e // h)), (0, 2, 1, 3))
                   for a in F.split(self.qkv(x), e, axis=-1))
        y = F.scaled_dot_product_attention(q, k, v, mask=mask, is_causal=is_causal, dropout=self.dropout)
        return self.proj(F.reshape(F.transpose(y, (0, 2, 1, 3)), (n, t, e)))


class TransformerBlock(Layer):
    """A pre-norm block: x + attn(LayerNorm(x)), then x + MLP(LayerNorm(x)) with a GELU (tanh form) between two
    Linear layers of mlp_ratio * embed_dim, dropout on each branch; causal attention unless causal=False."""

    def __init__(self, embed_dim, num_heads, mlp_ratio=4, dropout=0.0, causal=True, dtype=np.float32):
        super().__init__()
        self.causal = causal
        self.ln1, self.ln2 = LayerNorm(embed_dim, dtype=dtype), LayerNorm(embed_dim, dtype=dtype)
        self.attn = MultiHeadAttention(embed_dim, num_heads, dropout, dtype=dtype)
        self.fc = Linear(mlp_ratio * embed_dim, in_size=embed_dim, dtype=dtype)
        self.out = Linear(embed_dim, in_size=mlp_ratio * embed_dim, dtype=dtype)
        self.drop = Dropout(dropout)

    def forward(self, x, mask=None):
        x = x + self.drop(self.attn(self.ln1(x), mask=mask, is_causal=self.causal and mask is None))
        return x + self.drop(self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh")))


def sinusoidal_positions(length, dim, dtype=np.float32):
    """The fixed position encodings of "Attention is all you need": sin and cos of pos / 10000^(2i / dim)."""
    pos = np.arange(length)[:, None]
    rate = np.exp(-math.log(10000.0) * np.arange(0, dim, 2) / dim)
    table = np.zeros((length, dim))
    table[:, 0::2], table[:, 1::2] = np.sin(pos * rate), np.cos(pos * rate[:dim // 2])
    return table.astype(dtype)


class PositionEmbedding(Layer):
    """Position vectors for the first T positions, (T, dim): learned (W drawn from N(0, 0.02^2)) or the fixed
    sinusoidal table (no Parameter)."""

    def __init__(self, block_size, dim, learned=True, dtype=np.float32):
        super().__init__()
        self.block_size = check_size(block_size, "PositionEmbedding", "block_size")
        if learned:
            self.W = Parameter((np.random.standard_normal((block_size, dim)) * 0.02).astype(dtype), name="W")
        else:
            self.table = sinusoidal_positions(block_size, dim, dtype)

    def forward(self, t):
        if t > self.block_size:
            raise ValueError(f"PositionEmbedding: a sequence of {t} is longer than block_size {self.block_size}")
        return self.W[:t] if "W" in self._names else self.table[:t]


class GPT(Model):
    """A decoder-only transformer: token and position embeddings, n_layer TransformerBlocks, a final LayerNorm and
    a LinearCrossEntropy head (with tie_weights, the token embedding's transpose: no head Parameter).
    model(ids) gives the logits (N, T, vocab); model(ids, targets) the mean cross entropy, by the fused
    linear_cross_entropy, which never builds the logits."""

    def __init__(self, vocab, n_layer, n_head, n_embd, block_size, dropout=0.0, tie_weights=False,
                 learned_positions=True, dtype=np.float32):
        super().__init__()
        self.vocab, self.block_size, self.tie_weights = vocab, block_size, tie_weights
        self.tok = EmbedID(vocab, n_embd, dtype=dtype)
        self.tok.W.data = (self.tok.W.data * 0.02).astype(dtype)
        self.pos = PositionEmbedding(block_size, n_embd, learned_positions, dtype)
        self.drop = Dropout(dropout)
        self.blocks = []
        for i in range(check_size(n_layer, "GPT", "n_layer")):
            block = TransformerBlock(n_embd, n_head, dropout=dropout, dtype=dtype)
            setattr(self, f"b{i}", block)
            self.blocks.append(block)
        self.ln = LayerNorm(n_embd, dtype=dtype)
        if not tie_weights:
            self.head = LinearCrossEntropy(vocab, in_size=n_embd, nobias=True, dtype=dtype)

    def features(self, ids):
        """The final LayerNorm's output (N, T, n_embd) for token ids (N, T)."""
        ids = as_variable(ids, "GPT: ids").data
        if ids.ndim != 2:
            raise ValueError(f"GPT: expected token ids of shape (N, T), got {ids.shape}")
        x = self.drop(self.tok(ids) + self.pos(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.ln(x)

    def head_weight(self):
        return F.transpose(self.tok.W) if self.tie_weights else self.head.W

    def forward(self, ids, targets=None):
        x = self.features(ids)
        n, t, e = x.shape
        if targets is None:
            return F.reshape(F.matmul(F.reshape(x, (n * t, e)), self.head_weight()), (n, t, self.vocab))
        t_flat = get_array_module(x.data).asarray(as_variable(targets, "GPT: targets").data).reshape(-1)
        return F.linear_cross_entropy(F.reshape(x, (n * t, e)), self.head_weight(), t_flat)
