"""Client and AsyncClient: the native classes plus the context-manager protocol.

Every method, the keyword send helpers included (``send_text``, ``send_image``, …), is native
(Rust): each helper hands its arguments to the core's one builder of its message type, and the
core validates before any request, so an invalid message raises
:class:`wa360.InvalidArgumentError` (naming the field and the rule). This module carries its own
annotations (there is no separate ``.pyi``); the helpers' types are in ``_native.pyi``.
"""

from __future__ import annotations

import atexit

from . import _native
from ._context import AsyncContext, SyncContext

# A broadcast whose caller went away (an asyncio task cancelled by Ctrl-C) goes on until its
# sends in flight are answered; the interpreter's exit stops every broadcast and waits for
# those answers (at most 60 s), so that none is cut off and sent again on a resume.
atexit.register(_native._finish_broadcasts)

__all__ = ["Client", "AsyncClient"]


class Client(_native.Client, SyncContext):
    """Synchronous 360dialog client.

    ``Client(api_key=None, *, base_url=None, timeout=30.0, connect_timeout=10.0,
    max_retries=2)``; the key falls back to ``D360_API_KEY``. Every call blocks until the answer
    with the GIL released, so other Python threads keep running. Thread-safe; share one client.
    """


class AsyncClient(_native.AsyncClient, AsyncContext):
    """asyncio 360dialog client: the same methods as :class:`Client`, each returning an
    awaitable. All clients share one native runtime; invalid input raises at the call."""
