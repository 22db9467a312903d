"""Exchange faults the replay transport can inject, deterministically, to rehearse failures.

A fault plan is a comma-separated list of `kind=count` items, served in order: the first
`count` requests get the first fault, the next requests the second, and so on; then requests
are answered normally. A kind without a count never stops (an exchange that stays down).

    network=2           two connection resets, then normal answers
    rate_limit=3,down   three rate-limit answers, then the exchange is down for good
    truncate=12:00      no candle opens at or after 12:00 UTC on any day (a truncated day)

Each fault reaches ccxt the way the real one does, so ccxt's own error handling runs:

- `network`: the connection is reset before an answer; ccxt raises NetworkError.
- `timeout`: no answer within the timeout; ccxt raises RequestTimeout.
- `rate_limit`: the exchange's native rate-limit answer (HTTP 429 with code -1003 on Binance,
  HTTP 429 with code 50011 on OKX, HTTP 403 on Bybit, `EAPI:Rate limit exceeded` on Kraken);
  ccxt raises DDoSProtection or RateLimitExceeded.
- `down`: HTTP 503 with the HTML page of the exchange's CDN; ccxt raises ExchangeNotAvailable.
- `truncate=HH:MM`: not a request fault: candles opening at or after that time of day (UTC)
  are missing, as when an exchange lost part of a day.

Set a plan with `ExchangeResource(replay_faults=...)` or the EXCHANGE_REPLAY_FAULTS environment
variable (used when the resource sets none). Faults apply in replay mode only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from .base import Response

FAULTS_ENV_VAR = "EXCHANGE_REPLAY_FAULTS"
REQUEST_FAULTS = ("network", "timeout", "rate_limit", "down")
FAULT_KINDS = (*REQUEST_FAULTS, "truncate")
_DAY_MS = 86_400_000
_TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")

# Native rate-limit answers: (HTTP status, body). Bodies are what each exchange documents.
_RATE_LIMITED: dict[str, tuple[int, Any]] = {
    "binance": (
        429,
        {
            "code": -1003,
            "msg": "Too much request weight used; current limit is 6000 request weight per "
            "1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
        },
    ),
    "bybit": (403, "access too frequent"),
    "okx": (429, {"code": "50011", "msg": "Too Many Requests", "data": []}),
    "kraken": (200, {"error": ["EAPI:Rate limit exceeded"], "result": {}}),
}
_DOWN_PAGE = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    "<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)


class FaultPlanError(ValueError):
    """A fault plan that cannot be parsed.

    Example::

        FaultPlan.parse("netwrok=2")  # raises: unknown kind, the message lists the valid ones
    """


@dataclass
class Fault:
    """One item of a plan while it is served: its kind and how many requests it still fails.

    Example::

        fault = Fault("network", 2)  # the next two requests get a connection reset
        Fault("down", None)  # every request from now on: the exchange stays down
    """

    kind: str
    remaining: int | None  # None: never stops


@dataclass(frozen=True)
class FaultPlan:
    """The parsed plan: request faults in order, and the time of day truncated days stop at.

    Example::

        plan = FaultPlan.parse("network=2,down,truncate=12:00")
        plan.request_faults  # (("network", 2), ("down", None))
        plan.truncate_at_ms  # 43200000: no candle opens at or after 12:00 UTC
        ExchangeResource(replay_faults="network=2,down")  # the same text, on the resource
    """

    request_faults: tuple[tuple[str, int | None], ...] = ()
    truncate_at_ms: int | None = None  # milliseconds after midnight UTC

    @classmethod
    def parse(cls, text: str | None) -> FaultPlan:
        faults: list[tuple[str, int | None]] = []
        truncate_at_ms = None
        for item in (text or "").split(","):
            item = item.strip()
            if not item:
                continue
            kind, _, value = item.partition("=")
            kind, value = kind.strip(), value.strip()
            if kind not in FAULT_KINDS:
                raise FaultPlanError(
                    f"Unknown exchange fault {kind!r} in {text!r}. Kinds: "
                    f"{', '.join(FAULT_KINDS)}; write e.g. 'network=2,rate_limit=1,down' or "
                    "'truncate=12:00'."
                )
            if kind == "truncate":
                match = _TIME_OF_DAY.fullmatch(value)
                if match is None:
                    raise FaultPlanError(
                        f"Fault 'truncate' needs a UTC time of day, e.g. 'truncate=12:00'; got "
                        f"{value!r} in {text!r}."
                    )
                truncate_at_ms = (int(match[1]) * 60 + int(match[2])) * 60_000
                continue
            if value and not value.isdigit():
                raise FaultPlanError(
                    f"Fault {kind!r} takes a number of requests (or nothing: every request), "
                    f"got {value!r} in {text!r}."
                )
            faults.append((kind, int(value) if value else None))
        return cls(tuple(faults), truncate_at_ms)

    @classmethod
    def from_setting(cls, text: str | None) -> FaultPlan:
        """The plan of `text`, else of the EXCHANGE_REPLAY_FAULTS environment variable."""
        return cls.parse(text if text else os.environ.get(FAULTS_ENV_VAR, ""))

    def __bool__(self) -> bool:
        return bool(self.request_faults) or self.truncate_at_ms is not None


class FaultInjector:
    """Consumes a plan request by request; counts the faults it injected.

    Example::

        injector = FaultInjector(FaultPlan.parse("network=2,rate_limit=1"))
        [injector.next_fault() for _ in range(4)]  # ["network", "network", "rate_limit", None]
        injector.injected  # {"network": 2, "rate_limit": 1}
    """

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._queue = [Fault(kind, count) for kind, count in plan.request_faults]
        self.injected: dict[str, int] = {}

    def next_fault(self) -> str | None:
        """The fault for the next request, or None to answer it normally."""
        while self._queue:
            fault = self._queue[0]
            if fault.remaining is None:
                break
            if fault.remaining > 0:
                fault.remaining -= 1
                break
            self._queue.pop(0)
        else:
            return None
        self.injected[fault.kind] = self.injected.get(fault.kind, 0) + 1
        return fault.kind

    def candle_missing(self, open_ms: int) -> bool:
        """True when a truncated day has no candle opening at `open_ms`."""
        cutoff = self.plan.truncate_at_ms
        return cutoff is not None and open_ms % _DAY_MS >= cutoff


def fault_response(kind: str, exchange_id: str) -> Response:
    """The exchange's answer for an HTTP-level fault (`rate_limit`, `down`)."""
    if kind == "rate_limit":
        status, body = _RATE_LIMITED.get(exchange_id, (429, "Too Many Requests"))
        reason = {200: "OK", 403: "Forbidden", 429: "Too Many Requests"}[status]
    else:
        status, body, reason = 503, _DOWN_PAGE, "Service Temporarily Unavailable"
    if isinstance(body, str):
        return Response(status, None, reason=reason, text=body)
    return Response(status, body, reason=reason)
