"""Sphinx configuration of agnostic_mlp's documentation: ``nox -s docs`` builds it.

Offline by default: intersphinx links to NumPy, scikit-learn, CuPy, the Array API
standard and mpi4py come from inventories in ``docs/_intersphinx/`` when they are there
(``python docs/fetch_inventories.py`` downloads them, on a machine that reaches the
web), or straight from the web when ``AGNOSTIC_MLP_DOCS_ONLINE=1``. Without either, the
names of those projects are printed without links and the build stays warning-free.

The gallery runs ``examples/`` in quick mode (``AGNOSTIC_MLP_EXAMPLES_QUICK=1``: smaller
data for the long ones); ``AGNOSTIC_MLP_EXAMPLES_QUICK=0`` runs them as a user would.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the checkout's package, installed or not
sys.path.insert(0, str(DOCS / "sphinxext"))
os.environ.setdefault("AGNOSTIC_MLP_EXAMPLES_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from example_pngs import ExamplePNGs  # noqa: E402

import agnostic_mlp  # noqa: E402

project = "agnostic_mlp"
author = "agnostic_mlp developers"
copyright = "2026, agnostic_mlp developers"
release = agnostic_mlp.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_intersphinx", "api/_optional.rst", "**.ipynb_checkpoints",
                    "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
templates_path = ["_templates"]
default_role = "py:obj"

# -- API reference ----------------------------------------------------------------------
autosummary_generate = ["api/index.rst", "api/_optional.rst"]  # the second is included
autosummary_imported_members = True
autodoc_typehints = "none"  # the numpydoc sections give the types
autodoc_member_order = "groupwise"
numpydoc_show_class_members = False  # the class template lists them
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = True
numpydoc_xref_ignore = {"optional", "default", "of", "or", "shape", "same", "as", "the",
                        "a", "an", "and", "one", "any", "each", "None", "True", "False"}
numpydoc_xref_aliases = {
    "ndarray": "numpy.ndarray",
    "array": "numpy.ndarray",
    "dtype": "numpy.dtype",
    "Generator": "numpy.random.Generator",
    "MLP": "agnostic_mlp.MLP",
    "History": "agnostic_mlp.History",
    "Callback": "agnostic_mlp.Callback",
    "Optimizer": "agnostic_mlp.Optimizer",
    "MLPConfig": "agnostic_mlp.MLPConfig",
    "Stream": "agnostic_mlp.Stream",
}

# Modules listed in the reference only where this checkout has them: conf.py writes
# their section into api/_optional.rst, which api/index.rst includes.
OPTIONAL_MODULES = {"agnostic_mlp.onnx": "Export to ONNX: ``agnostic_mlp.onnx``"}


def _optional_sections() -> str:
    import importlib
    import importlib.util

    parts = []
    for name, title in OPTIONAL_MODULES.items():
        if importlib.util.find_spec(name) is None:
            continue
        lines = [title, "-" * len(title), "", f".. automodule:: {name}", "   :no-members:", "",
                 f".. currentmodule:: {name}", ""]
        public = getattr(importlib.import_module(name), "__all__", [])
        if public:
            lines += [".. autosummary::", "   :toctree: generated/", ""]
            lines += [f"   {item}" for item in public] + [""]
        parts.append("\n".join(lines))
    return "\n".join(parts) or ".. No optional module is present in this checkout.\n"


_optional = DOCS / "api" / "_optional.rst"
if not _optional.is_file() or _optional.read_text() != _optional_sections():
    _optional.write_text(_optional_sections())  # rewritten only when it changes

# -- Links to other projects, offline first --------------------------------------------
INVENTORIES = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "sklearn": "https://scikit-learn.org/stable/",
    "cupy": "https://docs.cupy.dev/en/stable/",
    "array-api": "https://data-apis.org/array-api/latest/",
    "mpi4py": "https://mpi4py.readthedocs.io/en/stable/",
}
ONLINE = os.environ.get("AGNOSTIC_MLP_DOCS_ONLINE", "") == "1"


def _inventory(name: str, url: str) -> tuple[str, str | None] | None:
    local = DOCS / "_intersphinx" / f"{name}.inv"
    if local.is_file():
        return url, str(local)
    return (url, None) if ONLINE else None


intersphinx_mapping = {name: entry for name, url in INVENTORIES.items()
                       if (entry := _inventory(name, url)) is not None}
intersphinx_timeout = 10


def _offline_aliases() -> dict[str, str]:
    """numpydoc links ``bool``, ``array_like``, ``sequence``... to labels and glossary terms
    of Python's and NumPy's docs, which warn when those inventories are absent: there, name
    them plainly instead (as unresolved objects, which do not warn)."""
    from numpydoc.xref import DEFAULT_LINKS

    plain = {}
    for key, role in DEFAULT_LINKS.items():
        if role.startswith((":ref:", ":term:")):
            target = role.split("`")[1]
            project = target.split(":")[0] if ":" in target else "python"
            if project not in intersphinx_mapping:
                plain[key] = key
    return plain


numpydoc_xref_aliases.update(_offline_aliases())

# -- Gallery ----------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",  # run every example, not only plot_*.py
    "ignore_pattern": r"(^|[/\\])_[^/\\]*\.py$",  # _shared.py is no example
    "image_scrapers": (ExamplePNGs(),),
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("agnostic_mlp",),
    "download_all_examples": False,
    "show_memory": False,
    "min_reported_time": 1,
    "matplotlib_animations": False,
    "plot_gallery": "True",
}

# -- Doctests ---------------------------------------------------------------------------
# The docstrings' Examples run under pytest --doctest-modules (nox -s docs).



def _origin(obj: object) -> str:
    """The module that defined a member (a property's getter, a method's function)."""
    target = getattr(obj, "fget", None) or getattr(obj, "__func__", None) or obj
    return str(getattr(target, "__module__", None) or "")


def _skip_foreign(app: object, what: str, name: str, obj: object, skip: bool,
                  options: object) -> bool | None:
    """A class page shows the members this library defines, its base classes' included,
    and leaves out those of scikit-learn's, collections.abc's or object's bases (and
    scikit-learn's generated metadata-routing setters): they are documented by their
    projects, and their docstrings link into those projects' pages."""
    if what == "class" and not _origin(obj).startswith("agnostic_mlp"):
        return True
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app: object) -> None:
    app.connect("autodoc-skip-member", _skip_foreign)  # type: ignore[attr-defined]


# -- HTML -------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"agnostic_mlp {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "auto"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
