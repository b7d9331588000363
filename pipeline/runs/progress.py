"""Progress bars for long steps (reading, embedding, search), off with --quiet.

tqdm writes to stderr and redraws one line; bars are transient (`leave=False`), so once a
step ends only its log lines remain.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm

QUIET_ENV = "CURATE_QUIET"


def bars_enabled() -> bool:
    return os.environ.get(QUIET_ENV, "") not in ("1", "true", "yes")


@contextmanager
def progress(desc: str, total: int | None, unit: str = "rows") -> Iterator[Callable[[int], None]]:
    """Yield an `advance(n)` callable; a no-op when bars are off."""
    if not bars_enabled():
        yield lambda n=1: None
        return
    bar = tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True, mininterval=0.5)
    try:
        yield lambda n=1: bar.update(n)
    finally:
        bar.close()
