"""Peak memory of a NumPy ``fit`` on the medium workload, and whether it is flat per epoch.

Run in a fresh process (``run.py`` starts one), so the process's peak RSS
belongs to this measurement alone::

    python benchmarks/memory.py [--samples N] [--epochs E] [--dtype float32]

It prints one JSON object. NumPy reports its array allocations to
``tracemalloc``, so the traced peak is what ``fit`` allocated (arrays and
Python objects) on top of the data and model that existed before it. The
expectation it is compared with is::

    data bytes (X and y) + 3 x parameter bytes + 4 batches of activations

(parameters, their gradients and the per-epoch snapshot ``fit`` keeps to
rewind a diverged epoch, plus the activations and temporaries of a batch).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

from workloads import WORKLOADS, make_data

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # agnostic_mlp from the checkout when not installed
    sys.path.append(str(HERE.parent))

__all__ = ["measure", "measure_in_subprocess"]

_MIB = 2**20


def _current_rss() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def measure(n_samples: int, epochs: int, dtype: str = "float32") -> dict[str, Any]:
    """Fit the medium network on NumPy for ``epochs`` epochs and record its memory.

    Parameters
    ----------
    n_samples : int
        Training samples.
    epochs : int
        Epochs (three or more tell whether the peak is flat after the first).
    dtype : str
        ``"float32"`` or ``"float64"``.

    Returns
    -------
    dict
        Sizes in bytes: ``data``, ``params``, ``expected``, ``per_epoch``
        tracemalloc peaks and end-of-epoch traced memory, peak RSS growth, and
        ``flat``: whether epochs after the first peak within 10% of each other.
    """
    from agnostic_mlp import MLP, SGD

    w = WORKLOADS[f"medium-f{dtype[-2:]}"]
    x, y = make_data(w, n_samples)
    model = MLP(w.layers[0], list(w.layers[1:-1]), w.layers[-1], dtype=dtype, seed=0,
                bias=w.bias, activation="sigmoid", output_activation="sigmoid", loss="mse")
    data_bytes = x.nbytes + y.nbytes
    param_bytes = w.n_params * w.itemsize
    batch_acts = w.batch_size * sum(w.layers) * w.itemsize
    expected = data_bytes + 3 * param_bytes + 4 * batch_acts
    per_epoch: list[dict[str, int]] = []

    def on_epoch_end(model: Any, epoch: int, logs: dict[str, float]) -> None:
        current, peak = tracemalloc.get_traced_memory()
        per_epoch.append({"epoch": epoch, "traced_peak": peak, "traced_current": current,
                          "rss": _current_rss()})
        tracemalloc.reset_peak()

    rss_before, peak_rss_before = _current_rss(), _peak_rss()
    tracemalloc.start()
    model.fit(x, y, epochs=epochs, batch_size=w.batch_size, optimizer=SGD(w.learning_rate),
              shuffle=True, verbose=0, callbacks=[on_epoch_end])
    tracemalloc.stop()
    peak_rss_after = _peak_rss()

    later = [e["traced_peak"] for e in per_epoch[1:]] or [per_epoch[0]["traced_peak"]]
    ends = [e["traced_current"] for e in per_epoch]
    flat = max(later) <= 1.1 * min(later) + _MIB and max(ends) - min(ends) <= _MIB
    return {
        "workload": w.name, "n_samples": n_samples, "epochs": epochs, "dtype": dtype,
        "shuffle": True, "batch_size": w.batch_size,
        "data_bytes": data_bytes, "param_bytes": param_bytes,
        "batch_activation_bytes": batch_acts, "expected_bytes": expected,
        "traced_peak_bytes": max(e["traced_peak"] for e in per_epoch),
        "traced_peak_over_expected": max(e["traced_peak"] for e in per_epoch) / expected,
        "rss_before_fit_bytes": rss_before,
        "peak_rss_growth_bytes": max(0, peak_rss_after - peak_rss_before),
        "peak_rss_bytes": peak_rss_after,
        "per_epoch": per_epoch,
        "flat": bool(flat),
    }


def measure_in_subprocess(n_samples: int, epochs: int, dtype: str = "float32",
                          timeout_s: float = 300) -> dict[str, Any]:
    """:func:`measure` in a fresh Python process; ``{"error": ...}`` if it fails."""
    cmd = [sys.executable, str(HERE / "memory.py"), "--samples", str(n_samples),
           "--epochs", str(epochs), "--dtype", dtype]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        stderr = getattr(exc, "stderr", "") or ""
        return {"error": f"{type(exc).__name__}: {exc} {stderr[-2000:]}".strip()}


def summary(result: dict[str, Any]) -> str:
    """Human-readable lines about a :func:`measure` result."""
    if "error" in result:
        return f"memory check failed: {result['error']}"
    mib = {k: result[k] / _MIB for k in ("data_bytes", "param_bytes", "batch_activation_bytes",
                                          "expected_bytes", "traced_peak_bytes",
                                          "peak_rss_growth_bytes")}
    peaks = ", ".join(f"{e['traced_peak'] / _MIB:.1f}" for e in result["per_epoch"])
    ends = ", ".join(f"{e['traced_current'] / _MIB:.2f}" for e in result["per_epoch"])
    return "\n".join([
        f"Memory of MLP.fit on {result['workload']} (NumPy, {result['n_samples']} samples, "
        f"{result['epochs']} epochs, batch {result['batch_size']}, shuffle=True):",
        f"  data {mib['data_bytes']:.1f} MiB, parameters {mib['param_bytes']:.2f} MiB, "
        f"one batch of activations {mib['batch_activation_bytes']:.2f} MiB",
        f"  expected at most data + 3 x params + 4 batches = {mib['expected_bytes']:.1f} MiB",
        f"  tracemalloc peak during fit: {mib['traced_peak_bytes']:.1f} MiB "
        f"({result['traced_peak_over_expected']:.2f} x expected)",
        f"  per-epoch tracemalloc peaks (MiB): {peaks}",
        f"  traced memory at each epoch's end (MiB): {ends}",
        f"  peak RSS growth during fit: {mib['peak_rss_growth_bytes']:.1f} MiB",
        f"  flat across epochs: {'yes' if result['flat'] else 'NO'}",
    ])


def main(argv: list[str] | None = None) -> None:
    """Command line: print the JSON result of :func:`measure`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.samples, args.epochs, args.dtype)))


if __name__ == "__main__":
    main()
