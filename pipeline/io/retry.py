"""Which failures are worth a retry: network trouble, timeouts, hub 5xx and 429.

Used twice: the hub reader retries a download in place, and the flow's tasks retry a
whole stage (Prefect `retry_condition_fn`) only when its failure was transient. A config
or validation error is never transient: it fails at once with its one-line message.
Errors the project raises for a transient cause carry `transient = True`, since their
message replaces the original exception.
"""

from __future__ import annotations

import os

_NAMES = {
    "ReadTimeout",
    "ConnectTimeout",
    "ConnectionError",
    "ChunkedEncodingError",
    "RemoteDisconnected",
    "ConnectError",
    "RemoteProtocolError",
    "PoolTimeout",
    "TimeoutException",
}


def hub_offline() -> bool:
    """Whether the hub is declared unreachable (HF_HUB_OFFLINE, or the datasets library's own switch)."""
    return any(os.environ.get(name, "").lower() in ("1", "true", "yes", "on") for name in _OFFLINE_SWITCHES)


_OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def _one(exc: BaseException) -> bool:
    if getattr(exc, "transient", False):
        return True
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int):
        return status >= 500 or status == 429
    return type(exc).__name__ in _NAMES


def is_transient(exc: BaseException | None) -> bool:
    """True when `exc` or an exception it was raised from is transient (never while offline by choice)."""
    if exc is None or hub_offline():
        return False  # offline by choice: no retry will reach the hub
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if _one(exc):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return False
