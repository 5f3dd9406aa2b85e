"""The estimators on data larger than memory: memmap, HDF5, Zarr, Dask and ``Stream``.

They go through the one ``fit`` loop, so they read features a window at a
time as ``MLP.fit`` does. Unshuffled, a streamed fit is the in-memory fit;
``predict``, ``predict_proba`` and ``score`` read streamed features too; a
real Zarr array of 1,000,000 x 40 float32 trains in a process whose peak
memory grows by well under half the array.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_streaming import KINDS, on_disk

pytest.importorskip("sklearn")

from sklearn.datasets import load_digits

from agnostic_mlp import MLPClassifier, MLPRegressor, Stream

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X[:1000] / 16.0, y[:1000]


def largest_difference(a: Any, b: Any) -> float:
    pairs = zip([*a.coefs_, *a.intercepts_], [*b.coefs_, *b.intercepts_], strict=True)
    return max(float(np.max(np.abs(np.asarray(p) - np.asarray(q)))) for p, q in pairs)


def streamed(kind: str, X: np.ndarray, tmp_path: Path) -> Any:
    return Stream(X, window=150) if kind == "stream" else on_disk(kind, X, tmp_path)


@pytest.mark.parametrize("kind", [*KINDS, "stream"])
def test_an_unshuffled_streamed_fit_is_the_in_memory_fit(kind: str, tmp_path: Path) -> None:
    X, y = digits()
    source = streamed(kind, X, tmp_path)
    params = dict(hidden_layer_sizes=(16,), max_iter=4, batch_size=64, random_state=0,
                  shuffle=False)
    ours = MLPClassifier(**params).fit(source, y)
    ref = MLPClassifier(**params).fit(X, y)
    assert largest_difference(ours, ref) <= 1e-12
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-12)
    assert ours.n_features_in_ == 64 and not hasattr(ours, "feature_names_in_")
    np.testing.assert_array_equal(ours.predict(source), ref.predict(X))
    np.testing.assert_allclose(ours.predict_proba(source), ref.predict_proba(X), atol=1e-12)
    assert ours.score(source, y) == ref.score(X, y)
    reg_params = dict(hidden_layer_sizes=(8,), max_iter=3, batch_size=50, random_state=1,
                      shuffle=False)
    targets = np.stack([X[:, 10], X[:, 20]], axis=1)
    reg = MLPRegressor(**reg_params).fit(source, targets)
    reg_ref = MLPRegressor(**reg_params).fit(X, targets)
    assert largest_difference(reg, reg_ref) <= 1e-12
    np.testing.assert_allclose(reg.predict(source), reg_ref.predict(X), atol=1e-12)


def test_a_shuffled_streamed_fit_is_reproducible_and_learns(tmp_path: Path) -> None:
    X, y = digits()
    source = on_disk("zarr", X, tmp_path)
    params = dict(hidden_layer_sizes=(32,), max_iter=30, random_state=0, batch_size=32)
    a = MLPClassifier(**params).fit(source, y)
    b = MLPClassifier(**params).fit(source, y)
    assert largest_difference(a, b) == 0.0
    assert a.score(source, y) > 0.9
    # Not scikit-learn's in-memory shuffle: windows then rows, as MLP.fit shuffles them.
    assert largest_difference(a, MLPClassifier(**params).fit(X, y)) > 0


def test_early_stopping_on_streamed_data_holds_out_the_last_rows(tmp_path: Path) -> None:
    X, y = digits()
    source = on_disk("memmap", X, tmp_path)
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=8, random_state=0,
                        early_stopping=True, validation_fraction=0.2).fit(source, y)
    n_val = 200  # ceil(0.2 * 1000)
    assert len(clf.validation_scores_) == clf.n_iter_
    # The kept weights are the best ones: their score on the held-out rows is the best score.
    assert clf.score(X[-n_val:], y[-n_val:]) == pytest.approx(clf.best_validation_score_)
    assert clf.t_ == clf.n_iter_ * (1000 - n_val)


def test_streamed_data_is_checked_naming_the_argument(tmp_path: Path) -> None:
    X, y = digits()
    source = on_disk("memmap", X, tmp_path)
    with pytest.raises(ValueError, match="not supported with streamed X"):
        MLPClassifier(max_iter=1).fit(source, y, sample_weight=np.ones(1000))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPClassifier(max_iter=1).fit(source, y[:-1])
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(source, y)
    with pytest.raises(ValueError, match="X has 10 features, but MLPClassifier is expecting 64"):
        clf.predict(on_disk("memmap", X[:, :10], tmp_path, "narrow"))
    bad = X.copy()
    bad[333, 5] = np.nan
    with pytest.raises(ValueError, match="row 333"):
        MLPClassifier(max_iter=1).fit(on_disk("zarr", bad, tmp_path, "bad"), y)


PEAK = r"""
import sys
import numpy as np
import zarr
path = sys.argv[1]
rows, cols = 1_000_000, 40
z = zarr.open_array(path, mode="w", shape=(rows, cols), dtype="float32", chunks=(50_000, cols))
rng = np.random.default_rng(0)
labels = np.empty(rows, dtype=np.int64)
for lo in range(0, rows, 50_000):
    part = rng.random((50_000, cols), dtype=np.float32)
    z[lo:lo + 50_000] = part
    labels[lo:lo + 50_000] = part[:, :3].sum(axis=1) > 1.5
del part
from agnostic_mlp import MLPClassifier

def hwm():
    # VmHWM: peak resident memory of this process so far; reset to now for the fit.
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024

clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=1, batch_size=2000, random_state=0)
# A first fit on a few rows: the imports and BLAS's buffers are not the data's memory.
clf.fit(zarr.open_array(path, mode="r")[:5000], labels[:5000])
open("/proc/self/clear_refs", "w").write("5")
before = hwm()
clf.fit(zarr.open_array(path, mode="r"), labels)
print(hwm() - before, clf.loss_)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads the peak memory from /proc")
def test_a_million_row_zarr_array_fits_with_little_memory(tmp_path: Path) -> None:
    """Measured: +95-101 MiB with glibc's default malloc, +61-67 MiB with a fixed mmap
    threshold (freed 8 MiB windows otherwise stay in the heap's arenas and raise the peak)."""
    pytest.importorskip("zarr")
    script = tmp_path / "peak.py"
    script.write_text(PEAK)
    growth = {}
    for malloc, env in {"default": {}, "fixed": {"MALLOC_MMAP_THRESHOLD_": "1048576"}}.items():
        done = subprocess.run([sys.executable, str(script), str(tmp_path / f"{malloc}.zarr")],
                              capture_output=True, text=True, timeout=600,
                              env=dict(os.environ, PYTHONPATH=str(ROOT), **env))
        assert done.returncode == 0, done.stderr[-3000:]
        growth[malloc], loss = map(float, done.stdout.split())
        assert np.isfinite(loss)
    print(f"1,000,000 x 40 float32 zarr (153 MiB): peak memory grew {growth['default']:.0f} MiB "
          f"in fit, {growth['fixed']:.0f} MiB with MALLOC_MMAP_THRESHOLD_ (after a warm-up fit)")
    assert growth["default"] < 153 * 0.8  # never the whole array, nor a copy of it
    assert growth["fixed"] < 153 / 2
