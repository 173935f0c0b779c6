"""The errors train_lora.py and merge_lora.py report, and the exit code each one maps to.

The extension reads the exit code to tell the user what to do next, so the codes are a contract:
0 ok, 1 anything else, 2 bad arguments (argparse's own code), 3 a dataset or adapter problem, 4 missing
packages, 5 no CUDA GPU without --allow-cpu.
"""

from __future__ import annotations

import sys
from enum import IntEnum
from pathlib import Path
from typing import Optional, Sequence, TextIO


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    BAD_INPUT = 3
    MISSING_PACKAGES = 4
    NO_GPU = 5


class CliError(Exception):
    """An error the user can act on; its message says what to do next."""

    exit_code: ExitCode = ExitCode.FAILED


class UsageError(CliError):
    """An argument argparse cannot judge alone (a base model without a chat template, an output over an input)."""

    exit_code = ExitCode.USAGE


class InputError(CliError):
    """A problem with an input file or folder; the message starts with its path (and line) like a compiler's."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, path: Path | str, reason: str, line: Optional[int] = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {reason}")


class DatasetError(InputError):
    """The SFT dataset is missing, empty, too small, or has a bad line (`line` is 1-based)."""


class AdapterError(InputError):
    """The adapter folder handed to merge_lora.py is missing or not a PEFT LoRA adapter."""


class MissingPackagesError(CliError):
    exit_code = ExitCode.MISSING_PACKAGES

    def __init__(self, packages: Sequence[str], requirements: Path, detail: Optional[str] = None) -> None:
        self.packages = list(packages)
        self.requirements = requirements
        names = ", ".join(self.packages)
        if detail is None:
            what = f"missing Python packages: {names}"
        else:  # installed but broken: a version clash, or a dependency of its own missing
            what = f"a Python package failed to import{f' ({names})' if names else ''}: {detail}"
        lines = [f"{what} (interpreter: {sys.executable})"]
        lines += [
            "Install them with:",
            f"  pip install -r {requirements}",
            "or, into this interpreter exactly:",
            f"  {sys.executable} -m pip install -r {requirements}",
        ]
        super().__init__("\n".join(lines))


class NoGpuError(CliError):
    exit_code = ExitCode.NO_GPU

    def __init__(self, cpu_note: str, detail: Optional[str] = None) -> None:
        """`cpu_note` says what running on the CPU would cost ("Training on the CPU is very slow")."""
        lines = [f"no CUDA GPU is available to torch{f' ({detail})' if detail else ''}."]
        lines.append(
            f"{cpu_note}: pass --allow-cpu to do it anyway, or run it on a machine with an NVIDIA GPU "
            "(VS Code Remote works: the extension runs where the workspace is)."
        )
        super().__init__("\n".join(lines))


class RunFailed(CliError):
    """Training or merging started and failed (out of memory, diverged, ...)."""


def is_out_of_memory(error: BaseException) -> bool:
    """torch.cuda.OutOfMemoryError, or an older torch's RuntimeError saying the same."""
    return type(error).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(error)


def out_of_memory(detail: str, batch_size: Optional[int] = None, max_seq_length: Optional[int] = None) -> RunFailed:
    """The message for a CUDA out-of-memory error, shared with the stand-in trainer so tests see the real text."""
    first_line = detail.strip().splitlines()[0] if detail.strip() else "CUDA out of memory"
    hints = []
    if batch_size is not None and batch_size > 1:
        hints.append(f"--batch-size (now {batch_size})")
    if max_seq_length is not None:
        hints.append(f"--max-seq-length (now {max_seq_length})")
    advice = f"lower {' or '.join(hints)}, or use a GPU with more memory" if hints else "use a GPU with more memory"
    return RunFailed(f"the GPU ran out of memory: {first_line}\nTo fit: {advice}.")


def report(error: CliError, stream: Optional[TextIO] = None) -> int:
    """Prints `error` to stderr and returns its exit code."""
    print(f"error: {error}", file=stream or sys.stderr, flush=True)
    return int(error.exit_code)
