"""Shared set-up for the tests: paths, dataset files, running the scripts and the stand-in in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
TRAIN_SCRIPT = PYTHON_DIR / "train_lora.py"
MERGE_SCRIPT = PYTHON_DIR / "merge_lora.py"
STANDIN = REPO / "test" / "standins" / "python"

#: Packages train_lora.py and merge_lora.py need, as empty stand-ins except torch (see stub_packages).
STUB_TORCH = """
import types
cuda = types.SimpleNamespace(is_available=lambda: False)
version = types.SimpleNamespace(cuda=None)
def no_grad():
    return lambda f: f
def manual_seed(seed):
    pass
"""


def example(
    user: str = "Write a function", answer: str = "def f():\n    return 1", system: Optional[str] = "Be brief"
) -> Dict:
    messages = [{"role": "system", "content": system}] if system is not None else []
    messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return {"messages": messages}


def dataset_lines(n: int) -> List[str]:
    return [json.dumps(example(f"task {i}", f"answer {i}")) for i in range(n)]


class TempDirTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def write(self, name: str, lines: Iterable[str], end: str = "\n") -> Path:
        path = self.tmp / name
        path.write_text("\n".join(lines) + end, encoding="utf-8")
        return path

    def dataset(self, n: int = 12, name: str = "sft.jsonl") -> Path:
        return self.write(name, dataset_lines(n))

    def stub_packages(
        self, names: Sequence[str] = ("torch", "transformers", "peft", "accelerate", "safetensors")
    ) -> Path:
        """A folder of importable stand-ins for the heavy packages: torch reports no CUDA, the rest are empty."""
        root = self.tmp / "stubs"
        for name in names:
            (root / name).mkdir(parents=True, exist_ok=True)
            (root / name / "__init__.py").write_text(STUB_TORCH if name == "torch" else "", encoding="utf-8")
        return root


def run(
    command: Sequence[str], cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None
) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_LEARNING_STANDIN_")}
    full_env.pop("PYTHONPATH", None)
    full_env.update(env or {})
    return subprocess.run([str(c) for c in command], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60)


def run_script(script: Path, args: Sequence[str], cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None):
    """The real script under `python -S`: no site-packages, so an installed torch cannot change the outcome."""
    return run([sys.executable, "-S", script, *args], cwd=cwd, env=env)


def run_real(script: Path, args: Sequence[str], cwd: Optional[Path] = None):
    """The real script with this interpreter's site-packages: torch, transformers and PEFT as installed."""
    return run([sys.executable, script, *args], cwd=cwd)


def run_standin(args: Sequence[str], cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None):
    return run([STANDIN, *args], cwd=cwd, env=env)


def read_safetensors_header(path: Path) -> Dict:
    import struct

    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    header["__size__"] = len(data) - 8 - length
    return header
