import pytest
import torch

from transformer import padding_mask, subsequent_mask, target_mask


def test_subsequent_mask():
    mask = subsequent_mask(4)
    assert mask.dtype == torch.bool and mask.shape == (1, 4, 4)
    assert mask[0].equal(torch.tril(torch.ones(4, 4, dtype=torch.bool)))


def test_padding_and_target_masks():
    tgt = torch.tensor([[1, 5, 0, 0], [1, 5, 6, 7]])
    assert padding_mask(tgt, 0).shape == (2, 1, 4)
    mask = target_mask(tgt, 0)
    assert mask.shape == (2, 4, 4)
    assert not mask[0, :, 2:].any()  # nobody attends to padding
    assert mask[1].equal(subsequent_mask(4)[0])


def test_padding_mask_needs_two_dims():
    with pytest.raises(ValueError, match=r"seq: expected shape \(batch, seq_len\), got \(4,\)"):
        padding_mask(torch.tensor([1, 2, 3, 0]), 0)


def test_target_mask_names_its_own_argument():
    with pytest.raises(ValueError, match=r"tgt: expected shape \(batch, tgt_len\), got \(4,\)"):
        target_mask(torch.tensor([1, 2, 3, 0]), 0)
