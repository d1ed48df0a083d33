"""Dissectors: bytes → a tree of named, explained fields with byte and bit spans."""

from __future__ import annotations

from simulator.dissect.fields import Buffer, Dissection, Field, FieldValue

__all__ = ["Buffer", "Dissection", "Field", "FieldValue"]
