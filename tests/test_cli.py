import json
import subprocess
import sys

import pytest
import torch

from transformer import load_model

TINY = ["--steps", "30", "--batch-size", "16", "--d-model", "16", "--d-ff", "32", "--h", "2", "--eval-size", "20"]


def run(command, tmp_path):
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600, check=False)
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


def test_unknown_task(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "transformer", "train", "--task", "reverse", "--out", "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2 and "invalid choice: 'reverse'" in result.stderr


@pytest.mark.skipif(not torch.distributed.is_available(), reason="this torch build has no torch.distributed")
def test_torchrun_two_processes_stay_in_sync_and_learn(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["-m", "transformer", "train", "--task", "copy", "--out", "ddp", "--no-progress", *TINY]
    summary, _ = run(command, tmp_path)
    assert summary["processes"] == 2 and summary["ranks_in_sync"] is True
    log = losses(tmp_path / "ddp" / "log.jsonl")
    assert len(log) == 30 and sum(log[-5:]) < sum(log[:5])
    load_model(tmp_path / "ddp" / "model.safetensors")
