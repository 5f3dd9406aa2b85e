"""Tell sound classes apart from their spectra, with the features computed on the model's backend.
===============================================================================================

This follows the usual first project of an audio deep-learning course: turn
short clips into a spectral representation, then train a classifier on it. No
recordings are needed: the clips are synthesised with NumPy on the host, with a
fixed seed, as five classes of sound at random pitch, loudness and length:

* ``sine``: a pure tone;
* ``square``: odd harmonics falling as 1/n;
* ``sawtooth``: every harmonic, falling as 1/n;
* ``triangle``: odd harmonics falling as 1/n**2;
* ``noise``: a burst of white noise.

Every clip gets a short fade in and out and additive background noise. The
clips are then moved to the model's backend and device, and the features are
computed there with the Array API's ``fft`` extension: the power spectrum of
each clip, pooled into mel-spaced bands, in log scale, normalised per clip.
That code is written once against ``xp`` and runs unchanged on NumPy, PyTorch,
JAX, CuPy or array-api-strict. A small softmax MLP classifies the features::

    python examples/audio_classification.py --backend torch --device cpu

It prints the test accuracy per class and writes one example spectrum per class
(``audio_spectra.png``) and the test confusion matrix (``audio_confusion.png``)
to ``--out``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import array_api_compat
import numpy as np
from _shared import parser as shared_parser
from _shared import pyplot, report_test_set, save, save_confusion

from agnostic_mlp import MLP, Adam, EarlyStopping
from agnostic_mlp.backends import to_numpy

CLASSES = ("sine", "square", "sawtooth", "triangle", "noise")


# -- the clips: synthesised on the host ---------------------------------------


def synthesise(
    rng: np.random.Generator, n_per_class: int, sample_rate: int,
    min_seconds: float, max_seconds: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``(clips, labels)``: ``n_per_class`` clips of each class, zero-padded to the longest.

    Tones are built by adding their harmonics below the Nyquist frequency, so
    they are free of aliasing.
    """
    length = round(max_seconds * sample_rate)
    nyquist = sample_rate / 2
    clips = np.zeros((n_per_class * len(CLASSES), length))
    labels = np.repeat(np.arange(len(CLASSES)), n_per_class)
    for row, label in enumerate(labels):
        n = int(rng.integers(int(min_seconds * sample_rate), length + 1))
        t = np.arange(n) / sample_rate
        pitch = 110.0 * 2 ** rng.uniform(0, 3)  # A2 to A5: 110 Hz to 880 Hz
        phase = rng.uniform(0, 2 * np.pi)
        name = CLASSES[label]
        if name == "noise":
            wave = rng.standard_normal(n)
        else:
            wave = np.zeros(n)
            for k in range(1, int(nyquist // pitch) + 1):
                if name == "sine":
                    amplitude = 1.0 if k == 1 else 0.0
                elif name == "square":
                    amplitude = 1.0 / k if k % 2 else 0.0
                elif name == "sawtooth":
                    amplitude = 1.0 / k
                else:  # triangle: alternating signs, 1/k**2
                    amplitude = (-1) ** ((k - 1) // 2) / k**2 if k % 2 else 0.0
                if amplitude:
                    wave += amplitude * np.sin(2 * np.pi * k * pitch * t + k * phase)
        wave /= np.sqrt(np.mean(wave**2))
        fade = min(n // 4, int(0.01 * sample_rate))
        envelope = np.ones(n)
        envelope[:fade] = np.linspace(0, 1, fade, endpoint=False)
        envelope[n - fade:] = np.linspace(1, 0, fade)
        snr_db = rng.uniform(15, 35)
        noise = rng.standard_normal(n) * 10 ** (-snr_db / 20)
        clips[row, :n] = rng.uniform(0.1, 1.0) * (wave * envelope + noise)
    return clips, labels


# -- the features: computed on the model's backend, written once against xp ----


def power_spectrum(xp: Any, clips: Any, n_fft: int) -> Any:
    """The power spectrum ``|rfft(clip)|**2`` of each row of ``clips``, ``(n, n_fft // 2 + 1)``.

    Rows are zero-padded (or cut) to ``n_fft`` samples first.
    """
    spectrum = xp.abs(xp.fft.rfft(clips, n=n_fft, axis=-1))
    return xp.astype(spectrum * spectrum, clips.dtype)


def mel_filterbank(
    xp: Any, n_bins: int, sample_rate: int, n_bands: int, device: Any, dtype: Any,
    f_min: float = 50.0,
) -> Any:
    """Triangular filters ``(n_bins, n_bands)``, evenly spaced on the mel scale.

    Each column averages the spectrum bins under its triangle (its weights sum to 1).
    """
    def to_mel(hz: float) -> float:
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    mels = xp.linspace(to_mel(f_min), to_mel(sample_rate / 2), n_bands + 2,
                       dtype=dtype, device=device)
    edges = 700.0 * (xp.exp(mels * (math.log(10.0) / 2595.0)) - 1.0)
    left, center, right = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    freqs = xp.linspace(0.0, sample_rate / 2, n_bins, dtype=dtype, device=device)[:, None]
    rising = (freqs - left) / (center - left)
    falling = (right - freqs) / (right - center)
    weights = xp.minimum(rising, falling)
    weights = xp.maximum(weights, xp.zeros_like(weights))
    return weights / xp.sum(weights, axis=0, keepdims=True)


def spectral_features(
    xp: Any, clips: Any, sample_rate: int, n_bands: int = 32, n_fft: int = 2048,
    floor_db: float = 80.0,
) -> Any:
    """Log mel-band energies of ``clips`` (``(n, samples)``), normalised per clip.

    Everything runs in the namespace ``xp`` on the clips' own device: the
    FFT, the band pooling (one matrix product), the log and the normalisation.
    The band energies are taken in decibels, floored ``floor_db`` below the
    clip's loudest band, and centred on the clip's mean: its loudness is gone,
    only the shape of its spectrum is left to learn from. A fixed scale
    (``/ 20 dB``) keeps the values near unit size; dividing by each clip's own
    spread instead would blow up the small ripples of a flat noise spectrum.
    Returns ``(n, n_bands)``.
    """
    device = array_api_compat.device(clips)
    power = power_spectrum(xp, clips, n_fft)
    bank = mel_filterbank(xp, power.shape[-1], sample_rate, n_bands, device, clips.dtype)
    db = xp.log(xp.matmul(power, bank) + 1e-20) * (10.0 / math.log(10.0))
    floor = xp.max(db, axis=-1, keepdims=True) - floor_db
    db = xp.maximum(db, floor)
    return (db - xp.mean(db, axis=-1, keepdims=True)) / 20.0


# -- the program -----------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = shared_parser(__doc__, 40,
                           "most training epochs; early stopping may end sooner")
    parser.add_argument("--clips-per-class", type=int, default=200,
                        help="clips synthesised per class (default: 200)")
    parser.add_argument("--sample-rate", type=int, default=8000,
                        help="samples per second (default: 8000)")
    parser.add_argument("--bands", type=int, default=32, help="mel bands (default: 32)")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64],
                        help="hidden layer widths (default: 64)")
    parser.add_argument("--batch-size", type=int, default=64, help="mini-batch size (default: 64)")
    parser.add_argument("--learning-rate", type=float, default=3e-3,
                        help="Adam's learning rate (default: 0.003)")
    parser.add_argument("--test-size", type=float, default=0.25,
                        help="fraction of the clips kept for the test (default: 0.25)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the clips, the split and the weights (default: 0)")
    return parser.parse_args(argv)


def plot(
    spectra: np.ndarray, features: np.ndarray, sample_rate: int, matrix: np.ndarray,
    backend: str, out: Path,
) -> list[Path]:
    """Save one spectrum (and its bands) per class and the confusion matrix."""
    plt = pyplot()

    out.mkdir(parents=True, exist_ok=True)
    n = len(CLASSES)
    fig, axes = plt.subplots(n, 2, figsize=(10, 1.8 * n), sharex="col",
                             gridspec_kw={"width_ratios": [3, 1]})
    freqs = np.linspace(0, sample_rate / 2, spectra.shape[1])
    limit = 1.1 * float(np.abs(features).max())
    for i, name in enumerate(CLASSES):
        db = 10 * np.log10(spectra[i] / spectra[i].max() + 1e-12)
        axes[i, 0].plot(freqs, db, linewidth=0.7)
        axes[i, 0].set_ylim(-80, 5)
        axes[i, 0].set_ylabel(f"{name}\ndB")
        axes[i, 1].bar(np.arange(features.shape[1]), features[i], width=0.8)
        axes[i, 1].set_ylim(-limit, limit)
    axes[-1, 0].set_xlabel("frequency (Hz)")
    axes[-1, 1].set_xlabel("mel band")
    axes[0, 0].set_title(f"power spectrum of one test clip per class ({backend})")
    axes[0, 1].set_title("features: log mel bands")
    spectra_path = save(fig, out / "audio_spectra.png")

    confusion_path = save_confusion(matrix, CLASSES, "predicted", "true",
                                    "sound classes: test confusion matrix",
                                    out / "audio_confusion.png")
    return [spectra_path, confusion_path]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Synthesise, featurise, train and test; return ``test_accuracy`` and the other figures."""
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    clips, labels = synthesise(rng, args.clips_per_class, args.sample_rate, 0.1, 0.25)
    order = rng.permutation(len(labels))
    n_test = round(len(labels) * args.test_size)
    test, train = order[:n_test], order[n_test:]
    print(f"synthesised {len(labels)} clips of {len(CLASSES)} classes "
          f"({clips.shape[1]} samples at {args.sample_rate} Hz) in "
          f"{time.perf_counter() - start:.1f} s; {len(train)} to train, {len(test)} to test")

    mlp = MLP(args.bands, args.hidden, len(CLASSES), backend=args.backend, device=args.device,
              seed=args.seed, activation="relu", loss="categorical_cross_entropy",
              optimizer=Adam(learning_rate=args.learning_rate))
    print(mlp)
    xp = mlp.xp

    # The only host-to-device copies of the data: the raw clips.
    start = time.perf_counter()
    train_clips = xp.asarray(clips[train], dtype=mlp.dtype, device=mlp.device)
    test_clips = xp.asarray(clips[test], dtype=mlp.dtype, device=mlp.device)
    x_train = spectral_features(xp, train_clips, args.sample_rate, args.bands)
    x_test = spectral_features(xp, test_clips, args.sample_rate, args.bands)
    feature_seconds = time.perf_counter() - start
    print(f"features {tuple(x_train.shape)} computed on {args.backend} "
          f"({mlp.device}) in {feature_seconds:.2f} s")

    start = time.perf_counter()
    history = mlp.fit(x_train, labels[train], epochs=args.epochs, batch_size=args.batch_size,
                      validation_split=0.15, early_stopping=EarlyStopping(patience=10),
                      verbose=0 if args.quiet else 2)
    seconds = time.perf_counter() - start
    print(f"trained {len(history.epoch)} epochs in {seconds:.1f} s")

    result, matrix = report_test_set(mlp, x_test, labels[test], len(CLASSES))
    per_class = matrix.diagonal() / matrix.sum(axis=1)
    for name, acc in zip(CLASSES, per_class, strict=True):
        print(f"  {name:>9}: {acc:.1%}")

    examples = [int(np.flatnonzero(labels[test] == c)[0]) for c in range(len(CLASSES))]
    picked = xp.asarray(examples, device=mlp.device)
    spectra = to_numpy(power_spectrum(xp, xp.take(test_clips, picked, axis=0), 2048))
    features = to_numpy(xp.take(x_test, picked, axis=0))
    plots = plot(spectra, features, args.sample_rate, matrix, args.backend, args.out)
    print("wrote", ", ".join(str(p) for p in plots))
    return {"backend": args.backend, "test_accuracy": result["accuracy"],
            "test_loss": result["loss"], "epochs": len(history.epoch),
            "per_class_accuracy": dict(zip(CLASSES, per_class.tolist(), strict=True)),
            "feature_seconds": feature_seconds, "seconds": seconds,
            "plots": [str(p) for p in plots]}


if __name__ == "__main__":
    main()
