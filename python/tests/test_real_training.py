"""train_lora.py and merge_lora.py against the real torch, transformers and PEFT, on the CPU, with tiny random
models built on the spot (tests/tiny_models.py): the loss falls, eval.json and the progress lines are what the
extension reads, the adapter is PEFT's format, and the merged model computes what base + adapter computes.

These need the packages of python/requirements.lock: `npm run test:python` runs them in the environment that
`bash test/python/setup.sh` makes. Without torch they fail (an ImportError), never skip.
"""

from __future__ import annotations

import json
import shutil
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
        self.assertEqual(trained.returncode, 0, trained.stderr + trained.stdout)

        report = json.loads((adapter / EVAL_FILE).read_text())
        self.assertEqual(report["backend"], "peft")
        self.assertEqual(report["base_model"], str(base))
        self.assertLess(report["eval_loss_after"], 0.9 * report["eval_loss_before"], report)
        self.assertTrue(report["improved"])

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
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)
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

    def test_qwen2_trains_and_merges(self):
        self.train_and_merge("qwen2")

    def test_llama_with_llama3_rope_trains_and_merges(self):
        self.train_and_merge("llama")


if __name__ == "__main__":
    unittest.main()
