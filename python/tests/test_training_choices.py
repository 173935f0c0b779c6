"""The choices train_lora.py makes before and around loading a model: the GPU dtype, offline loading, whether a
base fits, Unsloth's exact model name and the fall-back to PEFT, the dropout per backend."""

import argparse
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from cli_errors import RunFailed, UsageError
from preflight import cuda_dtype, is_cached_repo, offline_base, parameter_count, require_memory

LLAMA_70B = {
    "hidden_size": 8192, "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
    "intermediate_size": 28672, "vocab_size": 128256,
}  # fmt: skip


class GpuDtypeTest(unittest.TestCase):
    def test_bfloat16_only_where_the_hardware_has_it(self):
        self.assertEqual(cuda_dtype((8, 0), True), "bfloat16")  # A100
        self.assertEqual(cuda_dtype((9, 0), True), "bfloat16")  # H100
        # T4 and V100: torch.cuda.is_bf16_supported() says yes (emulated), the capability says no.
        self.assertEqual(cuda_dtype((7, 5), True), "float16")
        self.assertEqual(cuda_dtype((7, 0), True), "float16")
        self.assertEqual(cuda_dtype((8, 6), False), "float16")


class OfflineTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.env = {"HF_HUB_CACHE": str(self.tmp / "hub")}

    def test_a_local_folder_loads_offline(self):
        self.assertTrue(offline_base(str(self.tmp), False, self.env))

    def test_a_cached_repo_loads_offline_and_an_uncached_one_online(self):
        snapshot = self.tmp / "hub" / "models--Qwen--Qwen2.5-0.5B-Instruct" / "snapshots" / "abc"
        snapshot.mkdir(parents=True)
        self.assertFalse(is_cached_repo("Qwen/Qwen2.5-0.5B-Instruct", self.env))  # no config.json: incomplete
        (snapshot / "config.json").write_text("{}")
        self.assertTrue(offline_base("Qwen/Qwen2.5-0.5B-Instruct", False, self.env))
        self.assertFalse(offline_base("Qwen/Qwen2.5-7B-Instruct", False, self.env))

    def test_offline_without_a_local_copy_says_what_to_do(self):
        for offline, env in ((True, self.env), (False, {**self.env, "HF_HUB_OFFLINE": "1"})):
            with self.assertRaises(UsageError) as caught:
                offline_base("Qwen/Qwen2.5-7B-Instruct", offline, env)
            self.assertIn("neither a local folder nor in the Hugging Face cache", str(caught.exception))


class MemoryTest(unittest.TestCase):
    def test_counts_a_llama_70b_and_refuses_it_on_a_24_gb_gpu(self):
        self.assertAlmostEqual(parameter_count(LLAMA_70B) / 1e9, 70.55, places=1)
        with self.assertRaises(RunFailed) as caught:
            require_memory(LLAMA_70B, 2, 24 * 2**30, "GPU", "meta-llama/Llama-3.3-70B-Instruct")
        self.assertIn("needs about 131.4 GiB for its weights alone, but the GPU has 24.0 GiB", str(caught.exception))
        require_memory(LLAMA_70B, 2, 192 * 2**30, "GPU", "meta-llama/Llama-3.3-70B-Instruct")

    def test_a_config_it_cannot_size_is_left_to_loading(self):
        require_memory({"model_type": "something-new"}, 2, 1, "GPU", "x")


class UnslothPathTest(unittest.TestCase):
    def args(self, **extra):
        values = dict(base_model="Qwen/Qwen2.5-Coder-7B-Instruct", max_seq_length=512, rank=16, alpha=32, seed=1,
                      lora_dropout=None, local_files_only=False)  # fmt: skip
        values.update(extra)
        return argparse.Namespace(**values)

    def test_asks_for_the_exact_model_name_and_no_dropout(self):
        import lora_training

        calls = {}

        class Fast:
            @staticmethod
            def from_pretrained(**kwargs):
                calls["load"] = kwargs
                return "model", "tokenizer"

            @staticmethod
            def get_peft_model(model, **kwargs):
                calls["peft"] = kwargs
                return model

        with mock.patch.object(lora_training, "gpu_dtype", lambda: "float32"):  # no GPU here; tested above
            model, tokenizer, backend = lora_training.load_model(self.args(), "cuda", Fast, print)
        self.assertEqual(backend, "unsloth")
        self.assertIs(calls["load"]["use_exact_model_name"], True)
        self.assertEqual(calls["load"]["model_name"], "Qwen/Qwen2.5-Coder-7B-Instruct")
        self.assertEqual(calls["peft"]["lora_dropout"], 0.0)

    def test_falls_back_to_peft_with_the_reason_when_unsloth_fails(self):
        import lora_training

        class Broken:
            @staticmethod
            def from_pretrained(**kwargs):
                raise RuntimeError("Unsloth: this GPU is not supported")

        logged = []
        with mock.patch.object(lora_training, "gpu_dtype", lambda: "float32"):
            _, _, backend = lora_training.load_model(
                self.args(), "cuda", Broken, logged.append, peft_loader=lambda args, device: ("m", "t")
            )
        self.assertEqual(backend, "peft")
        self.assertIn("Unsloth failed to load Qwen/Qwen2.5-Coder-7B-Instruct (RuntimeError: Unsloth: this GPU", logged[0])

    def test_dropout_per_backend_unless_configured(self):
        import lora_training

        self.assertEqual(lora_training._dropout(self.args(), "peft"), 0.05)
        self.assertEqual(lora_training._dropout(self.args(), "unsloth"), 0.0)
        self.assertEqual(lora_training._dropout(self.args(lora_dropout=0.1), "unsloth"), 0.1)


if __name__ == "__main__":
    unittest.main()
