import json
import os
import pickle
import stat

import pytest
import torch
import torch.distributed as dist
from safetensors import safe_open
from safetensors.torch import save_file
from torch.nn.parallel import DistributedDataParallel

from transformer import NumberTask, load_model, load_vocabs, make_model, save_model
from transformer.lm import LanguageModel, lm_vocab, make_encoder_lm, make_lm


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return make_model(11, 13, N=1, d_model=16, d_ff=32, h=2, dropout=0.2, norm_first=False)


def test_round_trip_is_bit_exact(model, tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.config == model.config and not loaded.training
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.safetensors: no such checkpoint file"):
        load_model(tmp_path / "nope.safetensors")


def test_truncated_and_corrupted_files(model, tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    data = path.read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated\.safetensors: not a readable transformer-book checkpoint"):
        load_model(tmp_path / "truncated.safetensors")
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00\x01 not a checkpoint" * 10)
    with pytest.raises(ValueError, match=r"garbage\.safetensors: not a readable"):
        load_model(tmp_path / "garbage.safetensors")


class Payload:
    """Unpickling this would run os.system: a checkpoint must never be unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickled_payload_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "executed"
    for name, write in [
        ("pickle.safetensors", lambda f: pickle.dump(Payload(marker), f)),
        ("torch-save.pt", lambda f: torch.save({"x": Payload(marker)}, f)),
    ]:
        path = tmp_path / name
        with path.open("wb") as f:
            write(f)
        with pytest.raises(ValueError, match=f"{name}: not a readable transformer-book checkpoint"):
            load_model(path)
    assert not marker.exists()


def test_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"other\.safetensors: not a transformer-book checkpoint"):
        load_model(path)


def test_weights_that_do_not_fit_the_config(model, tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    state.pop("generator.proj.bias")
    save_file(state, str(path), metadata=metadata)
    with pytest.raises(ValueError, match=r"model\.safetensors: tensor .generator\.proj\.bias. is missing"):
        load_model(path)


def test_model_without_config_cannot_be_saved(model, tmp_path):
    model.config = None
    with pytest.raises(ValueError, match="model: has no config"):
        save_model(model, tmp_path / "x.safetensors")


# Issue 9: a checkpoint is untrusted input; saving is atomic, reproducible and unwraps DDP; tied weights.


def rewrite(path, config_changes=None, state_changes=None, drop=()):
    """Rewrite a saved checkpoint with some config fields or tensors changed, as a tampered file would be."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    config = json.loads(metadata["config"]) | (config_changes or {})
    metadata["config"] = json.dumps(config)
    state |= state_changes or {}
    for name in drop:
        state.pop(name)
    save_file(state, str(path), metadata=metadata)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"N": 100000}, "config: N=100000, but the file holds weights for N=1"),
        ({"max_len": 20000000}, "config: max_len: expected at most 100000, got 20000000"),
        ({"max_len": 2e7}, "config: max_len: expected an integer, got 20000000.0 of type float"),
        ({"d_model": "64"}, "config: d_model: expected an integer, got '64' of type str"),
        ({"h": 0}, "config: h: expected an integer >= 1, got 0"),
        ({"h": 3}, "config: d_model=16 must be divisible by the number of heads h=3"),
        ({"dropout": 5}, r"config: dropout: expected a probability in \[0, 1\), got 5"),
        ({"d_model": 32}, r"tensor '.*' has shape \(.*16.*\), the config needs \(.*32.*\)"),
        ({"tgt_vocab": 12}, r"tensor 'tgt_embed\.0\.lut\.weight' has shape \(13, 16\), the config needs \(12, 16\)"),
        ({"layers": 2}, "config: unknown field 'layers'"),
    ],
)
def test_a_bad_header_is_refused_before_anything_is_built(model, tmp_path, changes, message):
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    rewrite(path, config_changes=changes)
    with pytest.raises(ValueError, match=rf"model\.safetensors: {message}"):
        load_model(path)


def test_a_header_that_is_not_an_object_is_refused(model, tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    with safe_open(str(path), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        metadata = f.metadata() | {"config": "[1, 2]"}
    save_file(state, str(path), metadata=metadata)
    with pytest.raises(ValueError, match=r"config: expected a JSON object, got \[1, 2\]"):
        load_model(path)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(model, tmp_path, bad):
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    weight = model.generator.proj.weight.detach().clone()
    weight[3, 2] = bad
    rewrite(path, state_changes={"generator.proj.weight": weight})
    with pytest.raises(ValueError, match=r"tensor 'generator\.proj\.weight' holds non-finite values"):
        load_model(path)


def test_an_extra_tensor_is_refused(model, tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    rewrite(path, state_changes={"payload": torch.zeros(3)})
    with pytest.raises(ValueError, match="tensor 'payload' is not part of a model with the stored config"):
        load_model(path)


def test_the_same_model_gives_the_same_bytes(model, tmp_path):
    # safetensors writes its metadata in hash order: without sorting, 19 of 20 saves differed here.
    files = [tmp_path / f"model{i}.safetensors" for i in range(8)]
    for path in files:
        save_model(model, path)
    assert len({path.read_bytes() for path in files}) == 1
    load_model(files[0])


def test_checkpoints_get_the_users_umask(model, tmp_path):
    old = os.umask(0o027)
    try:
        save_model(model, tmp_path / "model.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "model.safetensors").stat().st_mode) == 0o640


def test_a_failed_save_leaves_the_old_file_whole(model, tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    before = path.read_bytes()

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(make_model(11, 13, N=2, d_model=16, d_ff=32, h=2), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary file left behind


def test_a_ddp_wrapped_model_is_saved_as_the_model_inside(model, tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        save_model(DistributedDataParallel(model), tmp_path / "model.safetensors")
    finally:
        dist.destroy_process_group()
    loaded = load_model(tmp_path / "model.safetensors")
    assert torch.equal(loaded.generator.proj.weight, model.generator.proj.weight)


def test_saving_something_else_says_what_to_pass(tmp_path):
    with pytest.raises(
        TypeError, match=r"model: expected an EncoderDecoder built by make_model or a LanguageModel .*got Linear"
    ):
        save_model(torch.nn.Linear(2, 2), tmp_path / "model.safetensors")


def test_tied_weights_are_saved_once_and_restored_tied(tmp_path):
    torch.manual_seed(0)
    model = make_model(11, 11, N=1, d_model=16, d_ff=32, h=2, tie_weights=True)
    save_model(model, tmp_path / "model.safetensors")
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        names = set(f.keys())
    assert len(names & {"generator.proj.weight", "src_embed.0.lut.weight", "tgt_embed.0.lut.weight"}) == 1
    loaded = load_model(tmp_path / "model.safetensors")
    assert loaded.generator.proj.weight is loaded.tgt_embed[0].lut.weight is loaded.src_embed[0].lut.weight
    assert torch.equal(loaded.generator.proj.weight, model.generator.proj.weight)


# Issue 12: a checkpoint carries its vocabularies, so that it alone can translate.


def number_model():
    task = NumberTask("zh-en", N=1, d_model=16, d_ff=32, h=2)
    return task.build_model(), task.vocabs


def test_vocabularies_round_trip_with_the_model_and_the_bytes_stay_the_same(tmp_path):
    model, vocabs = number_model()
    files = [tmp_path / f"model{i}.safetensors" for i in range(4)]
    for path in files:
        save_model(model, path, vocabs=vocabs)
    assert len({path.read_bytes() for path in files}) == 1
    assert load_vocabs(files[0]) == vocabs
    assert load_vocabs(files[0])[0].language == "zh"
    assert load_model(files[0]).config == model.config  # the extra header entry does not disturb loading


def test_a_checkpoint_without_vocabularies_has_none(model, tmp_path):
    save_model(model, tmp_path / "model.safetensors")
    assert load_vocabs(tmp_path / "model.safetensors") is None


def test_vocabularies_of_the_wrong_size_are_refused_when_saving(tmp_path):
    model, (source, target) = number_model()
    with pytest.raises(ValueError, match=r"vocabs: the source vocabulary has 38 tokens, the model's config 19"):
        save_model(model, tmp_path / "model.safetensors", vocabs=(target, source))
    assert not (tmp_path / "model.safetensors").exists()


@pytest.mark.parametrize(
    ("vocab", "message"),
    [
        ("not json", r"vocab: Expecting value"),
        ('{"src": 1}', r"vocab: expected \{'src': \.\.\., 'tgt': \.\.\.\}"),
        ('{"src": {"language": "en", "tokens": []}, "tgt": {"language": "xx", "tokens": []}}', r"vocab: language"),
        (
            '{"src": {"language": "en", "tokens": ["a"]}, "tgt": {"language": "zh", "tokens": []}}',
            r"vocab: the source vocabulary has 5 tokens, the model's config 19",
        ),
    ],
)
def test_a_bad_vocabulary_header_is_refused(tmp_path, vocab, message):
    model, vocabs = number_model()
    path = tmp_path / "model.safetensors"
    save_model(model, path, vocabs=vocabs)
    with safe_open(str(path), framework="pt") as f:
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        metadata = f.metadata() | {"vocab": vocab}
    save_file(state, str(path), metadata=metadata)
    with pytest.raises(ValueError, match=rf"model\.safetensors: {message}"):
        load_vocabs(path)


def test_load_vocabs_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        load_vocabs(tmp_path / "nothing.safetensors")


# Issue 14: the language models (decoder-only and encoder-only) are saved and loaded too, with a kind in the header.


@pytest.mark.parametrize("build", [make_lm, make_encoder_lm])
def test_language_models_round_trip_with_their_vocabulary(build, tmp_path):
    torch.manual_seed(0)
    vocab = lm_vocab()
    model = build(len(vocab), N=2, d_model=16, d_ff=32, h=2, tie_weights=True)
    path = tmp_path / "model.safetensors"
    save_model(model, path, vocabs=(vocab, vocab))
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()["kind"] == "language-model"
    loaded = load_model(path)
    assert isinstance(loaded, LanguageModel) and loaded.config == model.config and not loaded.training
    assert loaded.generator.proj.weight is loaded.embed[0].lut.weight
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert load_vocabs(path) == (vocab, vocab)


def test_an_encoder_decoder_file_is_of_kind_encoder_decoder_and_one_without_a_kind_still_loads(model, tmp_path):
    path = tmp_path / "model.safetensors"
    save_model(model, path)
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    assert metadata.pop("kind") == "encoder-decoder"
    save_file(state, str(path), metadata=metadata)  # as a file saved before language models
    assert load_model(path).config == model.config


@pytest.mark.parametrize(
    ("kind", "changes", "message"),
    [
        ("gpt", {}, r"kind: expected one of \['encoder-decoder', 'language-model'\], got 'gpt'"),
        ("encoder-decoder", {}, "config: unknown field 'causal'"),
        ("language-model", {"N": 100000}, "config: N=100000, but the file holds weights for N=2"),
        ("language-model", {"causal": 1}, "config: causal: expected True or False, got 1"),
        ("language-model", {"vocab": 0}, "config: vocab: expected an integer >= 1, got 0"),
        ("language-model", {"max_len": 10**6}, "config: max_len: expected at most 100000, got 1000000"),
        ("language-model", {"vocab": 54}, r"tensor 'embed\.0\.lut\.weight' has shape \(55, 16\), the config needs"),
    ],
)
def test_a_bad_language_model_header_is_refused_before_anything_is_built(tmp_path, kind, changes, message):
    path = tmp_path / "model.safetensors"
    save_model(make_lm(len(lm_vocab()), N=2, d_model=16, d_ff=32, h=2), path)
    rewrite(path, config_changes=changes)
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() | {"kind": kind}
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    save_file(state, str(path), metadata=metadata)
    with pytest.raises(ValueError, match=rf"model\.safetensors: {message}"):
        load_model(path)
