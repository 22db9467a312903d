"""Retries of transient failures: one primitive for the whole project.

Exchange requests, PostgreSQL reconnects, S3 re-reads and waits for a database file held by
another process all retry the same way: exponential backoff with jitter (so parallel steps do
not retry in lockstep), a bounded number of attempts and a bounded total time, and a callback
per retry so the caller logs what failed and when the next attempt comes. The loop itself is
tenacity's, a well-kept library, rather than one more hand-written ``while`` per backend.

When those retries are used up, the step fails and Dagster's step retry policies below take
over: every step of the project carries one, with jitter (``Jitter.PLUS_MINUS``), so the steps of
many partitions (a backfill) that failed together do not retry in the same second. A policy
retries whatever made the step fail; a refusal that no retry can fix raises
``dg.Failure(..., allow_retries=False)`` instead, which fails the step at once.

Example::

    from dagster_crypto_data.retry import Backoff, retry_call

    markets = retry_call(
        exchange.load_markets,
        retry_on=lambda error: isinstance(error, ConnectionError),
        backoff=Backoff(attempts=4, initial_seconds=0.5, max_seconds=5.0),
        on_retry=lambda retry: log.warning(
            f"load_markets failed ({retry.error}); attempt {retry.attempt + 1} "
            f"in {retry.wait:.2f}s"
        ),
    )
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import dagster as dg
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    wait_exponential_jitter,
)

T = TypeVar("T")

# Extract steps: network hiccups that outlast the exchange resource's own retries get a second
# chance about 30 s later, then about 90 s after that (each wait ± 30 s).
EXTRACT_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

# Steps that read and write the stores (transforms, the graph and their checks): a warehouse
# restarting, a lock held past its timeout, an object store outage longer than the IO managers'
# own retries. About 10 s, then about 30 s later (each wait ± 10 s).
STORAGE_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


@dataclass(frozen=True)
class Backoff:
    """How often and how long to retry.

    ``attempts`` counts the first call too (``None``: until ``timeout_seconds``);
    ``timeout_seconds`` bounds the total time: the last wait is cut so the last attempt starts
    at the deadline, and none starts after it (``None``: only ``attempts`` bounds). The n-th
    wait is ``initial_seconds * 2**(n-1)`` plus a random jitter of up to ``jitter_seconds``
    (default: ``initial_seconds``), at most ``max_seconds``.

    Example::

        # four calls at most, waits of about 0.5 s, 1 s, 2 s (plus jitter), never over 5 s
        backoff = Backoff(attempts=4, initial_seconds=0.5, max_seconds=5.0)
        # a lock wait: as many attempts as fit in 60 s
        backoff = Backoff(attempts=None, timeout_seconds=60.0)
        retry_call(connect, retry_on=is_transient, backoff=backoff)
    """

    attempts: int | None = 3
    timeout_seconds: float | None = None
    initial_seconds: float = 0.5
    max_seconds: float = 5.0
    jitter_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.attempts is None and self.timeout_seconds is None:
            raise ValueError("Backoff needs attempts or timeout_seconds: retries must end.")
        if self.attempts is not None and self.attempts < 1:
            raise ValueError(f"Backoff attempts must be at least 1, got {self.attempts}.")


@dataclass(frozen=True)
class Retry:
    """One retry about to happen: the error of ``attempt`` and the wait before the next one.

    ``retry_call`` passes one to ``on_retry`` before each wait; ``attempt`` counts from 1.

    Example::

        def log_retry(retry: Retry) -> None:
            log.warning(
                f"attempt {retry.attempt} of {retry.attempts} failed ({retry.error}); "
                f"next in {retry.wait:.2f}s, {retry.elapsed:.1f}s spent so far"
            )

        retry_call(fetch, retry_on=is_transient, backoff=Backoff(), on_retry=log_retry)
    """

    error: BaseException
    attempt: int
    attempts: int | None
    wait: float
    elapsed: float


def retry_call(
    operation: Callable[[], T],
    *,
    retry_on: Callable[[BaseException], bool],
    backoff: Backoff,
    on_retry: Callable[[Retry], None] | None = None,
) -> T:
    """Call ``operation`` until it succeeds, retrying errors ``retry_on`` accepts.

    Other errors propagate at once. When the attempts or the time are used up, the last error
    propagates unchanged: the caller turns it into its own error that names the fix.
    """
    jitter = backoff.initial_seconds if backoff.jitter_seconds is None else backoff.jitter_seconds
    exponential = wait_exponential_jitter(
        multiplier=backoff.initial_seconds, max=backoff.max_seconds, jitter=jitter
    )
    started = time.monotonic()

    def stop(state: RetryCallState) -> bool:
        if backoff.attempts is not None and state.attempt_number >= backoff.attempts:
            return True
        timeout = backoff.timeout_seconds
        return timeout is not None and time.monotonic() - started >= timeout

    def wait(state: RetryCallState) -> float:
        seconds = exponential(state)
        if backoff.timeout_seconds is not None:
            remaining = backoff.timeout_seconds - (time.monotonic() - started)
            seconds = max(0.0, min(seconds, remaining))
        return seconds

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is None or state.outcome is None:
            return
        error = state.outcome.exception()
        assert error is not None  # only failed attempts are retried
        seconds = state.next_action.sleep if state.next_action is not None else 0.0
        on_retry(
            Retry(
                error=error,
                attempt=state.attempt_number,
                attempts=backoff.attempts,
                wait=seconds,
                elapsed=time.monotonic() - started,
            )
        )

    retrying = Retrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception(retry_on),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(operation)
