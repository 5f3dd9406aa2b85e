"""scikit-learn's MLPClassifier and MLPRegressor, drop-in, on any Array API backend.

Needs scikit-learn (``pip install scikit-learn``, agnostic_mlp's extra ``[sklearn]``)::

    from agnostic_mlp import MLPClassifier          # instead of sklearn.neural_network
    clf = MLPClassifier(hidden_layer_sizes=(256, 128), random_state=0, backend="torch")

Modules: :mod:`.base` (the shared estimator), :mod:`.classifier`,
:mod:`.regressor`, :mod:`.params` (the parameters' rules), :mod:`.solver`
(scikit-learn's stochastic loop on the library's runners), :mod:`.losses`,
:mod:`.optimizers` and :mod:`.activations` (scikit-learn's math as Array API
components), :mod:`.labels` (class labels), :mod:`.placement` (backend,
device, Array API dispatch), :mod:`.rows` (dense or sparse features).
"""

try:
    import sklearn  # noqa: F401  # checked first: a missing one says how to install it
except ModuleNotFoundError as exc:
    # Without scikit-learn, the install hint the backends give, not a bare import error.
    raise ModuleNotFoundError(
        "agnostic_mlp's MLPClassifier and MLPRegressor need the 'sklearn' package, which is "
        "not installed: pip install scikit-learn (agnostic_mlp's extra [sklearn])",
        name="sklearn") from exc

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
