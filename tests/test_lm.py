import dataclasses

import pytest
import torch
from torch import nn

from transformer import EOS, PAD, ModelConfig, padding_mask, subsequent_mask, target_mask
from transformer.interop import _copy_attention, _copy_sublayers
from transformer.lm import (
    BLANK,
    SEPARATOR,
    LMConfig,
    NumberLMTask,
    complete,
    generate,
    lm_vocab,
    make_encoder_lm,
    make_lm,
    mask_tokens,
    prompt_of,
    sampling_probs,
)

# As in test_model.py: two implementations that order their sums differently agree to a few ulps.
TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}
SIZES = {"N": 2, "d_model": 32, "d_ff": 64, "h": 4}


def tiny_lm(causal=True, **kwargs):
    torch.manual_seed(0)
    build = make_lm if causal else make_encoder_lm
    return build(**{"vocab": 13} | SIZES | kwargs).eval()


def tokens_with_padding(vocab=13, batch=3, seq_len=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(3, vocab, (batch, seq_len), generator=g)
    tokens[0, seq_len - 2 :] = PAD
    return tokens


def to_torch_encoder(model):
    """nn.TransformerEncoder with the weights of our stack (test_model.py does this for the whole model)."""
    cfg = model.config
    layer = nn.TransformerEncoderLayer(
        cfg.d_model, cfg.h, cfg.d_ff, cfg.dropout, batch_first=True, norm_first=cfg.norm_first
    )
    theirs = nn.TransformerEncoder(
        layer, cfg.N, norm=nn.LayerNorm(cfg.d_model) if cfg.norm_first else None, enable_nested_tensor=False
    )
    for ours, their_layer in zip(model.layers.layers, theirs.layers, strict=True):
        _copy_attention(ours.self_attn, their_layer.self_attn)
        _copy_sublayers(ours, their_layer, [their_layer.norm1, their_layer.norm2])
    if cfg.norm_first:
        theirs.norm.load_state_dict(model.layers.norm.state_dict())
    return theirs.eval()


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-LN", "post-LN"])
def test_encoder_lm_equals_nn_transformer_encoder_with_a_padding_mask(norm_first):
    model = tiny_lm(causal=False, norm_first=norm_first)
    tokens = tokens_with_padding()
    with torch.no_grad():
        ours = model(tokens, padding_mask(tokens, PAD))
        theirs = to_torch_encoder(model)(model.embed(tokens), src_key_padding_mask=tokens == PAD)
    # nn.TransformerEncoder leaves padded positions' outputs unspecified: compare the real ones.
    real = tokens != PAD
    torch.testing.assert_close(ours[real], theirs[real], **TOLERANCE)


def test_decoder_only_lm_equals_nn_transformer_encoder_with_a_causal_mask():
    # GPT is the encoder stack under the causal mask: nn.TransformerEncoder computes it too.
    model = tiny_lm()
    tokens = tokens_with_padding()[1:]  # rows without padding
    with torch.no_grad():
        ours = model(tokens, model.attention_mask(tokens))
        causal = ~subsequent_mask(tokens.size(1))[0]  # nn.*: True = masked out
        theirs = to_torch_encoder(model)(model.embed(tokens), mask=causal, is_causal=True)
    torch.testing.assert_close(ours, theirs, **TOLERANCE)


def test_shapes_and_masks():
    tokens = tokens_with_padding()
    gpt, bert = tiny_lm(), tiny_lm(causal=False)
    assert gpt.attention_mask(tokens).shape == (3, 7, 7)
    assert torch.equal(gpt.attention_mask(tokens), target_mask(tokens, PAD))
    assert bert.attention_mask(tokens).shape == (3, 1, 7)
    with torch.no_grad():
        for model in (gpt, bert):
            out = model(tokens, model.attention_mask(tokens))
            assert out.shape == (3, 7, 32)
            assert model.generator(out).shape == (3, 7, 13)
    assert gpt.config == LMConfig(13, True, **SIZES, max_len=64)


def test_the_decoder_only_model_never_sees_the_future_and_the_encoder_only_one_does():
    gpt, bert = tiny_lm(), tiny_lm(causal=False)
    a, b = torch.tensor([[1, 3, 4, 5, 6]]), torch.tensor([[1, 3, 4, 9, 9]])
    with torch.no_grad():
        assert torch.equal(gpt(a, gpt.attention_mask(a))[:, :3], gpt(b, gpt.attention_mask(b))[:, :3])
        assert not torch.allclose(bert(a, bert.attention_mask(a))[:, :3], bert(b, bert.attention_mask(b))[:, :3])


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (subsequent_mask(5)[0], r"^mask: expected 3 dimensions .*got shape \(5, 5\).*unsqueeze\(0\)"),
        (torch.ones(1, 1, 1, 5, dtype=torch.bool), r"^mask: expected 3 dimensions"),
        (torch.ones(1, 5, 5, dtype=torch.bool), "^mask: lets a position attend to one on its right"),
        (padding_mask(torch.ones(1, 5, dtype=torch.long), PAD), "^mask: lets a position attend to one on its right"),
        (None, "^mask: a decoder-only model given 5 positions needs the causal mask"),
        (subsequent_mask(5).int(), "^mask: expected a torch.bool mask"),
    ],
)
def test_the_decoder_only_model_refuses_a_mask_that_is_not_causal_or_not_3d(mask, message):
    error = TypeError if mask is not None and mask.dtype != torch.bool else ValueError
    with pytest.raises(error, match=message):
        tiny_lm()(torch.ones(1, 5, dtype=torch.long), mask)


def test_the_encoder_only_model_refuses_a_2d_mask_and_a_cache():
    model = tiny_lm(causal=False)
    tokens = torch.ones(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r"^mask: expected 3 dimensions .*unsqueeze\(1\)"):
        model(tokens, tokens != PAD)  # (batch, k_len): the padding mask without its query axis
    with pytest.raises(ValueError, match=r"^cache: an encoder-only model sees both sides"):
        model(tokens, None, [])
    with pytest.raises(ValueError, match=r"^cache: expected one KVCache per layer \(2\), got 1"):
        tiny_lm()(tokens[:, :1], None, tiny_lm().new_cache()[:1])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"vocab": 0}, ValueError, "vocab: expected an integer >= 1, got 0"),
        ({"vocab": 13.0}, TypeError, "vocab: expected an integer, got 13.0 of type float"),
        ({"N": 0}, ValueError, "N: expected an integer >= 1, got 0"),
        ({"h": 5}, ValueError, "d_model=32 must be divisible by the number of heads h=5"),
        ({"dropout": 1.0}, ValueError, r"dropout: expected a probability in \[0, 1\), got 1.0"),
        ({"norm_first": 1}, TypeError, "norm_first: expected True or False, got 1"),
    ],
)
@pytest.mark.parametrize("build", [make_lm, make_encoder_lm])
def test_make_lm_checks_every_size(build, kwargs, error, message):
    with pytest.raises(error, match=f"^{message}"):
        build(**{"vocab": 13} | SIZES | kwargs)


def test_the_config_has_model_configs_fields_after_its_own_two():
    ours, theirs = [f.name for f in dataclasses.fields(LMConfig)], [f.name for f in dataclasses.fields(ModelConfig)]
    assert ours[:2] == ["vocab", "causal"] and ours[2:] == theirs[2:]


def test_tied_weights_are_one_parameter():
    model = tiny_lm(tie_weights=True)
    assert model.generator.proj.weight is model.embed[0].lut.weight


# Sampling.


def test_temperature_0_and_top_k_1_are_greedy_and_cached_equals_recomputed():
    model = tiny_lm()
    prompt = torch.tensor([[1, 4, 5], [1, 6, 7]])
    greedy = generate(model, prompt, 20, temperature=0)
    assert greedy.shape == (2, 23) and torch.equal(greedy[:, :3], prompt)
    # Greedy by hand: the model over the whole sequence, argmax of the last position.
    by_hand = prompt
    with torch.no_grad():
        for _ in range(20):
            log_probs = model.generator(model(by_hand, model.attention_mask(by_hand))[:, -1])
            by_hand = torch.cat([by_hand, log_probs.argmax(dim=-1, keepdim=True)], dim=1)
    assert torch.equal(greedy, by_hand)
    assert torch.equal(generate(model, prompt, 20, temperature=0, use_cache=False), greedy)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(generate(model, prompt, 20, temperature=0.7, top_k=1, generator=g), greedy)


def test_a_seed_reproduces_samples_and_the_cache_does_not_change_them():
    model = tiny_lm()
    prompt = torch.tensor([[1, 4, 5]] * 4)

    def sample(seed, **kwargs):
        return generate(model, prompt, 30, temperature=1.5, generator=torch.Generator().manual_seed(seed), **kwargs)

    assert torch.equal(sample(0), sample(0))
    assert torch.equal(sample(0), sample(0, use_cache=False))
    assert not torch.equal(sample(0), sample(1))
    assert len({tuple(row) for row in sample(0).tolist()}) > 1  # the rows of a batch are drawn separately


def test_top_p_keeps_the_smallest_set_whose_mass_reaches_p():
    probs = torch.tensor([[0.1, 0.4, 0.05, 0.3, 0.15]])
    for p, kept in [(0.3, [1]), (0.4, [1]), (0.41, [1, 3]), (0.7, [1, 3]), (0.71, [1, 3, 4]), (1.0, [0, 1, 2, 3, 4])]:
        out = sampling_probs(probs.log(), top_p=p)
        assert out.nonzero()[:, 1].tolist() == kept, p
        torch.testing.assert_close(out[0, kept], probs[0, kept] / probs[0, kept].sum())


def test_temperature_and_top_k():
    log_probs = torch.tensor([[0.5, 0.3, 0.2]]).log()
    flat = sampling_probs(log_probs, temperature=1e6)
    torch.testing.assert_close(flat, torch.full((1, 3), 1 / 3))
    torch.testing.assert_close(sampling_probs(log_probs), log_probs.exp())
    sharp = sampling_probs(log_probs, temperature=0.5)
    torch.testing.assert_close(sharp, torch.tensor([[25.0, 9.0, 4.0]]) / 38)
    torch.testing.assert_close(sampling_probs(log_probs, top_k=2), torch.tensor([[0.625, 0.375, 0.0]]))
    torch.testing.assert_close(sampling_probs(log_probs, top_k=10), log_probs.exp())


def test_generation_stops_at_the_end_symbol_and_pads():
    model = tiny_lm()
    prompt = torch.tensor([[1, 4], [1, 5]])
    free = generate(model, prompt, 10, temperature=0)
    end = free[0, 4].item()  # make row 0's third new token the end symbol
    out = generate(model, prompt, 10, temperature=0, end_symbol=end)
    for row, free_row in zip(out, free, strict=True):
        stop = (row[2:] == end).nonzero()
        if len(stop):
            first = 2 + stop[0, 0].item()
            assert torch.equal(row[: first + 1], free_row[: first + 1])
            assert (row[first + 1 :] == PAD).all()
    assert out[0, 4] == end


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_new_tokens": -1}, r"^max_new_tokens: expected 0 .. 62 .*got -1"),
        ({"max_new_tokens": 63}, r"^max_new_tokens: expected 0 .. 62 \(the positional table has 64 positions"),
        ({"temperature": -1.0}, r"^temperature: expected a finite number >= 0 \(0: greedy\), got -1.0"),
        ({"temperature": float("nan")}, "^temperature: expected a finite number >= 0"),
        ({"top_k": 0}, "^top_k: expected an integer >= 1 or None, got 0"),
        ({"top_p": 0.0}, r"^top_p: expected a number in \(0, 1\] or None, got 0.0"),
        ({"top_p": 1.5}, r"^top_p: expected a number in \(0, 1\] or None, got 1.5"),
        ({"end_symbol": 13}, r"^end_symbol: expected an id of the vocabulary \(0 .. 12\), got 13"),
        ({"prompt": torch.ones(4, dtype=torch.long)}, r"^prompt: expected shape \(batch, prompt_len\), got \(4,\)"),
        ({"prompt": torch.ones(2, 0, dtype=torch.long)}, "^prompt: expected at least one token per row"),
    ],
)
def test_generate_checks_its_arguments(kwargs, message):
    arguments = {"prompt": torch.ones(1, 2, dtype=torch.long), "max_new_tokens": 4} | kwargs
    with pytest.raises(ValueError, match=message):
        generate(tiny_lm(), **arguments)


def test_generate_refuses_an_encoder_only_model_and_warns_in_training_mode():
    prompt = torch.ones(1, 2, dtype=torch.long)
    with pytest.raises(ValueError, match=r"^model: an encoder-only model sees both sides"):
        generate(tiny_lm(causal=False), prompt, 3)
    with pytest.warns(UserWarning, match="generate: the model is in training mode"):
        generate(tiny_lm().train(), prompt, 3, temperature=0)


# The data.


def test_the_shared_vocabulary_reads_both_languages():
    vocab = lm_vocab()
    text = "three hundred and forty-five thousand, six hundred and seven = 三十四万五千六百零七"
    assert vocab.decode(vocab.encode(text)) == text
    assert vocab.split("三百_五") == ["三", "百", BLANK, "五"]
    assert prompt_of("five", vocab).tolist() == vocab.encode("five =").tolist()[:-1]


def test_the_loss_counts_only_what_follows_the_separator():
    task = NumberLMTask()
    vocab = lm_vocab()
    inputs, targets = task.batch([305, 5])
    assert vocab.decode(inputs[0]) == "three hundred and five = 三百零五"
    kept = targets[0][targets[0] != PAD]
    assert vocab.decode(kept) == "三百零五" and kept[-1] == EOS
    separator = inputs[0].tolist().index(vocab.tokens.index(SEPARATOR))
    assert (targets[0, :separator] == PAD).all() and (targets[0, separator:] != PAD).all()
    assert (targets[1][inputs[1] == PAD] == PAD).all()


def test_mask_tokens_hides_ordinary_tokens_only_and_at_least_one_per_row():
    vocab = lm_vocab()
    blank = vocab.tokens.index(BLANK)
    tokens = torch.stack([vocab.encode("five = 五"), vocab.encode("ten = 十")])
    g = torch.Generator().manual_seed(0)
    for fraction in (0.01, 0.5, 1.0):
        inputs, targets = mask_tokens(tokens, blank, fraction, generator=g)
        hidden = inputs == blank
        assert hidden.any(dim=1).all()
        assert torch.equal(targets[hidden], tokens[hidden]) and (targets[~hidden] == PAD).all()
        assert torch.equal(inputs[~hidden], tokens[~hidden])
        assert not hidden[:, 0].any() and not hidden[:, 2].any() and not hidden[:, -1].any()  # <s>, =, </s>
    inputs, _ = mask_tokens(tokens, blank, 1.0)
    assert vocab.decode(inputs[0]) == "_ = _"
    with pytest.raises(ValueError, match=r"^fraction: expected a number in \(0, 1\], got 0"):
        mask_tokens(tokens, blank, 0)


def test_complete_batches_prompts_of_different_lengths():
    task = NumberLMTask(N=1, d_model=16, d_ff=32, h=2)
    model = task.build_model()
    texts = ["five", "three hundred and five", "ten"]
    alone = [complete(model, lm_vocab(), [text], max_new_tokens=6)[0] for text in texts]
    assert complete(model, lm_vocab(), texts, max_new_tokens=6) == alone


@pytest.mark.parametrize("objective", ["next-token", "masked"])
def test_a_short_run_trains_and_evaluates(objective):
    task = NumberLMTask(objective=objective, steps=3, batch_size=8, N=1, d_model=16, d_ff=32, h=2)
    model = task.build_model()
    assert model.config.causal == (objective == "next-token")
    stats = list(task.train(model))
    assert [s.step for s in stats] == [1, 2, 3] and all(s.loss > 0 for s in stats)
    assert 0 <= task.exact_match(model, n=16) <= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"direction": "en-fr"}, "direction: expected one of"),
        ({"objective": "causal"}, r"objective: expected one of \('next-token', 'masked'\), got 'causal'"),
        ({"masked_fraction": 0.0}, "masked_fraction: expected a number > 0 and <= 1, got 0.0"),
        ({"steps": 0}, "steps: expected an integer >= 1, got 0"),
        ({"h": 3}, "d_model: expected a multiple of h=3, got 128"),
    ],
)
def test_the_recipe_is_checked(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        NumberLMTask(**kwargs)
