import re
import tempfile
import unittest
from pathlib import Path

from cli_errors import ExitCode, InputError, MissingPackagesError, NoGpuError, UsageError, out_of_memory, report
from preflight import (
    REQUIREMENTS_FILE,
    import_failed,
    missing_packages,
    require_cuda,
    require_packages,
    require_tokenizer,
)


def finder(installed):
    return lambda name: object() if name in installed else None


class MissingPackagesTest(unittest.TestCase):
    def test_names_each_missing_package_in_order(self):
        found = finder({"torch", "accelerate"})
        self.assertEqual(
            missing_packages(["torch", "transformers", "peft", "accelerate", "safetensors"], found),
            ["transformers", "peft", "safetensors"],
        )

    def test_the_message_names_them_and_the_requirements_file_by_absolute_path(self):
        with self.assertRaises(MissingPackagesError) as caught:
            require_packages(["torch", "peft"], finder({"torch"}))
        err = caught.exception
        self.assertEqual(err.exit_code, ExitCode.MISSING_PACKAGES)
        self.assertEqual(err.packages, ["peft"])
        self.assertIn("missing Python packages: peft", str(err))
        self.assertTrue(REQUIREMENTS_FILE.is_absolute() and REQUIREMENTS_FILE.is_file())
        self.assertIn(f"pip install -r {REQUIREMENTS_FILE}", str(err))

    def test_all_present_passes(self):
        require_packages(["torch"], finder({"torch"}))

    def test_a_finder_that_raises_counts_as_missing(self):
        def broken(name):
            raise ImportError(name)

        self.assertEqual(missing_packages(["torch"], broken), ["torch"])

    def test_a_package_that_fails_to_import_is_reported_the_same_way(self):
        err = import_failed(ModuleNotFoundError("No module named 'peft.tuners'", name="peft.tuners"))
        self.assertEqual(err.packages, ["peft"])
        self.assertIn("failed to import (peft): No module named", str(err))
        self.assertIn("pip install -r", str(err))

    def test_requirements_name_the_packages_the_scripts_check(self):
        named = {re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0] for line in _requirement_lines(REQUIREMENTS_FILE)}
        self.assertEqual(named, {"torch", "transformers", "peft", "accelerate", "safetensors", "tokenizers"})

    def test_the_lock_pins_every_package_exactly_within_the_ranges(self):
        from packaging.requirements import Requirement

        lock = Path(REQUIREMENTS_FILE).with_name("requirements.lock")
        pinned = dict(line.split("==", 1) for line in _requirement_lines(lock))
        self.assertTrue(all(v and "," not in v for v in pinned.values()), pinned)
        for line in _requirement_lines(REQUIREMENTS_FILE):
            requirement = Requirement(line)
            version = pinned.get(requirement.name) or pinned.get(requirement.name.replace("-", "_"))
            self.assertIsNotNone(version, f"{requirement.name} is not in {lock.name}")
            self.assertIn(version, requirement.specifier, f"{lock.name} pins {requirement.name}=={version}")


def _requirement_lines(path) -> list:
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip() and not line.startswith("#")]


class RequireCudaTest(unittest.TestCase):
    def test_uses_the_gpu_when_there_is_one(self):
        self.assertEqual(require_cuda(True, False, "Training is slow"), "cuda")
        self.assertEqual(require_cuda(True, True, "Training is slow"), "cuda")

    def test_falls_back_to_the_cpu_only_when_allowed(self):
        self.assertEqual(require_cuda(False, True, "Training is slow"), "cpu")

    def test_without_a_gpu_says_to_pass_allow_cpu(self):
        with self.assertRaises(NoGpuError) as caught:
            require_cuda(False, False, "Training is slow")
        self.assertEqual(caught.exception.exit_code, ExitCode.NO_GPU)
        self.assertIn("--allow-cpu", str(caught.exception))
        self.assertIn("GPU", str(caught.exception))

    def test_names_a_cpu_only_torch_build(self):
        with self.assertRaises(NoGpuError) as caught:
            require_cuda(False, False, "Training is slow", cuda_build=False)
        self.assertIn("no CUDA support", str(caught.exception))


class ReportTest(unittest.TestCase):
    def test_prints_the_error_and_returns_its_exit_code(self):
        import io

        stream = io.StringIO()
        self.assertEqual(report(UsageError("bad"), stream), 2)
        self.assertEqual(stream.getvalue(), "error: bad\n")

    def test_out_of_memory_suggests_the_settings_that_shrink_memory(self):
        err = out_of_memory("CUDA out of memory. Tried to allocate 2 GiB\nSECOND LINE", 4, 2048)
        self.assertEqual(err.exit_code, ExitCode.FAILED)
        self.assertIn("CUDA out of memory. Tried to allocate 2 GiB", str(err))
        self.assertNotIn("SECOND LINE", str(err))
        self.assertIn("--batch-size (now 4) or --max-seq-length (now 2048)", str(err))


class RequireTokenizerTest(unittest.TestCase):
    def test_a_folder_without_tokenizer_files_is_refused_by_path_with_exit_3(self):
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "config.json").write_text("{}")
            with self.assertRaises(InputError) as caught:
                require_tokenizer(folder)
        self.assertEqual(caught.exception.exit_code, ExitCode.BAD_INPUT)
        self.assertEqual(caught.exception.path, folder)
        self.assertIn("has no tokenizer", str(caught.exception))

    def test_any_one_tokenizer_file_is_enough(self):
        for name in ("tokenizer.json", "tokenizer.model", "vocab.json"):
            with tempfile.TemporaryDirectory() as folder:
                (Path(folder) / name).write_text("{}")
                require_tokenizer(folder)

    def test_a_hub_id_is_left_to_the_hub(self):
        require_tokenizer("Qwen/Qwen2.5-Coder-7B-Instruct")
