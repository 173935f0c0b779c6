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
import os
import shutil
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from adapter_format import EVAL_FILE
from cli_errors import CliError, RunFailed, is_out_of_memory, out_of_memory, report
from eval_gate import deploy_gate
from preflight import import_failed, offline_base, require_packages, require_tokenizer
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
    "grad_accum": 1,
    "max_steps": 0,
    "lr_scheduler": "linear",
    "warmup_ratio": 0.05,
}
#: --lr-scheduler → transformers.get_scheduler's name (every one warms up over --warmup-ratio of the steps).
SCHEDULERS = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}


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


def _unit_interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
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
    parser.add_argument(
        "--grad-accum", type=_int_at_least(1), default=DEFAULTS["grad_accum"],
        help="batches per optimizer step (gradient accumulation; default 1)",
    )  # fmt: skip
    parser.add_argument(
        "--max-steps", type=_int_at_least(0), default=DEFAULTS["max_steps"],
        help="stop after this many optimizer steps (default 0: all epochs)",
    )  # fmt: skip
    parser.add_argument(
        "--lr-scheduler", choices=sorted(SCHEDULERS), default=DEFAULTS["lr_scheduler"],
        help="learning-rate schedule after the warm-up (default linear decay to 0)",
    )  # fmt: skip
    parser.add_argument(
        "--warmup-ratio", type=_unit_interval, default=DEFAULTS["warmup_ratio"],
        help="share of the steps spent warming up the learning rate (default 0.05)",
    )  # fmt: skip
    parser.add_argument(
        "--lora-dropout", type=_unit_interval, default=None,
        help="LoRA dropout (default 0.05 with PEFT, 0 with Unsloth, whose fast kernels need 0)",
    )  # fmt: skip
    parser.add_argument("--progress-file", help="append one JSON line per optimizer step here")
    parser.add_argument("--seed", type=_int_at_least(0), default=DEFAULTS["seed"], help="(default 42)")
    parser.add_argument("--allow-cpu", action="store_true", help="train on the CPU when there is no CUDA GPU (slow)")
    parser.add_argument("--no-unsloth", action="store_true", help="use plain transformers + PEFT even with Unsloth")
    parser.add_argument(
        "--offline", action="store_true",
        help="no network: the base must be a folder or cached (a folder or a cached base is loaded offline anyway)",
    )  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true",
        help="continue from the last epoch's checkpoint of an interrupted run with the same dataset and settings",
    )  # fmt: skip
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


def eval_report(args: argparse.Namespace, result: Any, seconds: float) -> Dict[str, Any]:
    """eval.json: the held-out loss before and after training, which the extension shows, and the deploy gate:
    `improved` is true only when the fall is larger than the held-out set's noise (`gate.reason` says why)."""
    gate = deploy_gate(result.eval_losses_before, result.eval_losses_after)
    return {
        "base_model": args.base_model,
        "train_examples": result.train_examples,
        "eval_examples": result.eval_examples,
        "eval_loss_before": result.eval_loss_before,
        "eval_loss_after": result.eval_loss_after,
        "improved": gate.passed,
        "gate": gate.as_json(),
        "backend": result.backend,
        "seconds": round(seconds, 3),
        "rank": args.rank,
        "alpha": args.alpha,
        "lora_dropout": result.lora_dropout,
        "max_seq_length": args.max_seq_length,
        "truncated_examples": result.truncated_examples,
        "steps": result.steps,
        "grad_accum": args.grad_accum,
        "lr_scheduler": args.lr_scheduler,
        "epoch_eval_losses": result.epoch_losses,
        "best_epoch": result.best_epoch,
        "resumed_from_epoch": result.resumed_from_epoch,
        "tokens_per_s": round(result.tokens_per_s, 1) if result.tokens_per_s else None,
        "peak_memory_bytes": getattr(result, "peak_memory_bytes", None),
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
        f"LoRA r={args.rank} alpha={args.alpha}, {args.epochs} epochs, batch {args.batch_size} x {args.grad_accum}, "
        f"lr {args.learning_rate} ({args.lr_scheduler}), max {args.max_seq_length} tokens\n"
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
        require_tokenizer(args.base_model)
        args.local_files_only = offline_base(args.base_model, args.offline, os.environ)
        if args.local_files_only:
            # Before huggingface_hub is imported: no lookup at load or save time (PEFT asks the Hub about the base).
            os.environ["HF_HUB_OFFLINE"] = "1"
        args.lr_scheduler_name = SCHEDULERS[args.lr_scheduler]
        import lora_training  # torch, transformers, peft: only now that the cheap checks passed

        staging = staging_dir(Path(args.output))
        result = lora_training.train(args, plan, staging)
        report_ = eval_report(args, result, time.monotonic() - started)
        finish(staging, Path(args.output), report_)
        staging = None
        shutil.rmtree(lora_training.checkpoint_dir(Path(args.output)), ignore_errors=True)
        verdict = "improved" if report_["improved"] else "did NOT improve"
        print(
            f"Held-out loss {result.eval_loss_before:.4f} -> {result.eval_loss_after:.4f} ({verdict}: "
            f"{report_['gate']['reason']}). Adapter saved to {args.output}",
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
