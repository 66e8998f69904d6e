"""Command line: ``python -m transformer train --task copy --out DIR``.

Runs alone or under ``torchrun --nproc_per_node=N`` (DistributedDataParallel; gloo on the CPU, nccl with CUDA):
every process trains on its own rows, gradients are averaged, and process 0 alone writes the checkpoint, the
log and the summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from transformer.checkpoints import save_model
from transformer.tasks import CopyTask


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m transformer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model on a toy task, save it and evaluate it")
    train.add_argument("--task", choices=["copy"], required=True, help="the toy task")
    train.add_argument("--out", type=Path, required=True, help="directory for model.safetensors and log.jsonl")
    train.add_argument("--eval-size", type=int, default=1000, help="held-out rows to decode after training")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    defaults = CopyTask()
    for field in dataclasses.fields(CopyTask):
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        if isinstance(default, bool):
            train.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            train.add_argument(flag, type=type(default), default=default, help=f"default: {default}")
    return parser


def _init_distributed() -> tuple[int, int]:
    """Join the process group when started by torchrun; return ``(rank, world_size)``."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world_size


def _ranks_in_sync(model: torch.nn.Module) -> bool:
    """Whether every process holds the same weights (DDP keeps them equal by averaging every gradient)."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    low, high = flat.clone(), flat.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return torch.equal(low, high)


def train(args: argparse.Namespace) -> dict:
    """Train, save and evaluate as ``args`` say; return the summary (process 0) or ``{}`` (other processes)."""
    rank, world_size = _init_distributed()
    task = CopyTask(**{f.name: getattr(args, f.name) for f in dataclasses.fields(CopyTask)})
    if task.batch_size % world_size:
        raise SystemExit(f"--batch-size {task.batch_size} must be divisible by the {world_size} processes")
    model = task.build_model()  # the same seed on every rank: identical initial weights
    trained = DistributedDataParallel(model) if world_size > 1 else model
    if rank == 0:
        args.out.mkdir(parents=True, exist_ok=True)
    log = (args.out / "log.jsonl").open("w") if rank == 0 else None
    start = time.perf_counter()
    tokens = 0
    steps = task.train(trained, rank, world_size)
    for stats in tqdm(steps, total=task.steps, desc="train", disable=rank != 0 or args.no_progress, unit="step"):
        tokens += stats.ntokens * world_size
        if log is not None:
            log.write(json.dumps(dataclasses.asdict(stats)) + "\n")
    seconds = time.perf_counter() - start
    in_sync = _ranks_in_sync(model) if world_size > 1 else True
    summary: dict = {}
    if rank == 0:
        log.close()
        save_model(model, args.out / "model.safetensors")
        summary = {
            "task": args.task,
            "steps": task.steps,
            "seconds": round(seconds, 2),
            "tokens_per_second": round(tokens / seconds),
            "processes": world_size,
            "ranks_in_sync": in_sync,
            "exact_match": task.exact_match(model, n=args.eval_size),
            "checkpoint": str(args.out / "model.safetensors"),
        }
    if world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return summary


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m transformer``."""
    args = _parser().parse_args(argv)
    summary = train(args)
    if summary:
        print(json.dumps(summary), file=sys.stdout, flush=True)
