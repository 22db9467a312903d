"""Waiting for a storage lock held by another process, for a bounded time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ...retry import Backoff, retry_call
from .errors import StorageLockedError

T = TypeVar("T")


def retry_while_locked(
    open_storage: Callable[[], T],
    *,
    is_locked: Callable[[BaseException], bool],
    timeout_seconds: float,
    resource: str,
    holder: Callable[[BaseException], str | None] = lambda _error: None,
    setting: str = "lock_timeout_seconds",
    initial_backoff_seconds: float = 0.05,
    max_backoff_seconds: float = 1.0,
    on_retry: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Call ``open_storage`` until it stops failing with a lock error, for a bounded time.

    Embedded databases allow one writing process per file. Waits double (with jitter) from
    ``initial_backoff_seconds`` up to ``max_backoff_seconds``; after ``timeout_seconds`` a
    :class:`StorageLockedError` names the resource, the lock holder if known, and the setting.

    Example::

        connection = retry_while_locked(
            lambda: engine.connect(path),
            is_locked=lambda error: "Could not set lock" in str(error),
            timeout_seconds=60,
            resource=f"database file {path}",
        )
    """
    try:
        return retry_call(
            open_storage,
            retry_on=is_locked,
            backoff=Backoff(
                attempts=None,
                timeout_seconds=max(timeout_seconds, 0.0),
                initial_seconds=initial_backoff_seconds,
                max_seconds=max_backoff_seconds,
            ),
            on_retry=(lambda retry: on_retry(retry.error, retry.wait)) if on_retry else None,
        )
    except Exception as error:
        if not is_locked(error):
            raise
        who = holder(error)
        raise StorageLockedError(
            f"{resource} is locked by another process{f' ({who})' if who else ''} and stayed "
            f"locked for {timeout_seconds:g} s. Close the process holding it (a notebook, a "
            "database shell, another run writing the same file), or raise "
            f"{setting}. Original error: {error}"
        ) from error
