"""A stand-in Python interpreter for tests on machines without a GPU or torch (run through test/standins/python).

`python <dir>/train_lora.py ARGS` and `python <dir>/merge_lora.py ARGS` run the real scripts' argument parsing and
dataset/adapter checks (imported from <dir>, so they fail with the same exit codes and messages), then, instead of
torch, write real-format outputs in a blink: progress JSON lines, a PEFT LoRA adapter with small made-up tensors
that our GGUF converter accepts, eval.json; or a tiny merged safetensors model folder. Anything else (`-c`,
`--version`, other scripts) runs the real interpreter.

Knobs (environment):
  AGENT_LEARNING_STANDIN_FAIL=train|merge   exit 1 as if CUDA ran out of memory (a comma list may name both)
  AGENT_LEARNING_STANDIN_EVAL=worse         the held-out loss rises: eval_loss_after > before, improved false
  AGENT_LEARNING_STANDIN_STEP_MS=N          sleep N ms per progress line, for tests that watch progress live
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time
import types
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

FAIL_ENV = "AGENT_LEARNING_STANDIN_FAIL"
EVAL_ENV = "AGENT_LEARNING_STANDIN_EVAL"
STEP_MS_ENV = "AGENT_LEARNING_STANDIN_STEP_MS"

#: Interpreter options that may come before the script (`python -u train_lora.py`): alone, or taking a value.
PLAIN_OPTIONS = {"-u", "-B", "-E", "-s", "-S", "-I", "-O", "-OO", "-q", "-b", "-bb", "-d", "-v", "-P", "-R"}
OPTIONS_WITH_VALUE = {"-X", "-W"}

#: A made-up base model, small enough to write in microseconds, shaped like a llama/qwen2 block with grouped-query
#: attention (fewer key/value heads) so that k_proj/v_proj differ from q_proj as in real models.
LAYERS = 2
HIDDEN = 64
INTERMEDIATE = 160
HEADS = 4
KV_HEADS = 2
VOCAB = 32
KV_DIM = HIDDEN // HEADS * KV_HEADS
#: PEFT module under model.layers.N → (input size, output size).
MODULE_SHAPES = {
    "self_attn.q_proj": (HIDDEN, HIDDEN),
    "self_attn.k_proj": (HIDDEN, KV_DIM),
    "self_attn.v_proj": (HIDDEN, KV_DIM),
    "self_attn.o_proj": (HIDDEN, HIDDEN),
    "mlp.gate_proj": (HIDDEN, INTERMEDIATE),
    "mlp.up_proj": (HIDDEN, INTERMEDIATE),
    "mlp.down_proj": (INTERMEDIATE, HIDDEN),
}
PROGRESS_LINES = 5
SECONDS_PER_STEP = 0.5  # the stand-in's pretend step time, for the ETA

Tensor = Tuple[str, List[int], List[float]]


def main(argv: Sequence[str]) -> int:
    index = script_index(argv)
    if index is not None:
        script = Path(argv[index])
        handler = HANDLERS.get(script.name)
        if handler is not None and script.is_file():
            sys.path.insert(0, str(script.resolve().parent))
            return handler(list(argv[index + 1 :]))
    os.execv(sys.executable, [sys.executable, *argv])
    return 127  # not reached


def script_index(argv: Sequence[str]) -> Optional[int]:
    """Where the script path is in a Python command line, or None (`-c`, `-m`, `--version`, no script)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in PLAIN_OPTIONS:
            i += 1
        elif arg in OPTIONS_WITH_VALUE:
            i += 2
        elif arg.startswith("-"):
            return None
        else:
            return i
    return None


def failing(stage: str) -> bool:
    return stage in {s.strip() for s in os.environ.get(FAIL_ENV, "").split(",")}


def fake_oom(batch_size: Optional[int] = None, max_seq_length: Optional[int] = None) -> Exception:
    from cli_errors import out_of_memory

    return out_of_memory(
        "CUDA out of memory. Tried to allocate 1.50 GiB. GPU 0 has a total capacity of 23.65 GiB of which "
        "812.00 MiB is free. (agent-learning stand-in)",
        batch_size,
        max_seq_length,
    )


def model_type(base_model: str) -> str:
    return "llama" if "llama" in base_model.lower() else "qwen2"


def base_config(base_model: str, dtype: str = "bfloat16") -> Dict[str, object]:
    kind = model_type(base_model)
    return {
        "architectures": ["LlamaForCausalLM" if kind == "llama" else "Qwen2ForCausalLM"],
        "model_type": kind,
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "vocab_size": VOCAB,
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False,
        "torch_dtype": dtype,
        "_name_or_path": base_model,
    }


def values(count: int, salt: int) -> List[float]:
    """Small, deterministic, never zero: ±0.0005 .. ±0.0115."""
    return [(((j * 7 + salt * 13) % 23) - 11.5) / 1000 for j in range(count)]


def adapter_tensors(rank: int, seed: int) -> List[Tensor]:
    tensors: List[Tensor] = []
    for layer in range(LAYERS):
        for module, (inputs, outputs) in MODULE_SHAPES.items():
            name = f"base_model.model.model.layers.{layer}.{module}"
            salt = seed + len(tensors)
            tensors.append((f"{name}.lora_A.weight", [rank, inputs], values(rank * inputs, salt)))
            tensors.append((f"{name}.lora_B.weight", [outputs, rank], values(outputs * rank, salt + 1)))
    return tensors


def write_safetensors(path: Path, tensors: Sequence[Tensor], dtype: str = "F32") -> None:
    """Hugging Face's safetensors format: u64 little-endian header length, JSON header, raw little-endian data."""
    header: Dict[str, object] = {}
    blobs: List[bytes] = []
    offset = 0
    for name, shape, data in sorted(tensors):
        blob = pack(data, dtype)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = {"format": "pt"}
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # the data starts 8-byte aligned, as the safetensors library writes it
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def pack(data: Sequence[float], dtype: str) -> bytes:
    if dtype == "F32":
        return struct.pack(f"<{len(data)}f", *data)
    if dtype == "F16":
        return struct.pack(f"<{len(data)}e", *data)
    if dtype == "BF16":  # the top half of each float32, rounded to nearest even
        words = struct.unpack(f"<{len(data)}I", struct.pack(f"<{len(data)}f", *data))
        return struct.pack(f"<{len(data)}H", *(((w + 0x7FFF + ((w >> 16) & 1)) >> 16) & 0xFFFF for w in words))
    raise ValueError(dtype)


def step_delay() -> float:
    """Seconds to sleep after each progress line; an unreadable value means none."""
    try:
        return max(0, int(os.environ.get(STEP_MS_ENV, "0") or 0)) / 1000
    except ValueError:
        return 0.0


def progress_steps(total: int) -> List[int]:
    """A few evenly spaced steps ending at `total`, as a real run's lines would be sampled."""
    n = min(total, PROGRESS_LINES)
    return sorted({max(1, round(total * k / n)) for k in range(1, n + 1)})


def run_train(argv: List[str]) -> int:
    import train_lora
    from adapter_format import ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, BASE_CONFIG_FILE, adapter_config
    from cli_errors import CliError, report
    from progress import ProgressReporter
    from publish import staging_dir
    from sft_data import optimizer_steps

    args = train_lora.parse_args(argv)
    started = time.monotonic()
    try:
        plan = train_lora.plan_training(args)
        print(train_lora.describe_plan(args, plan), flush=True)
        print("Backend: standin (test/standins/fake_python.py; no model is loaded)", flush=True)
        train_examples, eval_examples = len(plan.split.train), len(plan.split.eval)
        worse = os.environ.get(EVAL_ENV, "").strip().lower() == "worse"
        loss_before, loss_after = (1.4, 1.9) if worse else (2.1, 1.3)

        total = optimizer_steps(train_examples, args.batch_size, args.epochs, args.grad_accum)
        if args.max_steps:
            total = min(total, args.max_steps)
        now = [0.0]
        progress = ProgressReporter(total, args.progress_file, clock=lambda: now[0])
        progress.start()
        delay = step_delay()
        for step in progress_steps(total):
            now[0] = step * SECONDS_PER_STEP
            progress.step(step, loss_before + (loss_after - loss_before) * step / total)
            if failing("train"):
                raise fake_oom(args.batch_size, args.max_seq_length)
            if delay:
                time.sleep(delay)

        output = Path(args.output)
        staging = staging_dir(output)
        (staging / ADAPTER_CONFIG_FILE).write_text(
            json.dumps(adapter_config(args.base_model, args.rank, args.alpha), indent=2) + "\n", encoding="utf-8"
        )
        write_safetensors(staging / ADAPTER_WEIGHTS_FILE, adapter_tensors(args.rank, args.seed))
        (staging / BASE_CONFIG_FILE).write_text(json.dumps(base_config(args.base_model), indent=2) + "\n")
        # Every held-out example moves the same way (a little apart, so the gate's interval has a width).
        result = types.SimpleNamespace(
            train_examples=train_examples, eval_examples=eval_examples, eval_loss_before=loss_before,
            eval_loss_after=loss_after, eval_losses_before=[loss_before] * eval_examples,
            eval_losses_after=[loss_after + 0.01 * (i % 3) for i in range(eval_examples)], backend="standin",
            lora_dropout=0.05 if args.lora_dropout is None else args.lora_dropout, truncated_examples=0,
            steps=total, epoch_losses=[], best_epoch=None, resumed_from_epoch=None, tokens_per_s=None,
        )  # fmt: skip
        report_ = train_lora.eval_report(args, result, time.monotonic() - started)
        train_lora.finish(staging, output, report_)
        verdict = "improved" if report_["improved"] else "did NOT improve"
        print(f"Held-out loss {loss_before:.4f} -> {loss_after:.4f} ({verdict}). Adapter saved to {output}", flush=True)
        return 0
    except CliError as err:
        return report(err)


def run_merge(argv: List[str]) -> int:
    import merge_lora
    from cli_errors import CliError, report
    from publish import publish, staging_dir

    args = merge_lora.parse_args(argv)
    try:
        config = merge_lora.check_adapter(args.adapter)
        note = merge_lora.base_model_note(config, args.base_model)
        if note:
            print(note, flush=True)
        if failing("merge"):
            raise fake_oom()
        dtype = {"bfloat16": "BF16", "float16": "F16"}[args.dtype]
        output = Path(args.output)
        staging = staging_dir(output)
        write_safetensors(staging / "model.safetensors", merged_tensors(model_type(args.base_model)), dtype)
        (staging / "config.json").write_text(json.dumps(base_config(args.base_model, args.dtype), indent=2) + "\n")
        (staging / "tokenizer.json").write_text(json.dumps(tokenizer(model_type(args.base_model)), indent=2) + "\n")
        (staging / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2) + "\n")
        publish(staging, output, last="config.json", stale=merge_lora.MERGED_WEIGHTS)
        print(f"Merged model saved to {args.output}", flush=True)
        return 0
    except CliError as err:
        return report(err)


def merged_tensors(kind: str) -> List[Tensor]:
    """Every weight of a (tiny) merged qwen2/llama model, with the names and shapes transformers saves."""
    head_dim = HIDDEN // HEADS
    kv = KV_HEADS * head_dim
    tensors: List[Tensor] = [
        ("model.embed_tokens.weight", [VOCAB, HIDDEN], values(VOCAB * HIDDEN, 1)),
        ("model.norm.weight", [HIDDEN], [1.0] * HIDDEN),
        ("lm_head.weight", [VOCAB, HIDDEN], values(VOCAB * HIDDEN, 2)),
    ]
    for i in range(LAYERS):
        layer = f"model.layers.{i}"
        shapes = {
            "self_attn.q_proj.weight": [HEADS * head_dim, HIDDEN],
            "self_attn.k_proj.weight": [kv, HIDDEN],
            "self_attn.v_proj.weight": [kv, HIDDEN],
            "self_attn.o_proj.weight": [HIDDEN, HEADS * head_dim],
            "mlp.gate_proj.weight": [INTERMEDIATE, HIDDEN],
            "mlp.up_proj.weight": [INTERMEDIATE, HIDDEN],
            "mlp.down_proj.weight": [HIDDEN, INTERMEDIATE],
        }
        if kind == "qwen2":  # qwen2 has biases on q, k and v
            shapes.update({"self_attn.q_proj.bias": [HEADS * head_dim], "self_attn.k_proj.bias": [kv],
                           "self_attn.v_proj.bias": [kv]})
        for j, (name, shape) in enumerate(sorted(shapes.items())):
            count = 1
            for d in shape:
                count *= d
            tensors.append((f"{layer}.{name}", shape, values(count, 10 + 20 * i + j)))
        tensors.append((f"{layer}.input_layernorm.weight", [HIDDEN], [1.0] * HIDDEN))
        tensors.append((f"{layer}.post_attention_layernorm.weight", [HIDDEN], [1.0] * HIDDEN))
    return tensors


# The pre-tokenizer regexes of Qwen2.5 and Llama 3 (as in their tokenizer.json): a GGUF converter needs to know which.
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def tokenizer(kind: str) -> Dict[str, object]:
    """A byte-level BPE tokenizer.json of VOCAB tokens, with the base family's pre-tokenizer."""
    letters = [chr(ord("a") + i) for i in range(26)]
    vocab = {t: i for i, t in enumerate(letters + ["ab", "ba", "Ġa", "Ġ"])}
    added = [{"id": VOCAB - 2, "content": "<|im_start|>", "special": True, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False},
             {"id": VOCAB - 1, "content": "<|im_end|>", "special": True, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False}]
    split = QWEN2_SPLIT if kind == "qwen2" else LLAMA3_SPLIT
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": split}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "vocab": vocab, "merges": ["a b", "b a"]},
    }

TOKENIZER_CONFIG = {
    "tokenizer_class": "PreTrainedTokenizerFast",
    "eos_token": "<|im_end|>",
    "model_max_length": 2048,
    "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
}

HANDLERS: Dict[str, Callable[[List[str]], int]] = {"train_lora.py": run_train, "merge_lora.py": run_merge}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
