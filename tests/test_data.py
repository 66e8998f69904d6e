import pytest
import torch

from transformer import BOS, EOS, PAD, Batch, data_gen


def test_copy_rows_start_with_the_start_symbol():
    batches = list(data_gen(11, 4, 3, seq_len=6, generator=torch.Generator().manual_seed(0)))
    assert len(batches) == 3
    for b in batches:
        assert b.src.shape == (4, 6) and torch.equal(b.src[:, 0], torch.full((4,), BOS))
        assert torch.equal(torch.cat([b.tgt, b.tgt_y[:, -1:]], 1), b.src)
        assert (b.src[:, 1:] > BOS).all() and b.ntokens == 4 * 5


def test_rows_with_an_end_symbol():
    b = next(data_gen(11, 64, 1, seq_len=8, end_symbol=EOS, generator=torch.Generator().manual_seed(0)))
    for row in b.src.tolist():
        end = row.index(EOS)
        assert row[0] == BOS and 2 <= end <= 7
        assert all(t > EOS for t in row[1:end]) and all(t == PAD for t in row[end + 1 :])
    assert b.ntokens == int((b.tgt_y != PAD).sum())
    assert not b.tgt_mask.transpose(1, 2)[b.tgt == PAD].any()  # nobody attends to padding


def test_batch_masks():
    src = torch.tensor([[1, 5, 6, 0]])
    b = Batch(src, src)
    assert b.src_mask.tolist() == [[[True, True, True, False]]]
    assert b.tgt_mask.shape == (1, 3, 3) and b.ntokens == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="V=3 leaves no ids for random tokens"):
        next(data_gen(3, 1, 1, end_symbol=EOS))
    with pytest.raises(ValueError, match="seq_len=2 is too short"):
        next(data_gen(11, 1, 1, seq_len=2, end_symbol=EOS))


def test_the_generator_state_is_the_position_in_the_stream():
    whole = [b.src for b in data_gen(11, 4, 4, seq_len=6, end_symbol=EOS, generator=torch.Generator().manual_seed(0))]
    generator = torch.Generator().manual_seed(0)
    first = [b.src for b in data_gen(11, 4, 2, seq_len=6, end_symbol=EOS, generator=generator)]
    resumed = torch.Generator()
    resumed.set_state(generator.get_state())  # what a saved run keeps
    rest = [b.src for b in data_gen(11, 4, 2, seq_len=6, end_symbol=EOS, generator=resumed, device="cpu")]
    assert all(torch.equal(a, b) for a, b in zip(whole, first + rest, strict=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_batches_on_the_gpu_hold_the_rows_drawn_on_the_cpu():
    on_cpu = next(data_gen(11, 8, 1, end_symbol=EOS, generator=torch.Generator().manual_seed(0)))
    on_gpu = next(data_gen(11, 8, 1, end_symbol=EOS, generator=torch.Generator().manual_seed(0), device="cuda"))
    for name in ("src", "src_mask", "tgt", "tgt_y", "tgt_mask"):
        assert getattr(on_gpu, name).is_cuda and torch.equal(getattr(on_gpu, name).cpu(), getattr(on_cpu, name)), name
    assert on_gpu.ntokens == on_cpu.ntokens
