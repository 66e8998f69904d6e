"""Command line: ``python -m transformer train --task copy|numbers|numbers-lm --out DIR``, ``translate``, ``generate``.

Runs alone or under ``torchrun --nproc_per_node=N`` (DistributedDataParallel; gloo on the CPU, nccl with CUDA,
one GPU per process): every process trains on its own rows, gradients are averaged, and process 0 alone writes
the run directory and the summary.

A run directory holds ``model.safetensors`` (the weights, ``save_model``), ``log.jsonl`` (one line per step)
and ``train_state.safetensors`` (the optimizer, the schedule, the step, the random number generators and the
data stream's position: tensors plus a JSON header, no pickle), so that ``--resume DIR`` continues the run bit
for bit. Every option is checked before anything is written, an existing run is replaced only with
``--force``, and each file is written to a temporary name and renamed: an interrupted or failed run leaves
the previous one whole.

``translate`` reads a checkpoint of the number task (its vocabularies are in the file) and translates the
sentences given on the command line, or each line of standard input. ``generate`` continues a prompt with a
decoder-only model trained by ``train --task numbers-lm`` (``"three hundred and five ="`` gives ``三百零五``),
greedily or by sampling (``--temperature``, ``--top-k``, ``--top-p``, ``--seed``).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from transformer.checkpoints import load_model, load_vocabs, save_model
from transformer.data import EOS
from transformer.lm import OBJECTIVES, LanguageModel, NumberLMTask, generate
from transformer.model import EncoderDecoder
from transformer.numbers import DIRECTIONS, NumberTask, encode_sentences, translate
from transformer.tasks import CopyTask, TrainingState

MODEL = "model.safetensors"
LOG = "log.jsonl"
STATE = "train_state.safetensors"
STATE_FORMAT = "transformer-book-train-state"
STATE_FORMAT_VERSION = "1"
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}  # the dtype autocast computes in


def _integer(low: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text}")
        return value

    return parse


def _number(fits: Callable[[float], bool], expected: str) -> Callable[[str], float]:
    """An argparse ``type``: a finite float for which ``fits`` holds."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not fits(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return parse


TASKS = {"copy": CopyTask, "numbers": NumberTask, "numbers-lm": NumberLMTask}
EVAL_SIZES = {
    "copy": 1000,
    "numbers": 2000,
    "numbers-lm": 2000,
}  # held-out rows (numbers) the summary's exact match is measured on
# The range of each setting of the recipe, as the tasks check it; an integer not listed here must be >= 1.
RECIPE_TYPES = {
    "seed": _integer(0),
    "factor": _number(lambda x: x > 0, "a number > 0"),
    "cooldown": _number(lambda x: 0 <= x <= 1, "a number between 0 and 1"),
    "dropout": _number(lambda x: 0 <= x < 1, "a number >= 0 and < 1"),
    "masked_fraction": _number(lambda x: 0 < x <= 1, "a number > 0 and <= 1"),
}
CHOICES = {"direction": DIRECTIONS, "objective": OBJECTIVES}
# Every setting of every task's recipe, in the order of the tasks' fields.
RECIPE = list(dict.fromkeys(field.name for kind in TASKS.values() for field in dataclasses.fields(kind)))
# The help of each setting is the line that documents it in its task's docstring (none under python -OO).
RECIPE_HELP = {
    name: text[0].lower() + text[1:].rstrip(".").replace("``", "")
    for kind in reversed(TASKS.values())
    for name, text in re.findall(r"^ {8}(\w+): (.+)$", (kind.__doc__ or "").partition("Attributes:")[2], re.M)
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parsers() -> tuple[argparse.ArgumentParser, ...]:
    """The parser of ``python -m transformer`` and those of its ``train``, ``translate`` and ``generate`` commands."""
    parser = argparse.ArgumentParser(prog="python -m transformer", description="The transformer package's commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model on a toy task, save it and evaluate it")
    train.add_argument(
        "--task",
        choices=list(TASKS),
        required=True,
        help="copy digits, translate numbers (English <-> Chinese), or the number task for a language model",
    )
    run = train.add_argument_group("the run")
    run.add_argument("--out", type=Path, metavar="DIR", help=f"run directory ({MODEL}, {LOG}, {STATE})")
    run.add_argument("--force", action="store_true", help="replace the run already in --out")
    run.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the run in DIR (into DIR, or into --out); only --steps may change, to train further",
    )
    run.add_argument(
        "--save-every", type=_integer(1), metavar="K", help="also save every K steps (default: at the end only)"
    )
    run.add_argument(
        "--eval-size",
        type=_integer(1),
        metavar="N",
        help="held-out rows or numbers (default: 1000 for copy, 2000 for numbers)",
    )
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: cuda if there is a GPU")
    run.add_argument("--precision", choices=list(PRECISIONS), default="fp32", help="bf16: autocast the forward pass")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    recipe = train.add_argument_group(
        "the recipe (CopyTask, NumberTask or NumberLMTask; with --resume, the saved run's)"
    )
    for name in RECIPE:
        defaults = {task: getattr(kind(), name) for task, kind in TASKS.items() if hasattr(kind(), name)}
        default = next(iter(defaults.values()))
        if name in CHOICES:
            kind = {"choices": CHOICES[name]}
        elif isinstance(default, bool):
            kind = {"action": argparse.BooleanOptionalAction}
        else:
            kind = {"type": RECIPE_TYPES.get(name, _integer(1))}
        if len(defaults) == 1 or len(set(defaults.values())) == 1:
            tasks = "" if len(defaults) > 1 else f"{next(iter(defaults))} only; "
            shown = f"{tasks}default: {default}"
        else:
            shown = "default: " + ", ".join(f"{value} for {task}" for task, value in defaults.items())
        # SUPPRESS: an option left out is absent from the namespace, so --resume can tell it from one given.
        recipe.add_argument(
            _flag(name), **kind, default=argparse.SUPPRESS, help=f"{RECIPE_HELP.get(name, name)} ({shown})"
        )
    translate_command = commands.add_parser(
        "translate",
        help="translate numbers with a model trained by train --task numbers",
        description="Translate each TEXT, or each line of standard input when no TEXT is given, one per line.",
    )
    translate_command.add_argument("text", nargs="*", metavar="TEXT", help='a sentence, e.g. "three hundred and five"')
    translate_command.add_argument(
        "--checkpoint", type=Path, required=True, metavar="DIR", help=f"a run directory (or its {MODEL})"
    )
    translate_command.add_argument(
        "--beam", type=_integer(1), default=1, metavar="N", help="beam search with N hypotheses (default: 1, greedy)"
    )
    generate_command = commands.add_parser(
        "generate",
        help="continue a prompt with a model trained by train --task numbers-lm",
        description="Continue each TEXT, or each line of standard input when no TEXT is given; print the continuation.",
    )
    generate_command.add_argument("text", nargs="*", metavar="TEXT", help='a prompt, e.g. "three hundred and five ="')
    generate_command.add_argument(
        "--checkpoint", type=Path, required=True, metavar="DIR", help=f"a run directory (or its {MODEL})"
    )
    generate_command.add_argument(
        "--max-new-tokens",
        type=_integer(1),
        metavar="N",
        help="longest continuation (default: to the end of the model)",
    )
    generate_command.add_argument(
        "--temperature",
        type=_number(lambda x: x >= 0, "a number >= 0"),
        default=0.0,
        help="0 (the default) is greedy; above 0 samples, sharper below 1, flatter above",
    )
    generate_command.add_argument("--top-k", type=_integer(1), metavar="K", help="sample among the K likeliest tokens")
    generate_command.add_argument(
        "--top-p",
        type=_number(lambda x: 0 < x <= 1, "a number > 0 and <= 1"),
        metavar="P",
        help="sample among the fewest likeliest tokens whose probability reaches P",
    )
    generate_command.add_argument("--seed", type=_integer(0), default=0, help="seed of the samples (default: 0)")
    return parser, train, translate_command, generate_command


@dataclass
class SavedRun:
    """A run directory read back for ``--resume``: the weights and ``train_state.safetensors``, checked."""

    model: EncoderDecoder | LanguageModel
    kind: str  # a key of TASKS
    task: dict
    step: int
    world_size: int
    optimizer: dict
    scheduler: dict
    rng: dict[str, list[Tensor]]  # {"data" | "torch" | "cuda": one state per process}
    log: list[str]


@dataclass
class Plan:
    """Everything a run needs, checked before anything is touched."""

    task: CopyTask | NumberTask | NumberLMTask
    out: Path
    device: torch.device
    precision: str
    save_every: int | None
    eval_size: int
    progress: bool
    world_size: int
    resume: SavedRun | None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _holds_run(directory: Path) -> list[str]:
    return [name for name in (MODEL, STATE, LOG) if (directory / name).exists()]


def _read_run(directory: Path) -> SavedRun:
    """Read and check a run directory.

    Raises:
        ValueError: If a file is missing, unreadable, not of this package, or from another step than the others.
    """
    missing = [name for name in (MODEL, STATE, LOG) if not (directory / name).is_file()]
    if missing:
        raise ValueError(f"{directory} holds no resumable run ({', '.join(missing)} missing)")
    path = directory / STATE
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            header = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{path}: not a readable training state ({e})") from e
    if (header.get("format"), header.get("format_version")) != (STATE_FORMAT, STATE_FORMAT_VERSION):
        raise ValueError(f"{path}: not a {STATE_FORMAT} file of version {STATE_FORMAT_VERSION}")
    if header.get("model_sha256") != _sha256(directory / MODEL):
        raise ValueError(f"{path} was not saved with {directory / MODEL} (a save was cut short?)")
    try:
        step, world_size = int(header["step"]), int(header["world_size"])
        task, optimizer, scheduler = (json.loads(header[key]) for key in ("task", "optimizer", "scheduler"))
        # Optimizer tensors are stored as "optimizer.<parameter index>.<name>", the rest of its state in the header.
        for name, tensor in tensors.items():
            kind, index, key = name.split(".", 2)
            if kind == "optimizer":
                optimizer["state"].setdefault(index, {})[key] = tensor
        optimizer["state"] = {int(index): values for index, values in optimizer["state"].items()}
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"{path}: the header is not a training state of this package ({e!r})") from e
    task_kind = header.get("task_kind", "copy")  # train states saved before the number task were all copy runs
    fields = sorted(field.name for field in dataclasses.fields(TASKS[task_kind])) if task_kind in TASKS else None
    if not isinstance(task, dict) or sorted(task) != fields:
        raise ValueError(f"{path}: the header's task is not a {task_kind} task of this package: {task!r}")
    log = (directory / LOG).read_text(encoding="utf-8").splitlines(keepends=True)
    if len(log) != step:
        raise ValueError(f"{directory / LOG} has {len(log)} lines, the training state is at step {step}")
    rng: dict[str, list[Tensor]] = {}
    for kind in ("data", "torch", "cuda"):
        states = [tensors[f"rng.{kind}.{rank}"] for rank in range(world_size) if f"rng.{kind}.{rank}" in tensors]
        if states:
            rng[kind] = states
    return SavedRun(load_model(directory / MODEL), task_kind, task, step, world_size, optimizer, scheduler, rng, log)


def _device(choice: str, local_rank: int) -> torch.device:
    """The device of this process; ``ValueError`` if the machine has none such."""
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("expected a device this machine has (torch.cuda.is_available() is False), got cuda")
    if local_rank >= torch.cuda.device_count():
        raise ValueError(f"process {local_rank} needs GPU {local_rank}, got {torch.cuda.device_count()} GPUs")
    return torch.device("cuda", local_rank)


def _plan(command: argparse.ArgumentParser, args: argparse.Namespace) -> Plan:
    """Check every option against the others, the machine and the run directories; exit 2 on the first error."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    recipe = {name: getattr(args, name) for name in RECIPE if hasattr(args, name)}
    resume = None
    if args.resume is not None:
        try:
            resume = _read_run(args.resume)
        except (ValueError, FileNotFoundError) as e:
            command.error(f"argument --resume: {e}")
        for name, value in recipe.items():
            if name != "steps" and value != resume.task[name]:
                command.error(
                    f"argument {_flag(name)}: {args.resume} was trained with {resume.task[name]}, got {value} "
                    "(a resumed run may change --steps only)"
                )
        if resume.kind != args.task:
            command.error(f"argument --task: {args.resume} is a run of --task {resume.kind}, got {args.task}")
        if resume.world_size != world_size:
            command.error(
                f"argument --resume: {args.resume} was trained by {resume.world_size} processes; resume it with as "
                f"many, got {world_size}"
            )
        recipe = resume.task | recipe
    kind = TASKS[args.task]
    names = {field.name for field in dataclasses.fields(kind)}
    for name in recipe:
        if name not in names:
            command.error(f"argument {_flag(name)}: not a setting of --task {args.task}")
    try:
        task = kind(**recipe)
    except ValueError as e:
        name, _, message = str(e).partition(": ")
        command.error(f"argument {_flag(name)}: {message}")
    if resume is not None and task.steps <= resume.step:
        command.error(
            f"argument --steps: expected more than the {resume.step} steps {args.resume} has taken, got {task.steps}"
        )
    if task.batch_size % world_size:
        command.error(
            f"argument --batch-size: expected a multiple of the {world_size} processes, got {task.batch_size}"
        )
    eval_size = args.eval_size if args.eval_size is not None else EVAL_SIZES[args.task]
    try:  # the evaluation's rows, drawn now so that a recipe with none to hold out fails before it trains
        task.held_out(eval_size, world_size=world_size)
    except ValueError as e:
        command.error(str(e))
    out = args.out if args.out is not None else args.resume
    if out is None:
        command.error("the following arguments are required: --out (or --resume)")
    if out.exists() and not out.is_dir():
        command.error(f"argument --out: expected a directory, got the file {out}")
    continues_in_place = args.resume is not None and out.resolve() == args.resume.resolve()
    if _holds_run(out) and not (args.force or continues_in_place):
        command.error(
            f"argument --out: {out} holds a run already ({', '.join(_holds_run(out))}); give --force to replace "
            f"it or --resume {out} to continue it"
        )
    try:
        device = _device(args.device, int(os.environ.get("LOCAL_RANK", "0")))
    except ValueError as e:
        command.error(f"argument --device: {e}")
    return Plan(task, out, device, args.precision, args.save_every, eval_size, not args.no_progress, world_size, resume)


def _init_distributed(device: torch.device) -> int:
    """Join the process group when started by torchrun (nccl on GPUs, gloo on CPUs); return this process's rank."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return 0
    if device.type == "cuda":
        torch.cuda.set_device(device)  # before nccl starts: each process owns the GPU of its LOCAL_RANK
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank()


def _ranks_in_sync(model: torch.nn.Module) -> bool:
    """Whether every process holds the same weights (DDP keeps them equal by averaging every gradient)."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    low, high = flat.clone(), flat.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return torch.equal(low, high)


def _gather(tensor: Tensor, plan: Plan) -> list[Tensor]:
    """``tensor`` from every process, in rank order (on the device: nccl moves GPU tensors only)."""
    if plan.world_size == 1:
        return [tensor]
    parts = [torch.empty_like(tensor, device=plan.device) for _ in range(plan.world_size)]
    dist.all_gather(parts, tensor.to(plan.device))
    return [part.cpu() for part in parts]


def _resume(plan: Plan, state: TrainingState, rank: int) -> None:
    """Put the saved optimizer, schedule, step and random number generators of ``plan.resume`` into ``state``."""
    saved = plan.resume
    state.optimizer.load_state_dict(saved.optimizer)
    state.scheduler.load_state_dict(saved.scheduler)
    # The rate of the next step, from this run's schedule: with more --steps, the cool-down has moved.
    for group, base, rate in zip(
        state.optimizer.param_groups, state.scheduler.base_lrs, state.scheduler.lr_lambdas, strict=True
    ):
        group["lr"] = base * rate(state.scheduler.last_epoch)
    state.generator.set_state(saved.rng["data"][rank])
    torch.set_rng_state(saved.rng["torch"][rank])
    if plan.device.type == "cuda" and "cuda" in saved.rng:
        torch.cuda.set_rng_state(saved.rng["cuda"][rank], plan.device)
    state.step = saved.step


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it: ``path`` is never half written."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _save(plan: Plan, model: EncoderDecoder | LanguageModel, state: TrainingState, log: list[str], rank: int) -> None:
    """Save the run (every process takes part: process 0 gathers the others' random number generators)."""
    rng = {"data": _gather(state.generator.get_state(), plan), "torch": _gather(torch.get_rng_state(), plan)}
    if plan.device.type == "cuda":
        rng["cuda"] = _gather(torch.cuda.get_rng_state(plan.device), plan)
    if rank != 0:
        return
    plan.out.mkdir(parents=True, exist_ok=True)
    # The state goes last and names the model file it belongs to: a save cut short is caught by --resume.
    # A number-task checkpoint carries its vocabularies, so that translate and generate need nothing else.
    save_model(model, plan.out / MODEL, vocabs=getattr(plan.task, "vocabs", None))
    _write(plan.out / LOG, "".join(log).encode())
    optimizer = state.optimizer.state_dict()
    tensors = {f"rng.{kind}.{r}": states[r] for kind, states in rng.items() for r in range(len(states))}
    header_state: dict = {}
    for index, values in optimizer["state"].items():
        for key, value in values.items():
            if isinstance(value, Tensor):
                tensors[f"optimizer.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                header_state.setdefault(str(index), {})[key] = value
    header = {
        "format": STATE_FORMAT,
        "format_version": STATE_FORMAT_VERSION,
        "step": str(state.step),
        "world_size": str(plan.world_size),
        "task_kind": _kind(plan.task),
        "task": json.dumps(dataclasses.asdict(plan.task)),
        "optimizer": json.dumps({"state": header_state, "param_groups": optimizer["param_groups"]}),
        "scheduler": json.dumps(state.scheduler.state_dict()),
        "model_sha256": _sha256(plan.out / MODEL),
    }
    _write(plan.out / STATE, save(tensors, metadata=header))


def _kind(task: CopyTask | NumberTask | NumberLMTask) -> str:
    """The ``--task`` name of ``task``."""
    return next(name for name, kind in TASKS.items() if isinstance(task, kind))


class InterruptedRunError(Exception):
    """Ctrl-C during a run, with where it stopped and what it left on disk."""


def train(plan: Plan) -> dict:
    """Train, evaluate and save as ``plan`` says; return the summary (process 0) or ``{}`` (other processes).

    Raises:
        InterruptedRunError: On Ctrl-C, with a one-line account of what the run directory holds.
    """
    task = plan.task
    rank = _init_distributed(plan.device)
    model = plan.resume.model if plan.resume is not None else task.build_model()  # same seed: same weights
    model = model.to(plan.device)
    trained = model
    if plan.world_size > 1:
        trained = DistributedDataParallel(model, device_ids=[plan.device.index] if plan.device.type == "cuda" else None)
    state = task.start(trained, rank)
    log = []
    if plan.resume is not None:
        _resume(plan, state, rank)
        log = plan.resume.log
    saved_step = None
    start, tokens = time.perf_counter(), 0
    steps = task.train(trained, rank, plan.world_size, state=state, autocast=PRECISIONS[plan.precision])
    progress = {"total": task.steps, "initial": state.step, "disable": rank != 0 or not plan.progress}
    try:
        with tqdm(desc="train", unit="step", **progress) as bar:
            for stats in steps:
                bar.update()
                tokens += stats.ntokens * plan.world_size
                log.append(json.dumps(dataclasses.asdict(stats)) + "\n")
                if plan.save_every is not None and stats.step % plan.save_every == 0:
                    _save(plan, model, state, log, rank)
                    saved_step = stats.step
        seconds = time.perf_counter() - start
        in_sync = _ranks_in_sync(model) if plan.world_size > 1 else True
        exact_match = task.exact_match(model, n=plan.eval_size, world_size=plan.world_size) if rank == 0 else None
        if saved_step != state.step:
            _save(plan, model, state, log, rank)
    except KeyboardInterrupt:
        kept = "was left as it was"
        if saved_step is not None:
            kept = f"holds step {saved_step}: --resume {plan.out} continues it"
        raise InterruptedRunError(f"interrupted at step {state.step} of {task.steps}; {plan.out} {kept}") from None
    if plan.world_size > 1:
        dist.barrier()
        dist.destroy_process_group()
    if rank != 0:
        return {}
    return {
        "task": _kind(task),
        **({"direction": task.direction} if isinstance(task, (NumberTask, NumberLMTask)) else {}),
        **({"objective": task.objective} if isinstance(task, NumberLMTask) else {}),
        "steps": task.steps,
        "seconds": round(seconds, 2),
        "tokens_per_second": round(tokens / seconds),
        "processes": plan.world_size,
        "ranks_in_sync": in_sync,
        "device": plan.device.type,
        "precision": plan.precision,
        "exact_match": exact_match,
        "checkpoint": str(plan.out / MODEL),
    }


def run_translate(command: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Translate ``args.text`` (or the lines of standard input) with ``args.checkpoint``; print one line each.

    Every sentence is checked before any is translated (``encode_sentences``): a word outside the vocabulary, an
    empty line or a sentence too long for the model exits with status 2 and a message that names it.
    """
    path, model, vocabs = _checkpoint(command, args.checkpoint)
    if not isinstance(model, EncoderDecoder):
        command.error(f"argument --checkpoint: {path} holds a language model: continue a prompt with generate")
    if vocabs is None:
        command.error(f"argument --checkpoint: {path} holds no vocabularies (train it with --task numbers)")
    texts = args.text if args.text else [line.strip() for line in sys.stdin]
    try:
        encode_sentences(model, vocabs[0], texts)
    except ValueError as e:
        command.error(str(e))
    for start in range(0, len(texts), 512):  # a batch at a time: standard input may hold many lines
        for line in translate(model, *vocabs, texts[start : start + 512], beam_size=args.beam):
            print(line, flush=True)


def _checkpoint(
    command: argparse.ArgumentParser, directory: Path
) -> tuple[Path, EncoderDecoder | LanguageModel, tuple | None]:
    """The checkpoint file of ``directory`` (a run directory or the file), its model and its vocabularies."""
    path = directory / MODEL if directory.is_dir() else directory
    try:
        vocabs = load_vocabs(path)
        model = load_model(path)
    except (ValueError, FileNotFoundError) as e:
        command.error(f"argument --checkpoint: {e}")
    return path, model, vocabs


def run_generate(command: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Continue ``args.text`` (or the lines of standard input) with ``args.checkpoint``; print each continuation.

    Every prompt is checked against the vocabulary and the model's length before any is continued: a word outside
    the vocabulary, or a prompt that leaves no room, exits with status 2.
    """
    path, model, vocabs = _checkpoint(command, args.checkpoint)
    if not isinstance(model, LanguageModel) or not model.config.causal:
        what = "an encoder-decoder (use translate)" if isinstance(model, EncoderDecoder) else "an encoder-only model"
        command.error(
            f"argument --checkpoint: {path} holds {what}; generate continues text with a decoder-only model, "
            "train --task numbers-lm --objective next-token"
        )
    if vocabs is None:
        command.error(f"argument --checkpoint: {path} holds no vocabulary (train it with --task numbers-lm)")
    vocab = vocabs[0]
    texts = args.text if args.text else [line.strip() for line in sys.stdin]
    prompts = []
    for text in texts:
        try:
            prompt = vocab.encode(text)[:-1]  # without the end symbol: the model goes on from here
        except ValueError as e:
            command.error(str(e))
        room = model.config.max_len - len(prompt)
        if room < 1:
            command.error(
                f"argument TEXT: {text!r} has {len(prompt)} tokens, the model reads at most {model.config.max_len - 1}"
            )
        prompts.append((prompt, room if args.max_new_tokens is None else min(args.max_new_tokens, room)))
    for prompt, new in prompts:
        # Each prompt alone (prompts differ in length), from the seed: a line's continuation does not depend on
        # the lines before it.
        generator = torch.Generator().manual_seed(args.seed)
        out = generate(
            model,
            prompt.unsqueeze(0),
            new,
            args.temperature,
            args.top_k,
            args.top_p,
            EOS,
            generator=generator,
        )
        print(vocab.decode(out[0, len(prompt) :]), flush=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m transformer``: parse and check ``argv``, then run the command.

    Exits with status 2 and argparse's one-line message on a bad option (before anything is written), and with
    status 130 and a one-line message on Ctrl-C.
    """
    parser, train_parser, translate_parser, generate_parser = _parsers()
    args = parser.parse_args(argv)
    if args.command == "translate":
        run_translate(translate_parser, args)
        return
    if args.command == "generate":
        run_generate(generate_parser, args)
        return
    plan = _plan(train_parser, args)
    try:
        summary = train(plan)
    except InterruptedRunError as e:
        print(f"{train_parser.prog}: {e}", file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    except KeyboardInterrupt:  # before the first step
        print(f"{train_parser.prog}: interrupted; {plan.out} was left as it was", file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    if summary:
        print(json.dumps(summary), file=sys.stdout, flush=True)
