import contextlib
import io
import json
import types

import train_lora
from adapter_format import TARGET_MODULES, adapter_config, lora_settings
from tests.fixtures import TRAIN_SCRIPT, TempDirTestCase, run_script

REQUIRED = ["--data", "d.jsonl", "--base-model", "Qwen/Qwen2.5-Coder-7B-Instruct", "--output", "out"]

#: Stand-ins that let train_lora.py get as far as loading the model, which then runs out of GPU memory.
OOM_TORCH = """
import types
class OutOfMemoryError(RuntimeError):
    pass
cuda = types.SimpleNamespace(is_available=lambda: True, OutOfMemoryError=OutOfMemoryError,
                             is_bf16_supported=lambda: True, get_device_capability=lambda: (8, 0),
                             get_device_properties=lambda i: types.SimpleNamespace(total_memory=24 * 2**30))
version = types.SimpleNamespace(cuda="12.6")
bfloat16 = "bfloat16"
def no_grad():
    return lambda f: f
def manual_seed(seed):
    pass
"""
OOM_TRANSFORMERS = """
import torch
class AutoConfig:
    @staticmethod
    def from_pretrained(*args, **kwargs):
        return type("Config", (), {"to_dict": lambda self: {}})()
class AutoTokenizer:
    @staticmethod
    def from_pretrained(*args, **kwargs):
        return object()
class AutoModelForCausalLM:
    @staticmethod
    def from_pretrained(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB")
"""


class ParseArgsTest(TempDirTestCase):
    def parse_error(self, *extra):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), self.assertRaises(SystemExit) as caught:
            train_lora.parse_args([*REQUIRED, *extra])
        self.assertEqual(caught.exception.code, 2)
        return stderr.getvalue()

    def test_defaults_follow_the_seed_config(self):
        args = train_lora.parse_args(REQUIRED)
        self.assertEqual(
            (args.rank, args.alpha, args.epochs, args.batch_size, args.learning_rate, args.max_seq_length),
            (16, 32, 3, 2, 2e-4, 2048),
        )
        self.assertEqual((args.eval_fraction, args.min_examples, args.seed), (0.1, 10, 42))
        self.assertIsNone(args.progress_file)
        self.assertFalse(args.allow_cpu or args.no_unsloth)

    def test_reads_every_flag(self):
        args = train_lora.parse_args(
            [
                *REQUIRED,
                "--rank",
                "8",
                "--alpha",
                "16",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--learning-rate",
                "1e-4",
                "--max-seq-length",
                "512",
                "--eval-fraction",
                "0.2",
                "--min-examples",
                "4",
                "--progress-file",
                "p.jsonl",
                "--seed",
                "7",
                "--allow-cpu",
                "--no-unsloth",
                "--grad-accum",
                "4",
                "--max-steps",
                "100",
                "--lr-scheduler",
                "cosine",
                "--warmup-ratio",
                "0.1",
                "--lora-dropout",
                "0",
                "--offline",
                "--resume",
            ]
        )
        self.assertEqual((args.grad_accum, args.max_steps, args.lr_scheduler), (4, 100, "cosine"))
        self.assertEqual((args.warmup_ratio, args.lora_dropout), (0.1, 0.0))
        self.assertTrue(args.offline and args.resume)
        self.assertEqual((args.rank, args.alpha, args.epochs, args.batch_size), (8, 16, 1, 4))
        self.assertEqual((args.learning_rate, args.max_seq_length, args.eval_fraction), (1e-4, 512, 0.2))
        self.assertEqual((args.min_examples, args.progress_file, args.seed), (4, "p.jsonl", 7))
        self.assertTrue(args.allow_cpu and args.no_unsloth)

    def test_a_fractional_alpha_stays_a_float_and_a_whole_one_an_int(self):
        self.assertIsInstance(train_lora.parse_args([*REQUIRED, "--alpha", "32.0"]).alpha, int)
        self.assertEqual(train_lora.parse_args([*REQUIRED, "--alpha", "8.5"]).alpha, 8.5)

    def test_bad_values_exit_2_naming_the_flag(self):
        cases = [
            ("--rank", "0"),
            ("--rank", "x"),
            ("--alpha", "-1"),
            ("--alpha", "nan"),
            ("--epochs", "0"),
            ("--batch-size", "0"),
            ("--learning-rate", "0"),
            ("--learning-rate", "inf"),
            ("--max-seq-length", "8"),
            ("--eval-fraction", "0"),
            ("--eval-fraction", "1"),
            ("--eval-fraction", "x"),
            ("--min-examples", "2"),
            ("--seed", "-1"),
        ]
        for flag, value in cases:
            with self.subTest(flag=flag, value=value):
                self.assertIn(f"argument {flag}:", self.parse_error(flag, value))

    def test_required_flags_exit_2(self):
        for flag in ("--data", "--base-model", "--output"):
            i = REQUIRED.index(flag)
            argv = REQUIRED[:i] + REQUIRED[i + 2 :]
            stderr = io.StringIO()
            with contextlib.redirect_stderr(stderr), self.assertRaises(SystemExit) as caught:
                train_lora.parse_args(argv)
            self.assertEqual(caught.exception.code, 2)
            self.assertIn(flag, stderr.getvalue())

    def test_unknown_and_abbreviated_flags_exit_2(self):
        self.parse_error("--lr", "1e-4")
        self.parse_error("--max-seq", "512")

    def test_an_output_that_is_a_file_exits_2(self):
        file = self.tmp / "out"
        file.write_text("")
        self.assertIn("is a file", self.parse_error("--output", str(file)))


class AdapterFormatTest(TempDirTestCase):
    def test_plain_lora_on_the_seven_linear_layers_and_nothing_else(self):
        settings = lora_settings(16, 32)
        self.assertEqual(settings["target_modules"], list(TARGET_MODULES))
        self.assertEqual(len(TARGET_MODULES), 7)
        self.assertEqual((settings["r"], settings["lora_alpha"], settings["lora_dropout"]), (16, 32, 0.05))
        self.assertEqual((settings["bias"], settings["task_type"]), ("none", "CAUSAL_LM"))
        self.assertFalse(settings["use_rslora"] or settings["use_dora"])
        self.assertNotIn("modules_to_save", settings)
        config = adapter_config("base", 16, 32)
        self.assertEqual(
            (config["peft_type"], config["modules_to_save"], config["fan_in_fan_out"]), ("LORA", None, False)
        )

    def test_eval_report_has_the_documented_keys_and_gates_on_the_interval(self):
        args = train_lora.parse_args(REQUIRED)
        result = types.SimpleNamespace(
            train_examples=90, eval_examples=10, eval_loss_before=2.0, eval_loss_after=1.5,
            eval_losses_before=[2.0] * 5, eval_losses_after=[1.4, 1.5, 1.6, 1.5, 1.5], backend="peft",
            lora_dropout=0.05, truncated_examples=2, steps=135, epoch_losses=[1.7, 1.55, 1.5], best_epoch=3,
            resumed_from_epoch=None, tokens_per_s=1234.56,
        )  # fmt: skip
        report = train_lora.eval_report(args, result, 12.3456)
        self.assertEqual(report["gate"]["passed"], True)
        del report["gate"]
        self.assertEqual(
            report,
            {
                "base_model": "Qwen/Qwen2.5-Coder-7B-Instruct",
                "train_examples": 90,
                "eval_examples": 10,
                "eval_loss_before": 2.0,
                "eval_loss_after": 1.5,
                "improved": True,
                "backend": "peft",
                "seconds": 12.346,
                "rank": 16,
                "alpha": 32,
                "lora_dropout": 0.05,
                "max_seq_length": 2048,
                "truncated_examples": 2,
                "steps": 135,
                "grad_accum": 1,
                "lr_scheduler": "linear",
                "epoch_eval_losses": [1.7, 1.55, 1.5],
                "best_epoch": 3,
                "resumed_from_epoch": None,
                "tokens_per_s": 1234.6,
                "peak_memory_bytes": None,
            },
        )
        # A lower mean carried by one example of three is noise: `after < before` alone is not enough.
        noisy = types.SimpleNamespace(**{**vars(result), "eval_losses_before": [2.0] * 3, "eval_losses_after": [0.5, 2.1, 2.2]})
        report = train_lora.eval_report(args, noisy, 1)
        self.assertFalse(report["improved"])
        self.assertIn("noise", report["gate"]["reason"])


class TrainScriptTest(TempDirTestCase):
    """The real script in a subprocess, without site-packages: what a user without the packages sees."""

    def test_a_dataset_problem_exits_3_naming_the_file_and_line_before_any_import(self):
        lines = [
            json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
        ] * 11
        lines[6] = "{oops"
        self.write("d.jsonl", lines)
        result = run_script(TRAIN_SCRIPT, REQUIRED, cwd=self.tmp)
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertEqual(result.stderr.splitlines()[-1].split(" (")[0], "error: d.jsonl:7: not valid JSON")
        self.assertFalse((self.tmp / "out").exists())

    def test_bad_arguments_exit_2(self):
        result = run_script(TRAIN_SCRIPT, [*REQUIRED, "--epochs", "0"], cwd=self.tmp)
        self.assertEqual(result.returncode, 2)
        self.assertIn("argument --epochs: must be at least 1", result.stderr)

    def test_missing_packages_exit_4_naming_each_and_the_requirements_file(self):
        self.dataset(12, "d.jsonl")
        result = run_script(TRAIN_SCRIPT, REQUIRED, cwd=self.tmp)
        self.assertEqual(result.returncode, 4, result.stderr)
        self.assertIn("missing Python packages: torch, transformers, peft, accelerate, safetensors", result.stderr)
        self.assertIn(f"pip install -r {TRAIN_SCRIPT.parent / 'requirements.txt'}", result.stderr)
        self.assertIn("12 examples: 9 to train on, 3 held out", result.stdout)

    def test_names_only_the_packages_that_are_missing(self):
        self.dataset(12, "d.jsonl")
        stubs = self.stub_packages(["torch", "transformers"])
        result = run_script(TRAIN_SCRIPT, REQUIRED, cwd=self.tmp, env={"PYTHONPATH": str(stubs)})
        self.assertEqual(result.returncode, 4, result.stderr)
        self.assertIn("missing Python packages: peft, accelerate, safetensors", result.stderr)

    def test_without_cuda_exits_5_asking_for_allow_cpu_and_writes_nothing(self):
        self.dataset(12, "d.jsonl")
        stubs = self.stub_packages()
        result = run_script(TRAIN_SCRIPT, REQUIRED, cwd=self.tmp, env={"PYTHONPATH": str(stubs)})
        self.assertEqual(result.returncode, 5, result.stderr)
        self.assertIn("no CUDA GPU", result.stderr)
        self.assertIn("pass --allow-cpu", result.stderr)
        self.assertFalse((self.tmp / "out").exists())
        self.assertEqual([p.name for p in self.tmp.iterdir() if p.name.startswith(".out")], [])

    def test_running_out_of_gpu_memory_exits_1_with_what_to_lower(self):
        self.dataset(12, "d.jsonl")
        stubs = self.stub_packages()
        (stubs / "torch" / "__init__.py").write_text(OOM_TORCH)
        (stubs / "transformers" / "__init__.py").write_text(OOM_TRANSFORMERS)
        (stubs / "peft" / "__init__.py").write_text("LoraConfig = get_peft_model = None\n")
        result = run_script(
            TRAIN_SCRIPT, [*REQUIRED, "--no-unsloth", "--batch-size", "4"], cwd=self.tmp, env={"PYTHONPATH": str(stubs)}
        )
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(
            "error: the GPU ran out of memory: CUDA out of memory. Tried to allocate 20.00 MiB", result.stderr
        )
        self.assertIn("--batch-size (now 4) or --max-seq-length (now 2048)", result.stderr)
        self.assertFalse((self.tmp / "out").exists())

    def test_a_package_that_fails_to_import_exits_4(self):
        self.dataset(12, "d.jsonl")
        stubs = self.stub_packages()
        result = run_script(TRAIN_SCRIPT, [*REQUIRED, "--allow-cpu"], cwd=self.tmp, env={"PYTHONPATH": str(stubs)})
        self.assertEqual(result.returncode, 4, result.stderr)
        self.assertIn("a Python package failed to import (transformers): cannot import name", result.stderr)
        self.assertIn("pip install -r", result.stderr)
