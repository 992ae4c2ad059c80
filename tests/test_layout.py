"""The rules of direction and the registry's promises."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import derivations
from derivations.registry import UnknownDerivation


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_numeric_does_not_load_sympy() -> None:
    heavy = "('sympy', 'derivations', 'hypothesis')"
    result = python(
        f"import sys, numeric; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy}))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_import_derivations_does_not_load_the_topics() -> None:
    result = python(
        "import sys, derivations; print([m for m in sys.modules if m == 'derivations.sigmoid'])"
    )
    assert result.stdout.strip() == "[]"


def test_names_are_unique_kebab_case_and_ordered_by_topic() -> None:
    names = derivations.names()
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names)
    order = [t.key for t in derivations.topics()]
    topics = [derivations.get(n).topic for n in names]
    assert topics == sorted(topics, key=order.index)


def test_every_derivation_is_complete() -> None:
    for d in derivations.all():
        assert d.title and d.topic and d.steps
        assert all(s.why for s in d.steps)


def test_unknown_name_is_a_key_error_listing_the_known_ones() -> None:
    with pytest.raises(UnknownDerivation, match="sigmoid-derivative"):
        derivations.get("nope")
    with pytest.raises(KeyError):
        derivations.get("nope")


def test_implementations_named_by_derivations_exist() -> None:
    import numeric

    for d in derivations.all():
        if d.implementation:
            module, _, name = d.implementation.partition(".")
            assert module == "numeric" and callable(getattr(numeric, name)), d.implementation
