"""scikit-learn's MLPClassifier and MLPRegressor, drop-in, on any Array API backend.

Needs scikit-learn (``pip install 'agnostic_mlp[sklearn]'``)::

    from agnostic_mlp import MLPClassifier          # instead of sklearn.neural_network
    clf = MLPClassifier(hidden_layer_sizes=(256, 128), random_state=0, backend="torch")

Modules: :mod:`.base` (the shared estimator), :mod:`.classifier`,
:mod:`.regressor`, :mod:`.params` (the parameters' rules), :mod:`.solver`
(scikit-learn's stochastic loop on the library's runners), :mod:`.losses`,
:mod:`.optimizers` and :mod:`.activations` (scikit-learn's math as Array API
components), :mod:`.labels` (class labels), :mod:`.placement` (backend,
device, Array API dispatch), :mod:`.rows` (dense or sparse features).
"""

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
