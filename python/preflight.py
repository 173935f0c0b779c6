"""Checks before the heavy work: are the packages there, is there a GPU. Stdlib only, so train_lora.py can say
what is missing instead of failing on an import."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from cli_errors import MissingPackagesError, NoGpuError

REQUIREMENTS_FILE = Path(__file__).resolve().parent / "requirements.txt"

#: Import name → the name pip installs it by (they differ for some packages; for ours they happen not to).
PIP_NAMES = {
    "torch": "torch",
    "transformers": "transformers",
    "peft": "peft",
    "accelerate": "accelerate",
    "safetensors": "safetensors",
}

FindSpec = Callable[[str], Optional[object]]


def missing_packages(modules: Sequence[str], find_spec: FindSpec = importlib.util.find_spec) -> List[str]:
    """The pip names of the modules that cannot be found, in the order given."""
    missing = []
    for module in modules:
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(PIP_NAMES.get(module, module))
    return missing


def require_packages(modules: Sequence[str], find_spec: FindSpec = importlib.util.find_spec) -> None:
    missing = missing_packages(modules, find_spec)
    if missing:
        raise MissingPackagesError(missing, REQUIREMENTS_FILE)


def import_failed(error: ImportError) -> MissingPackagesError:
    """An installed package that fails to import (a version clash, a broken wheel) is fixed the same way."""
    name = getattr(error, "name", None)
    packages = [PIP_NAMES.get(name.split(".")[0], name.split(".")[0])] if name else []
    return MissingPackagesError(packages, REQUIREMENTS_FILE, detail=str(error))


def require_cuda(cuda_available: bool, allow_cpu: bool, cpu_note: str, cuda_build: bool = True) -> str:
    """The device to use: "cuda", or "cpu" when there is no GPU and --allow-cpu was given; else NoGpuError.

    `cuda_build` is False for a CPU-only torch wheel (torch.version.cuda is None), a common cause worth naming.
    """
    if cuda_available:
        return "cuda"
    if allow_cpu:
        return "cpu"
    raise NoGpuError(
        cpu_note, None if cuda_build else "this torch build has no CUDA support; install a CUDA build of torch"
    )
