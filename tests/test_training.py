import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from transformer import BOS, EOS, PAD, CopyTask, LabelSmoothing, compute_loss, data_gen, make_model, rate, train_steps


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.4])
def test_label_smoothing_equals_cross_entropy_up_to_a_constant(smoothing):
    torch.manual_seed(0)
    vocab, pad = 7, 0
    logits = torch.randn(10, vocab, requires_grad=True)
    target = torch.randint(1, vocab, (10,))
    target[[2, 5]] = pad
    ours = LabelSmoothing(vocab, pad, smoothing)(logits.log_softmax(-1), target)
    theirs = nn.CrossEntropyLoss(reduction="sum", ignore_index=pad, label_smoothing=smoothing)(logits, target)
    # KL(q || p) = sum q log q - sum q log p: the cross-entropy plus the (negative) entropy of q, per real row.
    q = torch.full((vocab,), smoothing / vocab)
    q[0] += 1 - smoothing
    neg_entropy = torch.where(q > 0, q * q.log(), 0.0).sum()
    n_real = int((target != pad).sum())
    torch.testing.assert_close(ours, theirs + n_real * neg_entropy)
    (grad_ours,) = torch.autograd.grad(ours, logits)
    (grad_theirs,) = torch.autograd.grad(theirs, logits)
    torch.testing.assert_close(grad_ours, grad_theirs)  # the constant does not change the gradient


def test_label_smoothing_padding_rows_and_no_nan():
    crit = LabelSmoothing(5, padding_idx=0, smoothing=0.0)
    x = torch.full((3, 5), -float("inf"))
    x[:, 2] = 0.0  # certain of token 2; every other log-probability is -inf
    loss = crit(x, torch.tensor([2, 0, 2]))
    assert loss.item() == 0.0 and not crit.true_dist[1].any()
    smoothed = LabelSmoothing(5, padding_idx=0, smoothing=0.1)
    assert torch.isfinite(smoothed(torch.randn(4, 5).log_softmax(-1), torch.tensor([1, 2, 3, 0])))


def test_label_smoothing_errors():
    with pytest.raises(ValueError, match="smoothing must lie in"):
        LabelSmoothing(5, 0, 1.5)
    with pytest.raises(ValueError, match=r"x: expected shape \(n, size=5\), got \(3, 4\)"):
        LabelSmoothing(5, 0)(torch.zeros(3, 4), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="x and target must have the same number of rows n, got 3 and 2"):
        LabelSmoothing(5, 0)(torch.zeros(3, 5), torch.zeros(2, dtype=torch.long))


def test_rate_peaks_at_warmup_and_drives_lambda_lr():
    assert rate(0, 512, 1.0, 4000) == rate(1, 512, 1.0, 4000)
    assert rate(4000, 512, 1.0, 4000) == pytest.approx(512**-0.5 * 4000**-0.5)
    assert rate(2000, 512, 1.0, 4000) < rate(4000, 512, 1.0, 4000) > rate(8000, 512, 1.0, 4000)
    optimizer = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: rate(step, 512, 2.0, 10))
    seen = []
    for _ in range(20):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([rate(step, 512, 2.0, 10) for step in range(20)])


def test_a_few_steps_reduce_the_loss():
    torch.manual_seed(0)
    model = make_model(11, 11, N=1, d_model=32, d_ff=64, h=4, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: rate(step, 32, 1.0, 20))
    criterion = nn.CrossEntropyLoss(reduction="sum")
    batches = data_gen(11, 32, 60, generator=torch.Generator().manual_seed(0))
    stats = list(train_steps(model, batches, criterion, optimizer, scheduler))
    assert [s.step for s in stats] == list(range(1, 61))
    assert stats[-1].loss < 0.7 * stats[0].loss
    model.eval()
    held_out = next(data_gen(11, 32, 1, generator=torch.Generator().manual_seed(1), start_symbol=BOS))
    with torch.no_grad():
        assert compute_loss(model, held_out, criterion).item() < stats[0].loss


def test_generator_output_works_as_cross_entropy_input():
    logits = torch.randn(4, 6)
    target = torch.tensor([1, 2, 3, 4])
    torch.testing.assert_close(F.cross_entropy(logits.log_softmax(-1), target), F.cross_entropy(logits, target))


def test_train_steps_counts_on_from_start_and_autocasts_the_forward_pass():
    torch.manual_seed(0)
    model = make_model(11, 11, N=1, d_model=16, d_ff=32, h=2, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    dtypes = []
    model.generator.proj.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    batches = data_gen(11, 8, 3, generator=torch.Generator().manual_seed(0))
    criterion = nn.NLLLoss(reduction="sum")
    stats = list(train_steps(model, batches, criterion, optimizer, start=5, autocast=torch.bfloat16))
    assert [s.step for s in stats] == [6, 7, 8] and all(math.isfinite(s.loss) for s in stats)
    assert dtypes == [torch.bfloat16] * 3
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast leaves the weights alone


TINY_TASK = {"steps": 4, "batch_size": 8, "d_model": 16, "d_ff": 32, "h": 2, "N": 1}


def test_a_training_state_continues_the_run_exactly():
    task = CopyTask(**TINY_TASK)
    straight = task.build_model()
    list(task.train(straight))
    resumed = task.build_model()
    state = task.start(resumed)
    assert len(list(itertools.islice(task.train(resumed, state=state), 2))) == 2 and state.step == 2
    assert [s.step for s in task.train(resumed, state=state)] == [3, 4]
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"steps": -5}, "steps: expected an integer >= 1, got -5"),
        ({"cooldown": -1.0}, "cooldown: expected a number between 0 and 1, got -1.0"),
        ({"dropout": 1.0}, "dropout: expected a number >= 0 and < 1, got 1.0"),
        ({"factor": 0.0}, "factor: expected a number > 0, got 0.0"),
        ({"seed": -1}, "seed: expected an integer >= 0, got -1"),
        ({"d_model": 30, "h": 4}, "d_model: expected a multiple of h=4, got 30"),
        ({"vocab": 2}, "vocab: expected more than the 2 special ids, got 2"),
        ({"seq_len": 2, "end_symbol": True}, r"seq_len: expected at least 3 \(room for a random token\), got 2"),
    ],
)
def test_copy_task_rejects_a_bad_recipe(setting, message):
    with pytest.raises(ValueError, match=message):
        CopyTask(**setting)


def test_nll_loss_on_log_probabilities_is_cross_entropy_on_logits():
    """The generator returns log-probabilities: NLLLoss takes them, CrossEntropyLoss takes the logits before them."""
    torch.manual_seed(0)
    model = make_model(11, 11, N=1, d_model=16, d_ff=32, h=2, dropout=0.0)
    batch = next(data_gen(11, 4, 1, end_symbol=EOS, generator=torch.Generator().manual_seed(0)))
    nll = compute_loss(model, batch, nn.NLLLoss(reduction="sum", ignore_index=PAD))
    out = model(batch.src, batch.tgt, batch.src_mask, batch.tgt_mask)
    logits = model.generator.proj(out).reshape(-1, 11)
    cross_entropy = nn.CrossEntropyLoss(reduction="sum", ignore_index=PAD)(logits, batch.tgt_y.reshape(-1))
    torch.testing.assert_close(nll, cross_entropy / batch.ntokens)
    smoothed = compute_loss(model, batch, LabelSmoothing(11, PAD, smoothing=0.0))
    torch.testing.assert_close(smoothed, nll)  # no smoothing: the KL divergence to a one-hot target is the NLL


def test_copy_task_trains_with_nll_loss(monkeypatch):
    import transformer.tasks

    criteria = []

    def spy(model, batches, criterion, *args, **kwargs):
        criteria.append(criterion)
        return train_steps(model, batches, criterion, *args, **kwargs)

    monkeypatch.setattr(transformer.tasks, "train_steps", spy)
    task = CopyTask(steps=1, batch_size=2, N=1, d_model=8, d_ff=16, h=2)
    list(task.train(task.build_model()))
    assert [type(c) for c in criteria] == [nn.NLLLoss] and criteria[0].ignore_index == PAD


@pytest.mark.parametrize("world_size", [1, 2])
def test_held_out_rows_are_none_of_the_rows_training_showed(monkeypatch, world_size):
    """Record the rows each process really trains on; the held-out rows must avoid every one of them."""
    import transformer.tasks

    shown = set()

    def recording(*args, **kwargs):
        for batch in data_gen(*args, **kwargs):
            shown.update(map(tuple, batch.src.tolist()))
            yield batch

    monkeypatch.setattr(transformer.tasks, "data_gen", recording)
    # Rows of random length over a small vocabulary: short rows repeat, as in chapter 8.
    task = CopyTask(vocab=6, seq_len=6, end_symbol=True, steps=20, batch_size=32, N=1, d_model=8, d_ff=16, h=2)
    for rank in range(world_size):
        list(task.train(task.build_model(), rank, world_size))
    monkeypatch.undo()
    assert task.training_rows(world_size) == shown
    rows = task.held_out(200, seed=1, world_size=world_size)
    assert rows.shape == (200, 6)
    assert not shown & set(map(tuple, rows.tolist()))
    drawn = next(data_gen(6, 200, 1, 6, end_symbol=EOS, generator=torch.Generator().manual_seed(1))).src
    assert shown & set(map(tuple, drawn.tolist())), "the plain draw leaks: the test would prove nothing"
    # Rows of the first draw that training never showed come first, in their order.
    unseen = [row for row in drawn.tolist() if tuple(row) not in shown]
    assert rows[: len(unseen)].tolist() == unseen


def test_held_out_errors():
    task = CopyTask(vocab=4, seq_len=4, end_symbol=True, steps=50, batch_size=8, N=1, d_model=8, d_ff=16, h=2)
    with pytest.raises(ValueError, match="n: expected an integer >= 1, got 0"):
        task.held_out(0)
    # One random symbol and rows of one or two tokens: 2 possible rows, both in 400 training rows.
    with pytest.raises(ValueError, match="training shows all 2 possible rows, none is left to hold out"):
        task.held_out(10)
