import pytest
import torch

from transformer import BOS, EOS, PAD, data_gen, greedy_decode, make_model, padding_mask
from transformer.figures import cached_copy_model


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    return make_model(11, 11, N=2, d_model=32, d_ff=64, h=4).eval()


def test_batched_output_starts_with_the_start_symbol(random_model):
    src = torch.randint(3, 11, (5, 7))
    out = greedy_decode(random_model, src, padding_mask(src, PAD), max_len=9, start_symbol=BOS)
    assert out.shape == (5, 9) and (out[:, 0] == BOS).all()


def test_batched_equals_one_row_at_a_time(random_model):
    src = torch.randint(3, 11, (4, 6))
    src[1, 4:] = PAD
    batched = greedy_decode(random_model, src, padding_mask(src, PAD), 8, BOS)
    for i in range(4):
        row = src[i : i + 1]
        assert torch.equal(greedy_decode(random_model, row, padding_mask(row, PAD), 8, BOS), batched[i : i + 1])


@pytest.mark.parametrize("end_symbol", [None, EOS])
def test_cache_gives_the_same_tokens_on_a_random_model(random_model, end_symbol):
    src = torch.randint(3, 11, (6, 9))
    mask = padding_mask(src, PAD)
    cached = greedy_decode(random_model, src, mask, 30, BOS, end_symbol)
    assert torch.equal(cached, greedy_decode(random_model, src, mask, 30, BOS, end_symbol, use_cache=False))


def test_trained_copy_model_copies_with_and_without_cache():
    model = cached_copy_model()
    batch = next(data_gen(11, 100, 1, generator=torch.Generator().manual_seed(1234)))
    cached = greedy_decode(model, batch.src, batch.src_mask, 10, BOS)
    assert torch.equal(cached, greedy_decode(model, batch.src, batch.src_mask, 10, BOS, use_cache=False))
    assert (cached == batch.src).all(dim=1).float().mean() > 0.8


class EndsAfter(torch.nn.Module):
    """A stand-in generator: row i emits EOS at step lengths[i], token 7 before."""

    def __init__(self, lengths, vocab=11):
        super().__init__()
        self.lengths, self.vocab, self.calls = lengths, vocab, 0

    def forward(self, x):
        self.calls += 1
        logits = torch.zeros(x.size(0), self.vocab)
        logits[:, 7] = 1.0
        logits[self.lengths == self.calls, EOS] = 2.0
        return logits


def test_end_symbol_pads_finished_rows_and_stops_early(random_model):
    src = torch.randint(3, 11, (3, 5))
    generator = random_model.generator
    random_model.generator = EndsAfter(torch.tensor([2, 4, 1]))
    try:
        out = greedy_decode(random_model, src, padding_mask(src, PAD), max_len=20, start_symbol=BOS, end_symbol=EOS)
    finally:
        random_model.generator = generator
    assert out.tolist() == [
        [BOS, 7, EOS, PAD, PAD],
        [BOS, 7, 7, 7, EOS],
        [BOS, EOS, PAD, PAD, PAD],
    ]


def test_max_len_one_returns_the_start_symbol(random_model):
    src = torch.randint(3, 11, (2, 4))
    assert greedy_decode(random_model, src, None, 1, BOS).tolist() == [[BOS], [BOS]]


def test_errors(random_model):
    src = torch.randint(3, 11, (2, 4))
    with pytest.raises(ValueError, match=r"max_len must lie in 1 .. 5000 .*got 0"):
        greedy_decode(random_model, src, None, 0, BOS)
    with pytest.raises(ValueError, match="src and src_mask must have the same batch size, got 2 and 3"):
        greedy_decode(random_model, src, torch.ones(3, 1, 4, dtype=torch.bool), 5, BOS)
    with pytest.raises(ValueError, match=r"src: expected shape \(batch, src_len\), got \(4,\)"):
        greedy_decode(random_model, src[0], None, 5, BOS)


# Issue 9: greedy_decode checks what it is given before it starts; empty batches; long outputs.


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_len": 5001}, r"max_len must lie in 1 \.\. 5000 .*got 5001"),
        ({"start_symbol": 11}, r"start_symbol: expected an id of the target vocabulary \(0 \.\. 10\), got 11"),
        ({"start_symbol": -1}, r"start_symbol: .*got -1"),
        ({"end_symbol": 42}, r"end_symbol: expected an id of the target vocabulary \(0 \.\. 10\), got 42"),
        ({"pad": 11}, r"pad: .*got 11"),
    ],
)
def test_arguments_are_checked_before_decoding(random_model, kwargs, message):
    src = torch.randint(3, 11, (2, 4))
    arguments = {"max_len": 5, "start_symbol": BOS} | kwargs
    with pytest.raises(ValueError, match=message):
        greedy_decode(random_model, src, None, **arguments)


def test_a_model_in_training_mode_is_warned_about():
    torch.manual_seed(0)
    model = make_model(11, 11, N=1, d_model=16, d_ff=32, h=2)  # training mode, dropout 0.1
    with pytest.warns(UserWarning, match=r"training mode.*call model\.eval\(\)"):
        greedy_decode(model, torch.randint(3, 11, (2, 4)), None, 3, BOS)


@pytest.mark.parametrize(("end_symbol", "shape"), [(None, (0, 6)), (EOS, (0, 1))])
def test_an_empty_batch_gives_an_empty_result(random_model, end_symbol, shape):
    src = torch.zeros(0, 4, dtype=torch.long)
    assert greedy_decode(random_model, src, padding_mask(src, PAD), 6, BOS, end_symbol).shape == shape


def test_a_long_output_through_several_cache_buffers_equals_recomputation(random_model):
    src = torch.randint(3, 11, (3, 5))
    mask = padding_mask(src, PAD)
    cached = greedy_decode(random_model, src, mask, 70, BOS)  # the cache grows 16 -> 32 -> 64 -> 128
    assert torch.equal(cached, greedy_decode(random_model, src, mask, 70, BOS, use_cache=False))
