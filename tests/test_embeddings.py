import math

import pytest
import torch

from transformer import Embeddings


def test_shape_and_scale():
    emb = Embeddings(d_model=16, vocab=10)
    x = torch.tensor([[1, 2, 4, 5], [4, 3, 2, 9]])
    out = emb(x)
    assert out.shape == (2, 4, 16)
    torch.testing.assert_close(out, emb.lut.weight[x] * math.sqrt(16))
    torch.testing.assert_close(out[0, 2], out[1, 0])  # the same id gives the same vector


def test_int32_ids_are_accepted():
    emb = Embeddings(d_model=4, vocab=10)
    torch.testing.assert_close(emb(torch.tensor([[3]], dtype=torch.int32)), emb(torch.tensor([[3]])))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bool])
def test_non_integer_ids_raise_type_error(dtype):
    with pytest.raises(TypeError, match=rf"x: token ids must be an integer tensor .* got dtype {dtype}"):
        Embeddings(4, 10)(torch.zeros(1, 3, dtype=dtype))


@pytest.mark.parametrize("bad", [10, 11, -1])
def test_ids_outside_the_vocabulary_raise(bad):
    x = torch.tensor([[1, bad, 2]])
    with pytest.raises(ValueError, match=rf"token id {bad} is outside the vocabulary of size 10 \(0 \.\. 9\)"):
        Embeddings(4, 10)(x)


def test_empty_input():
    assert Embeddings(4, 10)(torch.zeros(2, 0, dtype=torch.long)).shape == (2, 0, 4)
