"""Export trained networks to ONNX and serve them with onnxruntime, on digits.
===========================================================================

Two models are trained on scikit-learn's digits, then written as ``.onnx``
files and run by onnxruntime, which needs neither agnostic_mlp nor the
backend that trained them::

    python examples/onnx_export.py --backend torch

- an :class:`agnostic_mlp.MLP` (softmax output, categorical cross-entropy),
  written by :func:`agnostic_mlp.onnx.to_onnx`: outputs ``outputs``,
  ``probabilities`` and ``labels``;
- a scikit-learn pipeline, ``StandardScaler`` then agnostic_mlp's
  ``MLPClassifier``, written by skl2onnx's own ``to_onnx`` (importing
  ``agnostic_mlp.onnx`` registers the estimator with skl2onnx), with
  ``zipmap=False``: outputs ``label`` and ``probabilities``.

It prints each model's test accuracy in onnxruntime and how far the ONNX
probabilities are from the model's own; the files go to ``--out``
(``examples/output/`` by default). Needs ``pip install 'agnostic_mlp[onnx]'
onnxruntime``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from _shared import parser as shared_parser

from agnostic_mlp import MLP, MLPClassifier
from agnostic_mlp.backends import to_numpy


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = shared_parser(__doc__, 20, "training epochs of each model")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split and of the networks (default: 0)")
    return parser.parse_args(argv)


def serve(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run the ONNX file at ``path`` on ``x`` in onnxruntime: every output, by name."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: x}), strict=True))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    import onnx
    import skl2onnx
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from agnostic_mlp.onnx import to_onnx

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, random_state=args.seed, stratify=y)
    args.out.mkdir(parents=True, exist_ok=True)
    x_test = X_test.astype(np.float32)

    mlp = MLP(64, [64], 10, backend=args.backend, device=args.device, seed=args.seed,
              activation="relu", loss="categorical_cross_entropy", optimizer="adam")
    mlp.fit(X_train, y_train, epochs=args.epochs, verbose=0 if args.quiet else 1)
    mlp_path = args.out / "digits_mlp.onnx"
    onnx.save(to_onnx(mlp), mlp_path)
    served = serve(mlp_path, x_test)
    mlp_gap = float(np.max(np.abs(served["probabilities"]
                                  - to_numpy(mlp.predict_proba(x_test)))))
    mlp_accuracy = float(np.mean(served["labels"] == y_test))
    print(f"MLP ({mlp.backend}) in onnxruntime: test accuracy {mlp_accuracy:.2%}, "
          f"probabilities within {mlp_gap:.1e} of the model's -> {mlp_path}")

    pipeline = make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(64,), max_iter=args.epochs, random_state=args.seed,
        backend=args.backend, device=args.device, verbose=not args.quiet))
    pipeline.fit(X_train, y_train)
    pipe_path = args.out / "digits_pipeline.onnx"
    proto = skl2onnx.to_onnx(pipeline, X_train[:1].astype(np.float32),
                             options={MLPClassifier: {"zipmap": False}})
    onnx.save(proto, pipe_path)
    served = serve(pipe_path, x_test)
    pipe_gap = float(np.max(np.abs(served["probabilities"] - pipeline.predict_proba(x_test))))
    same_labels = bool(np.array_equal(served["label"], pipeline.predict(x_test)))
    pipe_accuracy = float(np.mean(served["label"] == y_test))
    print(f"pipeline in onnxruntime: test accuracy {pipe_accuracy:.2%}, probabilities within "
          f"{pipe_gap:.1e} of predict_proba, labels {'equal to' if same_labels else 'NOT'} "
          f"predict's -> {pipe_path}")
    return {"mlp_accuracy": mlp_accuracy, "mlp_gap": mlp_gap, "pipeline_accuracy": pipe_accuracy,
            "pipeline_gap": pipe_gap, "same_labels": same_labels,
            "files": [mlp_path, pipe_path]}


if __name__ == "__main__":
    main()
