"""Columns and batches as a plugin receives them.

A numeric column is a list of floats in which NaN marks a missing value; a categorical column
is dictionary-encoded (`codes[i]` indexes `categories`, `MISSING_CODE` marks a missing value),
as the host sends them (wit/types.wit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Union

MISSING_CODE = 4294967295


@dataclass(frozen=True)
class Numeric:
    """A numeric column: one float per row, NaN where the value is missing."""

    values: list[float]
    kind = "numeric"

    def __len__(self) -> int:
        return len(self.values)

    def present(self) -> list[float]:
        """The values that are not missing, in column order (a new list)."""
        # A sum is NaN when any value is (or when +inf meets -inf): one C-level pass decides
        # whether the per-value filter, the slow part in an interpreter, is needed at all.
        total = sum(self.values)
        if total == total:
            return list(self.values)
        return [v for v in self.values if v == v]


@dataclass(frozen=True)
class Categorical:
    """A categorical column, dictionary-encoded."""

    categories: list[str]
    codes: list[int]
    kind = "categorical"

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def of(cls, labels: Iterable[str | None]) -> Categorical:
        """Encodes labels (`None` for a missing one), categories in order of first sight."""
        index: dict[str, int] = {}
        codes = []
        for label in labels:
            if label is None:
                codes.append(MISSING_CODE)
            else:
                codes.append(index.setdefault(str(label), len(index)))
        return cls(list(index), codes)

    def labels(self) -> list[str | None]:
        """One label per row, `None` where it is missing."""
        return [None if c == MISSING_CODE else self.categories[c] for c in self.codes]

    def counts(self) -> dict[str, int]:
        """How many rows hold each category (missing rows left out)."""
        counts = dict.fromkeys(self.categories, 0)
        for code in self.codes:
            if code != MISSING_CODE:
                counts[self.categories[code]] += 1
        return counts


Column = Union[Numeric, Categorical]


def column(values: Column | Iterable) -> Column:
    """A column from plain values: numbers (and `None` for missing ones) make a numeric
    column, anything else a categorical one. A column is returned as it is."""
    if isinstance(values, (Numeric, Categorical)):
        return values
    values = list(values)
    present = [v for v in values if v is not None]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    if numeric:
        return Numeric([math.nan if v is None else float(v) for v in values])
    return Categorical.of(None if v is None else str(v) for v in values)


@dataclass(frozen=True)
class Batch:
    """Named columns of equal length, in the order of the source data."""

    columns: dict[str, Column]

    @classmethod
    def of(cls, columns: dict[str, Column | Iterable]) -> Batch:
        """A batch from columns or plain values (see `column`)."""
        batch = cls({name: column(values) for name, values in columns.items()})
        lengths = {len(c) for c in batch.columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        return batch

    def __getitem__(self, name: str) -> Column:
        return self.columns[name]

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0
