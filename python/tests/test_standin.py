"""test/standins/python, the interpreter the TypeScript tests train with: real checks, real-format outputs."""

import importlib.util
import json
import re
import struct
import subprocess
import sys

from adapter_format import adapter_config
from sft_data import total_steps
from tests.fixtures import (
    MERGE_SCRIPT,
    REPO,
    STANDIN,
    TRAIN_SCRIPT,
    TempDirTestCase,
    read_safetensors_header,
    run_script,
    run_standin,
)

BASE = "Qwen/Qwen2.5-Coder-7B-Instruct"
TRAIN = [TRAIN_SCRIPT, "--data", "d.jsonl", "--base-model", BASE, "--output", "lora/coder"]
TENSOR_NAME = re.compile(
    r"^base_model\.model\.model\.layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])\.weight$"
)


def load_fake_python():
    spec = importlib.util.spec_from_file_location("fake_python", REPO / "test" / "standins" / "fake_python.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StandinTrainTest(TempDirTestCase):
    def train(self, *extra, env=None, examples=12):
        self.dataset(examples, "d.jsonl")
        return run_standin([*TRAIN, "--progress-file", "progress.jsonl", *extra], cwd=self.tmp, env=env)

    def test_writes_a_peft_adapter_the_converter_reads(self):
        result = self.train("--rank", "8", "--alpha", "16")
        self.assertEqual(result.returncode, 0, result.stderr)
        out = self.tmp / "lora" / "coder"
        self.assertEqual(
            sorted(p.name for p in out.iterdir()),
            ["adapter_config.json", "adapter_model.safetensors", "config.json", "eval.json"],
        )
        config = json.loads((out / "adapter_config.json").read_text())
        self.assertEqual(config, adapter_config(BASE, 8, 16))

        header = read_safetensors_header(out / "adapter_model.safetensors")
        self.assertEqual(header.pop("__metadata__"), {"format": "pt"})
        size = header.pop("__size__")
        self.assertEqual(len(header), 2 * 7 * 2)
        end = 0
        for name, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
            match = TENSOR_NAME.match(name)
            self.assertIsNotNone(match, name)
            self.assertEqual(entry["dtype"], "F32")
            rows, cols = entry["shape"]
            self.assertEqual(rows if match.group(3) == "A" else cols, 8, name)
            self.assertEqual(entry["data_offsets"], [end, end + rows * cols * 4])
            end = entry["data_offsets"][1]
        self.assertEqual(end, size)
        data = (out / "adapter_model.safetensors").read_bytes()[-size:]
        weights = struct.unpack(f"<{size // 4}f", data)
        self.assertTrue(all(w != 0 and abs(w) < 0.1 for w in weights))
        self.assertEqual(header["base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight"]["shape"], [32, 8])
        self.assertEqual(header["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"]["shape"], [8, 160])

        base = json.loads((out / "config.json").read_text())
        self.assertEqual((base["model_type"], base["architectures"]), ("qwen2", ["Qwen2ForCausalLM"]))

    def test_reports_progress_in_the_real_format_up_to_the_real_step_count(self):
        result = self.train("--epochs", "2", "--batch-size", "3", examples=23)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = [json.loads(line) for line in (self.tmp / "progress.jsonl").read_text().splitlines()]
        expected_total = total_steps(23 - 3, 3, 2)
        self.assertGreaterEqual(len(lines), 2)
        for line in lines:
            self.assertEqual(set(line), {"step", "total", "loss", "eta_s"})
            self.assertEqual(line["total"], expected_total)
        steps = [line["step"] for line in lines]
        self.assertEqual(steps, sorted(set(steps)))
        self.assertEqual(steps[-1], expected_total)
        self.assertEqual(lines[-1]["eta_s"], 0.0)
        self.assertIn(f"step {expected_total}/{expected_total} (100%)", result.stdout)

    def test_eval_json_says_the_held_out_loss_improved(self):
        self.assertEqual(self.train().returncode, 0)
        report = json.loads((self.tmp / "lora" / "coder" / "eval.json").read_text())
        self.assertEqual(
            set(report),
            {
                "base_model",
                "train_examples",
                "eval_examples",
                "eval_loss_before",
                "eval_loss_after",
                "improved",
                "backend",
                "seconds",
                "rank",
                "alpha",
                "gate",
                "lora_dropout",
                "max_seq_length",
                "truncated_examples",
                "steps",
                "grad_accum",
                "lr_scheduler",
                "epoch_eval_losses",
                "best_epoch",
                "resumed_from_epoch",
                "tokens_per_s",
                "peak_memory_bytes",
            },
        )
        self.assertEqual((report["train_examples"], report["eval_examples"]), (9, 3))
        self.assertTrue(report["gate"]["passed"], report["gate"])
        self.assertLess(report["eval_loss_after"], report["eval_loss_before"])
        self.assertEqual(
            (report["improved"], report["backend"], report["rank"], report["alpha"]), (True, "standin", 16, 32)
        )

    def test_eval_worse_makes_the_held_out_loss_rise(self):
        self.assertEqual(self.train(env={"AGENT_LEARNING_STANDIN_EVAL": "worse"}).returncode, 0)
        report = json.loads((self.tmp / "lora" / "coder" / "eval.json").read_text())
        self.assertGreater(report["eval_loss_after"], report["eval_loss_before"])
        self.assertFalse(report["improved"])

    def test_fail_train_exits_1_like_a_cuda_out_of_memory_and_writes_no_adapter(self):
        result = self.train(env={"AGENT_LEARNING_STANDIN_FAIL": "train"})
        self.assertEqual(result.returncode, 1)
        self.assertIn("error: the GPU ran out of memory: CUDA out of memory.", result.stderr)
        self.assertIn("--batch-size (now 2)", result.stderr)
        self.assertFalse((self.tmp / "lora" / "coder").exists())
        self.assertEqual(len((self.tmp / "progress.jsonl").read_text().splitlines()), 1)

    def test_a_llama_base_gets_a_llama_config(self):
        self.dataset(12, "d.jsonl")
        result = run_standin(
            [TRAIN_SCRIPT, "--data", "d.jsonl", "--base-model", "meta-llama/Llama-3.1-8B-Instruct", "--output", "l"],
            cwd=self.tmp,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        base = json.loads((self.tmp / "l" / "config.json").read_text())
        self.assertEqual(
            (base["model_type"], base["num_attention_heads"], base["num_key_value_heads"]), ("llama", 4, 2)
        )

    def test_fails_exactly_like_the_real_script_on_bad_input(self):
        cases = {
            "missing": None,
            "bad line": dataset_with_bad_line(),
            "too few": "\n".join(json_lines(4)) + "\n",
        }
        for name, content in cases.items():
            with self.subTest(name):
                data = self.tmp / "d.jsonl"
                data.unlink(missing_ok=True)
                if content is not None:
                    data.write_text(content)
                real = run_script(TRAIN_SCRIPT, TRAIN[1:], cwd=self.tmp)
                standin = run_standin(TRAIN, cwd=self.tmp)
                self.assertEqual(real.returncode, 3)
                self.assertEqual((standin.returncode, standin.stderr), (real.returncode, real.stderr))
        for bad in (["--rank", "0"], ["--bogus"]):
            real = run_script(TRAIN_SCRIPT, [*TRAIN[1:], *bad], cwd=self.tmp)
            standin = run_standin([*TRAIN, *bad], cwd=self.tmp)
            self.assertEqual(real.returncode, 2)
            self.assertEqual((standin.returncode, standin.stderr), (real.returncode, real.stderr))


class StandinMergeTest(TempDirTestCase):
    def trained_adapter(self, base=BASE):
        self.dataset(12, "d.jsonl")
        result = run_standin(
            [TRAIN_SCRIPT, "--data", "d.jsonl", "--base-model", base, "--output", "adapter"], cwd=self.tmp
        )
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_writes_a_tiny_safetensors_model_folder(self):
        self.trained_adapter()
        result = run_standin(
            [MERGE_SCRIPT, "--base-model", BASE, "--adapter", "adapter", "--output", "merged"], cwd=self.tmp
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        merged = self.tmp / "merged"
        self.assertEqual(
            sorted(p.name for p in merged.iterdir()),
            ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"],
        )
        config = json.loads((merged / "config.json").read_text())
        self.assertEqual((config["architectures"], config["model_type"]), (["Qwen2ForCausalLM"], "qwen2"))
        header = read_safetensors_header(merged / "model.safetensors")
        self.assertEqual(header["model.embed_tokens.weight"]["dtype"], "BF16")
        json.loads((merged / "tokenizer.json").read_text())
        json.loads((merged / "tokenizer_config.json").read_text())

    def test_float16_and_llama_are_honoured(self):
        self.trained_adapter("meta-llama/Llama-3.2-3B-Instruct")
        result = run_standin(
            [
                MERGE_SCRIPT,
                "--base-model",
                "meta-llama/Llama-3.2-3B-Instruct",
                "--adapter",
                "adapter",
                "--output",
                "m",
                "--dtype",
                "float16",
            ],
            cwd=self.tmp,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            json.loads((self.tmp / "m" / "config.json").read_text())["architectures"], ["LlamaForCausalLM"]
        )
        self.assertEqual(
            read_safetensors_header(self.tmp / "m" / "model.safetensors")["model.norm.weight"]["dtype"], "F16"
        )

    def test_fail_merge_exits_1(self):
        self.trained_adapter()
        result = run_standin(
            [MERGE_SCRIPT, "--base-model", BASE, "--adapter", "adapter", "--output", "m"],
            cwd=self.tmp,
            env={"AGENT_LEARNING_STANDIN_FAIL": "merge"},
        )
        self.assertEqual(result.returncode, 1)
        self.assertIn("ran out of memory", result.stderr)
        self.assertFalse((self.tmp / "m").exists())

    def test_fails_exactly_like_the_real_script_on_a_bad_adapter(self):
        (self.tmp / "empty").mkdir()
        for adapter in ("nope", "empty"):
            argv = ["--base-model", BASE, "--adapter", adapter, "--output", "m"]
            real = run_script(MERGE_SCRIPT, argv, cwd=self.tmp)
            standin = run_standin([MERGE_SCRIPT, *argv], cwd=self.tmp)
            self.assertEqual(real.returncode, 3)
            self.assertEqual((standin.returncode, standin.stderr), (real.returncode, real.stderr))


class StandinPassThroughTest(TempDirTestCase):
    def test_version_and_dash_c_run_the_real_interpreter(self):
        version = run_standin(["--version"])
        self.assertEqual(version.returncode, 0)
        self.assertRegex(version.stdout + version.stderr, r"^Python 3\.")
        result = run_standin(["-c", "import sys; print(sys.argv[1:])", "a", "b"])
        self.assertEqual(result.stdout.strip(), "['a', 'b']")

    def test_other_scripts_run_for_real(self):
        script = self.tmp / "hello.py"
        script.write_text("import sys\nprint('hello', *sys.argv[1:])\nsys.exit(7)\n")
        result = run_standin([script, "x"])
        self.assertEqual((result.returncode, result.stdout), (7, "hello x\n"))

    def test_a_missing_train_script_fails_as_python_would(self):
        result = run_standin([self.tmp / "train_lora.py", "--data", "x"])
        self.assertEqual(result.returncode, 2)
        self.assertIn("can't open file", result.stderr)

    def test_finds_the_script_after_interpreter_options(self):
        fake = load_fake_python()
        self.assertEqual(fake.script_index(["-u", "-X", "utf8", "train_lora.py", "--data", "x"]), 3)
        self.assertEqual(fake.script_index(["train_lora.py"]), 0)
        self.assertIsNone(fake.script_index(["-c", "print(1)"]))
        self.assertIsNone(fake.script_index(["-m", "pip"]))
        self.assertIsNone(fake.script_index([]))

    def test_the_wrapper_is_executable(self):
        self.assertTrue(STANDIN.stat().st_mode & 0o111)
        self.assertEqual(subprocess.run([str(STANDIN), "-c", "print(2)"], capture_output=True, text=True).stdout, "2\n")

    def test_unbuffered_train_runs_the_standin(self):
        self.dataset(12, "d.jsonl")
        result = run_standin(["-u", *TRAIN], cwd=self.tmp)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("Backend: standin", result.stdout)


def json_lines(n):
    return [
        json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]})
        for i in range(n)
    ]


def dataset_with_bad_line():
    lines = json_lines(12)
    lines[4] = json.dumps({"messages": [{"role": "user", "content": "only a question"}]})
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(0)
