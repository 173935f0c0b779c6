"""What the Python benchmarks share: the machine and commit they ran on, and their section of BENCHMARKS.md."""

from __future__ import annotations

import os
import platform
import subprocess
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory:.1f} GiB RAM, {platform.system().lower()} {platform.release()}"


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def write_section(text: str, start_marker: str, end_marker: str) -> None:
    """Puts `text` between the markers in BENCHMARKS.md (replacing what was there), or appends it with them."""
    file = ROOT / "BENCHMARKS.md"
    current = file.read_text(encoding="utf-8") if file.exists() else ""
    block = f"{start_marker}\n{text}\n{end_marker}"
    start, end = current.find(start_marker), current.find(end_marker)
    if start >= 0 and end > start:
        current = current[:start] + block + current[end + len(end_marker) :]
    else:
        current = (current.rstrip("\n") + "\n\n" if current else "") + block + "\n"
    file.write_text(current, encoding="utf-8")


def wrap(paragraph: str) -> str:
    """Prose at BENCHMARKS.md's width; a bullet's continuation lines indented under its text."""
    indent = "  " if paragraph.startswith("- ") else ""
    return textwrap.fill(paragraph, width=118, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def publish(text: str, start_marker: str, end_marker: str, name: str) -> None:
    """Prints the section, and writes it into BENCHMARKS.md unless BENCH_NO_WRITE=1."""
    print("\n" + text)
    if os.environ.get("BENCH_NO_WRITE") != "1":
        write_section(text, start_marker, end_marker)
        print(f"\nWrote the {name} section of BENCHMARKS.md.")
