"""train_lora.py and merge_lora.py against the real torch, transformers and PEFT, on the CPU, with tiny random
models built on the spot (tests/tiny_models.py): the loss falls, eval.json and the progress lines are what the
extension reads, the adapter is PEFT's format, and the merged model computes what base + adapter computes.

These need the packages of python/requirements.lock: `npm run test:python` runs them in the environment that
`bash test/python/setup.sh` makes. Without torch they fail (an ImportError), never skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import torch
from safetensors import safe_open

from adapter_format import ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, EVAL_FILE, TARGET_MODULES
from tests import tiny_models
from tests.fixtures import MERGE_SCRIPT, TRAIN_SCRIPT, run_real

SYSTEM = "You are a careful coding assistant. Answer with code only."
TASKS = [("adds", "add", "+"), ("subtracts", "sub", "-")]


def learnable_dataset(path: Path, n: int = 24) -> Path:
    """Two answers the tiny model can learn from their questions in a few epochs."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            verb, name, op = TASKS[i % 2]
            messages = [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Write a function that {verb} two numbers."},
                {"role": "assistant", "content": f"def {name}(a, b):\n    return a {op} b\n"},
            ]
            f.write(json.dumps({"messages": messages}) + "\n")
    return path


def rendered_length(base: Path, data: Path) -> int:
    """Tokens of the shortest example as the base's chat template renders it."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base))
    lengths = []
    for line in data.read_text().splitlines():
        text = tokenizer.apply_chat_template(json.loads(line)["messages"], tokenize=False)
        lengths.append(len(tokenizer(text, add_special_tokens=False)["input_ids"]))
    return min(lengths)


def tail(result) -> str:
    return (result.stderr + result.stdout)[-3000:]


class RealTrainingTest(unittest.TestCase):
    tmp: Path
    data: Path

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="real-training-"))
        cls.data = learnable_dataset(cls.tmp / "coder_sft.jsonl")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def train_and_merge(self, kind: str) -> None:
        base = tiny_models.build(kind, self.tmp)
        adapter = self.tmp / f"{kind}-adapter"
        progress = self.tmp / f"{kind}.progress"
        trained = run_real(TRAIN_SCRIPT, [
            "--data", str(self.data), "--base-model", str(base), "--output", str(adapter), "--allow-cpu",
            "--epochs", "4", "--learning-rate", "3e-3", "--progress-file", str(progress),
        ])  # fmt: skip
        self.assertEqual(trained.returncode, 0, tail(trained))

        report = json.loads((adapter / EVAL_FILE).read_text())
        self.assertEqual(report["backend"], "peft")
        self.assertEqual(report["base_model"], str(base))
        self.assertLess(report["eval_loss_after"], 0.9 * report["eval_loss_before"], report)
        self.assertTrue(report["improved"])
        self.assertGreater(report["peak_memory_bytes"], 50 * 2**20)  # torch alone is more than 50 MiB

        lines = [json.loads(line) for line in progress.read_text().splitlines()]
        total = lines[0]["total"]
        self.assertEqual([line["step"] for line in lines], list(range(1, total + 1)))
        for line in lines:
            self.assertLessEqual({"step", "total", "loss", "eta_s"}, set(line))
        self.assertLess(lines[-1]["loss"], lines[0]["loss"])

        config = json.loads((adapter / ADAPTER_CONFIG_FILE).read_text())
        self.assertEqual(config["peft_type"], "LORA")
        self.assertEqual(sorted(config["target_modules"]), sorted(TARGET_MODULES))
        self.assertFalse(config.get("use_dora") or config.get("use_rslora") or config.get("modules_to_save"))
        with safe_open(str(adapter / ADAPTER_WEIGHTS_FILE), framework="pt") as f:
            names = set(f.keys())
        self.assertIn("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", names)
        self.assertIn("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", names)
        self.assertEqual(json.loads((adapter / "config.json").read_text())["model_type"], kind)

        merged = self.tmp / f"{kind}-merged"
        result = run_real(MERGE_SCRIPT, [
            "--base-model", str(base), "--adapter", str(adapter), "--output", str(merged),
            "--allow-cpu", "--dtype", "float32",
        ])  # fmt: skip
        self.assertEqual(result.returncode, 0, tail(result))
        self.assertTrue((merged / "model.safetensors").is_file())
        self.assert_merged_computes_base_plus_adapter(base, adapter, merged)

    def assert_merged_computes_base_plus_adapter(self, base: Path, adapter: Path, merged: Path) -> None:
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(merged))
        ids = tokenizer("def add(a, b):\n    return", add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(base)), str(adapter))
            expected = torch.log_softmax(tuned.eval()(ids).logits.double(), -1)
            plain = AutoModelForCausalLM.from_pretrained(str(base)).eval()
            untuned = torch.log_softmax(plain(ids).logits.double(), -1)
            actual = torch.log_softmax(AutoModelForCausalLM.from_pretrained(str(merged)).eval()(ids).logits.double(), -1)
        self.assertLess(float((actual - expected).abs().max()), 1e-4)
        # ... and the adapter changed something, so the comparison above is not between two copies of the base.
        self.assertGreater(float((expected - untuned).abs().max()), 1e-2)

    def test_accumulation_truncation_schedule_and_offline_are_reported(self):
        base = tiny_models.build("qwen2", self.tmp / "short")
        adapter = self.tmp / "short-adapter"
        progress = self.tmp / "short.progress"
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # a local base needs no network, at load or save time
        limit = rendered_length(base, self.data) - 3  # cuts the end of every answer (and its end-of-turn token)
        trained = subprocess.run(
            [sys.executable, str(TRAIN_SCRIPT), "--data", str(self.data), "--base-model", str(base), "--output",
             str(adapter), "--allow-cpu", "--epochs", "2", "--grad-accum", "2", "--max-seq-length", str(limit),
             "--lr-scheduler", "cosine", "--progress-file", str(progress)],
            capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip
        self.assertEqual(trained.returncode, 0, tail(trained))
        report = json.loads((adapter / EVAL_FILE).read_text())
        # 21 training examples in batches of 2: 11 batches an epoch, 6 optimizer steps with 2 accumulated.
        self.assertEqual((report["steps"], report["grad_accum"], report["lr_scheduler"]), (12, 2, "cosine"))
        self.assertEqual(report["max_seq_length"], limit)
        self.assertEqual(report["truncated_examples"], 24)
        self.assertIn("were cut", trained.stdout)
        self.assertEqual(len(report["epoch_eval_losses"]), 2)
        self.assertIn(report["best_epoch"], (1, 2))
        self.assertEqual(report["gate"]["examples"], 3)
        self.assertIsInstance(report["gate"]["reason"], str)
        lines = [json.loads(line) for line in progress.read_text().splitlines()]
        self.assertEqual(len(lines), 12)
        self.assertEqual({(line["max_seq_length"], line["truncated"]) for line in lines}, {(limit, 24)})
        self.assertTrue(all(line["tokens_per_s"] > 0 and line["lr"] >= 0 for line in lines))
        self.assertEqual([line["epoch"] for line in lines], [1] * 6 + [2] * 6)

    def test_resume_continues_after_the_last_finished_epoch(self):
        base = tiny_models.build("qwen2", self.tmp / "resume")
        adapter = self.tmp / "resume-adapter"
        command = [sys.executable, str(TRAIN_SCRIPT), "--data", str(self.data), "--base-model", str(base),
                   "--output", str(adapter), "--allow-cpu", "--epochs", "40", "--resume"]  # fmt: skip
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert first.stdout is not None
            for line in first.stdout:  # epoch 2's line means epoch 1's checkpoint is on disk
                if line.startswith("Epoch 2/40"):
                    break
        finally:
            first.kill()
            first.wait()
            first.stdout.close()
        self.assertFalse((adapter / EVAL_FILE).exists())
        second = subprocess.run(command, capture_output=True, text=True, timeout=600)
        self.assertEqual(second.returncode, 0, tail(second))
        resumed = re.search(r"--resume: continuing after epoch (\d+) ", second.stdout)
        self.assertIsNotNone(resumed, tail(second))
        report = json.loads((adapter / EVAL_FILE).read_text())
        self.assertGreaterEqual(report["resumed_from_epoch"], 1)
        self.assertEqual(report["resumed_from_epoch"], int(resumed.group(1)))
        self.assertEqual(len(report["epoch_eval_losses"]), 40)
        self.assertFalse(any(p.name.endswith(".checkpoint") for p in self.tmp.iterdir()))

    def test_an_adapter_of_another_base_exits_3_naming_it_and_writes_nothing(self):
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM, Qwen2Config

        base = tiny_models.build("qwen2", self.tmp / "fits")
        narrower = Qwen2Config(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                               num_key_value_heads=2, vocab_size=384)  # fmt: skip
        adapter = self.tmp / "narrow-adapter"
        config = LoraConfig(r=4, lora_alpha=8, target_modules=list(TARGET_MODULES))
        get_peft_model(AutoModelForCausalLM.from_config(narrower), config).save_pretrained(str(adapter))
        merged = self.tmp / "never-merged"

        result = run_real(MERGE_SCRIPT, [
            "--base-model", str(base), "--adapter", str(adapter), "--output", str(merged), "--allow-cpu",
        ])  # fmt: skip

        self.assertEqual(result.returncode, 3, tail(result))
        self.assertIn(f"error: {adapter}: it does not fit {base}, whose shapes differ (size mismatch", result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertFalse(merged.exists())

    def test_a_base_folder_without_a_tokenizer_exits_3_before_loading_anything(self):
        base = tiny_models.build("qwen2", self.tmp / "no-tokenizer")
        for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
            (base / name).unlink(missing_ok=True)
        out = self.tmp / "no-tokenizer-adapter"

        result = run_real(TRAIN_SCRIPT, [
            "--data", str(self.data), "--base-model", str(base), "--output", str(out), "--allow-cpu",
        ])  # fmt: skip

        self.assertEqual(result.returncode, 3, tail(result))
        self.assertIn(f"error: {base}: the base model folder has no tokenizer", result.stderr)
        self.assertFalse(out.exists())

    def test_qwen2_trains_and_merges(self):
        self.train_and_merge("qwen2")

    def test_llama_with_llama3_rope_trains_and_merges(self):
        self.train_and_merge("llama")


if __name__ == "__main__":
    unittest.main()
