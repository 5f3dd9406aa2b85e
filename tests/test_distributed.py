"""Training across processes: ``mpiexec -n 2`` on this machine, against one process.

Each test launches ``tests/mpi/worker.py`` under ``mpiexec -n 2`` (with a
timeout) and compares what every process wrote with what one process trains
on the concatenated global batches. Skipped, saying why, where mpi4py or
``mpiexec`` is missing (``pip install mpi4py mpich`` gives both).
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from conftest import SELECTED, usable

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "mpi" / "worker.py"
MPIEXEC = shutil.which("mpiexec", path=os.pathsep.join(
    [str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None
pytestmark = pytest.mark.skipif(
    MPIEXEC is None or not HAVE_MPI4PY,
    reason="MPI is not installed here (mpiexec: "
           f"{'found' if MPIEXEC else 'missing'}, mpi4py: "
           f"{'found' if HAVE_MPI4PY else 'missing'}); pip install mpi4py mpich")
TIMEOUT = 240  # seconds one launch may take before it counts as hung


def load_worker(path: Path = WORKER, name: str = "mpi_worker") -> ModuleType:
    """The worker script at ``path`` as the module ``name`` (MPI starts only in its main)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def environment() -> dict[str, str]:
    env = dict(os.environ)
    # This checkout's package; one BLAS thread per process (2 processes on 2 cores).
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONHASHSEED="0")
    return env


def launch(*args: str, n: int = 2, timeout: float = TIMEOUT,
           script: Path = WORKER) -> subprocess.CompletedProcess[str]:
    """``mpiexec -n N python SCRIPT ARGS``; its whole process group is killed past ``timeout``."""
    assert MPIEXEC is not None
    command = [MPIEXEC, "-n", str(n), sys.executable, str(script), *args]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment(), cwd=ROOT, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(args)} hung: killed after {timeout} s\n{out}\n{err}")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def run_ok(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = launch(*args, **kwargs)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def results(out: Path, scenario: str, n: int = 2) -> list[Any]:
    found = []
    for rank in range(n):
        with open(out / f"{scenario}.{rank}.pkl", "rb") as f:
            found.append(pickle.load(f))  # written by our own worker
    return found


def assert_close(got: list[np.ndarray], want: list[np.ndarray], dtype: str) -> float:
    """Parameters equal to 1e-12 in float64 and 1e-5 in float32; returns the largest difference."""
    tol = 1e-12 if dtype == "float64" else 1e-5
    worst = 0.0
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
        worst = max(worst, float(np.max(np.abs(g - w))))
    return worst


# -- equivalence with one process ---------------------------------------------------------


@pytest.fixture(scope="module")
def equivalence(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("equivalence")
    run_ok("equivalence", str(out))
    return results(out, "equivalence")


@pytest.mark.parametrize("case", load_worker().CASES, ids=lambda c: c.name)
def test_two_processes_train_the_model_of_one_on_the_global_batches(case, equivalence):
    worker = load_worker()
    want = worker.reference(case)
    ranks = [r[case.name] for r in equivalence]
    # After every step the weights are the same, bit for bit, on both processes.
    assert ranks[0]["steps"] and all(ranks[0]["steps"]), "weights differed after a step"
    assert len(ranks[0]["steps"]) == case.epochs * max(
        -(-n // worker.BATCH) for n in worker.SIZES[case.sizes])
    assert ranks[0]["digest"] == ranks[1]["digest"]
    assert ranks[0]["path"] == "host memory, in place"
    assert_close(ranks[0]["params"], want["params"], case.dtype)
    tol = 1e-12 if case.dtype == "float64" else 1e-5
    np.testing.assert_allclose(ranks[0]["loss"], want["loss"], rtol=tol)
    assert ranks[1]["loss"] == ranks[0]["loss"]


def test_equal_shards_match_a_plain_fit_with_the_global_batch_size(equivalence):
    """The user's view: MLP.fit in one process, batches of 2 x 5 rows, rows interleaved."""
    worker = load_worker()
    for case in [c for c in worker.CASES if c.sizes == "equal" and not c.weighted]:
        shards = case.shards()
        rows = np.concatenate([np.arange(b * worker.BATCH, min((b + 1) * worker.BATCH, len(s[0])))
                               + sum(len(t[0]) for t in shards[:r])
                               for b in range(5) for r, s in enumerate(shards)])
        x = np.concatenate([s[0] for s in shards])[rows]
        labels = np.concatenate([s[1] for s in shards])[rows]
        model = case.model()
        history = model.fit(x, labels, epochs=case.epochs, batch_size=2 * worker.BATCH,
                            shuffle=False, optimizer=worker.OPTIMIZERS[case.optimizer](),
                            verbose=0)
        mine = equivalence[0][case.name]
        assert_close(mine["params"], worker.params_of(model), case.dtype)
        np.testing.assert_allclose(mine["loss"], history["loss"],
                                   rtol=1e-12 if case.dtype == "float64" else 1e-5)


def backends_to_test() -> list[Any]:
    out = []
    for name in ("array_api_strict", "torch", "jax"):
        reason = usable(name) if name in SELECTED else f"not in AGNOSTIC_MLP_BACKENDS={SELECTED}"
        marks = [pytest.mark.skip(reason=f"{name}: {reason}")] if reason else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", backends_to_test())
def test_other_backends_train_the_same_model_across_processes(name, tmp_path):
    """torch on the CPU sums host memory in place; JAX and array-api-strict use a host buffer."""
    worker = load_worker()
    run_ok("backend", str(tmp_path), name)
    ranks = results(tmp_path, f"backend-{name}")
    path = "host memory, in place" if name == "torch" else "host buffer"
    for case in (worker.Case("adam"), worker.Case("sgd", sizes="equal")):
        got = [r[case.name] for r in ranks]
        assert all(got[0]["steps"]) and got[0]["digest"] == got[1]["digest"]
        assert got[0]["path"] == path
        assert_close(got[0]["params"], worker.reference(case)["params"], "float64")


# -- everything else in fit -----------------------------------------------------------------


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], str]:
    out = tmp_path_factory.mktemp("features")
    result = run_ok("features", str(out))
    return results(out, "features"), result.stdout


def _features_training_data() -> tuple[np.ndarray, np.ndarray]:
    """The two processes' training rows as one process takes them: batches of 4 of each in turn."""
    worker = load_worker()
    shards = [worker.classification(r, 20, 100) for r in range(2)]
    rows = np.concatenate([np.arange(b * 4, b * 4 + 4) + 20 * r
                           for b in range(5) for r in range(2)])
    x, y = (np.concatenate([s[i] for s in shards]) for i in (0, 1))
    return x[rows], y[rows]


def _one_process_validation_run() -> Any:
    worker = load_worker()
    from agnostic_mlp import Adam, EarlyStopping

    vals = [worker.classification(r, (9, 6)[r], 200) for r in range(2)]
    vals = [(v[0], np.random.default_rng(r).integers(0, 2, len(v[1]))) for r, v in enumerate(vals)]
    x, y = _features_training_data()
    model = worker.small_model()
    history = model.fit(x, y, epochs=30, batch_size=8, shuffle=False, optimizer=Adam(0.05),
                        validation_data=(np.concatenate([v[0] for v in vals]),
                                         np.concatenate([v[1] for v in vals])),
                        early_stopping=EarlyStopping(patience=2), verbose=0)
    return model, history


def test_validation_metrics_and_early_stopping_are_those_of_one_process(features):
    ranks, _ = features
    model, history = _one_process_validation_run()
    assert history.stopped_epoch is not None, "the reference run must stop early"
    worker = load_worker()
    for r in ranks:
        got = r["validation"]
        assert got["stopped"] == history.stopped_epoch
        assert got["best"] == history.best_epoch
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(got["history"][key], history.history[key], rtol=1e-12)
        assert_close(got["params"], worker.params_of(model), "float64")  # the best epoch's
    assert ranks[0]["validation"]["history"] == ranks[1]["validation"]["history"]


def test_a_callback_that_stops_one_process_stops_every_process_at_that_epoch(features):
    ranks, _ = features
    assert [r["one_stops"] for r in ranks] == [{"epochs": 2, "stopped": 1}] * 2


def test_progress_and_the_tutorials_lines_come_from_process_0_only(features):
    ranks, stdout = features
    epochs = ranks[0]["validation"]["stopped"] + 1
    for epoch in range(1, epochs + 1):
        assert len(re.findall(rf"^Epoch {epoch}/30 - loss", stdout, re.M)) == 1, stdout
    for epoch in (1, 2):
        assert len(re.findall(rf"^Error: \S+ at epoch {epoch}$", stdout, re.M)) == 1, stdout
    assert stdout.count("Training complete!") == 1
    assert "rank 0 done" in stdout and "rank 1 done" in stdout  # both processes printed
    assert ranks[0]["tutorial"] == ranks[1]["tutorial"]


def test_a_divergence_is_raised_on_every_process_at_the_same_batch(features):
    ranks, _ = features
    got = [r["divergence"] for r in ranks]
    assert got[0] is not None and got[1] is not None
    assert got[0] == got[1]  # epoch, batch and the weights kept, bit for bit
    assert got[0]["finite"]
    from agnostic_mlp import MLP, SGD, DivergenceError

    x, y = _features_training_data()
    model = MLP(5, [6], 1, activation="identity", output_activation="identity",
                dtype="float64", seed=1)
    with pytest.raises(DivergenceError) as one, np.errstate(over="ignore", invalid="ignore"):
        model.fit(x * 100, y * 100.0, epochs=3, batch_size=8, shuffle=False,
                  optimizer=SGD(1.0), verbose=0)
    assert (one.value.epoch, one.value.batch) == (got[0]["epoch"], got[0]["batch"])


@pytest.mark.parametrize("what, names", [
    ("batch_size", ["batch_size (4 on process 0; 5 on process 1)"]),
    ("layers", ["layers ([5, 6, 2] on process 0; [5, 8, 2] on process 1)"]),
    ("dtype", ["dtype ('float64' on process 0; 'float32' on process 1)"]),
    ("optimizer", ["optimizer.class ('Adam' on process 0; 'SGD' on process 1)"]),
    ("learning_rate", ["optimizer.learning_rate (0.01 on process 0; 0.02 on process 1)"]),
    ("seed", ["model.seed (5 on process 0; 6 on process 1)"]),
    ("unseeded", ["do not start from the same weights, random generator"]),
])
def test_mismatched_processes_are_refused_at_the_start_naming_the_difference(
        features, what, names):
    ranks, _ = features
    messages = [r["mismatch"][what] for r in ranks]
    assert messages[0] is not None and messages[0] == messages[1]
    for name in names:
        assert name in messages[0], messages[0]


def test_process_0_alone_writes_checkpoints_and_every_process_resumes_bit_for_bit(features):
    ranks, _ = features
    assert [r["checkpoint"]["writes"] for r in ranks] == [2 + 2, 0]
    for r in ranks:
        assert r["checkpoint"]["resumed"] == r["checkpoint"]["whole"]
    assert ranks[0]["checkpoint"]["resumed"] == ranks[1]["checkpoint"]["resumed"]


# -- faults ---------------------------------------------------------------------------------


def test_a_killed_process_ends_the_job_and_a_rerun_resumes_to_the_same_weights(tmp_path):
    from agnostic_mlp.io import checkpoint as checkpoint_file

    ckpt = tmp_path / "run.ckpt"
    assert MPIEXEC is not None
    command = [MPIEXEC, "-n", "2", sys.executable, str(WORKER), "fault", str(tmp_path),
               str(ckpt), "12", "0.4"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment(), cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until two epochs are saved
            if ckpt.exists() and checkpoint_file.read(str(ckpt))[1].epoch >= 2:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint of two epochs")
        os.kill(int((tmp_path / "pid.1").read_text()), signal.SIGKILL)
        killed = time.monotonic()
        proc.communicate(timeout=60)
        ended = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0
    assert ended < 30, f"the job took {ended:.1f} s to end"
    epoch = checkpoint_file.read(str(ckpt))[1].epoch  # intact: it reads and checks
    assert 2 <= epoch < 12
    run_ok("fault", str(tmp_path), str(ckpt), "12", "0")
    run_ok("fault", str(tmp_path), str(tmp_path / "whole.ckpt"), "12", "0")
    resumed, whole = results(tmp_path, "fault-run"), results(tmp_path, "fault-whole")
    assert resumed[0]["digest"] == resumed[1]["digest"] == whole[0]["digest"]


@pytest.mark.parametrize(("scenario", "said"), [
    # An error during fit on process 1 alone.
    ("abort", ["process 1 of 2 failed during fit", "RuntimeError: process 1 fails alone"]),
    # Process 1's data refused before fit begins, while process 0 waits in the first check.
    ("refused", ["ValueError: X contains NaN",
                 "process 1 of 2 stopped on an uncaught ValueError"]),
    # A bad row in process 1's streamed shard, found in its first epoch.
    ("streamed_bad", ["process 1 of 2 failed during fit",
                      "X contains NaN or infinity, at row 140"]),
])
def test_an_error_on_one_process_ends_every_process(tmp_path, scenario, said):
    started = time.monotonic()
    result = launch(scenario, str(tmp_path), timeout=120)
    assert result.returncode != 0
    assert time.monotonic() - started < 60
    for line in said:
        assert line in result.stderr
    assert not (tmp_path / f"{scenario}.0.pkl").exists()


def test_each_process_streams_its_own_shard_from_disk(tmp_path):
    """Memmap shards train bit for bit as their arrays in memory; shuffled (window by
    window), every process holds the same model."""
    run_ok("streamed", str(tmp_path))
    ranks = results(tmp_path, "streamed")
    for r in ranks:
        for got, want in zip(r["disk"]["params"], r["memory"]["params"], strict=True):
            assert np.array_equal(got, want)
        np.testing.assert_allclose(r["disk"]["loss"], r["memory"]["loss"], rtol=1e-12)
    assert ranks[0]["shuffled"] == ranks[1]["shuffled"]  # the same model on every process
    assert ranks[0]["memory"]["params"][0].tolist() == ranks[1]["memory"]["params"][0].tolist()


# -- the example ----------------------------------------------------------------------------


def test_the_distributed_example_prints_the_accuracy_of_one_process(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    example = ROOT / "examples" / "distributed_digits.py"
    args = ("--out", str(tmp_path), "--quiet")
    two = run_ok(*args, script=example)
    one = subprocess.run([sys.executable, str(example), *args], capture_output=True, text=True,
                         env=environment(), cwd=ROOT, timeout=TIMEOUT, check=True)
    accuracy = re.compile(r"^test accuracy: (\S+)", re.M)
    assert len(accuracy.findall(two.stdout)) == 1, two.stdout  # process 0 reports
    assert accuracy.findall(two.stdout) == accuracy.findall(one.stdout)
    assert "2 processes" in two.stdout and "1 process" in one.stdout
    assert "host memory, in place" in two.stdout
