import io
import itertools
import json
import math
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors import safe_open

from transformer import CopyTask, NumberTask, load_model, load_vocabs, training
from transformer.cli import main
from transformer.lm import lm_vocab

TINY = ["--steps", "30", "--batch-size", "16", "--d-model", "16", "--d-ff", "32", "--h", "2", "--eval-size", "20"]


# One thread per process, as in-process (conftest.py): faster on a shared machine, and the same numbers.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


def run(command, tmp_path):
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, timeout=600, check=False, env=ONE_THREAD
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def losses(path):
    return [json.loads(line)["loss"] for line in path.read_text().splitlines()]


def test_train_copy_saves_logs_and_summarises(tmp_path):
    summary, stderr = run(
        [sys.executable, "-m", "transformer", "train", "--task", "copy", "--out", "run", *TINY], tmp_path
    )
    assert summary["task"] == "copy" and summary["steps"] == 30 and summary["processes"] == 1
    assert 0.0 <= summary["exact_match"] <= 1.0 and summary["seconds"] > 0 and summary["tokens_per_second"] > 0
    assert "train" in stderr  # the progress bar
    model = load_model(tmp_path / "run" / "model.safetensors")
    assert model.config.d_model == 16
    log = losses(tmp_path / "run" / "log.jsonl")
    assert len(log) == 30 and log[-1] < log[0]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch build has no torch.distributed")
def test_torchrun_two_processes_stay_in_sync_and_learn(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["-m", "transformer", "train", "--task", "copy", "--out", "ddp", "--no-progress", *TINY]
    summary, _ = run(command, tmp_path)
    assert summary["processes"] == 2 and summary["ranks_in_sync"] is True
    log = losses(tmp_path / "ddp" / "log.jsonl")
    assert len(log) == 30 and sum(log[-5:]) < sum(log[:5])
    load_model(tmp_path / "ddp" / "model.safetensors")


# In-process runs: main() as `python -m transformer` calls it, on a model small enough to train in a blink.
SMALL = ["--batch-size", "16", "--d-model", "16", "--d-ff", "32", "--h", "2", "--eval-size", "20", "--no-progress"]
ERROR = "python -m transformer train: error: "


def train(out, *options):
    main(["train", "--task", "copy", "--out", str(out), *SMALL, *options])


def files(directory):
    """Every file of a directory (temporary files too) and its bytes."""
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def an_old_run(directory):
    directory.mkdir()
    for name in ("model.safetensors", "train_state.safetensors", "log.jsonl"):
        (directory / name).write_bytes(f"the good run's {name}".encode())
    return files(directory)


def refused(capsys, argv):
    """The last line main() writes to stderr before it exits with status 2."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--steps", "-5"], "argument --steps: expected an integer >= 1, got -5"),
        (["--steps", "ten"], "argument --steps: expected an integer >= 1, got ten"),
        (["--cooldown", "-1"], "argument --cooldown: expected a number between 0 and 1, got -1"),
        (["--eval-size", "0"], "argument --eval-size: expected an integer >= 1, got 0"),
        (["--save-every", "0"], "argument --save-every: expected an integer >= 1, got 0"),
        (["--dropout", "nan"], "argument --dropout: expected a number >= 0 and < 1, got nan"),
        (["--factor", "0"], "argument --factor: expected a number > 0, got 0"),
        (["--factor", "inf"], "argument --factor: expected a number > 0, got inf"),
        (["--seed", "-1"], "argument --seed: expected an integer >= 0, got -1"),
        (["--d-model", "30", "--h", "4"], "argument --d-model: expected a multiple of h=4, got 30"),
        (["--vocab", "3", "--end-symbol"], "argument --vocab: expected more than the 3 special ids, got 3"),
        (
            ["--seq-len", "2", "--end-symbol"],
            "argument --seq-len: expected at least 3 (room for a random token), got 2",
        ),
        (
            ["--vocab", "4", "--seq-len", "3"],
            "vocab=4, seq_len=3: training shows all 4 possible rows, none is left to hold out",
        ),
        (["--precision", "fp8"], "argument --precision: invalid choice: 'fp8' (choose from fp32, bf16)"),
    ],
)
def test_a_bad_option_exits_2_and_leaves_the_old_run_alone(tmp_path, capsys, options, message):
    run = tmp_path / "run"
    before = an_old_run(run)
    argv = ["train", "--task", "copy", "--out", str(run), "--force", *options]
    assert refused(capsys, argv).replace("'fp32', 'bf16'", "fp32, bf16") == ERROR + message  # quotes: Python 3.12+
    assert files(run) == before


def test_unknown_task(tmp_path, capsys):
    argv = ["train", "--task", "reverse", "--out", str(tmp_path / "run")]
    assert refused(capsys, argv).startswith(f"{ERROR}argument --task: invalid choice: 'reverse'")
    assert not (tmp_path / "run").exists()


def test_an_existing_run_is_replaced_only_with_force(tmp_path, capsys):
    run = tmp_path / "run"
    before = an_old_run(run)
    assert refused(capsys, ["train", "--task", "copy", "--out", str(run)]) == (
        f"{ERROR}argument --out: {run} holds a run already (model.safetensors, train_state.safetensors, log.jsonl); "
        f"give --force to replace it or --resume {run} to continue it"
    )
    assert files(run) == before
    train(run, "--steps", "2", "--force")
    assert sorted(files(run)) == ["log.jsonl", "model.safetensors", "train_state.safetensors"]
    assert load_model(run / "model.safetensors").config.d_model == 16
    train(tmp_path / "empty", "--steps", "1")  # a new directory, or an empty one, is no run to protect


def test_a_run_that_fails_leaves_the_previous_run_whole(tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(run, "--steps", "2")
    before = files(run)

    def broken(*args, **kwargs):
        raise RuntimeError("evaluation failed")

    monkeypatch.setattr(CopyTask, "exact_match", broken)
    with pytest.raises(RuntimeError, match="evaluation failed"):
        train(run, "--steps", "3", "--force")
    assert files(run) == before  # no file replaced, no temporary file left


def interrupt_at(monkeypatch, step):
    """Press Ctrl-C during training step ``step`` (of this process's run)."""
    calls = itertools.count(1)
    compute_loss = training.compute_loss

    def interrupted(*args, **kwargs):
        if next(calls) == step:
            raise KeyboardInterrupt
        return compute_loss(*args, **kwargs)

    monkeypatch.setattr(training, "compute_loss", interrupted)


def test_ctrl_c_stops_with_one_line_and_leaves_the_previous_run(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    train(run, "--steps", "2")
    before = files(run)
    capsys.readouterr()
    interrupt_at(monkeypatch, 2)
    with pytest.raises(SystemExit) as exit_:
        train(run, "--steps", "4", "--force")
    assert exit_.value.code == 130
    assert capsys.readouterr().err.splitlines() == [
        f"python -m transformer train: interrupted at step 1 of 4; {run} was left as it was"
    ]
    assert files(run) == before


def test_ctrl_c_during_the_evaluation_leaves_the_previous_run(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    before = an_old_run(run)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(CopyTask, "exact_match", interrupted)
    with pytest.raises(SystemExit) as exit_:
        train(run, "--steps", "2", "--force")
    assert exit_.value.code == 130
    assert capsys.readouterr().err.splitlines() == [
        f"python -m transformer train: interrupted at step 2 of 2; {run} was left as it was"
    ]
    assert files(run) == before


def assert_same_run(a, b):
    """Two run directories hold the same weights, log, optimizer state and random number generators, bit for bit."""
    weights_a, weights_b = load_model(a / "model.safetensors"), load_model(b / "model.safetensors")
    for (name, x), y in zip(weights_a.state_dict().items(), weights_b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    assert (a / "log.jsonl").read_text() == (b / "log.jsonl").read_text()  # every step's loss and rate
    with (
        safe_open(str(a / "train_state.safetensors"), "pt") as fa,
        safe_open(str(b / "train_state.safetensors"), "pt") as fb,
    ):
        assert sorted(fa.keys()) == sorted(fb.keys())
        for name in fa.keys():  # noqa: SIM118 (safe_open has no __iter__)
            assert torch.equal(fa.get_tensor(name), fb.get_tensor(name)), name
        assert fa.metadata()["step"] == fb.metadata()["step"]


def test_a_run_cut_short_and_resumed_ends_bit_identical(tmp_path, monkeypatch, capsys):
    train(tmp_path / "straight", "--steps", "6")
    cut = tmp_path / "cut"
    with monkeypatch.context() as patch:
        interrupt_at(patch, 5)
        with pytest.raises(SystemExit):
            train(cut, "--steps", "6", "--save-every", "2")
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith(f"interrupted at step 4 of 6; {cut} holds step 4: --resume {cut} continues it")
    )
    main(["train", "--task", "copy", "--resume", str(cut), "--eval-size", "20", "--no-progress"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 6 and summary["checkpoint"] == str(cut / "model.safetensors")
    assert_same_run(tmp_path / "straight", cut)


def resume(directory, *options):
    main(["train", "--task", "copy", "--resume", str(directory), *SMALL, *options])


def test_a_finished_run_trains_further(tmp_path):
    # Without a cool-down the schedule does not depend on the number of steps: 3 steps, then 3 more, are 6 steps.
    train(tmp_path / "straight", "--steps", "6", "--cooldown", "0")
    train(tmp_path / "resumed", "--steps", "3", "--cooldown", "0")
    resume(tmp_path / "resumed", "--steps", "6")
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")


def test_resume_refuses_what_it_cannot_continue(tmp_path, capsys):
    run, other = tmp_path / "run", tmp_path / "other"
    train(run, "--steps", "2")
    train(other, "--steps", "3")
    argv = ["train", "--task", "copy", "--resume", str(run), *SMALL]
    assert refused(capsys, argv) == f"{ERROR}argument --steps: expected more than the 2 steps {run} has taken, got 2"
    assert refused(capsys, [*argv, "--steps", "4", "--d-model", "32", "--h", "2"]) == (
        f"{ERROR}argument --d-model: {run} was trained with 16, got 32 (a resumed run may change --steps only)"
    )
    assert refused(capsys, [*argv, "--steps", "4", "--out", str(other)]).startswith(
        f"{ERROR}argument --out: {other} holds a run already"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert refused(capsys, ["train", "--task", "copy", "--resume", str(empty)]) == (
        f"{ERROR}argument --resume: {empty} holds no resumable run "
        "(model.safetensors, train_state.safetensors, log.jsonl missing)"
    )
    (run / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    assert refused(capsys, [*argv, "--steps", "4"]) == (
        f"{ERROR}argument --resume: {run / 'train_state.safetensors'} was not saved with {run / 'model.safetensors'} "
        "(a save was cut short?)"
    )
    assert refused(capsys, ["train", "--task", "copy"]) == (
        f"{ERROR}the following arguments are required: --out (or --resume)"
    )


def test_batch_size_must_split_over_the_processes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert refused(capsys, ["train", "--task", "copy", "--out", str(tmp_path / "run"), "--batch-size", "15"]) == (
        f"{ERROR}argument --batch-size: expected a multiple of the 2 processes, got 15"
    )
    assert not (tmp_path / "run").exists()


def test_bf16_on_the_cpu_runs_through_the_same_code(tmp_path, capsys):
    train(tmp_path / "run", "--steps", "3", "--device", "cpu", "--precision", "bf16")
    summary = json.loads(capsys.readouterr().out)
    assert (summary["device"], summary["precision"]) == ("cpu", "bf16")
    assert all(math.isfinite(loss) for loss in losses(tmp_path / "run" / "log.jsonl"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused_before_anything_is_written(tmp_path, capsys):
    argv = ["train", "--task", "copy", "--out", str(tmp_path / "run"), "--device", "cuda"]
    assert refused(capsys, argv) == (
        f"{ERROR}argument --device: expected a device this machine has (torch.cuda.is_available() is False), got cuda"
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_training_on_cuda_saves_and_resumes(tmp_path, capsys, precision):
    train(tmp_path / "run", "--steps", "3", "--device", "cuda", "--precision", precision, "--save-every", "2")
    resume(tmp_path / "run", "--steps", "5", "--device", "cuda", "--precision", precision)
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (summary["device"], summary["steps"]) == ("cuda", 5)
    assert len(losses(tmp_path / "run" / "log.jsonl")) == 5
    assert load_model(tmp_path / "run" / "model.safetensors").config.d_model == 16


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is a POSIX signal")
def _default_ctrl_c() -> None:
    """In the child, before it runs Python: Ctrl-C as a terminal delivers it.

    A shell that starts a command in the background (``cmd &`` in a script) makes it ignore SIGINT, and its children
    inherit that; Python then installs no KeyboardInterrupt handler, and the run would never stop.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_in_a_real_process(tmp_path):
    command = [sys.executable, "-m", "transformer", "train", "--task", "copy", "--out", "run", *SMALL]
    process = subprocess.Popen(
        # Steps enough that the run is still going when the signal comes, right after its first save. Not more: the
        # command first walks the whole training stream (held_out), 16 s of a core for 100000 steps.
        [*command, "--steps", "10000", "--save-every", "1", "--device", "cpu"],
        cwd=tmp_path,
        env=ONE_THREAD,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_ctrl_c,
    )
    try:
        # Ctrl-C once the run has saved a step (on a busy machine, starting Python and torch can take minutes).
        deadline = time.monotonic() + 600
        while not (tmp_path / "run" / "train_state.safetensors").exists():
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the run saved no step within 600 s"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()  # a no-op once it has exited; never leave a run of 10000 steps behind
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.count("\n") == 1
    assert re.fullmatch(
        r"python -m transformer train: interrupted at step \d+ of 10000; run holds step \d+: .*\n", stderr
    )


# Issue 12: the number-translation task and the translate command.


def train_numbers(out, *options):
    main(["train", "--task", "numbers", "--out", str(out), *SMALL, *options])


def test_train_numbers_saves_a_checkpoint_that_translates_alone(tmp_path, capsys, monkeypatch):
    train_numbers(tmp_path / "run", "--steps", "3", "--direction", "zh-en")
    summary = json.loads(capsys.readouterr().out)
    assert (summary["task"], summary["direction"], summary["steps"]) == ("numbers", "zh-en", 3)
    assert 0.0 <= summary["exact_match"] <= 1.0
    source, target = load_vocabs(tmp_path / "run" / "model.safetensors")
    assert (source.language, target.language) == ("zh", "en")
    main(["translate", "--checkpoint", str(tmp_path / "run"), "三百零五", "十"])
    from_arguments = capsys.readouterr().out.splitlines()
    assert len(from_arguments) == 2 and all(set(target.split(line)) <= set(target.tokens) for line in from_arguments)
    monkeypatch.setattr("sys.stdin", io.StringIO("三百零五\n十\n"))
    main(["translate", "--checkpoint", str(tmp_path / "run" / "model.safetensors")])  # the file itself, or its run
    assert capsys.readouterr().out.splitlines() == from_arguments
    main(["translate", "--checkpoint", str(tmp_path / "run"), "--beam", "3", "三百零五"])
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_translate_refuses_unknown_words_and_checkpoints_without_vocabularies(tmp_path, capsys):
    train_numbers(tmp_path / "numbers", "--steps", "1")
    train(tmp_path / "copy", "--steps", "1")
    prefix = "python -m transformer translate: error: "
    line = refused(capsys, ["translate", "--checkpoint", str(tmp_path / "numbers"), "three hundred", "fourty two"])
    assert line.startswith(f"{prefix}text: 'fourty' in 'fourty two' is not in the en vocabulary (expected one of: zero")
    assert refused(capsys, ["translate", "--checkpoint", str(tmp_path / "copy"), "five"]) == (
        f"{prefix}argument --checkpoint: {tmp_path / 'copy' / 'model.safetensors'} holds no vocabularies "
        "(train it with --task numbers)"
    )
    assert refused(capsys, ["translate", "--checkpoint", str(tmp_path / "none"), "five"]) == (
        f"{prefix}argument --checkpoint: {tmp_path / 'none'}: no such checkpoint file"
    )
    assert refused(capsys, ["translate", "--checkpoint", str(tmp_path / "numbers"), "--beam", "0", "five"]).endswith(
        "argument --beam: expected an integer >= 1, got 0"
    )


def test_translate_refuses_an_empty_line_before_printing_anything(tmp_path, capsys, monkeypatch):
    train_numbers(tmp_path / "numbers", "--steps", "1")
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("three hundred and five\n\nten\n"))
    with pytest.raises(SystemExit) as exit_:
        main(["translate", "--checkpoint", str(tmp_path / "numbers")])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert out == ""
    assert err.splitlines()[-1] == (
        "python -m transformer translate: error: texts: sentence 2 is empty; expected at least one word"
    )


def test_options_of_the_other_task_are_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    assert refused(capsys, ["train", "--task", "numbers", "--out", str(out), "--seq-len", "12"]) == (
        f"{ERROR}argument --seq-len: not a setting of --task numbers"
    )
    assert refused(capsys, ["train", "--task", "copy", "--out", str(out), "--direction", "zh-en"]) == (
        f"{ERROR}argument --direction: not a setting of --task copy"
    )
    assert refused(capsys, ["train", "--task", "numbers", "--out", str(out), "--eval-size", "100001"]) == (
        f"{ERROR}n: expected an integer between 1 and 100000, got 100001"
    )
    assert not out.exists()


def test_a_numbers_run_resumed_ends_bit_identical_and_keeps_its_task(tmp_path, capsys):
    train_numbers(tmp_path / "straight", "--steps", "4", "--cooldown", "0")
    train_numbers(tmp_path / "resumed", "--steps", "2", "--cooldown", "0")
    main(["train", "--task", "numbers", "--resume", str(tmp_path / "resumed"), *SMALL, "--steps", "4"])
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")
    assert load_vocabs(tmp_path / "resumed" / "model.safetensors") == NumberTask().vocabs
    argv = ["train", "--task", "copy", "--resume", str(tmp_path / "resumed"), *SMALL, "--steps", "6"]
    assert (
        refused(capsys, argv) == f"{ERROR}argument --task: {tmp_path / 'resumed'} is a run of --task numbers, got copy"
    )


# Issue 14: the number task for a language model, and the generate command.


def train_lm(out, *options):
    main(["train", "--task", "numbers-lm", "--out", str(out), *SMALL, "--N", "1", *options])


def test_train_numbers_lm_saves_a_checkpoint_that_generates_alone(tmp_path, capsys, monkeypatch):
    train_lm(tmp_path / "run", "--steps", "3")
    summary = json.loads(capsys.readouterr().out)
    assert (summary["task"], summary["direction"], summary["objective"]) == ("numbers-lm", "en-zh", "next-token")
    assert 0.0 <= summary["exact_match"] <= 1.0
    assert load_vocabs(tmp_path / "run" / "model.safetensors") == (lm_vocab(), lm_vocab())
    main(["generate", "--checkpoint", str(tmp_path / "run"), "three hundred and five =", "ten ="])
    greedy = capsys.readouterr().out.splitlines()
    assert len(greedy) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("three hundred and five =\nten =\n"))
    main(["generate", "--checkpoint", str(tmp_path / "run" / "model.safetensors")])
    assert capsys.readouterr().out.splitlines() == greedy
    sample = ["generate", "--checkpoint", str(tmp_path / "run"), "--temperature", "2", "--top-p", "0.9", "five ="]
    main([*sample, "--max-new-tokens", "5", "--seed", "3"])
    first = capsys.readouterr().out
    main([*sample, "--max-new-tokens", "5", "--seed", "3"])
    assert capsys.readouterr().out == first  # a seed gives the same sample
    assert len(lm_vocab().split(first)) <= 5


def test_an_encoder_only_run_trains_and_generate_refuses_it(tmp_path, capsys):
    train_lm(tmp_path / "bert", "--steps", "2", "--objective", "masked", "--masked-fraction", "0.3")
    assert json.loads(capsys.readouterr().out)["objective"] == "masked"
    prefix = "python -m transformer generate: error: argument --checkpoint: "
    path = tmp_path / "bert" / "model.safetensors"
    assert refused(capsys, ["generate", "--checkpoint", str(tmp_path / "bert"), "five ="]) == (
        f"{prefix}{path} holds an encoder-only model; generate continues text with a decoder-only model, "
        "train --task numbers-lm --objective next-token"
    )


def test_generate_and_translate_refuse_each_others_checkpoints_and_bad_options(tmp_path, capsys):
    train_lm(tmp_path / "lm", "--steps", "1")
    train_numbers(tmp_path / "numbers", "--steps", "1")
    lm, numbers = tmp_path / "lm", tmp_path / "numbers"
    generate_error = "python -m transformer generate: error: "
    assert refused(capsys, ["generate", "--checkpoint", str(numbers), "five ="]) == (
        f"{generate_error}argument --checkpoint: {numbers / 'model.safetensors'} holds an encoder-decoder (use "
        "translate); generate continues text with a decoder-only model, train --task numbers-lm --objective next-token"
    )
    assert refused(capsys, ["translate", "--checkpoint", str(lm), "five"]) == (
        f"python -m transformer translate: error: argument --checkpoint: {lm / 'model.safetensors'} holds a "
        "language model: continue a prompt with generate"
    )
    assert refused(capsys, ["generate", "--checkpoint", str(lm), "fourty ="]).startswith(
        f"{generate_error}text: 'fourty' in 'fourty =' is not in the en+zh vocabulary"
    )
    long = " ".join(["five"] * 70)
    assert refused(capsys, ["generate", "--checkpoint", str(lm), long]) == (
        f"{generate_error}argument TEXT: {long!r} has 71 tokens, the model reads at most 63"
    )
    for options, message in [
        (["--temperature", "-1"], "argument --temperature: expected a number >= 0, got -1"),
        (["--top-k", "0"], "argument --top-k: expected an integer >= 1, got 0"),
        (["--top-p", "0"], "argument --top-p: expected a number > 0 and <= 1, got 0"),
        (["--max-new-tokens", "0"], "argument --max-new-tokens: expected an integer >= 1, got 0"),
        (["--seed", "-2"], "argument --seed: expected an integer >= 0, got -2"),
    ]:
        assert refused(capsys, ["generate", "--checkpoint", str(lm), *options, "five ="]) == generate_error + message
    line = refused(capsys, ["train", "--task", "numbers-lm", "--out", str(tmp_path / "x"), "--objective", "gpt"])
    assert line.replace("'next-token', 'masked'", "next-token, masked") == (  # quotes: Python 3.12+
        f"{ERROR}argument --objective: invalid choice: 'gpt' (choose from next-token, masked)"
    )
    assert refused(capsys, ["train", "--task", "numbers", "--out", str(tmp_path / "x"), "--objective", "masked"]) == (
        f"{ERROR}argument --objective: not a setting of --task numbers"
    )
    assert not (tmp_path / "x").exists()


def test_a_numbers_lm_run_resumed_ends_bit_identical(tmp_path):
    train_lm(tmp_path / "straight", "--steps", "4", "--cooldown", "0", "--objective", "masked")
    train_lm(tmp_path / "resumed", "--steps", "2", "--cooldown", "0", "--objective", "masked")
    main(["train", "--task", "numbers-lm", "--resume", str(tmp_path / "resumed"), *SMALL, "--steps", "4"])
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")
