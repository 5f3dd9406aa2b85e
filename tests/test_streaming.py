"""Data on disk, streamed a window at a time: memmap, HDF5, Zarr, Dask, and any array-like.

Every kind is read through real files and real libraries (h5py, zarr, dask);
those missing here skip, saying so. The promises: an unshuffled streamed fit
is bit-for-bit the in-memory fit; the block shuffle is reproducible from the
seed and the same on every backend; bad values fail naming their row, with the
model as it was; checkpoints, divergence, validation, evaluate, predict and
score work as in memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import host

from agnostic_mlp import MLP, SGD, Adam, DivergenceError, Stream
from agnostic_mlp.backends import get_backend
from agnostic_mlp.streaming import open_pair, prefetched
from agnostic_mlp.training.streamed import StreamedDataset

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(7)
N, F = 1000, 6
X = RNG.normal(size=(N, F))
Y = (X @ RNG.normal(size=(F, 2)) * 0.3).astype(np.float64)
LABELS = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
UNEVEN = (100, 250, 33, 317, 200, 100)  # Dask chunks of the rows: not multiples of a batch


def _need(module: str) -> Any:
    return pytest.importorskip(module, reason=f"{module} is not installed (agnostic_mlp[data])")


def on_disk(kind: str, array: np.ndarray, tmp_path: Path, name: str = "x") -> Any:
    """``array`` written to a real file of ``kind`` and opened from it (or a Dask array)."""
    if kind == "memmap":
        path = tmp_path / f"{name}.npy"
        np.save(path, array)
        return np.load(path, mmap_mode="r")
    if kind == "hdf5":
        h5py = _need("h5py")
        f = h5py.File(tmp_path / f"{name}.h5", "a")
        f.create_dataset(name, data=array, chunks=(64, *array.shape[1:]))
        return f[name]
    if kind == "zarr":
        zarr = _need("zarr")
        z = zarr.open_array(str(tmp_path / f"{name}.zarr"), mode="w", shape=array.shape,
                            dtype=array.dtype, chunks=(128, *array.shape[1:]))
        z[...] = array
        return zarr.open_array(str(tmp_path / f"{name}.zarr"), mode="r")
    if kind == "dask":
        da = _need("dask.array")
        return da.from_array(array, chunks=(UNEVEN, *array.shape[1:]))
    raise AssertionError(kind)


KINDS = ["memmap", "hdf5", "zarr", "dask"]


def model(backend: str, device: Any = None, **kwargs: Any) -> MLP:
    outputs = kwargs.pop("outputs", 2)
    options: dict[str, Any] = dict(activation="tanh", output_activation="identity",
                                   dtype="float64", seed=3, optimizer=Adam(0.01))
    options.update(kwargs)
    return MLP(F, [8], outputs, backend=backend, device=device, **options)


def weights(m: MLP) -> list[np.ndarray]:
    return [host(p) for p in m.parameters()]


def same(a: MLP, b: MLP) -> bool:
    return all(np.array_equal(p, q) for p, q in zip(weights(a), weights(b), strict=True))


# -- every kind, every backend --------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_an_unshuffled_streamed_fit_is_the_in_memory_fit_bit_for_bit(backend, device, kind,
                                                                    tmp_path):
    xs = on_disk(kind, X, tmp_path)
    window = None if kind == "dask" else 150  # Dask: its uneven chunks
    mem, disk = model(backend, device), model(backend, device)
    h_mem = mem.fit(X, Y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    h_disk = disk.fit(Stream(xs, window=window), Y, epochs=3, batch_size=32, shuffle=False,
                      verbose=0)
    assert same(mem, disk)
    np.testing.assert_allclose(h_disk["loss"], h_mem["loss"], rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_predict_and_score_stream_to_the_in_memory_numbers(backend, device, kind,
                                                                   tmp_path):
    m = model(backend, device)
    m.fit(X, Y, epochs=2, batch_size=50, verbose=0)
    xs, ys = on_disk(kind, X, tmp_path), on_disk(kind, Y, tmp_path, "y")
    np.testing.assert_allclose(host(m.predict(xs)), host(m.predict(X)), rtol=1e-12)
    np.testing.assert_allclose(host(m.predict(Stream(xs, window=99), batch_size=10)),
                               host(m.predict(X)), rtol=1e-12)
    assert m.evaluate(xs, ys)["loss"] == pytest.approx(m.evaluate(X, Y)["loss"], rel=1e-12)
    assert m.score(Stream(xs, window=77), ys) == pytest.approx(m.score(X, Y), rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_a_classifier_streams_labels_and_scores_its_accuracy(backend, device, kind, tmp_path):
    xs, ls = on_disk(kind, X, tmp_path), on_disk(kind, LABELS, tmp_path, "labels")
    m = model(backend, device, outputs=3, output_activation="softmax",
              loss="categorical_cross_entropy")
    ref = model(backend, device, outputs=3, output_activation="softmax",
                loss="categorical_cross_entropy")
    h = m.fit(Stream(xs, window=128), ls, epochs=4, batch_size=16, shuffle=False, verbose=0)
    h_ref = ref.fit(X, LABELS, epochs=4, batch_size=16, shuffle=False, verbose=0)
    assert same(m, ref)
    np.testing.assert_allclose(h["accuracy"], h_ref["accuracy"], rtol=1e-12)
    assert m.score(xs, ls) == m.score(X, LABELS)
    assert m.evaluate(xs, ls) == pytest.approx(m.evaluate(X, LABELS), rel=1e-12)


def test_a_shuffled_streamed_fit_is_reproducible_and_the_same_on_every_backend(backend,
                                                                              device, tmp_path):
    xs = on_disk("memmap", X, tmp_path)
    runs = [model(backend, device) for _ in range(2)]
    for m in runs:
        m.fit(Stream(xs, window=100), Y, epochs=3, batch_size=16, verbose=0)
    assert same(*runs)
    reference = model("numpy")
    reference.fit(Stream(xs, window=100), Y, epochs=3, batch_size=16, verbose=0)
    for a, b in zip(weights(runs[0]), weights(reference), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    unshuffled = model(backend, device)
    unshuffled.fit(Stream(xs, window=100), Y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    assert not same(runs[0], unshuffled)


# -- the block shuffle ------------------------------------------------------------


def epoch_rows(dataset: StreamedDataset, rng: np.random.Generator, shuffle: bool,
               batch_size: int) -> list[list[int]]:
    """The rows (by the first feature, which holds the row's number) of each batch, in order."""
    runtime = get_backend("numpy", dtype="float64")
    out = []
    for block in dataset.blocks(runtime, rng, shuffle, batch_size):
        for b in range(block.n_batches):
            xb = block.batch(runtime.xp, b)[0]
            out.append([int(v) for v in xb[:, 0]])
    return out


@pytest.mark.parametrize("window", [100, 90, 7])
def test_the_block_shuffle_draws_the_windows_order_then_each_windows_rows(window):
    x = np.arange(N * 2, dtype=np.float64).reshape(N, 2)
    x[:, 0] = np.arange(N)
    data = StreamedDataset(open_pair(Stream(x, window=window), np.zeros(N), 2, 1), 1,
                           "regression")
    rng = np.random.default_rng(0)
    epochs = [epoch_rows(data, rng, True, 32) for _ in range(2)]
    for batches in epochs:
        rows = [r for b in batches for r in b]
        assert sorted(rows) == list(range(N))  # every row once
        assert [len(b) for b in batches] == [32] * (N // 32) + [N % 32]
        # Rows arrive window by window: each window's rows are consecutive in the epoch.
        windows = [r // window for r in rows]
        runs = [w for i, w in enumerate(windows) if i == 0 or w != windows[i - 1]]
        assert len(runs) == len(set(runs)) == -(-N // window)
        assert runs != sorted(runs)  # the windows' order is drawn
        assert rows != sorted(rows)
    assert epochs[0] != epochs[1]
    # The same seed, the same epoch; iterated again, the same epoch again (divergence replay).
    blocks = data.blocks(get_backend("numpy"), np.random.default_rng(0), True, 32)
    first = [host(b.x[:, 0] if b.order is None else b.x[host(b.order), 0]) for b in blocks]
    again = [host(b.x[:, 0] if b.order is None else b.x[host(b.order), 0]) for b in blocks]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert [r for b in epoch_rows(data, np.random.default_rng(0), True, 32) for r in b] == [
        r for b in epochs[0] for r in b]
    plain = epoch_rows(data, rng, False, 32)
    assert [r for b in plain for r in b] == list(range(N))


# -- reading: windows, threads, Dask's scheduler ------------------------------------


class Recorder:
    """An array-like with shape, dtype and slicing alone, which records every read."""

    def __init__(self, array: np.ndarray) -> None:
        self.array, self.shape, self.dtype = array, array.shape, array.dtype
        self.reads: list[tuple[int, int, str]] = []

    def __getitem__(self, key: Any) -> np.ndarray:
        assert isinstance(key, slice), key
        self.reads.append((key.start, key.stop, threading.current_thread().name))
        return self.array[key]


def test_any_array_like_is_read_one_window_at_a_time_in_the_background():
    source = Recorder(X)
    m = model("numpy")
    m.fit(Stream(source, window=256), Y, epochs=2, batch_size=32, verbose=0)
    assert len(source.reads) == 2 * 4  # four windows an epoch, each read once
    assert all(hi - lo <= 256 for lo, hi, _ in source.reads)
    assert all(name.startswith("agnostic_mlp-read") for _, _, name in source.reads)
    assert sorted((lo, hi) for lo, hi, _ in source.reads[:4]) == [
        (0, 256), (256, 512), (512, 768), (768, 1000)]
    # Without prefetching, the same reads, in the caller's thread, and the same model.
    plain, unfetched = Recorder(X), model("numpy")
    unfetched.fit(Stream(plain, window=256, prefetch=False), Y, epochs=2, batch_size=32,
                  verbose=0)
    assert [r[:2] for r in plain.reads] == [r[:2] for r in source.reads]
    assert {name for _, _, name in plain.reads} == {threading.current_thread().name}
    assert same(m, unfetched)


def test_prefetching_keeps_order_raises_at_the_item_and_stops_with_the_caller():
    started: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        if i == 3:
            raise ValueError("item 3 is bad")
        return i * 10

    got = []
    with pytest.raises(ValueError, match="item 3"):
        for v in prefetched(work, list(range(6))):
            got.append(v)
    assert got == [0, 10, 20]
    assert max(started) <= 4  # one item ahead, no further
    started.clear()
    gen = prefetched(work, [0, 1, 2])
    assert next(gen) == 0
    gen.close()  # the item in flight is cancelled or waited for: no reading goes on
    assert started in ([0], [0, 1])
    assert not [t for t in threading.enumerate() if t.name.startswith("agnostic_mlp-read")]


def test_a_dask_array_is_computed_a_chunk_at_a_time_never_whole():
    da = _need("dask.array")
    from dask.callbacks import Callback

    sizes: list[int] = []

    class Largest(Callback):  # type: ignore[misc]
        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, id: Any) -> None:
            if hasattr(result, "shape") and len(result.shape) == 2:
                sizes.append(int(result.shape[0]))

    xs = da.from_array(X, chunks=(UNEVEN, F))
    m = model("numpy")
    with Largest():
        m.fit(xs, Y, epochs=1, batch_size=32, verbose=0)
        m.predict(xs)
    assert sizes and max(sizes) == max(UNEVEN) < N


def test_importing_the_library_imports_no_optional_data_library():
    code = ("import sys, agnostic_mlp, numpy as np; m = agnostic_mlp.MLP(2, [3], 1);"
            "m.fit(np.load(sys.argv[1], mmap_mode='r'), np.zeros(4), epochs=1, verbose=0);"
            "print(sorted(k for k in ('h5py', 'zarr', 'dask') if k in sys.modules))")
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"agnostic_mlp_import_{os.getpid()}.npy"
    np.save(path, np.ones((4, 2)))
    try:
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                             text=True, check=True, cwd=ROOT).stdout
    finally:
        path.unlink()
    assert out.strip() == "[]"


# -- checks: up front, and window by window ----------------------------------------------


@pytest.mark.parametrize("kind", ["memmap", "zarr"])
def test_a_nan_in_a_later_window_names_its_row_and_leaves_the_model_as_it_was(backend, device,
                                                                               kind, tmp_path):
    bad = X.copy()
    bad[937, 4] = np.nan
    xs = on_disk(kind, bad, tmp_path)
    m = model(backend, device)
    m.fit(X, Y, epochs=1, batch_size=32, verbose=0)  # an optimizer state, a generator used
    before = weights(m)
    generator = m.rng.bit_generator.state
    state = [host(a) for a in m.optimizer.state.slots()["m"]]
    with pytest.raises(ValueError, match=r"X contains NaN or infinity, at row 937\b"):
        m.fit(Stream(xs, window=200), Y, epochs=3, batch_size=32, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(weights(m), before, strict=True))
    assert m.rng.bit_generator.state == generator
    assert all(np.array_equal(host(a), b)
               for a, b in zip(m.optimizer.state.slots()["m"], state, strict=True))
    with pytest.raises(ValueError, match="at row 937"):
        m.evaluate(Stream(xs, window=200), Y)
    with pytest.raises(ValueError, match="at row 937"):
        m.predict(xs)


def test_a_bad_label_in_a_later_window_is_refused_naming_its_rows(tmp_path):
    labels = LABELS.copy()
    labels[640] = 7
    ls = on_disk("memmap", labels, tmp_path, "labels")
    m = model("numpy", outputs=3, output_activation="softmax", loss="categorical_cross_entropy")
    before = weights(m)
    with pytest.raises(ValueError, match=r"y holds class labels.*, at row 640$"):
        m.fit(Stream(on_disk("memmap", X, tmp_path), window=200), ls, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(weights(m), before, strict=True))


@pytest.mark.parametrize(("X_", "y_", "error", "match"), [
    (np.zeros((N, F + 1)), Y, ValueError, "X has 7 features, but the model expects 6"),
    (np.zeros((N, F, 1)), Y, ValueError, r"X must be 2-D \(n_samples, n_features\)"),
    (np.zeros((0, F)), Y[:0], ValueError, "X has zero samples"),
    (X, Y[:-1], ValueError, "y has 999 samples, but X has 1000"),
    (X, np.zeros((N, 2, 1)), ValueError, "y must be 1-D or 2-D"),
    (np.array([["a"] * F] * N), Y, TypeError, "X must hold real numbers"),
    (X, np.zeros(N, dtype="datetime64[s]"), TypeError, "y must hold real numbers"),
    (X, object(), TypeError, "y must be array-like with a shape and a dtype"),
    (X, np.zeros((N, 5)), ValueError, "y has 5 outputs per sample, but the model has 2"),
    (X, np.zeros(N), ValueError, r"y is 1-D, but the model has 2 outputs"),
])
def test_shapes_and_dtypes_are_checked_before_anything_is_read(tmp_path, X_, y_, error, match):
    source = Recorder(X_)
    m = model("numpy")
    before = weights(m)
    with pytest.raises(error, match=match):
        m.fit(Stream(source), y_, epochs=1, verbose=0)
    assert source.reads == []
    assert all(np.array_equal(a, b) for a, b in zip(weights(m), before, strict=True))


def test_stream_and_its_window_are_checked():
    with pytest.raises(TypeError, match="Stream needs an array-like"):
        Stream(object())
    for window in (0, -3, 2.5, "10"):
        with pytest.raises(ValueError, match="window"):
            Stream(X, window=window)
    with pytest.raises(ValueError, match="prefetch"):
        Stream(X, prefetch="yes")
    assert Stream(Stream(X, window=5), window=9).window == 9


# -- as in memory: validation, checkpoints, divergence ---------------------------------------


@pytest.mark.parametrize("kind", ["memmap", "dask"])
def test_validation_split_and_data_stream_to_the_in_memory_metrics(kind, tmp_path):
    xs, ys = on_disk(kind, X, tmp_path), on_disk(kind, Y, tmp_path, "y")
    mem, disk = model("numpy"), model("numpy")
    h_mem = mem.fit(X, Y, epochs=3, batch_size=32, shuffle=False, validation_split=0.25,
                    verbose=0)
    h_disk = disk.fit(Stream(xs, window=100), ys, epochs=3, batch_size=32, shuffle=False,
                      validation_split=0.25, verbose=0)
    assert same(mem, disk)
    np.testing.assert_allclose(h_disk["val_loss"], h_mem["val_loss"], rtol=1e-12)
    h_val = disk.fit(X[:700], Y[:700], epochs=1, batch_size=32, verbose=0,
                     validation_data=(Stream(xs, window=64), ys))
    assert h_val["val_loss"][0] == pytest.approx(disk.evaluate(X, Y)["loss"], rel=1e-12)


class Interrupt:
    """A callback that raises KeyboardInterrupt at the end of one epoch."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self, m: MLP, epoch: int, logs: Any) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_an_interrupted_streamed_fit_resumes_from_its_checkpoint_to_the_same_weights(tmp_path):
    xs = on_disk("memmap", X, tmp_path)
    whole = model("numpy")
    whole.fit(Stream(xs, window=128), Y, epochs=5, batch_size=16, verbose=0)
    ckpt = tmp_path / "run.ckpt"
    first = model("numpy")
    with pytest.raises(KeyboardInterrupt):
        first.fit(Stream(xs, window=128), Y, epochs=5, batch_size=16, verbose=0,
                  checkpoint=ckpt, callbacks=Interrupt(2))
    resumed, seen = model("numpy"), []
    resumed.fit(Stream(xs, window=128), Y, epochs=5, batch_size=16, verbose=0,
                checkpoint=ckpt, callbacks=lambda m, epoch, logs: seen.append(epoch))
    assert seen == [2, 3, 4]
    assert same(resumed, whole)


def test_a_checkpoint_knows_the_data_in_memory_or_on_disk_and_refuses_other_data(tmp_path):
    xs = on_disk("memmap", X, tmp_path)
    ckpt = tmp_path / "run.ckpt"
    model("numpy").fit(X, Y, epochs=1, batch_size=16, shuffle=False, verbose=0,
                       checkpoint=ckpt)
    # The same rows, now on disk, unshuffled: the same batches, the same run, which
    # resumes (with nothing left to do).
    resumed, seen = model("numpy"), []
    resumed.fit(xs, Y, epochs=1, batch_size=16, shuffle=False, verbose=0, checkpoint=ckpt,
                callbacks=lambda m, epoch, logs: seen.append(epoch))
    assert seen == []
    other = on_disk("memmap", X * 2, tmp_path, "other")
    from agnostic_mlp import ModelFileError

    with pytest.raises(ModelFileError, match="data"):
        model("numpy").fit(other, Y, epochs=2, batch_size=16, shuffle=False, verbose=0,
                           checkpoint=ckpt)
    # Shuffled, the batches depend on the windows: other windows are another run.
    shuffled = tmp_path / "shuffled.ckpt"
    model("numpy").fit(Stream(xs, window=128), Y, epochs=1, batch_size=16, verbose=0,
                       checkpoint=shuffled)
    with pytest.raises(ModelFileError, match=r"windows \(saved '8 windows of up to 128 rows"):
        model("numpy").fit(Stream(xs, window=256), Y, epochs=2, batch_size=16, verbose=0,
                           checkpoint=shuffled)
    with pytest.raises(ModelFileError, match="windows"):
        model("numpy").fit(X, Y, epochs=2, batch_size=16, verbose=0, checkpoint=shuffled)


def test_a_bad_value_in_the_checkpoints_sample_of_rows_names_its_row(tmp_path):
    bad = X.copy()
    bad[999, 0] = np.inf  # the last row is always in the sample
    with pytest.raises(ValueError, match="X contains NaN or infinity, at row 999"):
        model("numpy").fit(on_disk("memmap", bad, tmp_path), Y, epochs=1, verbose=0,
                           checkpoint=tmp_path / "run.ckpt")


def test_the_checkpoints_sample_reads_each_stored_chunk_once(tmp_path):
    source = Recorder(X)
    source.chunks = (100, F)  # as an HDF5 or Zarr array says
    model("numpy").fit(Stream(source), Y, epochs=1, batch_size=50, verbose=0,
                       checkpoint=tmp_path / "run.ckpt")
    sample = source.reads[:-1]  # then the one window an epoch of 1000 rows takes
    assert len(sample) == 10
    assert all(lo // 100 == (hi - 1) // 100 for lo, hi, _ in sample)


def test_a_windows_default_size_counts_the_bytes_of_any_librarys_dtype():
    from agnostic_mlp.streaming import WINDOW_BYTES, open_features

    xp = get_backend("array_api_strict", "device1", "float32").xp
    data = open_features(Stream(xp.asarray(X, dtype=xp.float32)), F)
    assert data.rows() == WINDOW_BYTES // (F * 4)


def test_data_on_another_device_names_its_rows_not_a_row():
    strict = pytest.importorskip("array_api_strict")
    m = model("array_api_strict", "device1")
    x = strict.asarray(X)  # on the default device, not the model's
    with pytest.raises(ValueError, match=r"move it there first.*, in rows 0 to 999$"):
        m.fit(Stream(x), Y, epochs=1, verbose=0)


def test_a_copy_on_write_memmap_trains_on_what_the_user_wrote_into_it(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, X)
    changed = np.load(path, mmap_mode="c")
    changed[:] = X[::-1]  # in this process's memory only, not in the file
    a, b = model("numpy"), model("numpy")
    a.fit(changed, Y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    b.fit(X[::-1].copy(), Y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    assert same(a, b)


def test_arrays_of_the_models_own_backend_stream_as_they_are(backend, device):
    m, ref = model(backend, device), model(backend, device)
    xp = m.xp
    x = xp.asarray(X, device=m.device)
    m.fit(Stream(x), Y, epochs=2, batch_size=64, shuffle=False, verbose=0)
    ref.fit(X, Y, epochs=2, batch_size=64, shuffle=False, verbose=0)
    assert same(m, ref)
    np.testing.assert_allclose(host(m.predict(Stream(x, window=100))), host(m.predict(X)),
                               rtol=1e-12)


def test_a_dask_array_of_unknown_chunk_sizes_is_refused_saying_what_to_do():
    da = _need("dask.array")
    xs = da.from_array(X, chunks=(100, F))
    unknown = xs[xs[:, 0] > -10]  # every row, but Dask cannot know how many
    with pytest.raises(ValueError, match=r"X is a Dask array of unknown chunk sizes: call "
                                         r"compute_chunk_sizes\(\)"):
        model("numpy").fit(unknown, Y, epochs=1, verbose=0)


def test_a_streamed_divergence_keeps_the_weights_of_the_batch_before(tmp_path):
    xs = on_disk("memmap", X * 50, tmp_path)
    kwargs = dict(activation="identity", optimizer=SGD(0.5))
    mem, disk = model("numpy", **kwargs), model("numpy", **kwargs)
    with pytest.raises(DivergenceError) as in_memory:
        mem.fit(X * 50, Y * 50, epochs=3, batch_size=32, shuffle=False, verbose=0)
    with pytest.raises(DivergenceError) as streamed:
        disk.fit(Stream(xs, window=100), Y * 50, epochs=3, batch_size=32, shuffle=False,
                 verbose=0)
    assert (streamed.value.epoch, streamed.value.batch) == (in_memory.value.epoch,
                                                            in_memory.value.batch)
    assert same(mem, disk)
    assert all(np.isfinite(w).all() for w in weights(disk))


# -- memory: a file larger than the process may hold -------------------------------------------

CAPPED = r"""
import resource, sys
import numpy as np
x_path, y_path, cap_mib, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
x = np.load(x_path, mmap_mode="r")
y = np.load(y_path, mmap_mode="r")
if cap_mib:
    # RLIMIT_DATA caps the process's private memory (heap and anonymous maps), not the
    # read-only mapping of the file: the data cannot be loaded into memory.
    resource.setrlimit(resource.RLIMIT_DATA, (cap_mib * 2**20, cap_mib * 2**20))
    try:
        np.array(x)
        raise SystemExit("the cap let the whole data set into memory")
    except MemoryError:
        pass
else:
    x, y = np.array(x), np.array(y)  # in memory
from agnostic_mlp import MLP, to_numpy
model = MLP(x.shape[1], [16], 1, output_activation="identity", seed=0, dtype="float32")
model.fit(x, y, epochs=1, batch_size=4096, shuffle=False, verbose=0)
# VmHWM: this process image's peak resident memory, file pages included (ru_maxrss
# would carry the parent's peak over the fork and exec).
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
np.savez(out, *[to_numpy(p) for p in model.parameters()], peak=peak)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_DATA caps private memory on Linux")
def test_a_2_gib_memmap_trains_under_a_memory_cap_to_the_in_memory_weights(tmp_path):
    rows, cols = 2**23, 64  # 2 GiB of float32
    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32,
                                  shape=(rows, cols))
    y = np.lib.format.open_memmap(tmp_path / "y.npy", mode="w+", dtype=np.float32,
                                  shape=(rows, 1))
    rng = np.random.default_rng(0)
    step = 2**20
    for lo in range(0, rows, step):
        x[lo:lo + step] = rng.random((step, cols), dtype=np.float32)
        y[lo:lo + step, 0] = x[lo:lo + step, :4].sum(axis=1) / 4
    x.flush()
    y.flush()
    del x, y
    script = tmp_path / "capped.py"
    script.write_text(CAPPED)
    # One BLAS thread in both runs: the same sums in the same order.
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    found = {}
    for cap_mib in (512, 0):
        out = tmp_path / f"run{cap_mib}.npz"
        done = subprocess.run([sys.executable, str(script), str(tmp_path / "x.npy"),
                               str(tmp_path / "y.npy"), str(cap_mib), str(out)],
                              capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        found[cap_mib] = np.load(out)
    peak_mib = int(found[512]["peak"]) / 1024
    print(f"2 GiB memmap: peak resident memory {peak_mib:.0f} MiB streamed, "
          f"{int(found[0]['peak']) / 1024:.0f} MiB in memory")
    assert peak_mib < 512
    assert int(found[0]["peak"]) / 1024 > 2048  # the uncapped run did hold the data
    for k in range(len(found[0].files) - 1):
        assert np.array_equal(found[512][f"arr_{k}"], found[0][f"arr_{k}"])
