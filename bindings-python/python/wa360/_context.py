"""The context-manager protocol of the package's native wrappers, written once.

``with obj:`` / ``async with obj:`` gives the object itself and, when the block ends (also on an
exception, which propagates), calls :meth:`_on_exit`: nothing for the clients, ``stop()`` for
:class:`wa360.testing.Sandbox`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self


class SyncContext:
    """``with obj:``."""

    __slots__ = ()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._on_exit()

    def _on_exit(self) -> None:
        """What leaving the ``with`` block does; nothing unless a subclass says so."""


class AsyncContext:
    """``async with obj:``."""

    __slots__ = ()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None
