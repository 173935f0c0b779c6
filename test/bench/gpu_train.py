"""The GPU training benchmark (issue #10), prepared for a lent GPU machine; CI never runs it.

    python3 test/bench/gpu_train.py [--steps 40] [--out DIR]      # from the repository root, on a CUDA machine

Builds a random model with Qwen2.5-0.5B's shapes (hidden 896, 24 layers, 14 heads / 2 key-value heads,
intermediate 4864, vocab 151936, tied embeddings) and a synthetic SFT dataset, then runs the real
python/train_lora.py for a fixed number of optimizer steps on the PEFT path (--no-unsloth) and on Unsloth's path
when Unsloth imports in this Python, and prints one JSON line per path: tokens/s (train_lora.py's own count over
the training steps), peak GPU memory (torch.cuda.max_memory_allocated in the trainer) and seconds. Nothing is
downloaded: the tokenizer is a small byte-level BPE trained on the spot (the embedding keeps the real vocabulary
size, so memory and the lm_head's cost are those of the real model).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from tests import tiny_models  # noqa: E402

SHAPE = dict(
    hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
    max_position_embeddings=32768, rms_norm_eps=1e-6, tie_word_embeddings=True, vocab_size=151936,
    rope_theta=1_000_000.0,
)  # fmt: skip


def build_model(out: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    tokenizer = tiny_models._tokenizer(
        tiny_models.QWEN2_SPLIT, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], tiny_models.CHATML_TEMPLATE,
        "<|endoftext|>", "<|im_end|>", "<|endoftext|>",
    )  # fmt: skip
    config = Qwen2Config(**SHAPE)
    config.bos_token_id = config.pad_token_id = tokenizer.bos_token_id
    config.eos_token_id = tokenizer.eos_token_id
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    folder = out / "qwen2.5-0.5b-shaped"
    model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    return folder


def dataset(path: Path, n: int = 512) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            body = "\n".join(f"    x{j} = a + {i * j} - b" for j in range(12))
            messages = [
                {"role": "system", "content": tiny_models.CORPUS[4]},
                {"role": "user", "content": f"Write function number {i} that adds two numbers. " * 4},
                {"role": "assistant", "content": f"def add_{i}(a, b):\n{body}\n    return a + b\n"},
            ]
            f.write(json.dumps({"messages": messages}) + "\n")
    return path


def run(path_name: str, base: Path, data: Path, out: Path, steps: int, extra: list) -> dict:
    adapter = out / f"adapter-{path_name}"
    command = [sys.executable, str(ROOT / "python" / "train_lora.py"), "--data", str(data), "--base-model",
               str(base), "--output", str(adapter), "--max-steps", str(steps), "--epochs", "100", "--batch-size",
               "8", "--max-seq-length", "512", *extra]  # fmt: skip
    # Later flags win in argparse: extra may lower the batch and the length (the CPU check does).
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return {"path": path_name, "error": (done.stderr or done.stdout)[-2000:]}
    report = json.loads((adapter / "eval.json").read_text())
    return {
        "path": path_name,
        "backend": report["backend"],
        "steps": report["steps"],
        "tokens_per_s": report["tokens_per_s"],
        "peak_gpu_memory_gib": round(report["peak_memory_bytes"] / 2**30, 2) if report["peak_memory_bytes"] else None,
        "seconds": report["seconds"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--out")
    parser.add_argument("--cpu-check", action="store_true", help="one tiny step on the CPU: checks the script only")
    args = parser.parse_args()
    import torch

    if args.cpu_check:
        out = Path(args.out or tempfile.mkdtemp(prefix="gpu-train-check-"))
        base, data = build_model(out), dataset(out / "sft.jsonl", 24)
        small = ["--allow-cpu", "--no-unsloth", "--batch-size", "1", "--max-seq-length", "128"]
        print(json.dumps(run("peft-cpu-check", base, data, out, 1, small)), flush=True)
        return 0
    if not torch.cuda.is_available():
        print("gpu_train.py: no CUDA GPU here; this benchmark is for a GPU machine.", file=sys.stderr)
        return 5
    out = Path(args.out or tempfile.mkdtemp(prefix="gpu-train-"))
    base = build_model(out)
    data = dataset(out / "sft.jsonl")
    print(json.dumps({"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}), flush=True)
    print(json.dumps(run("peft", base, data, out, args.steps, ["--no-unsloth"])), flush=True)
    if importlib.util.find_spec("unsloth") is None:
        print(json.dumps({"path": "unsloth", "error": "unsloth is not installed in this Python"}), flush=True)
    else:
        print(json.dumps(run("unsloth", base, data, out, args.steps, [])), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
