"""Name -> derivation.  Lazy: topic modules are imported when first asked for.

A topic module declares ``TOPIC = "<key>"`` and decorates one function per
derivation with :func:`derivation`.  The function's name, in kebab case, is
the derivation's stable name; its docstring's first line is the title and
the rest the description.  The function returns a :class:`Derivation`
without name, title or topic; the registry fills them in::

    TOPIC = "sigmoid"

    @derivation
    def sigmoid_derivative() -> Derivation:
        \"\"\"The derivative of the sigmoid.\"\"\"
        return Derivation(quantity=..., steps=[...])
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass

from derivations.core import Derivation

__all__ = ["TOPICS", "Topic", "UnknownDerivation", "all", "derivation", "get", "names", "topics"]


@dataclass(frozen=True)
class Topic:
    """A chapter: its key, title, module and the part of the notes it covers."""

    key: str
    title: str
    module: str
    notes_section: str


# In the order of the lecture notes.
TOPICS: tuple[Topic, ...] = (
    Topic("sigmoid", "The sigmoid", "derivations.sigmoid", "Logistic Regression"),
    Topic(
        "logistic",
        "Logistic regression and binary cross-entropy",
        "derivations.logistic",
        "Logistic Regression; Deriving BCE",
    ),
    Topic(
        "softmax",
        "Softmax and multiclass cross-entropy",
        "derivations.softmax",
        "Logistic Regression; Large Language Models",
    ),
    Topic(
        "backprop",
        "Backpropagation",
        "derivations.backprop",
        "Neural Networks; NN gradient descent; Backpropagation",
    ),
    Topic("attention", "Attention", "derivations.attention", "Attention"),
    Topic(
        "transformer", "The transformer block", "derivations.transformer", "Multilayer Perceptron"
    ),
)

Builder = Callable[[], Derivation]
_builders: dict[str, tuple[str, Builder]] = {}
_built: dict[str, Derivation] = {}
_loaded = False


class UnknownDerivation(KeyError):
    """No derivation of that name is registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def _kebab(name: str) -> str:
    return name.strip("_").replace("_", "-")


def derivation(fn: Builder) -> Builder:
    """Register ``fn`` (a builder of one derivation) under its kebab-case name."""
    module = sys.modules[fn.__module__]
    topic = getattr(module, "TOPIC", None)
    if topic not in {t.key for t in TOPICS}:
        raise ValueError(f"{fn.__module__} must set TOPIC to one of {[t.key for t in TOPICS]}")
    name = _kebab(fn.__name__)
    if name in _builders:
        raise ValueError(f"derivation {name!r} is registered twice")
    _builders[name] = (topic, fn)
    return fn


def _load() -> None:
    global _loaded
    if not _loaded:
        for topic in TOPICS:
            importlib.import_module(topic.module)
        _loaded = True


def _build(name: str, topic: str, fn: Builder) -> Derivation:
    doc = inspect.getdoc(fn) or ""
    title, _, rest = doc.partition("\n")
    if not title:
        raise ValueError(f"the builder of {name!r} needs a docstring: its first line is the title")
    built = fn()
    return dataclasses.replace(
        built, name=name, title=title.strip().rstrip("."), topic=topic, description=rest.strip()
    )


def names(topic: str | None = None) -> list[str]:
    """Registered derivation names, in the order of the notes (optionally one topic's)."""
    _load()
    order = {t.key: i for i, t in enumerate(TOPICS)}
    ordered = sorted(_builders, key=lambda n: order[_builders[n][0]])
    return [n for n in ordered if topic is None or _builders[n][0] == topic]


def get(name: str) -> Derivation:
    """The derivation called ``name``; raises :class:`UnknownDerivation` (a KeyError)."""
    _load()
    if name not in _builders:
        known = ", ".join(names())
        raise UnknownDerivation(f"no derivation named {name!r}; known: {known}")
    if name not in _built:
        topic, fn = _builders[name]
        _built[name] = _build(name, topic, fn)
    return _built[name]


def all(topic: str | None = None) -> builtins.list[Derivation]:
    """Every registered derivation, in order (optionally one topic's)."""
    return [get(n) for n in names(topic)]


def topics() -> tuple[Topic, ...]:
    """The chapters, in the order of the notes."""
    return TOPICS
