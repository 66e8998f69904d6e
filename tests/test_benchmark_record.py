"""The benchmark record (`benchmarks/results.json`): a comparison re-run alone keeps the others and their dates, and
the performance page's tables say when each number was measured."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from book.figures.descendants import LM_BENCHMARK, LM_MEASURES, lm_benchmark_table
from book.figures.overview import benchmark_table

ROOT = Path(__file__).resolve().parent.parent


def load_run():
    spec = importlib.util.spec_from_file_location("benchmarks_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_comparison_run_alone_keeps_the_others_and_their_dates():
    run = load_run()
    older = {"date": "2026-12-01", "results": {"a": 1.0, "b": 2.0}, "chinese": {"a": "甲", "b": "乙"}}
    record = run.merged(older, {"b": 3.0}, "2026-12-07")
    assert record["results"] == {"a": 1.0, "b": 3.0}
    assert record["measured"] == {"a": "2026-12-01", "b": "2026-12-07"}
    again = run.merged(record, {"c": 4.0}, "2026-12-08")
    assert again["measured"] == {"a": "2026-12-01", "b": "2026-12-07", "c": "2026-12-08"}
    assert again["chinese"]["a"] == "甲"


def test_the_table_dates_each_row(tmp_path):
    record = {
        "date": "2026-12-07",
        "machine": "2 cores, x86_64, Linux",
        "torch": "2.13.0+cpu",
        "threads": 2,
        "results": {"a": 1.0, "b": 3.0},
        "measured": {"a": "2026-12-01", "b": "2026-12-07"},
        "chinese": {"a": "甲", "b": "乙"},
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    english = benchmark_table("en", path).splitlines()
    assert english[0].startswith("Machine: 2 cores, x86_64, Linux, torch 2.13.0+cpu, 2 threads.")
    assert english[-2:] == ["| a | 1.0 | 2026-12-01 |", "| b | 3.0 | 2026-12-07 |"]
    chinese = benchmark_table("zh", path).splitlines()
    assert chinese[0].startswith("测量环境：2 核，x86_64，Linux，torch 2.13.0+cpu，2 个线程。")
    assert chinese[-1] == "| 乙 | 3.0 | 2026-12-07 |"


def test_the_lm_table_gives_the_date_of_its_own_rows(tmp_path):
    lm = {f"lm en-zh, {model}: {measure}": 1 for model in LM_BENCHMARK for measure in LM_MEASURES}
    record = {
        "date": "2026-12-07",
        "machine": "2 cores, x86_64, Linux",
        "torch": "2.13.0+cpu",
        "threads": 2,
        "results": lm | {"decode": 2.0},
        "measured": dict.fromkeys(lm, "2026-12-01") | {"decode": "2026-12-07"},
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    assert lm_benchmark_table("en", path).startswith("Measured on 2026-12-01: 2 cores")
    assert lm_benchmark_table("zh", path).startswith("测量于 2026-12-01：2 核，x86_64")
