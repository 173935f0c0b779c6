"""Puts finished outputs in place only once they are complete, so a run that fails or is stopped leaves the
previous adapter or model whole. Files go into a staging folder beside the output, then are moved in one by one
(os.replace is atomic within a filesystem), the completion marker last."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterable, Optional


def staging_dir(output: Path) -> Path:
    """A fresh folder beside `output` (same filesystem, so the moves are renames)."""
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def publish(staging: Path, output: Path, last: Optional[str] = None, stale: Iterable[str] = ()) -> None:
    """Moves every file of `staging` into `output` (`last` after the others), removes files in `output` matching a
    `stale` glob that the new set does not have (old weight shards), then removes `staging`.

    Other files in `output` are kept: the adapter folder also holds what later steps put there (the GGUF adapter).
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    names = sorted(p.name for p in Path(staging).iterdir() if p.is_file())
    if last in names:
        names.remove(last)
        names.append(last)
    for pattern in stale:
        for old in output.glob(pattern):
            if old.is_file() and old.name not in names:
                old.unlink()
    for name in names:
        os.replace(Path(staging) / name, output / name)
    shutil.rmtree(staging, ignore_errors=True)
