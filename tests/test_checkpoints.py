import pickle

import pytest
import torch
from safetensors.torch import save_file

from transformer import load_model, make_model, save_model


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
    with pytest.raises(ValueError, match=r"model\.safetensors: weights do not fit the stored configuration"):
        load_model(path)


def test_model_without_config_cannot_be_saved(model, tmp_path):
    model.config = None
    with pytest.raises(ValueError, match="model: has no config"):
        save_model(model, tmp_path / "x.safetensors")
