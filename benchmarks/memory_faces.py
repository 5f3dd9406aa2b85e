"""Peak memory of every face of training, against the least it could be.

Each measurement runs in a fresh process (one per row), so that its peak
resident memory belongs to it alone::

    python benchmarks/memory_faces.py [--faces numpy-medium,torch-medium,...] [--out DIR]

Faces: ``MLP.fit`` on NumPy, PyTorch (CPU) and JAX (CPU), on the medium and
large workloads (data in memory, plain SGD, ``shuffle=True``); the
``MLPClassifier`` estimator (Adam, hidden layers 256 and 128, a
``make_classification``-like set in float32); and a ``fit`` streamed from
``.npy`` memmaps of the medium workload at two sizes.

In a row's process, everything is imported, the model is built and trained
for an epoch first, on other data of the measured shapes (BLAS buffers,
PyTorch's and JAX's allocators, and the code JAX compiles for those shapes;
a streamed row: on a few batches in memory). The heap's free memory is then
given back to the system (glibc's ``malloc_trim``: what the warm-up freed
and malloc kept would otherwise be counted in the baseline, and reused by
the measured ``fit`` unseen), and the baseline is the resident set then; the
model's parameters, which exist already, are added to what is measured above
it. The data is made after it and put on the backend (JAX copies it; the
host's array is then dropped, and one tiny JAX operation lets JAX release
its reference to it), the kernel's record of the peak resident set is reset
(``/proc/self/clear_refs``), and ``fit`` runs: the peak is the larger of the
resident set with the data placed and the peak during ``fit``. The estimator
row builds its model inside ``fit``, after the baseline. The lower bound is::

    data + parameters x (1 + optimizer slots) + one batch's activations

(one batch's activations: batch size x the sum of the layer widths, inputs
included). A streamed fit's data lies on disk: its bound counts the windows
the host may hold at once (three) instead of the data, and its memory is the
process's anonymous memory (``RssAnon``, sampled every 2 ms), since pages of
the memmapped file count in the resident set but are the page cache's.

glibc keeps freed blocks below its mmap threshold in the heap, and raises the
threshold (up to 32 MiB) each time a mapped block is freed, so blocks of a
few MiB made and freed many times (PyTorch's layers, a streamed fit's
windows) can hold more than is in use. ``--mmap-threshold 1048576`` fixes it
(every block of 1 MiB or more is mapped and given back when freed): what a
row reads then is what is in use; the gap to the default is the allocator's.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from workloads import WORKLOADS, make_data

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # agnostic_mlp from the checkout when not installed
    sys.path.append(str(HERE.parent))

_MIB = 2**20
FACES = ("numpy-medium", "numpy-large", "torch-medium", "torch-large", "jax-medium",
         "estimator", "streamed-medium", "streamed-medium-x2")
SAMPLES = {"medium": 60_000, "large": 8_192}


def _status() -> dict[str, int]:
    """``/proc/self/status``'s memory lines, in bytes."""
    out: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon"):
                out[key] = int(value.split()[0]) * 1024
    return out


class Sampler:
    """The largest ``RssAnon`` and ``VmRSS`` seen, every ``interval`` seconds, in a thread."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval, self.peak_anon, self.peak_rss = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            s = _status()
            self.peak_anon = max(self.peak_anon, s["RssAnon"])
            self.peak_rss = max(self.peak_rss, s["VmRSS"])
            time.sleep(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _trim() -> None:
    """Give the heap's free memory back to the system (glibc's ``malloc_trim``), so that
    the baseline counts what is in use, not what the warm-up freed and malloc kept."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to give back
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_peak() -> bool:
    try:  # "5" resets VmHWM (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _model(backend: str, w: Any) -> Any:
    from agnostic_mlp import MLP

    return MLP(w.layers[0], list(w.layers[1:-1]), w.layers[-1], dtype=w.dtype, seed=0,
               bias=w.bias, activation="sigmoid", output_activation="sigmoid", loss="mse",
               backend=backend)


def _on_device(backend: str, a: np.ndarray) -> Any:
    if backend == "torch":
        import torch

        return torch.from_numpy(a)  # the same memory
    if backend == "jax":
        import jax

        return jax.block_until_ready(jax.device_put(a))
    return a


def _released(backend: str) -> None:
    """JAX keeps the host's array of a finished ``device_put`` referenced until its next
    dispatch (measured on jax 0.10.2): one tiny operation lets it go."""
    if backend == "jax":
        import jax.numpy as jnp

        jnp.zeros(1).block_until_ready()


def measure(face: str, epochs: int = 2, quick: bool = False) -> dict[str, Any]:
    """One face's peak memory and lower bound, in this process (see the module's docstring)."""
    from agnostic_mlp import SGD

    kind, _, size = face.partition("-")
    slots = 0
    if kind == "estimator":
        return _estimator(epochs, quick)
    family = "medium" if size.startswith("medium") else "large"
    w = WORKLOADS[f"{family}-f32"]
    n = SAMPLES[family] // (8 if quick else 1) * (2 if size.endswith("x2") else 1)
    backend = "numpy" if kind == "streamed" else kind
    model = _model(backend, w)
    # Data in memory: warmed up on the measured shapes, which JAX compiles for (the
    # first compilation of a shape costs some 80 MiB, once per process, whatever the data).
    xs, ys = make_data(w, 4 * w.batch_size if kind == "streamed" else n, seed=1)
    model.fit(_on_device(backend, xs), _on_device(backend, ys), epochs=1,
              batch_size=w.batch_size, optimizer=SGD(w.learning_rate), shuffle=True, verbose=0)
    del xs, ys
    param_bytes = w.n_params * w.itemsize
    batch_acts = w.batch_size * sum(w.layers) * w.itemsize
    folder = None
    if kind == "streamed":
        from agnostic_mlp.streaming import WINDOW_BYTES

        folder = tempfile.TemporaryDirectory()
        x, y = make_data(w, n)
        np.save(Path(folder.name) / "x.npy", x)
        np.save(Path(folder.name) / "y.npy", y)
        data_bytes = x.nbytes + y.nbytes
        del x, y
        held = 3 * WINDOW_BYTES * (1 + w.layers[-1] / w.layers[0])  # three windows of x and y
        bound = held + param_bytes * (1 + slots) + batch_acts
    _trim()
    base = _status()
    if kind == "streamed":
        assert folder is not None
        xd = np.load(Path(folder.name) / "x.npy", mmap_mode="r")
        yd = np.load(Path(folder.name) / "y.npy", mmap_mode="r")
    else:
        x, y = make_data(w, n)
        data_bytes = x.nbytes + y.nbytes
        xd, yd = _on_device(backend, x), _on_device(backend, y)
        if backend == "jax":
            del x, y  # JAX holds its own copy: the host's, made for the transfer, is not fit's
            _released(backend)
        bound = data_bytes + param_bytes * (1 + slots) + batch_acts
    placed = _status()
    _reset_peak()
    with Sampler() as sampler:
        model.fit(xd, yd, epochs=epochs, batch_size=w.batch_size,
                  optimizer=SGD(w.learning_rate), shuffle=True, verbose=0)
    end = _status()
    if folder is not None:
        folder.cleanup()
    # The parameters were made before the baseline: they are added to what it measures.
    if kind == "streamed":
        peak = max(sampler.peak_anon, end["RssAnon"]) - base["RssAnon"] + param_bytes
        measured = "RssAnon"
    else:
        peak = max(end["VmHWM"], placed["VmRSS"]) - base["VmRSS"] + param_bytes
        measured = "VmHWM"
    return {"face": face, "n_samples": n, "epochs": epochs, "batch_size": w.batch_size,
            "data_bytes": data_bytes, "param_bytes": param_bytes, "slots": slots,
            "batch_activation_bytes": batch_acts, "bound_bytes": int(bound),
            "peak_bytes": int(peak), "measured": measured, "peak_over_bound": peak / bound}


def _estimator(epochs: int, quick: bool) -> dict[str, Any]:
    import warnings

    from agnostic_mlp import MLPClassifier

    rng = np.random.default_rng(0)
    n, d, classes, hidden = (6_250 if quick else 50_000), 100, 10, (256, 128)

    def data(rows: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.standard_normal((rows, d), dtype=np.float32)
        return x, rng.integers(0, classes, rows)

    def fit(x: np.ndarray, y: np.ndarray, iters: int) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the fixed number of epochs warns
            return MLPClassifier(hidden, max_iter=iters, n_iter_no_change=np.inf,
                                 random_state=0, dtype="float32").fit(x, y)

    fit(*data(800), 1)
    _trim()
    base = _status()
    _reset_peak()
    x, y = data(n)
    fit(x, y, epochs)
    end = _status()
    layers = (d, *hidden, classes)
    params = sum(i * o + o for i, o in itertools.pairwise(layers))
    batch = min(200, n)
    data_bytes = x.nbytes + y.nbytes
    bound = data_bytes + params * 4 * 3 + batch * sum(layers) * 4  # Adam: two slots
    peak = end["VmHWM"] - base["VmRSS"]
    return {"face": "estimator", "n_samples": n, "epochs": epochs, "batch_size": batch,
            "data_bytes": data_bytes, "param_bytes": params * 4, "slots": 2,
            "batch_activation_bytes": batch * sum(layers) * 4, "bound_bytes": bound,
            "peak_bytes": peak, "measured": "VmHWM", "peak_over_bound": peak / bound}


def in_subprocess(face: str, epochs: int, quick: bool, timeout_s: float = 600,
                  mmap_threshold: int | None = None) -> dict[str, Any]:
    """:func:`measure` in a fresh process; ``{"face": face, "error": ...}`` if it fails.

    ``mmap_threshold``: glibc's, fixed for that process (``MALLOC_MMAP_THRESHOLD_``).
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "--one", face, "--epochs", str(epochs)]
    if quick:
        cmd.append("--quick")
    env = dict(os.environ, JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    if mmap_threshold is not None:
        env["MALLOC_MMAP_THRESHOLD_"] = str(mmap_threshold)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              check=True, env=env)
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        stderr = getattr(exc, "stderr", "") or ""
        return {"face": face, "error": f"{type(exc).__name__}: {exc} {stderr[-1500:]}".strip()}


def markdown(rows: list[dict[str, Any]], header: str = "") -> str:
    """The rows as a Markdown table, sizes in MiB, after ``header``."""
    lines = [header] if header else []
    lines += ["| face | samples | data | params x (1+slots) | batch acts | bound | peak | "
             "peak / bound | measured |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['face']} | failed: {r['error'][:80]} |||||||| |")
            continue
        lines.append(
            f"| {r['face']} | {r['n_samples']:,} | {r['data_bytes'] / _MIB:.1f} | "
            f"{r['param_bytes'] * (1 + r['slots']) / _MIB:.1f} | "
            f"{r['batch_activation_bytes'] / _MIB:.2f} | {r['bound_bytes'] / _MIB:.1f} | "
            f"{r['peak_bytes'] / _MIB:.1f} | {r['peak_over_bound']:.2f} | {r['measured']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Command line: every face in its own process, then the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", default=",".join(FACES))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="an eighth of the samples")
    parser.add_argument("--out", type=Path, default=None,
                        help="write memory_faces.md and memory_faces.json here")
    parser.add_argument("--mmap-threshold", type=int, default=None, metavar="BYTES",
                        help="fix glibc's mmap threshold in every row's process: each "
                        "allocation of BYTES or more is its own mapping, given back when freed")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.epochs, args.quick)))
        return
    rows = []
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()
    for face in args.faces.split(","):
        rows.append(in_subprocess(face, args.epochs, args.quick,
                                  mmap_threshold=args.mmap_threshold))
        print(json.dumps(rows[-1]), flush=True)
    header = (f"# Peak memory of every face against its lower bound\n\n- {started}, "
              f"{args.epochs} epochs, 1-min load average before/after: {load[0]:.2f} / "
              f"{os.getloadavg()[0]:.2f}\n- bound: data + parameters x (1 + optimizer slots) "
              "+ one batch's activations; streamed: three windows instead of the data. "
              "Sizes in MiB.\n")
    if args.mmap_threshold is not None:
        header += (f"- glibc's mmap threshold fixed at {args.mmap_threshold} bytes "
                   "(MALLOC_MMAP_THRESHOLD_)\n")
    text = markdown(rows, header)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "memory_faces.md").write_text(text, encoding="utf-8")
        (args.out / "memory_faces.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
