"""wa360: the WhatsApp Business API SDK for the 360dialog Cloud API, on a native Rust core."""

from __future__ import annotations

from . import _native
from .errors import *  # noqa: F403
from .errors import __all__ as _error_names

__version__: str = _native.__version__

__all__ = [
    "__version__",
    *(n for n in _error_names if n not in ("TimeoutError", "ConnectionError", "PermissionError")),
]
