"""Saving and loading a model: its configuration and weights in one safetensors file.

safetensors stores raw tensors and a string-to-string header, nothing executable, so loading a file never
runs code from it (``torch.load`` of a pickle can). The configuration travels in that header as JSON.

A checkpoint may also carry the source and target vocabularies (``Vocab``), in the same header, so that the file
alone can translate.

The header names the kind of model: ``encoder-decoder`` (``make_model``; a file without the field is one) or
``language-model`` (``make_lm`` and ``make_encoder_lm``, ``transformer.lm``), whose single vocabulary is stored as
both its source and its target.

A file is untrusted input: ``load_model`` checks the configuration's types and ranges, and every stored
tensor's name and shape against it, before it builds anything, so a bad header cannot make it allocate
gigabytes or fail deep inside the model with a ``ZeroDivisionError``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import Tensor, nn

from transformer.lm import LanguageModel, LMConfig, make_encoder_lm, make_lm
from transformer.model import EncoderDecoder, ModelConfig, make_model
from transformer.vocab import Vocab

FORMAT = "transformer-book"
FORMAT_VERSION = "1"
# The positional table is computed, not stored, so no tensor in the file bounds max_len: this does. A table
# of MAX_LEN positions of d_model=512 floats takes 200 MB.
MAX_LEN = 100_000
# The kinds of model a file can hold: the header's "kind", the class, its configuration, where its layers are.
KINDS = {
    "encoder-decoder": (EncoderDecoder, ModelConfig, "encoder.layers."),
    "language-model": (LanguageModel, LMConfig, "layers.layers."),
}


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside ``DistributedDataParallel``, ``DataParallel`` (``.module``) or ``torch.compile``."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def _tied_names(model: nn.Module) -> dict[str, str]:
    """``{alias: name}`` for every parameter reachable under a second name (weight tying)."""
    first: dict[int, str] = {}
    aliases = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        if id(parameter) in first:
            aliases[name] = first[id(parameter)]
        else:
            first[id(parameter)] = name
    return aliases


def _kind(model: nn.Module) -> str | None:
    """The header's name of ``model``'s kind, or ``None`` for a model this package does not save."""
    return next((kind for kind, (cls, _, _) in KINDS.items() if isinstance(model, cls)), None)


def _build(config: ModelConfig | LMConfig) -> EncoderDecoder | LanguageModel:
    """The model of ``config``, freshly initialised."""
    if isinstance(config, LMConfig):
        build = make_lm if config.causal else make_encoder_lm
        return build(**{k: v for k, v in dataclasses.asdict(config).items() if k != "causal"})
    return make_model(**dataclasses.asdict(config))


def save_model(model: nn.Module, path: str | Path, *, vocabs: tuple[Vocab, Vocab] | None = None) -> None:
    """Write ``model``'s configuration and weights to ``path`` (a ``.safetensors`` file).

    The file is written to a temporary name beside ``path`` and renamed, so an interrupted save leaves the old
    file whole; it gets the permissions of a new file under the user's umask. The same model gives the same
    bytes. A tied matrix (``tie_weights``) is stored once.

    Args:
        model: A model built by ``make_model``, ``make_lm`` or ``make_encoder_lm`` (its ``config`` is saved with
            it), or that model wrapped in ``DistributedDataParallel``, ``DataParallel`` or ``torch.compile``.
        path: Where to write.
        vocabs: ``(source, target)`` vocabularies to store in the header (``load_vocabs`` reads them back); their
            sizes must be the model's ``src_vocab`` and ``tgt_vocab`` (a language model's ``vocab``, both).

    Raises:
        TypeError: If ``model`` is not an ``EncoderDecoder`` or a ``LanguageModel`` (after unwrapping).
        ValueError: If ``model`` has no ``config``, or a vocabulary's size is not the model's.
    """
    model = unwrap(model)
    kind = _kind(model)
    if kind is None:
        raise TypeError(
            "model: expected an EncoderDecoder built by make_model or a LanguageModel built by make_lm or "
            f"make_encoder_lm, got {type(model).__name__}"
        )
    if model.config is None:
        raise ValueError("model: has no config; build it with make_model so that load_model can rebuild it")
    aliases = _tied_names(model)
    state = {
        name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items() if name not in aliases
    }
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.dumps(dataclasses.asdict(model.config), sort_keys=True),
        "kind": kind,
    }
    if vocabs is not None:
        _check_vocab_sizes("vocabs", vocabs, model.config)
        source, target = vocabs
        metadata["vocab"] = json.dumps({"src": source.to_json(), "tgt": target.to_json()}, ensure_ascii=False)
    data = save(state, metadata=metadata)
    # safetensors writes its metadata in hash order, which changes from run to run; sorted, the same model
    # always gives the same bytes.
    data = _sort_header(data)
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as f:
            f.write(data)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sort_header(data: bytes) -> bytes:
    """The same safetensors file with its JSON header written in sorted order (the same length: the offsets hold)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return data[:8] + text.ljust(size) + data[8 + size :]


def _read(path: Path) -> tuple[dict[str, str], dict[str, Tensor]]:
    """The header metadata and the tensors of a safetensors file, or ``ValueError`` naming the file."""
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
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{path}: not a readable {FORMAT} checkpoint ({e})") from e
    return metadata, state


def _config(path: Path, metadata: dict[str, str]) -> ModelConfig | LMConfig:
    """The stored configuration, checked field by field, of the kind the header names."""
    kind = metadata.get("kind", "encoder-decoder")  # files saved before language models have no kind
    if kind not in KINDS:
        raise ValueError(f"{path}: kind: expected one of {sorted(KINDS)}, got {kind!r}")
    config_class = KINDS[kind][1]
    try:
        fields = json.loads(metadata["config"])
    except (KeyError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: the header has no readable config ({e!r})") from e
    if not isinstance(fields, dict):
        raise ValueError(f"{path}: config: expected a JSON object, got {fields!r}")
    known = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"{path}: config: unknown field {unknown[0]!r} (expected some of {sorted(known)})")
    try:
        config = config_class(**fields)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: config: {e}") from e
    if config.max_len > MAX_LEN:
        raise ValueError(f"{path}: config: max_len: expected at most {MAX_LEN}, got {config.max_len}")
    return config


def _check_tensors(path: Path, state: dict[str, Tensor], expected: dict[str, torch.Size]) -> None:
    """Every expected tensor present, of its shape, finite; nothing else."""
    for name, shape in expected.items():
        if name not in state:
            raise ValueError(f"{path}: tensor {name!r} is missing: the weights do not fit the stored config")
        if state[name].shape != shape:
            raise ValueError(
                f"{path}: tensor {name!r} has shape {tuple(state[name].shape)}, the config needs {tuple(shape)}"
            )
        if state[name].is_floating_point() and not torch.isfinite(state[name]).all():
            raise ValueError(f"{path}: tensor {name!r} holds non-finite values (nan or inf)")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise ValueError(f"{path}: tensor {extra[0]!r} is not part of a model with the stored config")


def _check_vocab_sizes(name: str, vocabs: tuple[Vocab, Vocab], config: ModelConfig | LMConfig) -> None:
    sizes = (config.vocab, config.vocab) if isinstance(config, LMConfig) else (config.src_vocab, config.tgt_vocab)
    for side, vocab, size in (("source", vocabs[0], sizes[0]), ("target", vocabs[1], sizes[1])):
        if len(vocab) != size:
            raise ValueError(f"{name}: the {side} vocabulary has {len(vocab)} tokens, the model's config {size}")


def load_vocabs(path: str | Path) -> tuple[Vocab, Vocab] | None:
    """The ``(source, target)`` vocabularies that ``save_model`` stored with a model, checked against its config.

    Args:
        path: A file written by ``save_model``.

    Returns:
        The two vocabularies, or ``None`` if the checkpoint has none (it was saved without ``vocabs``).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If ``path`` is not a checkpoint of this package, or its vocabularies are unreadable, invalid,
            or of another size than the model's config.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    metadata, _ = _read(path)
    config = _config(path, metadata)
    if "vocab" not in metadata:
        return None
    try:
        stored = json.loads(metadata["vocab"])
        if not isinstance(stored, dict) or sorted(stored) != ["src", "tgt"]:
            raise ValueError(f"expected {{'src': ..., 'tgt': ...}}, got {stored!r:.200}")
        vocabs = (Vocab.from_json(stored["src"]), Vocab.from_json(stored["tgt"]))
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"{path}: vocab: {e}") from e
    _check_vocab_sizes(f"{path}: vocab", vocabs, config)
    return vocabs


def load_model(path: str | Path) -> EncoderDecoder | LanguageModel:
    """Rebuild the model saved at ``path`` by ``save_model``, bit for bit, on the CPU, in ``eval()`` mode.

    Nothing is built until the header's configuration and every tensor's name, shape and values have been
    checked.

    Args:
        path: A file written by ``save_model``.

    Returns:
        The model: an ``EncoderDecoder``, or a ``LanguageModel`` when the header's kind is ``language-model``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If ``path`` is not a checkpoint of this package (another format, a pickle, a truncated or
            corrupted file, an unknown kind), its configuration has a field of the wrong type or out of range (the
            message names the field), or a tensor is missing, extra, of the wrong shape or not finite (it names the
            tensor).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    metadata, state = _read(path)
    config = _config(path, metadata)
    # Count the layers in the file first: a header that claims N=100000 must not make us build 100000 of them.
    prefix = KINDS[metadata.get("kind", "encoder-decoder")][2]
    layers = {name[len(prefix) :].split(".")[0] for name in state if name.startswith(prefix)}
    if len(layers) != config.N:
        raise ValueError(f"{path}: config: N={config.N}, but the file holds weights for N={len(layers)}")
    with torch.device("meta"):  # shapes only: no memory, no time
        blueprint = _build(config)
    aliases = _tied_names(blueprint)
    expected = {name: t.shape for name, t in blueprint.state_dict().items() if name not in aliases}
    _check_tensors(path, state, expected)
    model = _build(config)
    state |= {alias: state[name] for alias, name in _tied_names(model).items()}
    model.load_state_dict(state)
    return model.eval()
