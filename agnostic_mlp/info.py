"""What this machine offers the library, for bug reports: ``python -m agnostic_mlp info``.

It reports the library's version, Python and the platform; each backend (installed
or not, its version, whether it can run here and why not, its devices); NumPy's BLAS
and its threads; scikit-learn and the other optional packages; mpi4py and the MPI
library. Collecting never raises: whatever cannot be found or loaded is reported as
a line saying why.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import json
import platform
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .backends import BACKENDS, get_backend

__all__ = ["collect", "print_info", "render"]

# Packages the library can use, by the name pip knows them (the distribution).
OPTIONAL = ("array-api-compat", "safetensors", "scipy", "scikit-learn", "tqdm", "h5py",
            "zarr", "dask", "matplotlib", "onnx", "onnxruntime", "threadpoolctl")
# Distributions that may hold a backend's module (CuPy has one per CUDA version).
_DISTRIBUTIONS = {"numpy": ("numpy",), "array_api_strict": ("array-api-strict",),
                  "torch": ("torch",), "jax": ("jax",),
                  "cupy": ("cupy", "cupy-cuda13x", "cupy-cuda12x", "cupy-cuda11x", "cupy-rocm-6-0")}
_MPI_TIMEOUT_S = 30


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _safely(probe: Callable[[], Any], default: Any = None) -> tuple[Any, str | None]:
    """``(probe(), None)``, or ``(default, why it failed)``: no probe ends the report."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return probe(), None
    except Exception as exc:  # any library's failure is a line of the report
        return default, _reason(exc)


def _distribution_version(names: tuple[str, ...]) -> tuple[str | None, str | None]:
    """The first installed distribution of ``names``: ``(version, name)``."""
    for name in names:
        try:
            return importlib.metadata.version(name), name
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


def _devices(name: str, xp: Any) -> list[str]:
    """The devices a backend's arrays may live on, with the GPUs' names."""
    if name == "torch":
        import torch

        found = ["cpu"]
        if torch.cuda.is_available():
            found += [f"cuda:{i} ({torch.cuda.get_device_name(i)})"
                      for i in range(torch.cuda.device_count())]
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            found.append("mps")
        return found
    if name == "cupy":
        import cupy

        found = []
        for i in range(cupy.cuda.runtime.getDeviceCount()):
            label = cupy.cuda.runtime.getDeviceProperties(i)["name"]
            found.append(f"{i} ({label.decode() if isinstance(label, bytes) else label})")
        return found
    if name == "jax":
        import jax

        return [f"{d} ({d.platform})" for d in jax.devices()]
    info = getattr(xp, "__array_namespace_info__", None)
    if info is not None:
        return [str(d) for d in info().devices()]
    return ["cpu"]


def _backend(name: str) -> dict[str, Any]:
    module = BACKENDS[name][0].split(".")[0]
    version, dist = _distribution_version(_DISTRIBUTIONS.get(name, (module,)))
    spec, _ = _safely(lambda: importlib.util.find_spec(module))
    entry: dict[str, Any] = {"installed": spec is not None, "version": version}
    if dist is not None and dist != module:
        entry["distribution"] = dist
    if spec is None:
        entry["usable"] = False
        entry["reason"] = f"not installed: {BACKENDS[name][1]}"
        return entry
    backend, why = _safely(lambda: get_backend(name))
    entry["usable"] = backend is not None
    if backend is None:
        entry["reason"] = why
        return entry
    if entry["version"] is None:
        entry["version"] = getattr(importlib.import_module(module), "__version__", None)
    entry["default_device"] = str(backend.device)
    devices, why = _safely(lambda: _devices(name, backend.xp), [])
    entry["devices"] = devices
    if why is not None:
        entry["devices_error"] = why
    if name == "torch":
        import torch

        entry["cuda_build"] = torch.version.cuda or "none (a CPU build)"
    if name == "jax":
        import jax

        entry["x64"] = bool(jax.config.read("jax_enable_x64"))
    return entry


def _blas() -> list[dict[str, Any]]:
    """NumPy's BLAS and its threads: threadpoolctl's view, else NumPy's build record."""
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        import numpy  # loads the BLAS that threadpoolctl then finds

        pools = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        return [{"library": p.get("internal_api"), "version": p.get("version"),
                 "threads": p.get("num_threads"), "threading": p.get("threading_layer"),
                 "architecture": p.get("architecture"), "file": p.get("filepath")}
                for p in pools]
    import numpy

    built = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return [{"library": built.get("name"), "version": built.get("version"),
             "threads": "unknown (pip install threadpoolctl to see them)"}]


# Run in a child process: MPI may only be loaded once per process, and a broken MPI
# library may crash or hang; the report survives both.
_MPI_PROBE = """
import json, mpi4py
mpi4py.rc.initialize = False
mpi4py.rc.finalize = False
from mpi4py import MPI
print(json.dumps({"mpi4py": mpi4py.__version__,
                  "standard": "%d.%d" % MPI.Get_version(),
                  "library": MPI.Get_library_version().strip()}))
"""


def _mpi() -> dict[str, Any]:
    version, _ = _distribution_version(("mpi4py",))
    if version is None or importlib.util.find_spec("mpi4py") is None:
        return {"mpi4py": None, "reason": "not installed: pip install -e '.[mpi]' (from a clone)"}
    try:
        done = subprocess.run([sys.executable, "-c", _MPI_PROBE], capture_output=True,
                              text=True, timeout=_MPI_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return {"mpi4py": version,
                "reason": f"loading the MPI library took over {_MPI_TIMEOUT_S} s"}
    except OSError as exc:
        return {"mpi4py": version, "reason": _reason(exc)}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return {"mpi4py": version, "reason": f"the MPI library does not load: {last}"}
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def collect() -> dict[str, Any]:
    """Everything the report says, as plain data (JSON-ready).

    Returns
    -------
    dict
        Sections ``agnostic_mlp``, ``python``, ``platform``, ``backends`` (one entry
        per name in :data:`agnostic_mlp.BACKENDS`), ``blas``, ``packages`` and ``mpi``.
        A section or backend that cannot be probed holds the reason instead.
    """
    report: dict[str, Any] = {
        "agnostic_mlp": {"version": __version__,
                         "location": str(Path(__file__).resolve().parent)},
        "python": {"version": sys.version.split()[0],
                   "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "platform": {"system": platform.platform(), "machine": platform.machine()},
    }
    backends = {}
    for name in BACKENDS:
        entry, why = _safely(functools.partial(_backend, name))
        backends[name] = entry if why is None else {"usable": False, "reason": why}
    report["backends"] = backends
    blas, why = _safely(_blas, [])
    report["blas"] = blas if why is None else [{"library": None, "reason": why}]
    report["packages"] = {name: _distribution_version((name,))[0] for name in OPTIONAL}
    mpi, why = _safely(_mpi)
    report["mpi"] = mpi if why is None else {"mpi4py": None, "reason": why}
    return report


def _line(key: str, value: Any) -> str:
    label = f"{key}:" if key else ""
    return f"  {label:<20}{value}"


def render(report: dict[str, Any]) -> str:
    """The report of :func:`collect` as aligned text."""
    me, py, plat = report["agnostic_mlp"], report["python"], report["platform"]
    lines = [f"agnostic_mlp {me['version']}", _line("location", me["location"]),
             _line("python", f"{py['version']} ({py['implementation']}, {py['executable']})"),
             _line("platform", f"{plat['system']} ({plat['machine']})"), "", "backends"]
    for name, b in report["backends"].items():
        if not b.get("usable"):
            version = f" {b['version']}" if b.get("version") else ""
            lines.append(_line(name, f"unavailable{version}: {b.get('reason')}"))
            continue
        details = [f"default device {b['default_device']}"]
        if "cuda_build" in b:
            details.append(f"CUDA {b['cuda_build']}")
        if "x64" in b:
            details.append(f"64-bit mode {'on' if b['x64'] else 'off'}")
        lines.append(_line(name, f"{b['version']}, usable; " + ", ".join(details)))
        devices = ", ".join(b.get("devices", [])) or "none listed"
        if "devices_error" in b:
            devices += f" ({b['devices_error']})"
        lines.append(_line("", f"devices: {devices}"))
    lines += ["", "BLAS (NumPy's)"]
    for pool in report["blas"] or [{"library": None, "reason": "none found"}]:
        if pool.get("library") is None:
            lines.append(_line("library", f"unknown: {pool.get('reason')}"))
            continue
        extra = ", ".join(f"{k} {pool[k]}" for k in ("threading", "architecture")
                          if pool.get(k))
        lines.append(_line(str(pool["library"]), f"{pool.get('version')}, "
                           f"threads {pool.get('threads')}" + (f", {extra}" if extra else "")))
    lines += ["", "packages"]
    lines += [_line(name, version or "not installed")
              for name, version in report["packages"].items()]
    mpi = report["mpi"]
    lines += ["", "MPI"]
    lines.append(_line("mpi4py", mpi.get("mpi4py") or "not installed"))
    if "reason" in mpi:
        lines.append(_line("library", f"unavailable: {mpi['reason']}"))
    else:
        library = mpi["library"].splitlines()
        lines.append(_line("standard", mpi["standard"]))
        lines.append(_line("library", library[0] if library else "unknown"))
        lines += [_line("", text.strip()) for text in library[1:3]]
    return "\n".join(lines)


def print_info(file: TextIO | None = None, *, as_json: bool = False) -> None:
    """Print the report (as text, or as JSON) to ``file`` (standard output by default).

    Parameters
    ----------
    file : file-like, optional
        Where to write; ``sys.stdout`` when None.
    as_json : bool
        Write :func:`collect`'s data as JSON instead of text.
    """
    report = collect()
    text = json.dumps(report, indent=2, default=str) if as_json else render(report)
    print(text, file=file if file is not None else sys.stdout)
