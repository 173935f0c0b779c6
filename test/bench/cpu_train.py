"""CPU training benchmark (issue #10): tokens/s and peak memory of the real python/train_lora.py, PEFT path.

    npm run bench:train                  # runs this with the tests' Python (test/python/setup.sh)
    BENCH_REPS=3 BENCH_THREADS=1,2 BENCH_SHAPES=qwen2-tiny,llama-tiny,qwen2-256x4 \
        .venv/bin/python test/bench/cpu_train.py

Shapes: the tiny random Qwen2 and Llama of python/tests/tiny_models.py (hidden 64, 2 layers, vocab 384: start-up and
per-step overhead dominate) and a somewhat bigger Qwen2 with the same tokenizer (hidden 256, intermediate 1024, 4
layers, 4 heads / 2 key-value heads) on which tokens/s says more about the arithmetic. The dataset is learnable:
each answer follows from its question (which operation, which function number), in the exporter's chat JSONL
format. Each shape trains BENCH_REPS times with `--allow-cpu --no-unsloth` for a fixed number of optimizer steps,
fewer than one epoch holds, so no epoch-end evaluation falls inside the timed steps. Each runs with torch's
intra-op threads set to 1 and to the number of cores (torch's default) through OMP_NUM_THREADS: on a machine that
other jobs load, threads that wait for each other at every operation lose far more than one thread does.

Figures, medians over the repetitions: tokens/s is train_lora.py's own count (every input token of the steps'
batches over the time since the first step, eval.json's `tokens_per_s`); peak memory is eval.json's
`peak_memory_bytes`, the trainer's peak RSS on the CPU; wall seconds are the whole command's (Python start-up,
imports, loading, the held-out loss before and after, saving). The models are built in a child process so this
driver stays small: a child's peak RSS on Linux starts from its parent's RSS at the fork. BENCH_NO_WRITE=1 leaves
BENCHMARKS.md alone.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from bench_report import commit, machine, publish, wrap  # noqa: E402 (test/bench is sys.path[0])

TRAIN_SCRIPT = ROOT / "python" / "train_lora.py"
SECTION_START = "<!-- train-cpu-bench:start -->"
SECTION_END = "<!-- train-cpu-bench:end -->"
TIME_LIMIT_S = 600  # per training run
EXAMPLES = 480  # 432 to train on: 108 batches of 4, more than any shape's steps

#: name → (what it is, optimizer steps, batch size)
SHAPES: Dict[str, tuple] = {
    "qwen2-tiny": ("tiny Qwen2 (hidden 64, 2 layers, 4/2 heads, vocab 384)", 30, 4),
    "llama-tiny": ("tiny Llama (hidden 64, 2 layers, 4/2 heads, vocab 384, llama3 rope)", 30, 4),
    "qwen2-256x4": ("Qwen2 hidden 256, intermediate 1024, 4 layers, 4/2 heads, vocab 384", 20, 4),
}
TASKS = [("adds", "add", "+"), ("subtracts", "sub", "-"), ("multiplies", "mul", "*")]


def build(out: Path, data: Path) -> None:
    """In a child process: the three models under out/<shape name>, and out/lengths.json: each one's mean tokens
    per example of `data` as its chat template renders it (what train_lora.py trains on)."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    from tests import tiny_models

    for kind in ("qwen2", "llama"):
        tiny_models.build(kind, out).rename(out / f"{kind}-tiny")
    tokenizer = tiny_models._tokenizer(
        tiny_models.QWEN2_SPLIT, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], tiny_models.CHATML_TEMPLATE,
        "<|endoftext|>", "<|im_end|>", "<|endoftext|>",
    )  # fmt: skip
    shape = {**tiny_models.COMMON, "hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 4}
    config = Qwen2Config(vocab_size=len(tokenizer), rope_theta=1_000_000.0, **shape)
    config.bos_token_id = tokenizer.bos_token_id
    config.eos_token_id = tokenizer.eos_token_id
    config.pad_token_id = tokenizer.pad_token_id
    torch.manual_seed(0)
    folder = out / "qwen2-256x4"
    AutoModelForCausalLM.from_config(config, dtype=torch.float32).save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))

    from transformers import AutoTokenizer

    examples = [json.loads(line)["messages"] for line in data.read_text(encoding="utf-8").splitlines()]
    lengths = {}
    for name in SHAPES:
        tok = AutoTokenizer.from_pretrained(str(out / name))
        texts = [tok.apply_chat_template(m, tokenize=False) for m in examples]
        lengths[name] = statistics.mean(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)
    (out / "lengths.json").write_text(json.dumps(lengths), encoding="utf-8")


def dataset(path: Path) -> Path:
    """Function i of one of three operations: the answer follows from the question, so the loss can fall."""
    from tests import tiny_models

    with path.open("w", encoding="utf-8") as f:
        for i in range(EXAMPLES):
            verb, name, op = TASKS[i % len(TASKS)]
            messages = [
                {"role": "system", "content": tiny_models.CORPUS[4]},
                {"role": "user", "content": f"Write function {i} that {verb} two numbers."},
                {"role": "assistant", "content": f"def {name}_{i}(a, b):\n    return a {op} b\n"},
            ]
            f.write(json.dumps({"messages": messages}) + "\n")
    return path


def train(base: Path, data: Path, out: Path, steps: int, batch: int, threads: int) -> Dict[str, Any]:
    command = [
        sys.executable, str(TRAIN_SCRIPT), "--data", str(data), "--base-model", str(base), "--output", str(out),
        "--allow-cpu", "--no-unsloth", "--offline", "--max-steps", str(steps), "--epochs", "1", "--batch-size",
        str(batch), "--learning-rate", "3e-3", "--max-seq-length", "256", "--lr-scheduler", "constant",
    ]  # fmt: skip
    started = time.monotonic()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIME_LIMIT_S, env=env)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"train_lora.py exited with {done.returncode}:\n{(done.stderr + done.stdout)[-3000:]}")
    report = json.loads((out / "eval.json").read_text(encoding="utf-8"))
    if report["backend"] != "peft" or report["steps"] != steps:
        raise RuntimeError(f"expected {steps} PEFT steps, eval.json says {report}")
    return {"wall_s": wall, **report}


def versions() -> str:
    probe = "import peft, torch, transformers; print(torch.__version__, transformers.__version__, peft.__version__)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    torch_v, transformers_v, peft_v = done.stdout.split()
    return (
        f"Python {platform.python_version()}, torch {torch_v}, transformers "
        f"{transformers_v}, PEFT {peft_v}"
    )


def section(info: Dict[str, Any], rows: List[Dict[str, Any]]) -> str:
    intro = (
        "`npm run bench:train` (`test/bench/cpu_train.py`; `BENCH_REPS`, `BENCH_THREADS`, `BENCH_SHAPES`): the real "
        "`python/train_lora.py --allow-cpu --no-unsloth` on random models built on the spot, float32 on the CPU, "
        f"LoRA r 16 on all linear layers, batch 4, lr 3e-3 (constant), a learnable synthetic chat dataset ({EXAMPLES} "
        f"examples, 10% held out). {info['reps']} runs per shape and thread count (**torch threads**: "
        f"OMP_NUM_THREADS of the trainer; {os.cpu_count()} is torch's default here), interleaved; medians. "
        "**tokens/s**: train_lora.py's own count (every input token of the steps' batches / time since the first "
        "step); **peak RSS**: eval.json's `peak_memory_bytes` (the trainer's ru_maxrss); **wall s**: the whole "
        "command (start-up, imports, loading, held-out loss before and after, saving); **train_lora s**: eval.json's "
        "`seconds` (its main, start to adapter saved). Peak RSS is mostly torch, transformers and PEFT themselves: "
        "the models weigh 17 MB at most."
    )
    lines = [
        "## LoRA training on the CPU (PEFT path)",
        "",
        wrap(intro),
        "",
        wrap(f"- Commit: `{info['commit']}` · date {info['date']} · benchmark took {info['minutes']:.1f} min"),
        wrap(
            f"- Machine: {info['machine']}; {info['versions']}. Shared with other jobs while it ran (load average "
            f"{info['load_before']} before, {info['load_after']} after), so the figures are low and noisy: with more "
            "threads than free cores, every operation waits for its descheduled thread, and a run can fall by 10× "
            "or more (see the runs below)."
        ),
        "",
        "| model | tokens per example | steps | torch threads | tokens/s | peak RSS | wall s | train_lora s | "
        "held-out loss before → after |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['what']} | {r['tokens']:.0f} | {r['steps']} | {r['threads']} | {r['tokens_per_s']:.0f} | "
            f"{r['peak_rss'] / 2**20:.0f} MiB | "
            f"{r['wall_s']:.1f} | {r['seconds']:.1f} | {r['loss_before']:.2f} → {r['loss_after']:.2f} |"
        )
    every = "; ".join(f"{r['name']} × {r['threads']} thread(s): {r['all']}" for r in rows)
    lines += ["", wrap(f"tokens/s of every run, in order: {every}.")]
    return "\n".join(lines)


def main() -> int:
    reps = int(os.environ.get("BENCH_REPS", 3))
    threads = [int(t) for t in os.environ.get("BENCH_THREADS", f"1,{os.cpu_count()}").split(",")]
    names = os.environ.get("BENCH_SHAPES", ",".join(SHAPES)).split(",")
    unknown = [n for n in names if n not in SHAPES]
    if unknown:
        print(f"cpu_train.py: unknown BENCH_SHAPES {unknown}; known: {', '.join(SHAPES)}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # through the finally below: the temp folder goes
    started = time.monotonic()
    info: Dict[str, Any] = {
        "reps": reps, "machine": machine(), "versions": versions(), "commit": commit(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "load_before": f"{os.getloadavg()[0]:.1f}",
    }  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="al-bench-train-"))
    try:
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        data = dataset(tmp / "coder_sft.jsonl")
        built = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--build", str(tmp), str(data)], env=env,
            timeout=TIME_LIMIT_S, capture_output=True, text=True,
        )  # fmt: skip
        if built.returncode != 0:
            raise RuntimeError(f"building the models failed:\n{(built.stderr + built.stdout)[-3000:]}")
        lengths = json.loads((tmp / "lengths.json").read_text(encoding="utf-8"))
        # Repetitions outermost and thread counts alternating within each, so a burst of other jobs' load falls on
        # every configuration rather than on one.
        runs: Dict[Tuple[str, int], List[Dict[str, Any]]] = {(n, t): [] for n in names for t in threads}
        for rep in range(reps):
            for name in names:
                _, steps, batch = SHAPES[name]
                for t in threads if rep % 2 == 0 else threads[::-1]:
                    adapter = tmp / f"{name}-{t}-adapter-{rep}"
                    run = train(tmp / name, data, adapter, steps, batch, t)
                    shutil.rmtree(adapter)
                    print(
                        f"{name}, {t} thread(s), #{rep + 1}: {run['tokens_per_s']:.0f} tokens/s, peak RSS "
                        f"{run['peak_memory_bytes'] / 2**20:.0f} MiB, {run['wall_s']:.1f} s wall, "
                        f"{run['seconds']:.1f} s in train_lora, loss {run['eval_loss_before']:.3f} → "
                        f"{run['eval_loss_after']:.3f}",
                        flush=True,
                    )
                    runs[(name, t)].append(run)
        rows = []
        for (name, t), done in runs.items():
            rows.append(
                {
                    "name": name, "what": SHAPES[name][0], "steps": SHAPES[name][1], "tokens": lengths[name],
                    "threads": t,
                    "tokens_per_s": statistics.median(r["tokens_per_s"] for r in done),
                    "peak_rss": statistics.median(r["peak_memory_bytes"] for r in done),
                    "wall_s": statistics.median(r["wall_s"] for r in done),
                    "seconds": statistics.median(r["seconds"] for r in done),
                    "loss_before": statistics.median(r["eval_loss_before"] for r in done),
                    "loss_after": statistics.median(r["eval_loss_after"] for r in done),
                    "all": ", ".join(f"{r['tokens_per_s']:.0f}" for r in done),
                }
            )  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["minutes"] = (time.monotonic() - started) / 60
    info["load_after"] = f"{os.getloadavg()[0]:.1f}"
    publish(section(info, rows), SECTION_START, SECTION_END, "train-cpu")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--build"]:
        build(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(main())
