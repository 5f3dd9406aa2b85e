"""The API reference lists every public name: a name added to a module's ``__all__``
without a line in docs/api/index.rst would have no page (the docs build itself,
``nox -s docs``, then fails on any broken reference)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INDEX = (ROOT / "docs" / "api" / "index.rst").read_text(encoding="utf-8")
# The modules whose __all__ is the public API, and the prefix index.rst gives their names.
MODULES = {"agnostic_mlp": "", "agnostic_mlp.distributed": "",
           "agnostic_mlp.training": "training.", "agnostic_mlp.info": ""}


def listed() -> set[str]:
    """The names in index.rst's autosummary blocks."""
    names = set()
    for block in re.findall(r"\.\. autosummary::\n(?:   :.*\n)*\n((?:   \S.*\n)+)", INDEX):
        names.update(line.strip() for line in block.splitlines())
    return names


@pytest.mark.parametrize("module", list(MODULES))
def test_every_public_name_has_a_page(module: str) -> None:
    public = importlib.import_module(module).__all__
    names = listed()
    missing = [name for name in public
               if name not in names and f"{MODULES[module]}{name}" not in names
               and f"distributed.{name}" not in names]
    assert not missing, f"docs/api/index.rst lists no {missing} of {module}"


def test_the_guide_is_in_the_toctree() -> None:
    toctree = (ROOT / "docs" / "guide" / "index.rst").read_text(encoding="utf-8")
    for page in (ROOT / "docs" / "guide").glob("*.md"):
        assert f"   {page.stem}\n" in toctree, f"{page.name} is not in the guide's toctree"
