"""Connects the native core's log events to :mod:`logging` (loggers ``wa360.*``).

The core only crosses into Python for an event some ``wa360*`` logger would accept: this
module tells it the lowest such level now, and again whenever :mod:`logging` clears its level
cache (which it does on every ``setLevel``, ``logging.disable`` and ``dictConfig``). It hooks
that cache-clearing method of the logger manager; if a future Python lacks it, the core asks
Python on every event instead (correct, only slower).
"""

from __future__ import annotations

import logging
from typing import Any

from . import _native

TRACE = 5
"""Level of the core's TRACE events (below ``logging.DEBUG``)."""

_ROOT = "wa360"


def _floor() -> int:
    """The lowest level at which any ``wa360`` / ``wa360.*`` logger accepts records."""
    manager = logging.Logger.manager
    levels = [logging.getLogger(_ROOT).getEffectiveLevel()]
    for name, logger in list(manager.loggerDict.items()):
        if name.startswith(_ROOT + ".") and isinstance(logger, logging.Logger):
            levels.append(logger.getEffectiveLevel())
    floor = min(levels)
    # logging.disable(N) switches off everything at N and below.
    return max(floor, manager.disable + 1) if manager.disable else floor


def refresh() -> None:
    """Re-read the ``wa360*`` logger levels (done automatically on every ``setLevel``)."""
    _native._set_log_floor(_floor())


def _install() -> None:
    if logging.getLevelName(TRACE) == f"Level {TRACE}":
        logging.addLevelName(TRACE, "TRACE")
    # A library's loggers stay silent unless the application configures logging.
    logging.getLogger(_ROOT).addHandler(logging.NullHandler())
    manager: Any = logging.Logger.manager
    original = getattr(manager, "_clear_cache", None)
    if callable(original) and not getattr(original, "_wa360", False):

        def _clear_cache() -> None:
            original()
            refresh()

        _clear_cache._wa360 = True  # type: ignore[attr-defined]
        manager._clear_cache = _clear_cache
        refresh()
    else:
        _native._set_log_floor(1)


_install()
