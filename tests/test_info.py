"""``python -m agnostic_mlp info`` and ``__version__``: run as a user runs them, in a
child process, on this machine (which has no CuPy) and with broken packages shadowing
real ones."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import agnostic_mlp
from agnostic_mlp import BACKENDS

ROOT = Path(__file__).resolve().parents[1]


def run_module(*args: str, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    paths = [str(ROOT)] + ([str(extra_path)] if extra_path is not None else [])
    if extra_path is not None:  # the shadowing packages first
        paths.reverse()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run([sys.executable, "-m", "agnostic_mlp", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=ROOT, check=False)


def pyproject_version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    assert isinstance(version, str)
    return version


def version_in_child(*path: Path, patch: str = "") -> str:
    code = patch + "import agnostic_mlp; print(agnostic_mlp.__version__)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, path), str(ROOT)])}
    # Run from outside the checkout: "-c" puts the working folder first on sys.path, and
    # an install may have left its metadata (agnostic_mlp.egg-info) in the checkout.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=True, cwd=ROOT.parent)
    return done.stdout.strip()


def fake_install(folder: Path, version: str, source: Path) -> Path:
    """A real dist-info folder, as ``pip install -e SOURCE`` writes one."""
    info = folder / f"agnostic_mlp-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: agnostic_mlp\nVersion: {version}\n")
    (info / "direct_url.json").write_text(json.dumps(
        {"url": source.resolve().as_uri(), "dir_info": {"editable": True}}))
    return folder


def test_version_is_the_checkouts() -> None:
    assert agnostic_mlp.__version__ == pyproject_version()


def test_version_comes_from_the_metadata(tmp_path: Path) -> None:
    installed = fake_install(tmp_path / "site", "9.9.9", ROOT)
    assert version_in_child(installed) == "9.9.9"


def test_another_checkouts_metadata_is_not_this_ones_version(tmp_path: Path) -> None:
    elsewhere = tmp_path / "another-clone"
    elsewhere.mkdir()
    installed = fake_install(tmp_path / "site", "9.9.9", elsewhere)
    assert version_in_child(installed) == pyproject_version()


def test_version_without_metadata_is_the_checkouts() -> None:
    patch = ("import importlib.metadata as m\n"
             "def missing(name): raise m.PackageNotFoundError(name)\n"
             "m.distribution = missing\n")
    assert version_in_child(patch=patch) == pyproject_version()


def test_help_lists_the_commands() -> None:
    done = run_module("--help")
    assert done.returncode == 0, done.stderr
    assert "info" in done.stdout and "commands" in done.stdout


def test_info_text() -> None:
    done = run_module("info")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith(f"agnostic_mlp {agnostic_mlp.__version__}\n")
    for section in ("backends", "BLAS (NumPy's)", "packages", "MPI"):
        assert f"\n{section}\n" in out
    for name in BACKENDS:
        assert f"\n  {name}:" in out
    import numpy

    assert f"numpy:              {numpy.__version__}, usable" in out


def test_info_json_says_why_a_backend_cannot_run() -> None:
    done = run_module("info", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    numpy_entry = report["backends"]["numpy"]
    assert numpy_entry["usable"] and numpy_entry["devices"] == ["cpu"]
    assert report["python"]["version"] == sys.version.split()[0]
    cupy = report["backends"]["cupy"]
    try:
        import cupy as _cupy  # noqa: F401
    except ImportError:
        assert cupy == {"installed": False, "version": None, "usable": False,
                        "reason": f"not installed: {BACKENDS['cupy'][1]}"}
    else:  # with CuPy: usable, or the reason it is not (no GPU, no driver)
        assert cupy["usable"] or cupy["reason"]
    assert report["blas"], "NumPy's BLAS was not found"


def test_info_survives_broken_packages(tmp_path: Path) -> None:
    """A backend or mpi4py that raises on import is a line saying why, not a crash."""
    for name in ("jax", "mpi4py"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            f"raise RuntimeError('{name} is broken on purpose')\n")
    done = run_module("info", "--json", extra_path=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    jax = report["backends"]["jax"]
    assert not jax["usable"]
    assert "RuntimeError: jax is broken on purpose" in jax["reason"]
    if report["mpi"].get("mpi4py") is not None:  # installed: its import fails in the probe
        assert "mpi4py is broken on purpose" in report["mpi"]["reason"]
    assert report["backends"]["numpy"]["usable"]
    text = run_module("info", extra_path=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "jax:                unavailable" in text.stdout


@pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="needs mpi4py")
def test_info_names_the_mpi_library() -> None:
    report = json.loads(run_module("info", "--json").stdout)
    assert report["mpi"]["mpi4py"] == importlib.metadata.version("mpi4py")
    assert report["mpi"]["library"], report["mpi"]
