import copy
import itertools

import pytest
import torch

from book.figures import cached_copy_model
from transformer import (
    BOS,
    EOS,
    PAD,
    DecoderCache,
    beam_search,
    data_gen,
    greedy_decode,
    make_model,
    padding_mask,
    subsequent_mask,
)


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


# Issue 12: beam search.


def log_probs_of(model, src, mask, outputs):
    """Summed log-probability of each output (a list of ids after the start symbol), by full recomputation, batched."""
    longest = max(len(tokens) for tokens in outputs)
    tokens = torch.full((len(outputs), longest), PAD)
    for i, row in enumerate(outputs):
        tokens[i, : len(row)] = torch.tensor(row)
    memory = model.encode(src, mask).expand(len(outputs), -1, -1)  # (n, src_len, d_model)
    mask = None if mask is None else mask.expand(len(outputs), -1, -1)
    out = model.decode(memory, mask, tokens[:, :-1], subsequent_mask(longest - 1))  # (n, longest - 1, d_model)
    log_probs = model.generator(out).double().gather(2, tokens[:, 1:].unsqueeze(2)).squeeze(2)  # (n, longest - 1)
    lengths = torch.tensor([len(row) - 1 for row in outputs])
    return log_probs.masked_fill(torch.arange(longest - 1) >= lengths.unsqueeze(1), 0.0).sum(1), lengths


def exhaustive_best(model, src, mask, max_len, alpha):
    """The output with the best length-normalised score among every possible one, found by trying them all."""
    vocab = model.generator.proj.out_features
    outputs = [
        [BOS, *body]
        for length in range(1, max_len)
        for body in itertools.product(range(vocab), repeat=length)
        # An output ends at its first EOS, or runs to max_len.
        if EOS not in body[:-1] and (length == max_len - 1 or body[-1] == EOS)
    ]
    log_probs, lengths = log_probs_of(model, src, mask, outputs)
    scores = log_probs / ((5 + lengths) / 6) ** alpha
    best = int(scores.argmax())
    return outputs[best], scores[best].item()


def strip(row):
    """A hypothesis without the padding after its end symbol."""
    row = row.tolist()
    return row[: row.index(EOS) + 1] if EOS in row else row


@pytest.fixture(scope="module")
def tiny_models():
    """Random models over a 5-token vocabulary (PAD, BOS, EOS and two words) whose outputs are long enough to search."""
    models = []
    for seed in range(8):
        torch.manual_seed(seed)
        model = make_model(5, 5, N=1, d_model=16, d_ff=32, h=2, dropout=0.0).eval()
        with torch.no_grad():
            model.generator.proj.bias[EOS] -= 1.0  # fewer one-token outputs: the search has work to do
        models.append(model)
    return models


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_beam_search_with_a_beam_wider_than_every_prefix_is_exhaustive_search(tiny_models, alpha):
    src = torch.tensor([[1, 3, 4, 3, 2]])
    for model in tiny_models:
        best, score = exhaustive_best(model, src, None, max_len=5, alpha=alpha)
        tokens, scores = beam_search(model, src, None, 5, BOS, EOS, beam_size=5**3, alpha=alpha)  # 125 = 5**3 prefixes
        assert strip(tokens[0, 0]) == best and scores[0, 0].item() == pytest.approx(score, abs=1e-5)


@pytest.mark.parametrize("beam_size", [2, 3, 4])
def test_beam_search_returns_the_exhaustive_best_whenever_it_survives_in_the_beam(tiny_models, beam_size):
    src = torch.tensor([[1, 4, 4, 3, 2], [1, 3, 3, 2, 0]])
    mask = padding_mask(src, PAD)
    survived = 0
    for model in tiny_models:
        tokens, scores = beam_search(model, src, mask, 5, BOS, EOS, beam_size=beam_size, n_best=beam_size)
        for i in range(2):
            best, best_score = exhaustive_best(model, src[i : i + 1], mask[i : i + 1], 5, alpha=0.6)
            hypotheses = [strip(row) for row in tokens[i]]
            if best in hypotheses:
                survived += 1
                assert hypotheses[0] == best and scores[i, 0].item() == pytest.approx(best_score, abs=1e-5)
            else:
                assert scores[i, 0].item() <= best_score + 1e-5
    assert survived >= 6  # the property was tested, not skipped


def test_beam_search_of_length_one_is_the_start_symbol(random_model):
    tokens, scores = beam_search(random_model, torch.randint(3, 11, (2, 4)), None, 1, BOS, EOS, n_best=2)
    assert tokens.tolist() == [[[BOS], [BOS]]] * 2 and scores.tolist() == [[0.0, float("-inf")]] * 2


@pytest.mark.parametrize("end_symbol", [EOS, 7])
def test_beam_size_one_is_greedy_decoding_exactly(random_model, end_symbol):
    src = torch.randint(3, 11, (40, 9))
    src[::3, 6:] = PAD
    mask = padding_mask(src, PAD)
    greedy = greedy_decode(random_model, src, mask, 20, BOS, end_symbol)
    tokens, _ = beam_search(random_model, src, mask, 20, BOS, end_symbol, beam_size=1)
    assert torch.equal(tokens[:, 0], greedy)


def test_each_beam_ends_on_its_own_and_is_scored_up_to_its_end(random_model):
    model = copy.deepcopy(random_model)
    with torch.no_grad():
        model.generator.proj.bias[7] += 3.0  # token 7 ends outputs, some early, some late
    src = torch.randint(3, 11, (8, 6))
    mask = padding_mask(src, PAD)
    tokens, scores = beam_search(model, src, mask, 12, BOS, 7, beam_size=4, n_best=4, alpha=0.6)
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    ends = []
    for i in range(8):
        outputs = []
        checked = []
        for j, row in enumerate(tokens[i].tolist()):
            if 7 in row:
                end = row.index(7)
                assert set(row[end + 1 :]) <= {PAD}  # padding after the end, nothing else
            elif len(row) == 12:
                end = 11  # ran to max_len
            else:
                continue  # unfinished when its sentence was done: frozen, ranked below the finished ones
            outputs.append(row[: end + 1])
            checked.append(j)
            ends.append(end)
        log_probs, lengths = log_probs_of(model, src[i : i + 1], mask[i : i + 1], outputs)
        expected = log_probs / ((5 + lengths) / 6) ** 0.6
        torch.testing.assert_close(scores[i, checked].double(), expected, atol=1e-4, rtol=0)
    assert min(ends) == 1 and max(ends) == 11  # one beam ended at once, another ran to max_len


def test_beam_search_of_one_sentence_equals_its_row_of_a_batch(random_model):
    src = torch.randint(3, 11, (5, 7))
    src[2, 4:] = PAD
    mask = padding_mask(src, PAD)
    tokens, scores = beam_search(random_model, src, mask, 10, BOS, EOS, beam_size=3, n_best=3)
    for i in range(5):
        alone, alone_scores = beam_search(
            random_model, src[i : i + 1], mask[i : i + 1], 10, BOS, EOS, beam_size=3, n_best=3
        )
        width = alone.size(2)
        assert torch.equal(alone[0], tokens[i, :, :width]) and (tokens[i, :, width:] == PAD).all()
        torch.testing.assert_close(alone_scores[0], scores[i])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beam_size": 0}, r"beam_size: expected an integer >= 1, got 0"),
        ({"beam_size": 2, "n_best": 3}, r"n_best: expected an integer in 1 \.\. beam_size=2, got 3"),
        ({"alpha": -0.5}, r"alpha: expected a number >= 0, got -0.5"),
        ({"max_len": 0}, r"max_len must lie in 1 \.\. 5000 .*got 0"),
        ({"end_symbol": 11}, r"end_symbol: expected an id of the target vocabulary \(0 \.\. 10\), got 11"),
    ],
)
def test_beam_search_arguments_are_checked(random_model, kwargs, message):
    arguments = {"max_len": 5, "start_symbol": BOS, "end_symbol": EOS} | kwargs
    with pytest.raises(ValueError, match=message):
        beam_search(random_model, torch.randint(3, 11, (2, 4)), None, **arguments)


def test_reordering_the_cache_is_decoding_the_reordered_batch(random_model):
    src = torch.randint(3, 11, (4, 6))
    tgt = torch.randint(3, 11, (4, 5))
    order = torch.tensor([2, 2, 0, 3])
    memory = random_model.encode(src, None)
    cache = DecoderCache.empty(2)
    random_model.decode(memory, None, tgt[:, :4], subsequent_mask(4), cache)
    cache.reorder(order)
    stepped = random_model.decode(memory[order], None, tgt[order, 4:], None, cache)  # (4, 1, d_model)
    full = random_model.decode(memory[order], None, tgt[order], subsequent_mask(5))
    torch.testing.assert_close(stepped[:, 0], full[:, 4])
