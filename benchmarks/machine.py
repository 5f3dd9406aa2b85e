"""What machine and libraries the numbers were taken on."""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import sys
from typing import Any

import numpy as np

__all__ = ["BLAS_ENV", "blas_summary", "load_average", "log", "machine_info"]

#: Environment variables that change how BLAS libraries run; recorded, never changed.
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_DEBUG_CPU_TYPE")
_ENV_PREFIXES = ("OPENBLAS", "GOTOBLAS", "OMP_", "MKL_", "XLA_", "JAX_", "CUDA_VISIBLE")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return None
    from importlib.metadata import PackageNotFoundError, version

    dist = {"sklearn": "scikit-learn", "jax": "jax"}.get(module, module)
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def _threadpools() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{k: v for k, v in pool.items()} for pool in threadpool_info()]


def _torch_info() -> dict[str, Any] | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    info: dict[str, Any] = {
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "mkl": torch.backends.mkl.is_available(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cuda": torch.cuda.is_available(),
    }
    found = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    info["blas"] = found.group(1) if found else None
    if info["cuda"]:
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def _jax_info() -> dict[str, Any] | None:
    if importlib.util.find_spec("jax") is None:
        return None
    import jax

    return {"version": jax.__version__, "devices": [str(d) for d in jax.devices()],
            "x64": bool(jax.config.read("jax_enable_x64"))}


def _numpy_blas() -> dict[str, Any]:
    try:
        config: Any = np.show_config(mode="dicts")  # typed as None in some NumPy versions
        deps = config["Build Dependencies"]
        blas = deps.get("blas", {})
        return {"name": blas.get("name"), "version": blas.get("version")}
    except Exception:  # older NumPy: no dict mode
        return {}


def _numpy_pools(pools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The BLAS thread pools that NumPy loaded (its wheel ships them in ``numpy.libs``)."""
    blas = [p for p in pools if p.get("user_api") == "blas"]
    own = [p for p in blas if os.path.basename(os.path.dirname(p.get("filepath", "")))
           .startswith("numpy")]
    return own or blas[:1]


def machine_info() -> dict[str, Any]:
    """CPU, core counts, library versions, BLAS libraries and their threads, BLAS env.

    Import torch, JAX and scikit-learn first, so that ``threadpoolctl`` sees
    their thread pools too.
    """
    env = {k: v for k, v in sorted(os.environ.items()) if k.startswith(_ENV_PREFIXES)}
    pools = _threadpools()
    return {
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numpy_blas_build": _numpy_blas(),
        "numpy_blas_runtime": _numpy_pools(pools),
        "threadpools": pools,
        "torch": _torch_info(),
        "jax": _jax_info(),
        "versions": {m: _version(m) for m in
                     ("array_api_compat", "array_api_strict", "sklearn", "cupy", "threadpoolctl")},
        "blas_env": {k: os.environ.get(k, "unset") for k in BLAS_ENV},
        "env": env,
    }


def blas_summary(info: dict[str, Any]) -> str:
    """One line: NumPy's BLAS, its kernel and threads, and the OpenBLAS variables."""
    pools = info.get("numpy_blas_runtime") or []
    if pools:
        p = pools[0]
        blas = (f"{p.get('internal_api')} {p.get('version')} kernel={p.get('architecture')} "
                f"threads={p.get('num_threads')}")
    else:
        blas = str(info.get("numpy_blas_build") or "unknown")
    env = ", ".join(f"{k}={info['blas_env'][k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"))
    return f"NumPy BLAS: {blas}; {env}"


def log(message: str) -> None:
    """A progress line on standard error (standard output carries the report)."""
    print(message, file=sys.stderr, flush=True)


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None
