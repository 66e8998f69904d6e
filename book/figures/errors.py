"""The bad-input table: each wrong call the package refuses, run when the site is built, with what it raises.

The table on the API page is this module's output, so it cannot drift from the package: a case that stopped
raising would stop the build.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

import transformer
from book.figures._common import localized

# (group, code): the code is shown in the table exactly as it runs. Names it may use: torch, the package's public
# names, `model` (make_model(11, 11, N=1, d_model=16, d_ff=32, h=4), in eval mode), `lm` (make_lm(11, ...) of the
# same sizes, in eval mode), `src` (token ids (2, 5)), `x` ((2, 5, 16) floats) and `tampered(**config)`, which saves
# `model` with those header fields changed.
CASES: list[tuple[str, str]] = [
    ("model", "make_model(11, 11, N=0)"),
    ("model", "make_model(11, 11, d_model=512, h=0)"),
    ("model", "make_model(11, 11, d_model=30, h=4)"),
    ("model", "make_model(11, 11, dropout=1.0)"),
    ("model", 'make_model(11, 11, d_model="512")'),
    ("model", "model.src_embed(torch.tensor([[1, 2, 11]]))"),
    ("model", "model.src_embed(torch.tensor([[1.0, 2.0]]))"),
    ("model", "model.src_embed(torch.zeros(1, 5001, dtype=torch.long))"),
    ("model", "model(src[0], src, None, None)"),
    ("model", "model(src, src[:1], None, None)"),
    ("model", "model(src, src, None, subsequent_mask(5)[0])"),
    ("model", "model(src, src, None, subsequent_mask(5).int())"),
    ("model", "model(src, src, None, subsequent_mask(4))"),
    ("attention", "MultiHeadedAttention(h=4, d_model=16)(x, x, x, torch.ones(5, 5, dtype=torch.bool))"),
    ("attention", "MultiHeadedAttention(h=4, d_model=16)(x[..., :8], x, x)"),
    ("attention", "attention(x, x[..., :8], x)"),
    ("decoding", "greedy_decode(model, src, None, max_len=6000, start_symbol=BOS)"),
    ("decoding", "greedy_decode(model, src, None, max_len=6, start_symbol=11)"),
    ("decoding", "greedy_decode(model, src, padding_mask(src[:1], PAD), max_len=6, start_symbol=BOS)"),
    ("decoding", "greedy_decode(model.train(), src, None, max_len=2, start_symbol=BOS)"),
    ("decoding", 'translate(model, *number_vocabs(), ["three", ""])'),
    ("decoding", 'translate(model, *number_vocabs(), ["fourty two"])'),
    ("training", "LabelSmoothing(size=11, padding_idx=0, smoothing=1.5)"),
    ("lm", "make_lm(11, d_model=30, h=4)"),
    ("lm", "make_encoder_lm(0)"),
    ("lm", "lm(src, None)"),
    ("lm", "lm(src, padding_mask(src, PAD))"),
    ("lm", "lm(src, subsequent_mask(5)[0])"),
    ("lm", "generate(lm, src, max_new_tokens=100)"),
    ("lm", "generate(lm, src, 5, temperature=-1)"),
    ("lm", "generate(lm, src, 5, top_k=0)"),
    ("lm", "generate(lm, src, 5, top_p=1.5)"),
    ("lm", "generate(make_encoder_lm(11, N=1, d_model=16, d_ff=32, h=4), src, 5)"),
    ("lm", "mask_tokens(src, blank=10, fraction=0)"),
    ("lm", "generate(lm.train(), src, 2, temperature=0)"),
    ("checkpoints", 'load_model("no-such-file.safetensors")'),
    ("checkpoints", "load_model(tampered(N=100000))"),
    ("checkpoints", "load_model(tampered(max_len=20_000_000))"),
    ("checkpoints", "load_model(tampered(h=0))"),
    ("checkpoints", 'load_model(tampered(d_model="16"))'),
    ("checkpoints", "load_model(tampered(d_model=32))"),
    ("checkpoints", "load_model(tampered(causal=True))"),
    ("checkpoints", "save_model(torch.nn.Linear(2, 2), 'model.safetensors')"),
]


def _namespace(folder: Path) -> dict:
    torch.manual_seed(0)
    model = transformer.make_model(11, 11, N=1, d_model=16, d_ff=32, h=4).eval()
    saved = folder / "model.safetensors"
    transformer.save_model(model, saved)

    def tampered(**changes: object) -> Path:
        with safe_open(str(saved), framework="pt") as f:
            metadata = f.metadata()
            state = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        metadata["config"] = json.dumps(json.loads(metadata["config"]) | changes)
        path = folder / "tampered.safetensors"
        save_file(state, str(path), metadata=metadata)
        return path

    names = {name: getattr(transformer, name) for name in transformer.__all__}
    src = torch.tensor([[1, 3, 4, 5, 6], [1, 7, 8, 9, 10]])
    lm = transformer.make_lm(11, N=1, d_model=16, d_ff=32, h=4).eval()
    shown = {"torch": torch, "model": model, "lm": lm, "src": src, "x": torch.randn(2, 5, 16), "tampered": tampered}
    return names | shown


def _outcome(code: str, namespace: dict, folder: Path) -> tuple[str, str]:
    """``(exception or warning class, message)`` of running ``code``; raises if it runs without complaint."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            eval(code, dict(namespace))  # the cases above, nothing else
        except Exception as e:  # the table shows whatever it is
            return type(e).__name__, str(e).replace(str(folder), "<tmp>")
    if caught:
        return type(caught[0].message).__name__, str(caught[0].message)
    raise AssertionError(f"bad-input case ran without an error or a warning: {code}")


def bad_input_table(lang: str = "en", groups: tuple[str, ...] | None = None) -> str:
    """A Markdown table of the bad-input cases (those of ``groups``, or all): the call, what it raises, the message.

    Args:
        lang: ``"en"`` or ``"zh"``, for the column titles.
        groups: Which cases: some of ``"model"``, ``"attention"``, ``"decoding"``, ``"training"``, ``"lm"``,
            ``"checkpoints"``; ``None`` for all.

    Returns:
        The table inside a ``<div class="bad-input">``, ready for a page's build-time block to print.

    Raises:
        AssertionError: If a case no longer raises or warns (the build stops).
    """
    titles = localized(lang, "| Call | Raises | Message |", "| 调用 | 抛出 | 错误信息 |")
    lines = [titles, "|---|---|---|"]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        namespace = _namespace(folder)
        for group, code in CASES:
            if groups is None or group in groups:
                kind, message = _outcome(code, namespace, folder)
                message = message.replace("`", "'").replace("|", "\\|")
                lines.append(f"| `{code}` | `{kind}` | `{message}` |")
    # The wrapper lets the site's CSS keep the exception's name on one line on a phone.
    return '<div class="bad-input" markdown>\n\n' + "\n".join(lines) + "\n\n</div>"
