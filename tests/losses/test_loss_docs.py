"""The ``Examples`` in the loss modules' docstrings run and print what they claim."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["infonce", "hard_negatives", "multiscale", "crossscale", "momentum", "queue", "negfree",
           "temperature", "pretext", "distributed"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"vcl_core.losses.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no docstring example"


def test_every_public_name_is_documented():
    import vcl_core.losses as losses

    for name in losses.__all__:
        obj = getattr(losses, name)
        assert obj.__doc__ and len(obj.__doc__.strip()) > 20, f"{name} needs a docstring"
