"""Test, lint and run the examples on every backend this machine has.

    nox                         # tests on each backend, lint, examples
    nox -s "tests(numpy)"       # one backend
    nox -s bench                # the benchmark suite (not run by default)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "examples"]
nox.options.error_on_missing_interpreters = False

PYPROJECT = nox.project.load_toml("pyproject.toml")
TEST_DEPS = nox.project.dependency_groups(PYPROJECT, "test")
LINT_DEPS = nox.project.dependency_groups(PYPROJECT, "lint")
# Pinned: this project's machines hold a CPU build of torch 2.13.0 on local disk, which
# pip prefers; elsewhere PyPI's Linux wheel is the large CUDA build. Override as needed.
TORCH = os.environ.get("AGNOSTIC_MLP_TORCH", "torch==2.13.0")
CUPY = os.environ.get("AGNOSTIC_MLP_CUPY", "cupy-cuda12x")
BACKEND_PACKAGES = {
    "numpy": [TORCH],  # torch is the optimizer oracle of the NumPy tests
    "array_api_strict": ["array-api-strict"],
    "torch": [TORCH],
    "jax": ["jax"],
    "cupy": [CUPY],
}


def has_nvidia_gpu() -> bool:
    """Whether an NVIDIA driver is present (CuPy imports without one, then fails)."""
    return shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia/version").exists()


@nox.session
@nox.parametrize("backend", list(BACKEND_PACKAGES), ids=list(BACKEND_PACKAGES))
def tests(session: nox.Session, backend: str) -> None:
    """The test suite on one backend (and NumPy where a test compares against it)."""
    if backend == "cupy" and not has_nvidia_gpu():
        session.skip("cupy: no NVIDIA GPU or driver on this machine, so nothing to test")
    session.install("-e", ".", *TEST_DEPS, "tqdm", *BACKEND_PACKAGES[backend])
    session.run(
        "pytest", *session.posargs,
        env={"AGNOSTIC_MLP_BACKENDS": backend, "PYTHONHASHSEED": "0"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy."""
    session.install("-e", ".", *LINT_DEPS)
    session.run("ruff", "check", "agnostic_mlp", "tests", "examples", "benchmarks", "noxfile.py")
    session.run("mypy")


@nox.session
def examples(session: nox.Session) -> None:
    """Run every example as a user would, on NumPy; pictures go to examples/output/."""
    session.install("-e", ".[examples,progress]")
    for script in sorted(Path("examples").glob("[!_]*.py")):  # _shared.py is no example
        session.run("python", str(script))


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite against PyTorch, scikit-learn and the matmul floor; then the
    scikit-learn estimators against sklearn.neural_network."""
    session.install("-e", ".[examples]", TORCH, "jax", "threadpoolctl")
    session.run("python", "benchmarks/run.py", "--out", "benchmarks/results", *session.posargs)
    session.run("python", "benchmarks/sklearn_compare.py", "--out", "benchmarks/results")
