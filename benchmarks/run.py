"""Benchmarks: every number is a RATIO against a reference timed in the same process, interleaved.

    .venv/bin/python benchmarks/run.py [attention|train-step|decode|copy|seeds|numbers|lm|generate|book|all] \\
        [--repeats N] [--save FILE]

Prints a table per comparison and, last, one JSON line with every ratio. The machine is shared and noisy, so
each measurement alternates candidate and reference, repeats, and reports the median of each; ratios are what
carry from one run to the next, not seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from book.numerics import pin

# The pages quote some of these runs (chapter 8's seeds, the number task): the book's arithmetic, set before torch.
pin()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from book.figures.training import CHAPTER_TASK  # noqa: E402
from transformer import (  # noqa: E402
    BOS,
    EOS,
    MultiHeadedAttention,
    NumberTask,
    attention,
    beam_search,
    generate,
    greedy_decode,
    load_model,
    make_lm,
    make_model,
    padding_mask,
    target_mask,
)


def interleaved(candidate: Callable[[], object], reference: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of ``candidate`` and of ``reference``, run alternately after one warm-up call each."""
    candidate(), reference()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, out in ((candidate, times[0]), (reference, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


# The Chinese name of every result, stored with the record for the Chinese performance page.
CHINESE: dict[str, str] = {}


def row(name: str, chinese: str, candidate: float, reference: float, goal: str) -> dict:
    CHINESE[name] = chinese
    ratio = candidate / reference
    print(f"  {name:<44} {candidate * 1e3:9.2f} ms {reference * 1e3:9.2f} ms {ratio:7.3f}x   goal {goal}")
    return {name: round(ratio, 3)}


def header(title: str, candidate: str, reference: str) -> None:
    print(f"\n{title}\n  {'':<44} {candidate:>12} {reference:>12} {'ratio':>8}")


def bench_attention(repeats: int) -> dict:
    """Forward + backward of attention at (batch 8, heads 8, len 512, d_k 64)."""
    batch, h, length, d_k = 8, 8, 512, 64
    d_model = h * d_k
    header("Attention, forward + backward, (batch 8, h 8, len 512, d_k 64)", "ours", "reference")
    q, k, v = (torch.randn(batch, h, length, d_k, requires_grad=True) for _ in range(3))

    def core(fn: Callable) -> Callable[[], None]:
        return lambda: fn(q, k, v).sum().backward()

    results = {}
    c, r = interleaved(core(lambda q, k, v: attention(q, k, v)[0]), core(F.scaled_dot_product_attention), repeats)
    results |= row(
        "attention() (teaching) vs SDPA", "attention()（教学版）比 SDPA", c, r, "none: it is the readable version"
    )

    torch.manual_seed(0)
    mha = MultiHeadedAttention(h, d_model, dropout=0.0)
    x = torch.randn(batch, length, d_model, requires_grad=True)

    def sdpa_directly() -> None:
        # The same projections as mha, then SDPA called directly: the floor for any multi-head module.
        split = lambda t: t.view(batch, length, h, d_k).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(mha.q_proj(x)), split(mha.k_proj(x)), split(mha.v_proj(x)))
        mha.out_proj(out.transpose(1, 2).reshape(batch, length, d_model)).sum().backward()

    c, r = interleaved(lambda: mha(x, x, x).sum().backward(), sdpa_directly, repeats)
    results |= row("MultiHeadedAttention vs projections + SDPA", "MultiHeadedAttention 比 投影 + SDPA", c, r, "<= 1.05")
    torch_mha = nn.MultiheadAttention(d_model, h, dropout=0.0, batch_first=True)
    c, r = interleaved(
        lambda: mha(x, x, x).sum().backward(),
        lambda: torch_mha(x, x, x, need_weights=False)[0].sum().backward(),
        repeats,
    )
    results |= row(
        "MultiHeadedAttention vs nn.MultiheadAttention",
        "MultiHeadedAttention 比 nn.MultiheadAttention",
        c,
        r,
        "<= 1.05",
    )
    return results


class TorchReference(nn.Module):
    """nn.Transformer with the same embeddings and generator as ours: the reference training step.

    Its fused encoder fast path applies only in inference, so both sides run the same kind of kernels here.
    """

    def __init__(self, ours: nn.Module) -> None:
        super().__init__()
        cfg = ours.config
        self.src_embed, self.tgt_embed, self.generator = ours.src_embed, ours.tgt_embed, ours.generator
        self.transformer = nn.Transformer(
            cfg.d_model, cfg.h, cfg.N, cfg.N, cfg.d_ff, cfg.dropout, batch_first=True, norm_first=cfg.norm_first
        )

    def forward(
        self, src: torch.Tensor, tgt: torch.Tensor, src_pad: torch.Tensor, tgt_pad: torch.Tensor
    ) -> torch.Tensor:
        causal = nn.Transformer.generate_square_subsequent_mask(tgt.size(1), dtype=torch.bool)
        return self.transformer(
            self.src_embed(src),
            self.tgt_embed(tgt),
            tgt_mask=causal,
            src_key_padding_mask=src_pad,
            tgt_key_padding_mask=tgt_pad,
            memory_key_padding_mask=src_pad,
            tgt_is_causal=True,
        )


def _adam_step(model: nn.Module, forward: Callable[[], torch.Tensor], tgt_y: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    criterion = nn.CrossEntropyLoss(ignore_index=0)

    def run() -> None:
        log_probs = model.generator(forward())
        criterion(log_probs.reshape(-1, log_probs.size(-1)), tgt_y.reshape(-1)).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return run


def _train_step_case(batch: int, length: int, repeats: int, vocab: int = 1000) -> dict:
    torch.manual_seed(0)
    ours = make_model(vocab, vocab, N=2)
    reference = TorchReference(make_model(vocab, vocab, N=2))
    src = torch.randint(3, vocab, (batch, length))
    tgt = torch.randint(3, vocab, (batch, length + 1))
    src[0, -3:] = 0  # some padding, so that the masks matter
    tgt_in, tgt_y = tgt[:, :-1], tgt[:, 1:]
    src_mask, tgt_mask = padding_mask(src, 0), target_mask(tgt_in, 0)
    c, r = interleaved(
        _adam_step(ours, lambda: ours(src, tgt_in, src_mask, tgt_mask), tgt_y),
        _adam_step(reference, lambda: reference(src, tgt_in, src == 0, tgt_in == 0), tgt_y),
        repeats,
    )
    return row(
        f"train step, batch {batch} x len {length}",
        f"训练一步，batch {batch} × 长度 {length}（比 nn.Transformer）",
        c,
        r,
        "<= 1.00",
    )


def bench_train_step(repeats: int) -> dict:
    """One Adam step of make_model vs nn.Transformer (d_model 512, 8 heads, 2+2 layers, d_ff 2048)."""
    header("Training step (d_model 512, h 8, 2+2 layers, d_ff 2048)", "make_model", "nn.Transformer")
    return _train_step_case(80, 10, repeats) | _train_step_case(8, 256, repeats)


def bench_decode(repeats: int) -> dict:
    """Greedy decoding with cached keys/values vs recomputing the prefix, for 32/128/512/1024 new tokens."""
    header("Greedy decoding, batch 8, src_len 32 (make_model N=2, d_model 256)", "full recompute", "cached")
    torch.manual_seed(0)
    model = make_model(1000, 1000, N=2, d_model=256, d_ff=1024, h=8, max_len=1025).eval()
    src = torch.randint(3, 1000, (8, 32))
    mask = padding_mask(src, 0)
    results = {}
    for new_tokens in (32, 128, 512, 1024):
        cached = lambda n=new_tokens: greedy_decode(model, src, mask, n + 1, BOS)  # noqa: E731
        full = lambda n=new_tokens: greedy_decode(model, src, mask, n + 1, BOS, use_cache=False)  # noqa: E731
        assert torch.equal(cached(), full()), "cached decoding must give the same tokens"
        c, r = interleaved(cached, full, max(1, repeats // (1 + new_tokens // 64)))
        results |= row(
            f"{new_tokens} new tokens: speed-up (full / cached)",
            f"生成 {new_tokens} 个新词元：加速比（重算 / 缓存）",
            r,
            c,
            ">= 5 at 128",
        )
    return results


def bench_copy(repeats: int) -> dict:
    """The CLI's copy task from scratch: wall time to its held-out exact match on 1000 fresh rows."""
    print("\nCopy task, `python -m transformer train --task copy` (defaults), 1000 held-out rows")
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "transformer", "train", "--task", "copy", "--out", out, "--no-progress"]
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"  training {summary['seconds']} s, whole command {wall:.1f} s, {summary['tokens_per_second']} tokens/s,")
    print(f"  exact match {summary['exact_match']:.3f}   goal 1.000 within 30 s")
    CHINESE.update(
        {
            "copy: training seconds": "复制任务：训练秒数",
            "copy: command seconds": "复制任务：整条命令秒数",
            "copy: exact match": "复制任务：完全匹配率",
            "copy: tokens per second": "复制任务：每秒词元数",
        }
    )
    return {
        "copy: training seconds": summary["seconds"],
        "copy: command seconds": round(wall, 1),
        "copy: exact match": summary["exact_match"],
        "copy: tokens per second": summary["tokens_per_second"],
    }


def bench_seeds(repeats: int) -> dict:
    """Chapter 8's copy model trained with seeds 0-9 (one thread), without and with the cool-down: exact match."""
    print("\nChapter 8's copy run, seeds 0-9, one thread: exact match on the 1000 rows never seen in training")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the page's outputs are made with one thread; more threads change the runs
    results = {}
    try:
        for cooldown, label, chinese in ((0.0, "no cool-down", "不冷却"), (0.3, "cool-down 0.3", "冷却 0.3")):
            scores = []
            for seed in range(10):
                task = dataclasses.replace(CHAPTER_TASK, seed=seed, cooldown=cooldown)
                model = task.build_model()
                for _ in task.train(model):
                    pass
                scores.append(task.exact_match(model.eval(), n=1000))
            print(f"  {label}: " + ", ".join(f"seed {seed} {score:.3f}" for seed, score in enumerate(scores)))
            prefix, zh_prefix = f"chapter 8 seeds 0-9, {label}", f"第 8 章种子 0-9，{chinese}"
            names = {
                f"{prefix}: lowest exact match": (f"{zh_prefix}：最低完全匹配率", min(scores)),
                f"{prefix}: seed 3": (f"{zh_prefix}：种子 3", scores[3]),
                f"{prefix}: seeds at 100 %": (f"{zh_prefix}：全对的种子数", scores.count(1.0)),
            }
            for name, (zh, value) in names.items():
                CHINESE[name] = zh
                results[name] = value
    finally:
        torch.set_num_threads(threads)
    return results


def bench_numbers(repeats: int) -> dict:
    """The number task from scratch with the CLI's recipe, each direction: time, exact match, beam 4 vs greedy.

    The recipe is the CLI's default (``NumberTask``'s). Every 100 steps the clock stops while the model translates
    2000 validation numbers: the first time at which 99 % of them are right is the time to 99 %.
    """
    results = {}
    for direction in ("en-zh", "zh-en"):
        print(f"\nNumbers {direction}, `python -m transformer train --task numbers` (defaults), 2000 test numbers")
        task = NumberTask(direction)
        model = task.build_model()
        seconds, tokens, time_to_99 = 0.0, 0, None
        steps = task.train(model)
        while True:
            start = time.perf_counter()
            stats = next(steps, None)
            if stats is None:
                break
            seconds += time.perf_counter() - start
            tokens += stats.ntokens
            if time_to_99 is None and stats.step % 100 == 0:
                model.eval()
                if task.exact_match(model, 2000, split="validation") >= 0.99:
                    time_to_99 = round(seconds, 1)
                model.train()
        model.eval()
        summary = {
            "seconds": round(seconds, 1),
            "exact_match": task.exact_match(model, 2000),
            "tokens_per_second": round(tokens / seconds),
        }
        numbers = task.held_out(2000)
        batch = task.batch(numbers)
        max_len = 2 * batch.src.size(1) + 8  # as translate() decodes
        arguments = (model, batch.src, batch.src_mask, max_len, BOS, EOS)
        greedy = functools.partial(greedy_decode, *arguments)
        beam = functools.partial(beam_search, *arguments, beam_size=4)
        beam_seconds, greedy_seconds = interleaved(beam, greedy, max(1, repeats // 5))
        beam_match = task.exact_match(model, 2000, beam_size=4)
        print(
            f"  training {summary['seconds']} s, 99 % of validation numbers after {time_to_99} s,"
            f" {summary['tokens_per_second']} tokens/s,"
        )
        print(
            f"  exact match {summary['exact_match']:.4f} greedy, {beam_match:.4f} beam 4   goal >= 0.995 within 180 s"
        )
        results |= {
            f"numbers {direction}: training seconds": summary["seconds"],
            f"numbers {direction}: seconds to 99 %": time_to_99,
            f"numbers {direction}: exact match": summary["exact_match"],
            f"numbers {direction}: exact match, beam 4": beam_match,
            f"numbers {direction}: tokens per second": summary["tokens_per_second"],
        }
        CHINESE.update(
            {
                f"numbers {direction}: training seconds": f"数字翻译 {direction}：训练秒数",
                f"numbers {direction}: seconds to 99 %": f"数字翻译 {direction}：达到 99% 的训练秒数",
                f"numbers {direction}: exact match": f"数字翻译 {direction}：完全匹配率",
                f"numbers {direction}: exact match, beam 4": f"数字翻译 {direction}：完全匹配率（束宽 4）",
                f"numbers {direction}: tokens per second": f"数字翻译 {direction}：每秒词元数",
            }
        )
        results |= row(
            f"numbers {direction}: beam 4 / greedy time, 2000",
            f"数字翻译 {direction}：束宽 4 / 贪心 用时，2000 个数",
            beam_seconds,
            greedy_seconds,
            "<= 3",
        )
    return results


def _train_with_cli(task: list[str]) -> tuple[dict, int]:
    """Run ``python -m transformer train`` with ``task``'s options; return its summary and the model's parameters."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "transformer", "train", *task, "--out", out, "--no-progress"]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        model = load_model(Path(out) / "model.safetensors")
    return json.loads(result.stdout.strip().splitlines()[-1]), sum(p.numel() for p in model.parameters())


def bench_lm(repeats: int) -> dict:
    """Decoder-only vs encoder-decoder on the number task en-zh, each with the CLI's default recipe, in one run."""
    print("\nDecoder-only (train --task numbers-lm) vs encoder-decoder (--task numbers), en-zh, 2000 test numbers")
    results = {}
    for name, chinese, task in (
        ("decoder-only", "仅解码器", ["--task", "numbers-lm"]),
        ("encoder-decoder", "编码器-解码器", ["--task", "numbers", "--direction", "en-zh"]),
    ):
        summary, parameters = _train_with_cli(task)
        print(
            f"  {name:<16} {parameters:>8} parameters, training {summary['seconds']} s, "
            f"exact match {summary['exact_match']:.4f}   goal (decoder-only) >= 0.99 within 180 s"
        )
        names = {
            f"lm en-zh, {name}: parameters": (f"语言模型 en-zh，{chinese}：参数量", parameters),
            f"lm en-zh, {name}: training seconds": (f"语言模型 en-zh，{chinese}：训练秒数", summary["seconds"]),
            f"lm en-zh, {name}: exact match": (f"语言模型 en-zh，{chinese}：完全匹配率", summary["exact_match"]),
        }
        for key, (zh, value) in names.items():
            CHINESE[key] = zh
            results[key] = value
    return results


def bench_generate(repeats: int) -> dict:
    """A decoder-only model's generate with the key/value cache vs recomputing every step, 256 new tokens."""
    header("generate, batch 8, prompt 32, 256 new tokens (make_lm N=2, d_model 256)", "full recompute", "cached")
    torch.manual_seed(0)
    model = make_lm(1000, N=2, d_model=256, d_ff=1024, h=8, max_len=288).eval()
    prompt = torch.randint(4, 1000, (8, 32))
    cached = lambda: generate(model, prompt, 256, temperature=0)  # noqa: E731
    full = lambda: generate(model, prompt, 256, temperature=0, use_cache=False)  # noqa: E731
    assert torch.equal(cached(), full()), "cached generation must give the same tokens"
    c, r = interleaved(cached, full, max(1, repeats // 5))
    name = "generate 256 new tokens: speed-up (full / cached)"
    return row(name, "生成 256 个新词元：加速比（重算 / 缓存）", r, c, ">= 5")


def bench_book(repeats: int) -> dict:
    """Wall time of the strict site build, of the test suite (what `make test` runs after set-up), of its notebooks.

    The test suite runs with the caches as they are (warm after a first run); the notebooks run with an empty cache
    of runs, so every one of them is executed.
    """
    print("\nThe book: `mkdocs build --strict`, `pytest` (all `make test` runs after set-up and lint), the notebooks")
    root = Path(__file__).resolve().parent.parent
    bin_dir = Path(sys.executable).parent
    results = {}
    with tempfile.TemporaryDirectory() as site, tempfile.TemporaryDirectory() as no_runs:
        for name, chinese, command, extra in (
            (
                "book: mkdocs build seconds",
                "本书：mkdocs 构建秒数",
                [bin_dir / "mkdocs", "build", "--strict", "--quiet", "-d", site],
                {},
            ),
            (
                "book: pytest seconds",
                "本书：pytest 秒数",
                [bin_dir / "pytest", "-q", "-p", "no:randomly", "-n", "auto", "--dist", "loadfile"],  # as make test
                {},
            ),
            (
                # Every chapter's notebook, in both languages, each in a fresh kernel, none reused from the cache.
                "book: notebooks seconds",
                "本书：notebook 运行秒数",
                [bin_dir / "pytest", "-q", "-p", "no:randomly", "tests/test_notebooks.py", "-k", "run_and_print"],
                {"BOOK_NOTEBOOK_RUNS": no_runs},
            ),
        ):
            CHINESE[name] = chinese
            start = time.perf_counter()
            env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **extra}
            subprocess.run(command, cwd=root, check=True, capture_output=True, env=env)
            results[name] = round(time.perf_counter() - start, 1)
            print(f"  {name:<44} {results[name]:9.1f} s")
    return results


BENCHES = {
    "attention": bench_attention,
    "train-step": bench_train_step,
    "decode": bench_decode,
    "copy": bench_copy,
    "seeds": bench_seeds,
    "numbers": bench_numbers,
    "lm": bench_lm,
    "generate": bench_generate,
    "book": bench_book,
}


def merged(earlier: dict, results: dict, today: str) -> dict:
    """The record ``--save`` writes: ``earlier``'s results with this run's ``results`` merged in, so that one
    comparison can be re-run without losing the others. Each result keeps the date it was measured on
    (``"measured"``); a record older than that field dates all its results with its own date."""
    measured = dict.fromkeys(earlier["results"], earlier.get("date")) | earlier.get("measured", {})
    return {
        "date": today,
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.system()}",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "results": earlier["results"] | results,
        "measured": measured | dict.fromkeys(results, today),
        "chinese": earlier.get("chinese", {}) | CHINESE,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", default="all", choices=[*BENCHES, "all"])
    parser.add_argument("--repeats", type=int, default=10, help="timed runs of each side (default 10)")
    parser.add_argument("--save", type=Path, help="also merge the results, with the machine, into this JSON file")
    args = parser.parse_args()
    # nn.Transformer warns that pre-LN disables its inference-only nested-tensor path: irrelevant to training.
    warnings.filterwarnings("ignore", message="enable_nested_tensor is True")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    results = {}
    for name, bench in BENCHES.items():
        if args.which in (name, "all"):
            results |= bench(args.repeats)
    print(json.dumps(results))
    if args.save:
        earlier = json.loads(args.save.read_text()) if args.save.is_file() else {"results": {}, "chinese": {}}
        record = merged(earlier, results, time.strftime("%Y-%m-%d"))
        args.save.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
