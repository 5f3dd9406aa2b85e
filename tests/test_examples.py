"""The example programs run, reach their advertised metrics and write their plots.

Each example is imported from ``examples/`` by path and its ``main(argv)`` is
called with ``--out`` pointing at a temporary folder.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# As when an example runs as a script: its folder is on the path, for examples/_shared.py.
sys.path.insert(0, str(EXAMPLES))


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as the module ``examples_<name>``."""
    module_name = f"examples_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def run(name: str, backend: str, device: Any, out: Path, *extra: str) -> dict[str, Any]:
    argv = ["--backend", backend, "--out", str(out), "--quiet", *extra]
    if device is not None:
        argv += ["--device", str(device)]
    return load_example(name).main(argv)


def assert_plots(result: dict[str, Any], out: Path, names: list[str]) -> None:
    written = sorted(Path(p).name for p in result["plots"])
    assert written == sorted(names)
    for name in names:
        path = out / name
        assert path.is_file(), f"{path} was not written"
        assert path.stat().st_size > 1000, f"{path} is (nearly) empty"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"


def test_xor(backend: str, device: Any, tmp_path: Path) -> None:
    result = run("xor", backend, device, tmp_path)
    assert result["accuracy"] == 1.0
    predictions = result["predictions"]
    assert predictions[0] < 0.5 < predictions[1]
    assert predictions[3] < 0.5 < predictions[2]
    assert_plots(result, tmp_path, ["xor.png"])


@pytest.mark.parametrize("backend_name", ["numpy", "array_api_strict"])
def test_digits(backend_name: str, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    if backend_name == "array_api_strict":
        pytest.importorskip("array_api_strict")
    device = "device1" if backend_name == "array_api_strict" else None
    result = run("digits", backend_name, device, tmp_path)
    assert result["test_accuracy"] >= 0.95
    assert result["best_epoch"] is not None, "early stopping kept no best epoch"
    assert result["val_accuracy"] >= 0.9
    assert_plots(result, tmp_path, ["digits_loss.png", "digits_confusion.png"])


def test_audio_classification(backend: str, device: Any, tmp_path: Path) -> None:
    result = run("audio_classification", backend, device, tmp_path)
    assert result["test_accuracy"] >= 0.90
    assert min(result["per_class_accuracy"].values()) >= 0.8
    assert_plots(result, tmp_path, ["audio_spectra.png", "audio_confusion.png"])


def test_audio_features_match_numpy(backend: str, device: Any) -> None:
    """The feature code, written once against xp, gives NumPy's numbers on every backend."""
    import numpy as np

    from agnostic_mlp.backends import get_backend, to_numpy

    audio = load_example("audio_classification")
    clips, _ = audio.synthesise(np.random.default_rng(1), 2, 8000, 0.1, 0.25)
    ref = audio.spectral_features(get_backend("numpy", dtype="float64").xp, clips, 8000)
    b = get_backend(backend, device, "float32")
    got = audio.spectral_features(b.xp, b.asarray(clips), 8000)
    assert tuple(got.shape) == (clips.shape[0], 32)
    np.testing.assert_allclose(to_numpy(got), ref, atol=2e-3)


@pytest.mark.parametrize("fmt", ["npy", "zarr"])
def test_out_of_core(backend: str, device: Any, tmp_path: Path, fmt: str) -> None:
    if backend.startswith("xp_variants."):
        pytest.skip("the example trains in a child process, which has no tests/ to import")
    rows = "1000000"
    if fmt == "zarr":  # Zarr's own memory needs a larger budget: on NumPy alone
        pytest.importorskip("zarr")
        if backend != "numpy":
            pytest.skip("Zarr is read the same on every backend: NumPy runs it")
        rows = "4000000"
    result = run("out_of_core", backend, device, tmp_path, "--rows", rows, "--format", fmt,
                 "--folder", str(tmp_path))
    assert result["test_accuracy"] >= 0.93  # 5 % of the labels are flipped
    assert result["history"]["val_accuracy"][-1] >= 0.93
    if sys.platform == "linux" and backend != "jax":
        assert result["capped"]  # loading the data failed under the cap; training did not
    assert result["data_mib"] > result["budget_mib"]
    assert_plots(result, tmp_path, ["out_of_core_loss.png"])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 15 epochs
def test_sklearn_pipeline(backend: str, device: Any, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    result = run("sklearn_pipeline", backend, device, tmp_path, "--epochs", "15")
    assert result["backend"] == backend
    assert result["test_accuracy"] >= 0.9
    assert result["cv_accuracy"] >= 0.85
    assert set(result["best_params"]) == {"mlpclassifier__alpha",
                                          "mlpclassifier__hidden_layer_sizes"}
    assert_plots(result, tmp_path, ["sklearn_loss.png", "sklearn_confusion.png"])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 20 epochs
def test_onnx_export(backend: str, device: Any, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("skl2onnx")
    result = run("onnx_export", backend, device, tmp_path)
    assert result["mlp_accuracy"] >= 0.9
    assert result["pipeline_accuracy"] >= 0.9
    assert result["mlp_gap"] <= 1e-5 and result["pipeline_gap"] <= 1e-5
    assert result["same_labels"]
    assert sorted(p.name for p in result["files"]) == ["digits_mlp.onnx", "digits_pipeline.onnx"]
    for path in result["files"]:
        assert path.parent == tmp_path and path.stat().st_size > 1000
