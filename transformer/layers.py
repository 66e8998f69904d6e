"""The pieces every encoder and decoder layer is built from: layer norm, residual connection, feed-forward."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from transformer._checks import check_shape


class LayerNorm(nn.Module):
    r"""Layer normalisation written out, equal to ``nn.LayerNorm(features, eps)``.

    $$
    \mathrm{LayerNorm}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta
    $$

    with $\mu$ and the *biased* variance $\sigma^2$ taken over the last dimension, and
    $\epsilon$ inside the square root. (The Annotated Transformer divides by the unbiased standard
    deviation plus $\epsilon$, which is not what ``nn.LayerNorm`` computes.) The parameters are named
    ``weight`` ($\gamma$) and ``bias`` ($\beta$), as in ``nn.LayerNorm``, so state dicts are
    interchangeable. The model itself uses the fused ``nn.LayerNorm``, which the tests prove equal.

    Args:
        features: Size of the last dimension, ``d_model``.
        eps: Added to the variance for numerical stability.

    Shape:
        - Input: ``(..., features)``.
        - Output: same shape as the input.

    Examples:
        >>> ln = LayerNorm(4)
        >>> ln(torch.tensor([[1.0, 2.0, 3.0, 4.0]])).mean().abs() < 1e-6
        tensor(True)
    """

    def __init__(self, features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))
        self.features = features
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x`` over its last dimension.

        Raises:
            ValueError: If the last dimension of ``x`` is not ``features``.
        """
        if x.dim() == 0 or x.size(-1) != self.features:
            raise ValueError(f"x: expected shape (..., features={self.features}), got {tuple(x.shape)}")
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return self.weight * (x - mean) / torch.sqrt(var + self.eps) + self.bias


class SublayerConnection(nn.Module):
    """A residual connection around a sub-layer, with layer norm before it or after the sum.

    - ``norm_first=True`` (pre-LN, the Annotated Transformer): ``x + dropout(sublayer(norm(x)))``.
    - ``norm_first=False`` (post-LN, the paper and ``nn.Transformer``'s default):
      ``norm(x + dropout(sublayer(x)))``.

    Args:
        size: ``d_model``.
        dropout: Dropout probability on the sub-layer's output.
        norm_first: Where the layer norm goes (see above).

    Shape:
        - Input: ``(batch, seq_len, d_model)``.
        - Output: ``(batch, seq_len, d_model)``.
    """

    def __init__(self, size: int, dropout: float, norm_first: bool = True) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(size)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x: Tensor, sublayer: Callable[[Tensor], Tensor]) -> Tensor:
        """Apply ``sublayer`` to ``x`` with a residual connection and layer norm."""
        if self.norm_first:
            return x + self.dropout(sublayer(self.norm(x)))
        return self.norm(x + self.dropout(sublayer(x)))


class PositionwiseFeedForward(nn.Module):
    r"""Two linear maps with a ReLU between, applied to each position separately.

    $$
    \mathrm{FFN}(x) = \max(0, x W_1 + b_1) W_2 + b_2
    $$

    Args:
        d_model: Size of the input and output vectors.
        d_ff: Size of the hidden layer (2048 in the paper, four times ``d_model``).
        dropout: Dropout probability on the hidden layer.

    Shape:
        - Input: ``(batch, seq_len, d_model)``.
        - Output: ``(batch, seq_len, d_model)``.

    Examples:
        >>> ff = PositionwiseFeedForward(d_model=8, d_ff=32, dropout=0.0)
        >>> ff(torch.zeros(2, 5, 8)).shape
        torch.Size([2, 5, 8])
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.d_model = d_model

    def forward(self, x: Tensor) -> Tensor:
        """Apply the two linear maps.

        Raises:
            ValueError: If ``x`` is not of shape ``(batch, seq_len, d_model)``.
        """
        check_shape("x", x, ("batch", "seq_len", ("d_model", self.d_model)))
        return self.w_2(self.dropout(self.w_1(x).relu()))  # (batch, seq_len, d_ff) in between


def clones(module: nn.Module, n: int) -> nn.ModuleList:
    """``n`` independent deep copies of ``module`` (each with its own parameters)."""
    return nn.ModuleList(copy.deepcopy(module) for _ in range(n))
