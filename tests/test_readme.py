"""Every Python block of README.md and of the user guide runs as pasted, on the CPU.

Each block runs alone, as a reader pastes it: in a fresh interpreter, in an empty
folder, with the checkout importable. A block that needs an optional package this
environment lacks (scikit-learn, PyTorch, mpi4py, ...) is skipped, naming it; GPU
lines are comments in the documents, so a CPU-only machine runs everything else.
The install lines of README.md are checked too: each names an extra that
pyproject.toml declares, in a spelling every pip accepts, from the clone.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "install.md",
             *sorted((ROOT / "docs" / "guide").glob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
# What a block needs, by what it says: the package to find before running it.
NEEDS = {
    r"\bsklearn\b|MLPClassifier|MLPRegressor": "sklearn",
    r"\"torch\"|\bimport torch\b": "torch",
    r"\"jax\"|\bimport jax\b": "jax",
    r"\"array_api_strict\"": "array_api_strict",
    r"MPIDataParallel|mpi4py": "mpi4py",
    r"matplotlib": "matplotlib",
}


def blocks() -> list[tuple[str, str]]:
    found = []
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text[: match.start()].count("\n") + 1
            found.append((f"{path.relative_to(ROOT)}:{line}", match.group(1)))
    return found


BLOCKS = blocks()


def test_the_documents_have_blocks() -> None:
    readme = [name for name, _ in BLOCKS if name.startswith("README.md")]
    assert len(readme) >= 2, "README.md has lost its Python blocks"
    assert len(BLOCKS) >= 10


def uncommented(code: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in code.splitlines())


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_block_runs_as_pasted(where: str, code: str, tmp_path: Path) -> None:
    live = uncommented(code)
    for pattern, package in NEEDS.items():
        if re.search(pattern, live) and importlib.util.find_spec(package) is None:
            pytest.skip(f"{where} needs {package}, not installed here")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{where} failed:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr


def test_readme_install_lines_are_true_from_a_clone() -> None:
    """No line installs a package that is not published; each extra exists, spelled as
    every pip reads it (pip 23 drops extras whose spelling differs from the metadata's)."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    # The metadata's names: lower case, runs of -_. as one hyphen (PEP 685).
    declared = {re.sub(r"[-_.]+", "-", name).lower()
                for name in project["optional-dependencies"]}
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    installs = re.findall(r"pip install ([^\n#`]*)", text)
    assert installs
    for args in installs:
        for word in args.split():
            if word.startswith("-") and not word.startswith("-e"):
                continue
            assert project["name"] not in word, f"{args!r}: the package is not published"
            match = re.fullmatch(r"'?\.\[([^\]]+)\]'?", word)
            if match:
                for extra in match.group(1).split(","):
                    assert extra in declared, f"{args!r}: no extra {extra!r}"
                    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", extra), (
                        f"{args!r}: write {extra!r} as the metadata does")
