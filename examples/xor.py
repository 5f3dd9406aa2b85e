"""Learn XOR, the classic function a single-layer perceptron cannot represent.
===========================================================================

A 2-[4]-1 network (tanh hidden layer, sigmoid output) is trained with Adam on
binary cross-entropy over the four input pairs, on any backend::

    python examples/xor.py --backend torch --epochs 500

It prints the four predictions and the accuracy, and writes the loss curve and
the learned decision surface to ``--out`` (``examples/output/`` by default).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from _shared import parser as shared_parser
from _shared import pyplot, save

from agnostic_mlp import MLP, Adam, plot_history
from agnostic_mlp.backends import to_numpy

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
Y = np.array([0, 1, 1, 0], dtype=np.float64)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = shared_parser(__doc__, 300, "training epochs")
    parser.add_argument("--hidden", type=int, default=4, help="hidden units (default: 4)")
    parser.add_argument("--learning-rate", type=float, default=0.05,
                        help="Adam's learning rate (default: 0.05)")
    parser.add_argument("--seed", type=int, default=0, help="weight-init seed (default: 0)")
    return parser.parse_args(argv)


def plot(history: Any, mlp: MLP, out: Path) -> list[Path]:
    """Save the loss curve and the decision surface; return the paths written."""
    plt = pyplot()

    out.mkdir(parents=True, exist_ok=True)
    fig, (ax_loss, ax_map) = plt.subplots(1, 2, figsize=(10, 4))
    plot_history(history, ax_loss, title="XOR training loss")

    grid = np.linspace(-0.25, 1.25, 121)
    gx, gy = np.meshgrid(grid, grid)
    points = np.column_stack([gx.ravel(), gy.ravel()])
    surface = to_numpy(mlp.predict(points)).reshape(gx.shape)
    image = ax_map.contourf(gx, gy, surface, levels=np.linspace(0, 1, 11), cmap="RdBu_r")
    fig.colorbar(image, ax=ax_map, label="P(output = 1)")
    ax_map.scatter(X[:, 0], X[:, 1], c=Y, cmap="RdBu_r", edgecolors="k", s=120)
    ax_map.set_title(f"decision surface ({mlp.backend})")
    ax_map.set_xlabel("x1")
    ax_map.set_ylabel("x2")
    path = save(fig, out / "xor.png")
    return [path]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train on XOR; return ``accuracy``, ``loss``, ``predictions``, ``seconds``, ``plots``."""
    args = parse_args(argv)
    start = time.perf_counter()
    mlp = MLP(2, [args.hidden], 1, backend=args.backend, device=args.device, seed=args.seed,
              activation="tanh", loss="binary_cross_entropy",
              optimizer=Adam(learning_rate=args.learning_rate))
    print(mlp)
    history = mlp.fit(X, Y, epochs=args.epochs, batch_size=4, shuffle=False,
                      verbose=0 if args.quiet else 2)
    seconds = time.perf_counter() - start

    probs = to_numpy(mlp.predict(X))[:, 0]
    classes = to_numpy(mlp.predict_classes(X))
    for (a, b), p, c, y in zip(X.astype(int), probs, classes, Y.astype(int), strict=True):
        print(f"  {a} XOR {b} = {y}   predicted {int(c)} (p = {float(p):.3f})")
    accuracy = mlp.score(X, Y)
    loss = mlp.evaluate(X, Y)["loss"]
    print(f"accuracy: {accuracy:.0%}  loss: {loss:.4f}  "
          f"({args.backend}, {len(history.epoch)} epochs, {seconds:.1f} s)")
    plots = plot(history, mlp, args.out)
    print("wrote", ", ".join(str(p) for p in plots))
    return {"backend": args.backend, "accuracy": accuracy, "loss": loss,
            "predictions": [float(p) for p in probs], "seconds": seconds,
            "plots": [str(p) for p in plots]}


if __name__ == "__main__":
    main()
