import contextlib
import io
import json

import merge_lora
from cli_errors import AdapterError, ExitCode
from tests.fixtures import MERGE_SCRIPT, TempDirTestCase, run_script

BASE = "Qwen/Qwen2.5-Coder-7B-Instruct"


class MergeArgsTest(TempDirTestCase):
    def parse_error(self, argv):
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), self.assertRaises(SystemExit) as caught:
            merge_lora.parse_args(argv)
        self.assertEqual(caught.exception.code, 2)
        return stderr.getvalue()

    def test_defaults_to_bfloat16_on_the_gpu(self):
        args = merge_lora.parse_args(["--base-model", BASE, "--adapter", "a", "--output", "m"])
        self.assertEqual((args.dtype, args.allow_cpu), ("bfloat16", False))
        args = merge_lora.parse_args(
            ["--base-model", BASE, "--adapter", "a", "--output", "m", "--dtype", "float16", "--allow-cpu"]
        )
        self.assertEqual((args.dtype, args.allow_cpu), ("float16", True))

    def test_bad_arguments_exit_2(self):
        self.assertIn(
            "--dtype", self.parse_error(["--base-model", BASE, "--adapter", "a", "--output", "m", "--dtype", "int8"])
        )
        self.assertIn("--adapter", self.parse_error(["--base-model", BASE, "--output", "m"]))
        self.assertIn("the adapter folder", self.parse_error(["--base-model", BASE, "--adapter", "a", "--output", "a"]))


class CheckAdapterTest(TempDirTestCase):
    def adapter(self, config='{"peft_type": "LORA", "r": 8}', weights=True):
        folder = self.tmp / "adapter"
        folder.mkdir(exist_ok=True)
        if config is not None:
            (folder / "adapter_config.json").write_text(config)
        if weights:
            (folder / "adapter_model.safetensors").write_bytes(b"\0" * 8)
        return folder

    def assert_refused(self, folder, *fragments):
        with self.assertRaises(AdapterError) as caught:
            merge_lora.check_adapter(folder)
        self.assertEqual(caught.exception.exit_code, ExitCode.BAD_INPUT)
        for fragment in fragments:
            self.assertIn(fragment, str(caught.exception))

    def test_accepts_a_peft_lora_folder(self):
        self.assertEqual(merge_lora.check_adapter(self.adapter())["r"], 8)

    def test_refuses_a_missing_folder_or_a_file(self):
        self.assert_refused(self.tmp / "nope", "does not exist")
        (self.tmp / "file").write_text("")
        self.assert_refused(self.tmp / "file", "this is a file")

    def test_refuses_a_folder_without_adapter_config(self):
        self.assert_refused(self.adapter(config=None), "no adapter_config.json")

    def test_refuses_an_unreadable_or_non_lora_config(self):
        self.assert_refused(self.adapter(config="{"), "adapter_config.json: it cannot be read as JSON")
        self.assert_refused(self.adapter(config="[]"), "not a JSON object")
        self.assert_refused(self.adapter(config='{"peft_type": "IA3"}'), "only LoRA adapters")

    def test_refuses_an_adapter_without_weights(self):
        self.assert_refused(self.adapter(weights=False), "no adapter_model.safetensors")

    def test_notes_an_adapter_trained_on_another_base(self):
        self.assertIsNone(merge_lora.base_model_note({"base_model_name_or_path": BASE}, BASE))
        self.assertIn(
            "trained on other/model", merge_lora.base_model_note({"base_model_name_or_path": "other/model"}, BASE)
        )


class MergeScriptTest(TempDirTestCase):
    def adapter(self):
        folder = self.tmp / "adapter"
        folder.mkdir()
        (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "base_model_name_or_path": BASE}))
        (folder / "adapter_model.safetensors").write_bytes(b"\0" * 8)
        return folder

    def test_a_missing_adapter_exits_3(self):
        result = run_script(MERGE_SCRIPT, ["--base-model", BASE, "--adapter", "nope", "--output", "m"], cwd=self.tmp)
        self.assertEqual(result.returncode, 3)
        self.assertEqual(
            result.stderr.strip(), "error: nope: the adapter folder does not exist; train the adapter first."
        )

    def test_missing_packages_exit_4(self):
        self.adapter()
        result = run_script(MERGE_SCRIPT, ["--base-model", BASE, "--adapter", "adapter", "--output", "m"], cwd=self.tmp)
        self.assertEqual(result.returncode, 4, result.stderr)
        self.assertIn("missing Python packages: torch, transformers, peft, accelerate, safetensors", result.stderr)
        self.assertIn(f"pip install -r {MERGE_SCRIPT.parent / 'requirements.txt'}", result.stderr)

    def test_without_cuda_exits_5(self):
        self.adapter()
        stubs = self.stub_packages()
        result = run_script(
            MERGE_SCRIPT,
            ["--base-model", BASE, "--adapter", "adapter", "--output", "m"],
            cwd=self.tmp,
            env={"PYTHONPATH": str(stubs)},
        )
        self.assertEqual(result.returncode, 5, result.stderr)
        self.assertIn("pass --allow-cpu", result.stderr)
        self.assertFalse((self.tmp / "m").exists())
