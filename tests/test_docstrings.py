"""The examples in docstrings are true: run them as doctests."""

import doctest
import importlib
import pkgutil

import pytest

import patronage

MODULES = sorted(
    {patronage.__name__} | {m.name for m in pkgutil.walk_packages(patronage.__path__, "patronage.") if m.name != "patronage.__main__"}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
