#!/usr/bin/env python3
"""Trains a LoRA adapter on an exported SFT dataset (chat `messages` JSONL) with transformers + PEFT, or Unsloth's
fast path when it is installed; loss only on assistant tokens.

    python train_lora.py --data .agent/sft/coder_sft.jsonl --base-model Qwen/Qwen2.5-Coder-7B-Instruct \\
        --output .agent/lora/coder [--progress-file FILE] [...]

Writes a PEFT adapter (adapter_config.json, adapter_model.safetensors), the base model's config.json (so the GGUF
converter knows the architecture and head counts) and eval.json, written last, into --output. Progress goes to
--progress-file as JSON lines. Exit codes: 0 ok, 1 failed, 2 bad arguments, 3 dataset problem, 4 missing packages,
5 no CUDA GPU (pass --allow-cpu).

Arguments and the dataset are checked before torch is imported, so those errors need no packages to be reported.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from adapter_format import EVAL_FILE
from cli_errors import CliError, RunFailed, is_out_of_memory, out_of_memory, report
from preflight import import_failed, require_packages
from publish import publish, staging_dir
from sft_data import MIN_DATASET_SIZE, Split, load_examples, split_examples

REQUIRED_MODULES = ("torch", "transformers", "peft", "accelerate", "safetensors")

DEFAULTS: Dict[str, Any] = {
    "rank": 16,
    "alpha": 32,
    "epochs": 3,
    "batch_size": 2,
    "learning_rate": 2e-4,
    "max_seq_length": 2048,
    "eval_fraction": 0.1,
    "min_examples": 10,
    "seed": 42,
}


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return int(value) if value.is_integer() else value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train_lora.py",
        description="Train a LoRA adapter (loss on assistant tokens only) on an SFT chat JSONL dataset.",
        epilog="Exit codes: 0 ok, 1 failed, 2 bad arguments, 3 dataset problem, 4 missing packages, "
        "5 no CUDA GPU (pass --allow-cpu).",
        allow_abbrev=False,
    )
    parser.add_argument("--data", required=True, type=_non_empty, help="the SFT JSONL file (one {messages} per line)")
    parser.add_argument("--base-model", required=True, type=_non_empty, help="Hugging Face id or local folder")
    parser.add_argument("--output", required=True, type=_non_empty, help="the adapter folder to write")
    parser.add_argument("--rank", type=_int_at_least(1), default=DEFAULTS["rank"], help="LoRA rank r (default 16)")
    parser.add_argument("--alpha", type=_positive_number, default=DEFAULTS["alpha"], help="lora_alpha (default 32)")
    parser.add_argument("--epochs", type=_int_at_least(1), default=DEFAULTS["epochs"], help="(default 3)")
    parser.add_argument("--batch-size", type=_int_at_least(1), default=DEFAULTS["batch_size"], help="(default 2)")
    parser.add_argument(
        "--learning-rate", type=_positive_number, default=DEFAULTS["learning_rate"], help="(default 2e-4)"
    )
    parser.add_argument(
        "--max-seq-length",
        type=_int_at_least(16),
        default=DEFAULTS["max_seq_length"],
        help="tokens per example, longer ones are truncated (default 2048)",
    )
    parser.add_argument(
        "--eval-fraction",
        type=_fraction,
        default=DEFAULTS["eval_fraction"],
        help="share held out to measure loss before and after (default 0.1; at least 2 examples)",
    )
    parser.add_argument(
        "--min-examples",
        type=_int_at_least(MIN_DATASET_SIZE),
        default=DEFAULTS["min_examples"],
        help="refuse smaller datasets (default 10)",
    )
    parser.add_argument("--progress-file", help="append one JSON line per optimizer step here")
    parser.add_argument("--seed", type=_int_at_least(0), default=DEFAULTS["seed"], help="(default 42)")
    parser.add_argument("--allow-cpu", action="store_true", help="train on the CPU when there is no CUDA GPU (slow)")
    parser.add_argument("--no-unsloth", action="store_true", help="use plain transformers + PEFT even with Unsloth")
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses and checks the arguments; exits with code 2 and argparse's usage message when they are wrong."""
    parser = build_parser()
    args = parser.parse_args(argv)
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        parser.error(f"argument --output: {args.output} is a file; it must be a folder (it will be created)")
    return args


@dataclass(frozen=True)
class TrainingPlan:
    data: Path
    split: Split


def plan_training(args: argparse.Namespace) -> TrainingPlan:
    """Loads and validates the dataset and splits it; raises DatasetError (exit 3) naming the file and line."""
    data = Path(args.data)
    examples = load_examples(data, args.min_examples)
    return TrainingPlan(data=data, split=split_examples(examples, args.eval_fraction, args.seed))


def eval_report(
    args: argparse.Namespace,
    train_examples: int,
    eval_examples: int,
    loss_before: float,
    loss_after: float,
    backend: str,
    seconds: float,
) -> Dict[str, Any]:
    """eval.json: the held-out loss before and after training, which the extension shows and may gate deploys on."""
    return {
        "base_model": args.base_model,
        "train_examples": train_examples,
        "eval_examples": eval_examples,
        "eval_loss_before": loss_before,
        "eval_loss_after": loss_after,
        "improved": loss_after < loss_before,
        "backend": backend,
        "seconds": round(seconds, 3),
        "rank": args.rank,
        "alpha": args.alpha,
    }


def finish(staging: Path, output: Path, report_: Dict[str, Any]) -> None:
    """Writes eval.json into the staged adapter and moves it all into --output, eval.json last: its presence means
    the adapter beside it is complete."""
    (staging / EVAL_FILE).write_text(json.dumps(report_, indent=2) + "\n", encoding="utf-8")
    publish(staging, output, last=EVAL_FILE)


def describe_plan(args: argparse.Namespace, plan: TrainingPlan) -> str:
    split = plan.split
    return (
        f"Dataset: {plan.data} ({len(split.train) + len(split.eval)} examples: {len(split.train)} to train on, "
        f"{len(split.eval)} held out)\n"
        f"Base model: {args.base_model}\n"
        f"LoRA r={args.rank} alpha={args.alpha}, {args.epochs} epochs, batch {args.batch_size}, "
        f"lr {args.learning_rate}, max {args.max_seq_length} tokens\n"
        f"Output: {args.output}"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    staging: Optional[Path] = None
    try:
        plan = plan_training(args)
        print(describe_plan(args, plan), flush=True)
        require_packages(REQUIRED_MODULES)
        import lora_training  # torch, transformers, peft: only now that the cheap checks passed

        staging = staging_dir(Path(args.output))
        result = lora_training.train(args, plan, staging)
        report_ = eval_report(
            args,
            result.train_examples,
            result.eval_examples,
            result.eval_loss_before,
            result.eval_loss_after,
            result.backend,
            time.monotonic() - started,
        )
        finish(staging, Path(args.output), report_)
        staging = None
        verdict = "improved" if report_["improved"] else "did NOT improve"
        print(
            f"Held-out loss {result.eval_loss_before:.4f} -> {result.eval_loss_after:.4f} ({verdict}). "
            f"Adapter saved to {args.output}",
            flush=True,
        )
        return 0
    except CliError as err:
        return report(err)
    except ImportError as err:  # a package or one of its optional dependencies missing at load time
        return report(import_failed(err))
    except Exception as err:  # noqa: BLE001 - the last resort: exit 1 with the message, not a bare traceback
        if is_out_of_memory(err):
            return report(out_of_memory(str(err), args.batch_size, args.max_seq_length))
        traceback.print_exc()
        return report(RunFailed(f"{type(err).__name__}: {err}"))
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
