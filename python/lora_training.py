"""The torch half of train_lora.py: load the base model (Unsloth's FastLanguageModel when available, else
transformers), add LoRA, measure held-out loss, train with AdamW one optimizer step per batch, save the adapter.

Imported only after train_lora.py has checked the arguments, the dataset and the packages.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Sequence, Tuple

import torch

from adapter_format import ADAPTER_WEIGHTS_FILE, BASE_CONFIG_FILE, lora_settings
from assistant_mask import Encoded, encode_examples, pad_batch
from cli_errors import DatasetError, RunFailed, UsageError
from preflight import require_cuda
from progress import ProgressReporter
from sft_data import epoch_batches

#: Gradient-norm clipping, as Hugging Face's Trainer does by default.
MAX_GRAD_NORM = 1.0
#: Linear warm-up over this share of the steps, then linear decay to zero.
WARMUP_FRACTION = 0.05

CPU_NOTE = "Training a LoRA adapter on the CPU is very slow (hours for a small model, days for a 7B one)"

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainingResult:
    backend: str
    train_examples: int
    eval_examples: int
    eval_loss_before: float
    eval_loss_after: float


def _log(message: str) -> None:
    print(message, flush=True)


def train(args: argparse.Namespace, plan: Any, staging: Path, log: Log = _log) -> TrainingResult:
    """Trains on plan.split and saves the adapter (and the base model's config.json) into `staging`."""
    device = require_cuda(
        torch.cuda.is_available(), args.allow_cpu, CPU_NOTE, cuda_build=torch.version.cuda is not None
    )
    if device == "cpu":
        log("No CUDA GPU: training on the CPU (--allow-cpu). This is slow.")
    torch.manual_seed(args.seed)

    fast = None if device == "cpu" or args.no_unsloth else _unsloth(log)
    model, tokenizer = _load_unsloth(fast, args) if fast is not None else _load_peft(args, device)
    backend = "unsloth" if fast is not None else "peft"
    log(f"Backend: {backend} on {device}")
    _check_adapter_config(model)

    render = _renderer(tokenizer, args.base_model)
    path = str(plan.data)
    train_set, dropped_train = encode_examples(plan.split.train, render, args.max_seq_length, path)
    eval_set, dropped_eval = encode_examples(plan.split.eval, render, args.max_seq_length, path)
    dropped = dropped_train + dropped_eval
    if dropped:
        lines = ", ".join(str(e.line) for e in dropped[:10]) + (" ..." if len(dropped) > 10 else "")
        log(
            f"Skipping {len(dropped)} example(s) with no assistant token in the first {args.max_seq_length} tokens "
            f"(lines {lines}); raise --max-seq-length to keep them."
        )
    if not train_set or not eval_set:
        which = "training" if not train_set else "held-out"
        raise DatasetError(
            path,
            f"no {which} example has an assistant token within the first {args.max_seq_length} tokens; "
            "raise --max-seq-length.",
        )

    pad_id = _pad_id(tokenizer)
    model_device = next(model.parameters()).device
    loss_before = evaluate(model, eval_set, args.batch_size, pad_id, model_device)
    log(f"Held-out loss before training: {loss_before:.4f} ({len(eval_set)} examples)")

    _train_loop(model, train_set, args, pad_id, model_device, log)

    loss_after = evaluate(model, eval_set, args.batch_size, pad_id, model_device)
    log(f"Held-out loss after training: {loss_after:.4f}")

    model.save_pretrained(str(staging), safe_serialization=True)
    if not (staging / ADAPTER_WEIGHTS_FILE).exists():
        raise RunFailed(f"save_pretrained wrote no {ADAPTER_WEIGHTS_FILE} into {staging}; check the peft version.")
    # The base model's config beside the adapter lets the GGUF converter find the architecture and head counts.
    model.get_base_model().config.to_json_file(str(staging / BASE_CONFIG_FILE), use_diff=False)
    return TrainingResult(backend, len(train_set), len(eval_set), loss_before, loss_after)


def _unsloth(log: Log) -> Any:
    """Unsloth's FastLanguageModel, or None. It must be imported before transformers to patch it."""
    if importlib.util.find_spec("unsloth") is None:
        log("Unsloth is not installed: training with transformers + PEFT.")
        return None
    try:
        from unsloth import FastLanguageModel

        return FastLanguageModel
    except Exception as err:  # noqa: BLE001 - a broken optional accelerator must not stop training
        log(f"Unsloth is installed but failed to load ({err}): training with transformers + PEFT.")
        return None


def _load_peft(args: argparse.Namespace, device: str) -> Tuple[Any, Any]:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if device == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.float32
    tokenizer = AutoTokenizer.from_pretrained(args.base_model)
    model = AutoModelForCausalLM.from_pretrained(
        args.base_model, dtype=dtype, device_map={"": 0 if device == "cuda" else "cpu"}
    )
    model.config.use_cache = False  # the KV cache is for generation and conflicts with gradient checkpointing
    if device == "cuda":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    # PEFT keeps the adapter weights in float32 over a 16-bit base (autocast_adapter_dtype), so AdamW is stable.
    model = get_peft_model(model, LoraConfig(**lora_settings(args.rank, args.alpha)))
    return model, tokenizer


def _load_unsloth(fast: Any, args: argparse.Namespace) -> Tuple[Any, Any]:
    # A 16-bit base (load_in_4bit=False), as on the PEFT path, so both backends train the same adapter.
    model, tokenizer = fast.from_pretrained(
        model_name=args.base_model, max_seq_length=args.max_seq_length, dtype=None, load_in_4bit=False
    )
    settings = lora_settings(args.rank, args.alpha)
    model = fast.get_peft_model(
        model,
        r=settings["r"],
        lora_alpha=settings["lora_alpha"],
        target_modules=settings["target_modules"],
        lora_dropout=settings["lora_dropout"],
        bias=settings["bias"],
        use_rslora=settings["use_rslora"],
        use_gradient_checkpointing="unsloth",
        random_state=args.seed,
    )
    return model, tokenizer


def _check_adapter_config(model: Any) -> None:
    """The converter refuses DoRA, rsLoRA and modules_to_save; fail now, not after hours of training."""
    config = model.peft_config["default"]
    if getattr(config, "use_dora", False) or getattr(config, "use_rslora", False) or config.modules_to_save:
        raise RunFailed(
            "the LoRA configuration uses DoRA, rsLoRA or modules_to_save, which a GGUF adapter cannot carry; "
            "this is a bug in train_lora.py or an incompatible Unsloth version (try --no-unsloth)."
        )


def _renderer(tokenizer: Any, base_model: str) -> Callable[[Sequence[dict], bool], List[int]]:
    if not getattr(tokenizer, "chat_template", None):
        raise UsageError(
            f"--base-model {base_model} has no chat template; use its instruct/chat variant (e.g. ...-Instruct)."
        )

    def render(messages: Sequence[dict], add_generation_prompt: bool) -> List[int]:
        # Text first, then tokens: apply_chat_template(tokenize=True) returns a list or a BatchEncoding depending
        # on the transformers version; the text already holds the template's special tokens (BOS included).
        text = tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
        )
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    return render


def _pad_id(tokenizer: Any) -> int:
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if isinstance(candidate, int):
            return candidate
    return 0  # any id works: padding is masked from attention and loss


def _tensors(batch: Sequence[Encoded], pad_id: int, device: Any) -> dict:
    return {k: torch.tensor(v, dtype=torch.long, device=device) for k, v in pad_batch(batch, pad_id).items()}


@torch.no_grad()
def evaluate(model: Any, examples: Sequence[Encoded], batch_size: int, pad_id: int, device: Any) -> float:
    """Mean loss per assistant token over the held-out set (dropout off)."""
    model.eval()
    total_loss = 0.0
    total_tokens = 0
    for i in range(0, len(examples), batch_size):
        chunk = examples[i : i + batch_size]
        loss = model(**_tensors(chunk, pad_id, device)).loss
        tokens = sum(e.trainable_tokens for e in chunk)
        total_loss += float(loss.float().item()) * tokens
        total_tokens += tokens
    model.train()
    return total_loss / total_tokens


def _train_loop(
    model: Any, train_set: Sequence[Encoded], args: argparse.Namespace, pad_id: int, device: Any, log: Log
) -> None:
    from transformers import get_linear_schedule_with_warmup

    batches = epoch_batches(len(train_set), args.batch_size, args.epochs, args.seed)
    total = len(batches)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.learning_rate, weight_decay=0.0)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * WARMUP_FRACTION), total)
    # float16 activations overflow without loss scaling; bfloat16 and float32 need none.
    half = model.get_input_embeddings().weight.dtype == torch.float16 and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=half)

    progress = ProgressReporter(total, args.progress_file)
    log(f"Training: {total} optimizer steps ({args.epochs} epochs of {math.ceil(len(train_set) / args.batch_size)})")
    model.train()
    progress.start()
    for step, indices in enumerate(batches, start=1):
        loss = model(**_tensors([train_set[i] for i in indices], pad_id, device)).loss
        value = float(loss.detach().float().item())
        if not math.isfinite(value):
            raise RunFailed(
                f"training diverged: the loss is {value} at step {step}; lower --learning-rate "
                f"(now {args.learning_rate})."
            )
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        progress.step(step, value)
