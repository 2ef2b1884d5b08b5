"""Accepted HTTP status ranges, written as lychee does: ``200..=299,403``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Self


@dataclass(frozen=True, slots=True)
class StatusRanges:
    """A set of inclusive ``(low, high)`` status ranges."""

    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def parse(cls, text: str, *, name: str = "CRAWLER_ACCEPT") -> Self:
        """Parse ``"200..=299,403,500..600"``: ``a..=b`` inclusive, ``a..b`` excludes ``b``."""
        ranges: list[tuple[int, int]] = []
        for raw in text.split(","):
            part = raw.strip()
            if not part:
                continue
            try:
                if "..=" in part:
                    low_text, high_text = part.split("..=")
                    low, high = int(low_text), int(high_text)
                elif ".." in part:
                    low_text, high_text = part.split("..")
                    low, high = int(low_text), int(high_text) - 1
                else:
                    low = high = int(part)
            except ValueError:
                raise ValueError(
                    f"{name}: cannot read {part!r}; write statuses and ranges like "
                    "'200..=299,403' (a..=b inclusive, a..b excluding b)"
                ) from None
            if not 100 <= low <= high <= 999:
                raise ValueError(f"{name}: {part!r} is not a range of HTTP statuses (100-999)")
            ranges.append((low, high))
        if not ranges:
            raise ValueError(f"{name} is empty; the default is '200..=299'")
        return cls(tuple(ranges))

    def __contains__(self, status: object) -> bool:
        return isinstance(status, int) and any(lo <= status <= hi for lo, hi in self.ranges)

    def __str__(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}..={hi}" for lo, hi in self.ranges)
