import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from transformer import BOS, CopyTask, LabelSmoothing, compute_loss, data_gen, make_model, rate, train_steps


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
