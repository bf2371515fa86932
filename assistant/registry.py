"""A named choice of implementations for one seam, imported only when chosen.

Each seam (readers, embedders, index backends, answerers) keeps one
`Registry`: a line per implementation, naming where it lives as
"module:attribute". Nothing is imported until an implementation is asked
for, so choosing the ONNX embedder never imports torch, and the fast tests
can register a stand-in without touching the package.
"""

from __future__ import annotations

import importlib
from typing import Generic, TypeVar

from assistant.errors import UnknownChoiceError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, seam: str, entries: dict[str, str]) -> None:
        self.seam = seam
        self._entries: dict[str, str | T] = dict(entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def register(self, name: str, implementation: T | str) -> None:
        """Add (or replace) an implementation: an object, or "module:attribute" to import when first used."""
        self._entries[name] = implementation

    def get(self, name: str) -> T:
        """The implementation called `name`; an UnknownChoiceError naming the valid choices otherwise."""
        if name not in self._entries:
            raise UnknownChoiceError(f"unknown {self.seam} {name!r}; choose from {', '.join(self._entries)}")
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attribute = entry.partition(":")
            entry = getattr(importlib.import_module(module), attribute)
            self._entries[name] = entry
        return entry
