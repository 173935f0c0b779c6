#!/usr/bin/env python3
"""Merges a LoRA adapter into its base model and saves the result as a safetensors model folder (weights, config,
tokenizer), which `ollama create --quantize q4_K_M` imports directly.

    python merge_lora.py --base-model Qwen/Qwen2.5-Coder-7B-Instruct --adapter .agent/lora/coder \\
        --output .agent/merged/coder [--dtype bfloat16|float16|float32] [--allow-cpu]

Exit codes as train_lora.py: 0 ok, 1 failed, 2 bad arguments, 3 adapter folder missing or not a PEFT LoRA adapter,
4 missing packages, 5 no CUDA GPU (pass --allow-cpu). The adapter is checked before torch is imported.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import traceback
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from adapter_format import ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE
from cli_errors import AdapterError, CliError, RunFailed, is_out_of_memory, out_of_memory, report
from preflight import import_failed, require_cuda, require_packages, require_tokenizer

REQUIRED_MODULES = ("torch", "transformers", "peft", "accelerate", "safetensors")
#: float32 keeps the merge exact (for an f32 GGUF, or a CPU without fast 16-bit arithmetic).
DTYPES = ("bfloat16", "float16", "float32")
DEFAULT_DTYPE = "bfloat16"
#: Weight files of an earlier merge that the new one does not overwrite (a different shard count) are removed.
MERGED_WEIGHTS = ("model*.safetensors", "model.safetensors.index.json", "pytorch_model*.bin")
CPU_NOTE = "Merging on the CPU needs the whole model in RAM (about 2 bytes per parameter) and is slower"


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="merge_lora.py",
        description="Merge a PEFT LoRA adapter into its base model and save a safetensors model folder.",
        epilog="Exit codes: 0 ok, 1 failed, 2 bad arguments, 3 adapter problem, 4 missing packages, "
        "5 no CUDA GPU (pass --allow-cpu).",
        allow_abbrev=False,
    )
    parser.add_argument("--base-model", required=True, type=_non_empty, help="Hugging Face id or local folder")
    parser.add_argument("--adapter", required=True, type=_non_empty, help="the folder train_lora.py wrote")
    parser.add_argument("--output", required=True, type=_non_empty, help="the merged model folder to write")
    parser.add_argument("--allow-cpu", action="store_true", help="merge on the CPU when there is no CUDA GPU")
    parser.add_argument(
        "--dtype", choices=DTYPES, default=DEFAULT_DTYPE, help="weights of the merged model (default bfloat16)"
    )
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses and checks the arguments; exits with code 2 and argparse's usage message when they are wrong."""
    parser = build_parser()
    args = parser.parse_args(argv)
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        parser.error(f"argument --output: {args.output} is a file; it must be a folder (it will be created)")
    if output.resolve() == Path(args.adapter).resolve():
        parser.error("argument --output: it is the adapter folder; write the merged model to another folder")
    return args


def check_adapter(adapter: Path | str) -> Dict[str, Any]:
    """The adapter's adapter_config.json; raises AdapterError (exit 3) when the folder is not a PEFT LoRA adapter."""
    folder = Path(adapter)
    if not folder.exists():
        raise AdapterError(folder, "the adapter folder does not exist; train the adapter first.")
    if not folder.is_dir():
        raise AdapterError(folder, "this is a file; --adapter takes the folder train_lora.py wrote.")
    config_file = folder / ADAPTER_CONFIG_FILE
    if not config_file.is_file():
        raise AdapterError(
            folder, f"there is no {ADAPTER_CONFIG_FILE}: this is not a PEFT adapter folder (train_lora.py's output)."
        )
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AdapterError(config_file, f"it cannot be read as JSON ({err}).") from err
    if not isinstance(config, dict):
        raise AdapterError(config_file, "it is not a JSON object.")
    peft_type = config.get("peft_type")
    if peft_type is not None and peft_type != "LORA":
        raise AdapterError(config_file, f"peft_type is {peft_type}; only LoRA adapters (LORA) can be merged here.")
    if not (folder / ADAPTER_WEIGHTS_FILE).is_file() and not (folder / "adapter_model.bin").is_file():
        raise AdapterError(folder, f"there is no {ADAPTER_WEIGHTS_FILE}: the adapter is incomplete; train it again.")
    return config


def adapter_mismatch(err: RuntimeError, adapter: str, base_model: str) -> Exception:
    """torch's "size mismatch" when an adapter was trained on a base of other shapes, as an AdapterError (exit 3)
    that says so in one line; any other error as it is."""
    first = next((line.strip().rstrip(".") for line in str(err).splitlines() if "size mismatch" in line), None)
    if first is None:
        return err
    return AdapterError(
        adapter,
        f"it does not fit {base_model}, whose shapes differ ({first}); it was trained on another base. Merge it into "
        "the base it was trained on, or train a new adapter on this one. Nothing was written.",
    )


def base_model_note(config: Dict[str, Any], base_model: str) -> Optional[str]:
    """A warning when the adapter was trained on another base: merging it still works if the shapes match, but
    the result is rarely what was meant. A local path and a hub id of the same model also differ, so no error."""
    trained_on = config.get("base_model_name_or_path")
    if trained_on and trained_on != base_model:
        return f"Note: the adapter was trained on {trained_on}, not {base_model}."
    return None


def merge(args: argparse.Namespace) -> None:
    """Loads base + adapter, merges, and saves the merged model and the base's tokenizer into --output."""
    import torch

    device = require_cuda(torch.cuda.is_available(), args.allow_cpu, CPU_NOTE, torch.version.cuda is not None)
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from publish import publish, staging_dir

    print(f"Loading {args.base_model} ({args.dtype}) on {device} ...", flush=True)
    base = AutoModelForCausalLM.from_pretrained(
        args.base_model, dtype=getattr(torch, args.dtype), device_map={"": 0 if device == "cuda" else "cpu"}
    )
    try:
        model = PeftModel.from_pretrained(base, args.adapter)
    except RuntimeError as err:
        raise adapter_mismatch(err, args.adapter, args.base_model) from err
    print(f"Merging {args.adapter} ...", flush=True)
    merged = model.merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(args.base_model)

    output = Path(args.output)
    staging = staging_dir(output)
    try:
        merged.save_pretrained(str(staging), safe_serialization=True)
        tokenizer.save_pretrained(str(staging))
        publish(staging, output, last="config.json", stale=MERGED_WEIGHTS)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        config = check_adapter(args.adapter)
        require_tokenizer(args.base_model)
        note = base_model_note(config, args.base_model)
        if note:
            print(note, flush=True)
        require_packages(REQUIRED_MODULES)
        merge(args)
        print(f"Merged model saved to {args.output}", flush=True)
        return 0
    except CliError as err:
        return report(err)
    except ImportError as err:  # a package or one of its optional dependencies missing at load time
        return report(import_failed(err))
    except Exception as err:  # noqa: BLE001 - the last resort: exit 1 with the message, not a bare traceback
        if is_out_of_memory(err):
            return report(out_of_memory(str(err)))
        traceback.print_exc()
        return report(RunFailed(f"{type(err).__name__}: {err}"))


if __name__ == "__main__":
    sys.exit(main())
