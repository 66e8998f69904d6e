"""Saving and loading a model: its configuration and weights in one safetensors file.

safetensors stores raw tensors and a string-to-string header, nothing executable, so loading a file never
runs code from it (``torch.load`` of a pickle can). The configuration travels in that header as JSON.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from transformer.model import EncoderDecoder, ModelConfig, make_model

FORMAT = "transformer-book"
FORMAT_VERSION = "1"


def save_model(model: EncoderDecoder, path: str | Path) -> None:
    """Write ``model``'s configuration and weights to ``path`` (a ``.safetensors`` file).

    Args:
        model: A model built by ``make_model`` (its ``config`` is saved with it).
        path: Where to write.

    Raises:
        ValueError: If ``model`` has no ``config``.
    """
    if model.config is None:
        raise ValueError("model: has no config; build it with make_model so that load_model can rebuild it")
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.dumps(dataclasses.asdict(model.config)),
    }
    save_file(state, str(path), metadata=metadata)


def load_model(path: str | Path) -> EncoderDecoder:
    """Rebuild the model saved at ``path`` by ``save_model``, bit for bit, on the CPU, in ``eval()`` mode.

    Args:
        path: A file written by ``save_model``.

    Returns:
        The model.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If ``path`` is not a checkpoint of this package (another format, a pickle, a truncated or
            corrupted file, or weights that do not fit the stored configuration).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise ValueError(f"{path}: not a {FORMAT} checkpoint (its header has no format={FORMAT!r})")
            if metadata.get("format_version") != FORMAT_VERSION:
                raise ValueError(
                    f"{path}: checkpoint format version {metadata.get('format_version')!r}, "
                    f"this package reads {FORMAT_VERSION!r}"
                )
            state = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        config = ModelConfig(**json.loads(metadata["config"]))
    except (SafetensorError, OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a readable {FORMAT} checkpoint ({e})") from e
    model = make_model(**dataclasses.asdict(config))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{path}: weights do not fit the stored configuration ({e})") from e
    return model.eval()
