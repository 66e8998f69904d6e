import math

import pytest
import torch

from transformer import PositionalEncoding, sinusoid_table


@pytest.mark.parametrize("d_model", [16, 5])
def test_table_matches_the_formula(d_model):
    pe = sinusoid_table(50, d_model)
    assert pe.shape == (50, d_model)
    for pos in (0, 1, 7, 49):
        for j in range(d_model):
            angle = pos / 10000 ** (2 * (j // 2) / d_model)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert pe[pos, j].item() == pytest.approx(expected, abs=1e-5)


def test_adds_the_table_and_keeps_it_out_of_the_state_dict():
    module = PositionalEncoding(d_model=8, dropout=0.0, max_len=20)
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(module(x), x + sinusoid_table(20, 8)[:5])
    torch.testing.assert_close(module(x, start=3), x + sinusoid_table(20, 8)[3:8])
    assert "pe" not in module.state_dict()


def test_longer_than_max_len_raises():
    module = PositionalEncoding(d_model=8, dropout=0.0, max_len=20)
    with pytest.raises(ValueError, match="length 21 is longer than the positional table's max_len=20"):
        module(torch.zeros(1, 21, 8))
    with pytest.raises(ValueError, match="length 21 is longer"):
        module(torch.zeros(1, 1, 8), start=20)


def test_wrong_d_model_raises():
    with pytest.raises(ValueError, match=r"x: expected shape \(batch, seq_len, d_model=8\), got \(2, 5, 6\)"):
        PositionalEncoding(d_model=8, dropout=0.0)(torch.zeros(2, 5, 6))
