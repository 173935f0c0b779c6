"""The torch half of train_lora.py: load the base model (Unsloth's FastLanguageModel when available, else
transformers), add LoRA, measure held-out loss, train with AdamW (gradient accumulation, a learning-rate schedule,
a held-out evaluation after each epoch keeping the best adapter, a checkpoint per epoch to resume from), save.

Imported only after train_lora.py has checked the arguments, the dataset and the packages.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from adapter_format import ADAPTER_WEIGHTS_FILE, BASE_CONFIG_FILE, lora_settings
from assistant_mask import IGNORE_INDEX, Encoded, UnmaskableTemplate, encode_examples, pad_batch
from cli_errors import DatasetError, RunFailed, UsageError
from preflight import cuda_dtype, require_cuda, require_memory
from progress import ProgressReporter
from sft_data import epoch_batches, optimizer_steps

#: Gradient-norm clipping, as Hugging Face's Trainer does by default.
MAX_GRAD_NORM = 1.0
#: lora_dropout on the PEFT path; Unsloth's fast LoRA kernels need 0, so that path defaults to 0.
PEFT_DEFAULT_DROPOUT = 0.05
CHECKPOINT_FILE = "checkpoint.pt"

CPU_NOTE = "Training a LoRA adapter on the CPU is very slow (hours for a small model, days for a 7B one)"

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainingResult:
    backend: str
    train_examples: int
    eval_examples: int
    eval_loss_before: float
    eval_loss_after: float
    #: Mean loss per assistant token of each held-out example, before and after: the deploy gate pairs them.
    eval_losses_before: List[float]
    eval_losses_after: List[float]
    truncated_examples: int
    lora_dropout: float
    steps: int
    #: Held-out loss after each epoch; the adapter saved is the best epoch's.
    epoch_losses: List[float] = field(default_factory=list)
    best_epoch: Optional[int] = None
    resumed_from_epoch: Optional[int] = None
    tokens_per_s: Optional[float] = None
    #: The most memory training held: GPU memory allocated by torch on CUDA, the process's peak RSS on the CPU.
    peak_memory_bytes: Optional[int] = None


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
    _check_memory(args, device)

    fast = None if device == "cpu" or args.no_unsloth else _unsloth(log)
    model, tokenizer, backend = load_model(args, device, fast, log)
    dropout = _dropout(args, backend)
    log(f"Backend: {backend} on {device} (lora_dropout {dropout})")
    _check_adapter_config(model)

    render = _renderer(tokenizer, args.base_model)
    path = str(plan.data)

    def decode(ids: Sequence[int]) -> str:
        return tokenizer.decode(list(ids), skip_special_tokens=False)

    try:
        train_set, dropped_train = encode_examples(plan.split.train, render, args.max_seq_length, path, decode)
        eval_set, dropped_eval = encode_examples(plan.split.eval, render, args.max_seq_length, path, decode)
    except UnmaskableTemplate as err:
        raise UsageError(
            f"--base-model {args.base_model}: its chat template cannot be used for assistant-only loss: {err}. "
            "Use a base whose template renders each turn the same whatever follows (Qwen2.5, Llama 3 and most "
            "ChatML templates do)."
        ) from err
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
    truncated = sum(1 for e in (*train_set, *eval_set) if e.truncated)
    if truncated:
        log(
            f"{truncated} of {len(train_set) + len(eval_set)} example(s) are longer than --max-seq-length "
            f"{args.max_seq_length} and were cut: their answers lose their end and the end-of-turn token, so the "
            "model learns less about stopping; raise --max-seq-length (autoTrain.maxSeqLength) if memory allows."
        )

    pad_id = _pad_id(tokenizer)
    model_device = next(model.parameters()).device
    before = evaluate_examples(model, eval_set, args.batch_size, pad_id, model_device)
    loss_before = _token_mean(before, eval_set)
    log(f"Held-out loss before training: {loss_before:.4f} ({len(eval_set)} examples)")

    run = _train_loop(model, train_set, eval_set, args, pad_id, model_device, truncated, log, plan)

    after = evaluate_examples(model, eval_set, args.batch_size, pad_id, model_device)
    loss_after = _token_mean(after, eval_set)
    log(f"Held-out loss after training: {loss_after:.4f}")

    model.save_pretrained(str(staging), safe_serialization=True)
    if not (staging / ADAPTER_WEIGHTS_FILE).exists():
        raise RunFailed(f"save_pretrained wrote no {ADAPTER_WEIGHTS_FILE} into {staging}; check the peft version.")
    # The base model's config beside the adapter lets the GGUF converter find the architecture and head counts.
    model.get_base_model().config.to_json_file(str(staging / BASE_CONFIG_FILE), use_diff=False)
    return TrainingResult(
        backend,
        len(train_set),
        len(eval_set),
        loss_before,
        loss_after,
        before,
        after,
        truncated,
        dropout,
        run.steps,
        run.epoch_losses,
        run.best_epoch,
        run.resumed_from_epoch,
        run.tokens_per_s,
        peak_memory(device),
    )


def peak_memory(device: str) -> Optional[int]:
    if device == "cuda":
        return int(torch.cuda.max_memory_allocated())
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # KiB on Linux
    except (ImportError, OSError):
        return None


def load_model(args: argparse.Namespace, device: str, fast: Any, log: Log, peft_loader: Any = None) -> Tuple[Any, Any, str]:
    """(model with LoRA, tokenizer, backend): Unsloth's when it is there and loads, else transformers + PEFT, with
    the reason in the log. Both train the same plain LoRA on the same 16-bit base."""
    if fast is not None:
        try:
            model, tokenizer = _load_unsloth(fast, args)
            return model, tokenizer, "unsloth"
        except Exception as err:  # noqa: BLE001 - the fast path is optional; the PEFT path trains the same adapter
            log(f"Unsloth failed to load {args.base_model} ({type(err).__name__}: {err}): training with PEFT.")
    model, tokenizer = (peft_loader or _load_peft)(args, device)
    return model, tokenizer, "peft"


def _dropout(args: argparse.Namespace, backend: str) -> float:
    if args.lora_dropout is not None:
        return args.lora_dropout
    return 0.0 if backend == "unsloth" else PEFT_DEFAULT_DROPOUT


def _check_memory(args: argparse.Namespace, device: str) -> None:
    """A base whose weights alone exceed the device's memory is refused before loading (see preflight)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(args.base_model, local_files_only=args.local_files_only)
    text = getattr(config, "text_config", None) or config
    if device == "cuda":
        available = torch.cuda.get_device_properties(0).total_memory
        require_memory(text.to_dict(), 2, available, "GPU", args.base_model)
    else:
        pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
        if pages > 0:
            require_memory(text.to_dict(), 4, pages * os.sysconf("SC_PAGE_SIZE"), "machine (RAM)", args.base_model)


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

    dtype = getattr(torch, gpu_dtype()) if device == "cuda" else torch.float32
    local = args.local_files_only
    tokenizer = AutoTokenizer.from_pretrained(args.base_model, local_files_only=local)
    model = AutoModelForCausalLM.from_pretrained(
        args.base_model, dtype=dtype, device_map={"": 0 if device == "cuda" else "cpu"}, local_files_only=local
    )
    model.config.use_cache = False  # the KV cache is for generation and conflicts with gradient checkpointing
    if device == "cuda":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    # PEFT keeps the adapter weights in float32 over a 16-bit base (autocast_adapter_dtype), so AdamW is stable.
    model = get_peft_model(model, LoraConfig(**lora_settings(args.rank, args.alpha, _dropout(args, "peft"))))
    return model, tokenizer


def gpu_dtype() -> str:
    """bfloat16 on GPUs that have it in hardware, float16 on those that emulate it (preflight.cuda_dtype)."""
    try:
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch before 2.3 has no including_emulation
        native = torch.cuda.is_bf16_supported()
    return cuda_dtype(tuple(torch.cuda.get_device_capability()), native)


def _load_unsloth(fast: Any, args: argparse.Namespace) -> Tuple[Any, Any]:
    # A 16-bit base (load_in_4bit=False), as on the PEFT path, so both backends train the same adapter; the exact
    # name, or Unsloth swaps Qwen/... for its own unsloth/... copy (a second download, or a failure offline, and a
    # base that merge_lora.py then does not use).
    model, tokenizer = fast.from_pretrained(
        model_name=args.base_model,
        max_seq_length=args.max_seq_length,
        dtype=getattr(torch, gpu_dtype()),
        load_in_4bit=False,
        use_exact_model_name=True,
        local_files_only=args.local_files_only,
    )
    settings = lora_settings(args.rank, args.alpha, _dropout(args, "unsloth"))
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
def evaluate_examples(model: Any, examples: Sequence[Encoded], batch_size: int, pad_id: int, device: Any) -> List[float]:
    """Each held-out example's mean loss per assistant token (dropout off), in order."""
    model.eval()
    losses: List[float] = []
    for i in range(0, len(examples), batch_size):
        batch = _tensors(examples[i : i + batch_size], pad_id, device)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        # What the model's own loss computes (predict token t+1 from tokens up to t), kept per example.
        labels = batch["labels"][:, 1:]
        per_token = torch.nn.functional.cross_entropy(
            logits[:, :-1].float().transpose(1, 2), labels, ignore_index=IGNORE_INDEX, reduction="none"
        )
        counted = labels != IGNORE_INDEX
        losses += ((per_token * counted).sum(1) / counted.sum(1)).tolist()
    model.train()
    return losses


def evaluate(model: Any, examples: Sequence[Encoded], batch_size: int, pad_id: int, device: Any) -> float:
    """Mean loss per assistant token over the held-out set (dropout off)."""
    return _token_mean(evaluate_examples(model, examples, batch_size, pad_id, device), examples)


def _token_mean(losses: Sequence[float], examples: Sequence[Encoded]) -> float:
    tokens = [e.trainable_tokens for e in examples]
    return sum(loss * n for loss, n in zip(losses, tokens)) / sum(tokens)


@dataclass
class _Run:
    steps: int = 0
    epoch_losses: List[float] = field(default_factory=list)
    best_epoch: Optional[int] = None
    resumed_from_epoch: Optional[int] = None
    tokens_per_s: Optional[float] = None
    #: The most memory training held: GPU memory allocated by torch on CUDA, the process's peak RSS on the CPU.
    peak_memory_bytes: Optional[int] = None


def _train_loop(
    model: Any,
    train_set: Sequence[Encoded],
    eval_set: Sequence[Encoded],
    args: argparse.Namespace,
    pad_id: int,
    device: Any,
    truncated: int,
    log: Log,
    plan: Any,
) -> _Run:
    """AdamW over the epochs; one optimizer step per --grad-accum batches (the accumulated gradient is that of the
    token-weighted mean loss), at most --max-steps. After each epoch: the held-out loss, the best epoch's adapter
    kept, and a checkpoint to --resume from."""
    from transformers import get_scheduler

    per_epoch = epoch_batches(len(train_set), args.batch_size, args.epochs, args.seed)
    steps_per_epoch = optimizer_steps(len(train_set), args.batch_size, 1, args.grad_accum)
    total = optimizer_steps(len(train_set), args.batch_size, args.epochs, args.grad_accum)
    if args.max_steps:
        total = min(total, args.max_steps)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.learning_rate, weight_decay=0.0)
    scheduler = get_scheduler(
        args.lr_scheduler_name, optimizer, num_warmup_steps=int(total * args.warmup_ratio), num_training_steps=total
    )
    # float16 activations overflow without loss scaling; bfloat16 and float32 need none.
    half = model.get_input_embeddings().weight.dtype == torch.float16 and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=half)

    run = _Run()
    best_state: Optional[Dict[str, torch.Tensor]] = None
    best_loss = math.inf
    checkpoint = checkpoint_dir(Path(args.output))
    fingerprint = _fingerprint(args, plan)
    first_epoch = 0
    if args.resume:
        restored = _restore(checkpoint, fingerprint, model, optimizer, scheduler, log)
        if restored is not None:
            first_epoch, run.steps, run.epoch_losses, best_loss, best_state = restored
            run.resumed_from_epoch = first_epoch
            run.best_epoch = run.epoch_losses.index(best_loss) + 1 if run.epoch_losses else None

    progress = ProgressReporter(total, args.progress_file)
    log(
        f"Training: {total} optimizer steps ({args.epochs} epochs of {steps_per_epoch}, "
        f"{args.batch_size} x {args.grad_accum} examples per step, {args.lr_scheduler} schedule)"
    )
    model.train()
    progress.start()
    started = time.monotonic()
    tokens_seen = 0
    for epoch in range(first_epoch, args.epochs):
        batches = per_epoch[epoch * _batches_per_epoch(len(train_set), args.batch_size) :][
            : _batches_per_epoch(len(train_set), args.batch_size)
        ]
        for group_start in range(0, len(batches), args.grad_accum):
            if run.steps >= total:
                break
            group = [[train_set[i] for i in b] for b in batches[group_start : group_start + args.grad_accum]]
            group_tokens = sum(e.trainable_tokens for b in group for e in b)
            value = 0.0
            for batch in group:
                share = sum(e.trainable_tokens for e in batch) / group_tokens
                loss = model(**_tensors(batch, pad_id, device)).loss * share
                value += float(loss.detach().float().item())
                scaler.scale(loss).backward()
                tokens_seen += sum(len(e.input_ids) for e in batch)
            run.steps += 1
            if not math.isfinite(value):
                raise RunFailed(
                    f"training diverged: the loss is {value} at step {run.steps}; lower --learning-rate "
                    f"(now {args.learning_rate})."
                )
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
            scaler.step(optimizer)
            scaler.update()
            lr = scheduler.get_last_lr()[0]
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            elapsed = time.monotonic() - started
            run.tokens_per_s = tokens_seen / elapsed if elapsed > 0 else None
            progress.step(
                run.steps,
                value,
                epoch=epoch + 1,
                lr=lr,
                tokens_per_s=round(run.tokens_per_s, 1) if run.tokens_per_s else None,
                max_seq_length=args.max_seq_length,
                truncated=truncated,
            )
        epoch_loss = evaluate(model, eval_set, args.batch_size, pad_id, device)
        run.epoch_losses.append(epoch_loss)
        if epoch_loss < best_loss:
            best_loss, run.best_epoch = epoch_loss, epoch + 1
            best_state = {k: v.detach().clone() for k, v in _adapter_state(model).items()}
        log(f"Epoch {epoch + 1}/{args.epochs}: held-out loss {epoch_loss:.4f} (best: epoch {run.best_epoch})")
        _save_checkpoint(checkpoint, fingerprint, epoch + 1, run, best_loss, best_state, model, optimizer, scheduler)
        if run.steps >= total:
            break
    if best_state is not None and run.best_epoch != len(run.epoch_losses):
        log(f"Keeping the adapter of epoch {run.best_epoch}, whose held-out loss was the lowest.")
        _load_adapter_state(model, best_state)
    return run


def _batches_per_epoch(train_examples: int, batch_size: int) -> int:
    return math.ceil(train_examples / batch_size)


def checkpoint_dir(output: Path) -> Path:
    """Beside the output (which is replaced only on success): `.{name}.checkpoint`."""
    output = output.resolve()
    return output.parent / f".{output.name}.checkpoint"


def _fingerprint(args: argparse.Namespace, plan: Any) -> str:
    """What a checkpoint must match to be resumed: the dataset's bytes and every setting that shapes training."""
    digest = hashlib.sha256(Path(plan.data).read_bytes())
    for key in ("base_model", "rank", "alpha", "epochs", "batch_size", "grad_accum", "learning_rate",
                "lr_scheduler", "warmup_ratio", "max_seq_length", "eval_fraction", "seed", "lora_dropout",
                "max_steps"):  # fmt: skip
        digest.update(f"{key}={getattr(args, key, None)!r};".encode())
    return digest.hexdigest()


def _adapter_state(model: Any) -> Dict[str, torch.Tensor]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def _load_adapter_state(model: Any, state: Dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in state:
                p.copy_(state[name])


def _save_checkpoint(
    folder: Path, fingerprint: str, epoch: int, run: _Run, best_loss: float, best_state: Any,
    model: Any, optimizer: Any, scheduler: Any,
) -> None:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (CHECKPOINT_FILE + ".tmp")
    torch.save(
        {
            "fingerprint": fingerprint,
            "epoch": epoch,
            "steps": run.steps,
            "epoch_losses": run.epoch_losses,
            "best_loss": best_loss,
            "best_state": best_state,
            "adapter": {k: v.detach().cpu() for k, v in _adapter_state(model).items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
        },
        str(tmp),
    )
    os.replace(tmp, folder / CHECKPOINT_FILE)


def _restore(folder: Path, fingerprint: str, model: Any, optimizer: Any, scheduler: Any, log: Log) -> Optional[Tuple]:
    file = folder / CHECKPOINT_FILE
    if not file.is_file():
        log(f"--resume: no checkpoint in {folder}; starting from the beginning.")
        return None
    saved = torch.load(str(file), weights_only=False)
    if saved.get("fingerprint") != fingerprint:
        log(f"--resume: the checkpoint in {folder} is for another dataset or settings; starting from the beginning.")
        return None
    _load_adapter_state(model, {k: v.to(next(model.parameters()).device) for k, v in saved["adapter"].items()})
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["rng"])
    log(f"--resume: continuing after epoch {saved['epoch']} (step {saved['steps']}).")
    return saved["epoch"], saved["steps"], list(saved["epoch_losses"]), saved["best_loss"], saved["best_state"]
