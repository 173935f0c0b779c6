"""Checks before the heavy work: are the packages there, is there a GPU, will the base fit, can it load offline.
Stdlib only, so train_lora.py can say what is missing instead of failing on an import."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from cli_errors import InputError, MissingPackagesError, NoGpuError, RunFailed, UsageError

REQUIREMENTS_FILE = Path(__file__).resolve().parent / "requirements.txt"

#: Import name → the name pip installs it by (they differ for some packages; for ours they happen not to).
PIP_NAMES = {
    "torch": "torch",
    "transformers": "transformers",
    "peft": "peft",
    "accelerate": "accelerate",
    "safetensors": "safetensors",
}

FindSpec = Callable[[str], Optional[object]]


def missing_packages(modules: Sequence[str], find_spec: FindSpec = importlib.util.find_spec) -> List[str]:
    """The pip names of the modules that cannot be found, in the order given."""
    missing = []
    for module in modules:
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(PIP_NAMES.get(module, module))
    return missing


def require_packages(modules: Sequence[str], find_spec: FindSpec = importlib.util.find_spec) -> None:
    missing = missing_packages(modules, find_spec)
    if missing:
        raise MissingPackagesError(missing, REQUIREMENTS_FILE)


def import_failed(error: ImportError) -> MissingPackagesError:
    """An installed package that fails to import (a version clash, a broken wheel) is fixed the same way."""
    name = getattr(error, "name", None)
    packages = [PIP_NAMES.get(name.split(".")[0], name.split(".")[0])] if name else []
    return MissingPackagesError(packages, REQUIREMENTS_FILE, detail=str(error))


def require_cuda(cuda_available: bool, allow_cpu: bool, cpu_note: str, cuda_build: bool = True) -> str:
    """The device to use: "cuda", or "cpu" when there is no GPU and --allow-cpu was given; else NoGpuError.

    `cuda_build` is False for a CPU-only torch wheel (torch.version.cuda is None), a common cause worth naming.
    """
    if cuda_available:
        return "cuda"
    if allow_cpu:
        return "cpu"
    raise NoGpuError(
        cpu_note, None if cuda_build else "this torch build has no CUDA support; install a CUDA build of torch"
    )


def cuda_dtype(capability: Tuple[int, int], bf16_native: bool) -> str:
    """The 16-bit dtype to train and merge in on this GPU: bfloat16 only where the hardware has it (compute
    capability 8.0, Ampere, and later). T4 and V100 (7.x) emulate bfloat16 slowly, and `is_bf16_supported()` says
    yes there, so the capability decides; float16 with loss scaling instead."""
    return "bfloat16" if capability[0] >= 8 and bf16_native else "float16"


def hub_cache_dir(env: Mapping[str, str]) -> Path:
    """Where huggingface_hub keeps downloaded repositories (its HF_HUB_CACHE / HF_HOME rules)."""
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"])
    home = Path(env["HF_HOME"]) if env.get("HF_HOME") else Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return home / "hub"


def is_cached_repo(model_id: str, env: Mapping[str, str]) -> bool:
    """A hub repository with a complete snapshot (its config.json) in the local cache."""
    if "/" not in model_id or model_id.count("/") != 1:
        return False
    folder = hub_cache_dir(env) / ("models--" + model_id.replace("/", "--")) / "snapshots"
    return folder.is_dir() and any((snapshot / "config.json").is_file() for snapshot in folder.iterdir())


def offline_base(base_model: str, offline: bool, env: Mapping[str, str]) -> bool:
    """Whether to load `base_model` with no network: a local folder or a cached repository always (a Hub lookup
    would only time out offline, or fetch a second copy online), anything with --offline or HF_HUB_OFFLINE=1.
    Raises UsageError when offline is asked for and the model is neither a folder nor cached."""
    if Path(base_model).is_dir() or is_cached_repo(base_model, env):
        return True
    if offline or env.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise UsageError(
            f"--base-model {base_model} is neither a local folder nor in the Hugging Face cache "
            f"({hub_cache_dir(env)}), and this run is offline; download it once while online, or give its folder."
        )
    return False


def parameter_count(config: Mapping[str, Any]) -> int:
    """Parameters of a llama/qwen2-shaped decoder from its config.json (biases and norms left out)."""
    hidden = int(config["hidden_size"])
    layers = int(config["num_hidden_layers"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    head_dim = int(config.get("head_dim") or hidden // heads)
    intermediate = int(config["intermediate_size"])
    vocab = int(config["vocab_size"])
    attention = 2 * hidden * heads * head_dim + 2 * hidden * kv_heads * head_dim
    per_layer = attention + 3 * hidden * intermediate
    embeddings = vocab * hidden * (1 if config.get("tie_word_embeddings") else 2)
    return layers * per_layer + embeddings


def require_memory(config: Mapping[str, Any], bytes_per_parameter: int, available: int, where: str, base: str) -> None:
    """Refuses a base whose weights alone do not fit (a 70B model on a 24 GB GPU), before minutes of loading end
    in an out-of-memory error. Training needs more than the weights, so this catches only the hopeless cases."""
    try:
        needed = parameter_count(config) * bytes_per_parameter
    except (KeyError, TypeError, ValueError):
        return  # not a config we can size; loading will tell
    if needed > available:
        raise RunFailed(
            f"--base-model {base} needs about {needed / 2**30:.1f} GiB for its weights alone, but the {where} has "
            f"{available / 2**30:.1f} GiB; pick a smaller base (autoTrain.baseModel, e.g. a 7B or smaller "
            "model), or train on a machine with more memory."
        )


#: A Hugging Face tokenizer is loaded from one of these; `save_pretrained` of a tokenizer writes them.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


def require_tokenizer(base_model: str) -> None:
    """A base that is a local folder must hold its tokenizer: without one, transformers 5 builds an empty tokenizer
    of the model's class (one token), and training or merging fails later for a reason that names something else.
    Raises InputError (exit 3) naming the folder. A Hub id or cached repository is left to the Hub's own files."""
    folder = Path(base_model)
    if folder.is_dir() and not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise InputError(
            folder,
            f"the base model folder has no tokenizer (none of {', '.join(TOKENIZER_FILES)}); copy the tokenizer "
            "files of the model it was saved from into it (tokenizer.save_pretrained writes them).",
        )
