"""Test, lint and run the examples on every backend this machine has.

    nox                         # tests on each backend, across processes, lint, docs, build
    nox -s "tests(numpy)"       # one backend
    nox -s mpi                  # training across processes: mpiexec -n 2, against one process
    nox -s docs                 # the Sphinx site, its gallery (runs the examples), doctests
    nox -s build                # the sdist and the wheel, installed fresh, run the demo
    nox -s examples             # every example as a script (the gallery runs them too)
    nox -s bench                # the benchmark suite (not run by default)
    nox -s gpu                  # on an NVIDIA GPU: CuPy, PyTorch on CUDA, GPU benchmarks
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

nox.options.sessions = ["tests", "mpi", "lint", "docs", "build"]
nox.options.error_on_missing_interpreters = False

PYPROJECT = nox.project.load_toml("pyproject.toml")
TEST_DEPS = nox.project.dependency_groups(PYPROJECT, "test")
LINT_DEPS = nox.project.dependency_groups(PYPROJECT, "lint")
DOCS_DEPS = nox.project.dependency_groups(PYPROJECT, "docs")
# Pinned: this project's machines hold a CPU build of torch 2.13.0 on local disk, which
# pip prefers; elsewhere PyPI's Linux wheel is the large CUDA build. Override as needed.
TORCH = os.environ.get("AGNOSTIC_MLP_TORCH", "torch==2.13.0")
CUPY = os.environ.get("AGNOSTIC_MLP_CUPY", "cupy-cuda12x")
# What each session tests: NumPy also as read-only arrays (tests/xp_variants), which fail
# on any write into an array the library was given or made.
BACKEND_TESTS = {"numpy": "numpy,xp_variants.numpy_readonly"}
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
        env={"AGNOSTIC_MLP_BACKENDS": BACKEND_TESTS.get(backend, backend),
             "PYTHONHASHSEED": "0"},
    )


@nox.session
def mpi(session: nox.Session) -> None:
    """Training across processes: ``mpiexec -n 2`` over loopback (MPICH's wheel), on the CPU
    backends, each compared with one process; then the distributed example under
    ``mpiexec -n 2``."""
    session.install("-e", ".[mpi]", *TEST_DEPS, TORCH, "jax")
    session.run(
        "pytest", "tests/test_distributed.py", "tests/test_sklearn_distributed.py",
        *session.posargs,
        env={"AGNOSTIC_MLP_BACKENDS": "numpy,array_api_strict,torch,jax",
             "PYTHONHASHSEED": "0"},
    )
    # The distributed example as its users launch it (the docs' gallery runs it in one process).
    session.run("mpiexec", "-n", "2", "python", "examples/distributed_digits.py", "--quiet",
                "--out", session.create_tmp())


@nox.session
def lint(session: nox.Session) -> None:
    """ruff and mypy."""
    session.install("-e", ".", *LINT_DEPS)
    session.run("ruff", "check", "agnostic_mlp", "tests", "examples", "benchmarks", "docs",
                "noxfile.py")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation: the docstrings' Examples as doctests, then the Sphinx site with
    warnings as errors, its gallery running every example (quick mode) on NumPy.

    Offline: intersphinx links come from docs/_intersphinx/ when it holds inventories
    (``python docs/fetch_inventories.py``), from the web with AGNOSTIC_MLP_DOCS_ONLINE=1.
    The site is written to docs/_build/html.
    """
    session.install("-e", ".[examples,sklearn,mpi,data,onnx]", "onnxruntime", *DOCS_DEPS)
    session.run("pytest", "--doctest-modules", "-q", "-p", "no:cacheprovider", "agnostic_mlp")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html",
                *session.posargs)


@nox.session
def examples(session: nox.Session) -> None:
    """Run every example as a user would, on NumPy; pictures go to examples/output/. Not a
    default session: the docs session's gallery runs every example, and the mpi session
    runs the distributed one under mpiexec."""
    session.install("-e", ".[examples,progress,mpi,data,onnx]", "onnxruntime")
    for script in sorted(Path("examples").glob("[!_]*.py")):  # _shared.py is no example
        session.run("python", str(script))
    # ... and the distributed one across two processes, as its users launch it.
    session.run("mpiexec", "-n", "2", "python", "examples/distributed_digits.py")


@nox.session
def build(session: nox.Session) -> None:
    """Build the sdist and the wheel (``python -m build``); in this fresh virtual
    environment, install the wheel and run the demo outside the checkout, then rebuild
    the wheel from the sdist and run the demo the sdist carries."""
    session.install("build")
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist))
    (wheel,), (sdist,) = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    demo = "add_two_numbers.py"
    for name in (demo, "_shared.py"):  # the demo imports the examples' shared helpers
        shutil.copy(Path("examples") / name, tmp / name)
    # The installed package, not the checkout: run from tmp, never from here.
    check = ("import sys, agnostic_mlp; f = agnostic_mlp.__file__; "
             "sys.exit(None if 'site-packages' in f else f'imported from {f}')")
    session.install(str(wheel))
    with session.chdir(tmp):
        session.run("python", "-c", check)
        _expect_demo(session.run("python", demo, silent=True))
    unpacked = tmp / "sdist"
    shutil.rmtree(unpacked, ignore_errors=True)
    shutil.unpack_archive(sdist, unpacked)
    (root,) = unpacked.iterdir()
    session.install("--force-reinstall", "--no-deps", str(sdist))  # built from the sdist
    with session.chdir(tmp):
        session.run("python", "-c", check)
        _expect_demo(session.run("python", str(root / "examples" / demo), silent=True))


def _expect_demo(output: object) -> None:
    text = str(output)
    print(text)
    if "0.3 + 0.1 is equal to 0.40" not in text:
        raise RuntimeError("the demo did not print its answer, 0.40")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark suite against PyTorch, scikit-learn and the matmul floor (tables and
    charts in benchmarks/results); then the scikit-learn estimators against
    sklearn.neural_network on every CPU backend, with two threads and with one core,
    streaming, and the peak memory of every face."""
    session.install("-e", ".[examples]", TORCH, "jax", "threadpoolctl")
    session.run("python", "benchmarks/run.py", "--out", "benchmarks/results", *session.posargs)
    session.run("python", "benchmarks/sklearn_compare.py", "--backends", "numpy,torch,jax",
                "--out", "benchmarks/results")
    session.run("python", "benchmarks/sklearn_compare.py", "--backends", "numpy,torch,jax",
                "--threads", "1", "--out", "benchmarks/results/threads-1")
    session.run("python", "benchmarks/streaming.py")
    session.run("python", "benchmarks/memory_faces.py", "--out", "benchmarks/results")


@nox.session(venv_backend="none")
def gpu(session: nox.Session) -> None:
    """On a machine with an NVIDIA GPU, in under 8 minutes: the CuPy tests, the PyTorch
    tests on CUDA, and the benchmark's GPU workloads against PyTorch CUDA and the floor.

    It installs nothing and runs in the Python that runs nox, for GPU machines that
    reach no registry: that Python must hold CuPy, PyTorch built for CUDA, pytest,
    hypothesis, safetensors and array-api-compat (README.md, "On a GPU", says how to
    carry what is missing as wheels). The checkout is imported from where it is.
    """
    if not has_nvidia_gpu():
        session.skip("gpu: no NVIDIA GPU or driver on this machine")
    env = {"PYTHONHASHSEED": "0", "PYTHONPATH": os.pathsep.join(
        [str(Path.cwd()), os.environ.get("PYTHONPATH", "")])}
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *session.posargs]
    session.run(*pytest, env={**env, "AGNOSTIC_MLP_BACKENDS": "cupy"}, external=True)
    session.run(*pytest, env={**env, "AGNOSTIC_MLP_BACKENDS": "torch",
                              "AGNOSTIC_MLP_DEVICES": "torch=cuda"}, external=True)
    session.run(sys.executable, "benchmarks/run.py", "--gpu-only", "--backends", "cupy,torch",
                "--contenders", "agnostic,pytorch,floor", "--repeats", "3", "--no-memory",
                "--out", "benchmarks/results/gpu", env=env, external=True)


# What the gpu session needs beyond what a GPU machine's image usually has (CuPy,
# PyTorch, NumPy, pytest, hypothesis, safetensors): nox and the Array API packages.
GPU_WHEELS = ["array-api-compat", "array-api-strict", "nox", "argcomplete", "colorlog",
              "dependency-groups", "virtualenv", "distlib", "python-discovery", "platformdirs",
              "filelock", "attrs", "humanize", "packaging"]


@nox.session(venv_backend="none")
def gpu_wheels(session: nox.Session) -> None:
    """Download, here, the wheels the gpu session needs on a machine that reaches no registry.

    ``nox -s gpu_wheels -- 3.12`` fetches them for that Python (default: 3.12) into
    ``.whl/``; there, ``python -m pip install --no-index --no-deps .whl/*.whl`` and
    ``python -m nox -s gpu``.
    """
    version = session.posargs[0] if session.posargs else "3.12"
    session.run(sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--python-version", version, "--implementation", "cp",
                "--platform", "manylinux2014_x86_64", "-d", ".whl", *GPU_WHEELS, external=True)
