"""ExchangeResource: ccxt exchanges, live on the network or replaying recorded payloads.

Assets call exchanges only through this resource. In `live` mode it is plain ccxt (rate
limiting on, request timeout, retries with exponential backoff on network errors). In `replay`
mode the same ccxt classes run, but their HTTP layer is answered locally by
`replay/` in each exchange's native wire format, so request building and response
parsing are ccxt's own and the pipeline needs no internet. See docs/exchange.md.

ccxt is imported lazily (it takes seconds to import), so loading the definitions stays fast.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import dagster as dg
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator

from ..io_managers.core.config import KnownSettings
from ..replay import FAULTS_ENV_VAR, REPLAY_TIMEFRAMES, FaultPlan, check_exchange, transport_of
from ..retry import Backoff, Retry, retry_call
from ..settings import SYMBOLS

if TYPE_CHECKING:
    import ccxt

MODES = ("live", "replay")
MODE_ENV_VAR = "EXCHANGE_MODE"

# How each curated exchange is asked for data, in both modes (replay serves exactly these
# calls): spot markets only and no currencies endpoint, so load_markets() is one request.
CLIENT_PROFILES: dict[str, dict[str, Any]] = {
    "binance": {"options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}},
    "bybit": {"options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}},
    "okx": {"options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}},
    # Kraken has no option for it: its currencies (/0/public/Assets) are switched off via `has`;
    # ccxt maps Kraken's legacy asset names (XXBT, ZUSD, ...) without them.
    "kraken": {"has": {"fetchCurrencies": False}},
}
# Largest fetch_ohlcv page of each curated exchange (ccxt's `features`, checked against the
# exchange docs). Other exchanges: ccxt's `features`, else DEFAULT_PAGE_LIMIT.
PAGE_LIMITS = {"binance": 1000, "bybit": 1000, "okx": 300, "kraken": 720}
DEFAULT_PAGE_LIMIT = 500
# Exchanges whose ccxt fetch_ohlcv maps params["until"] to an end bound of the request
# (Binance endTime, Bybit end, OKX after). Each page is then a closed window, whatever order
# the exchange returns candles in. Kraken's OHLC endpoint has no end bound.
UNTIL_EXCHANGES = frozenset({"binance", "bybit", "okx"})

T = TypeVar("T")
# Longest wait between two attempts of one request, whatever retry_backoff_seconds says.
MAX_RETRY_WAIT_SECONDS = 60.0


class ExchangeUnavailableError(RuntimeError):
    """A live request still failed with a network error after every retry.

    The message names the exchange, the request, the attempts and what to do next; the last
    ccxt error is its ``__cause__``.

    Example::

        try:
            markets = exchange.load_markets("kraken")
        except ExchangeUnavailableError as error:
            raise dg.Failure(str(error)) from error  # e.g. "kraken: load_markets failed ..."
    """


_ENV_VAR_TYPES = (dg.EnvVar, type(dg.EnvVar.int("EXCHANGE_TIMEOUT_MS")))


def _is_env_var(value: Any) -> bool:
    """An EnvVar / EnvVar.int placeholder, resolved by Dagster when a run starts."""
    return isinstance(value, _ENV_VAR_TYPES)


def _normalize_mode(value: str) -> str:
    mode = str(value).strip().lower()
    if mode not in MODES:
        raise ValueError(
            f"Unknown exchange mode {value!r}: use 'live' (network) or 'replay' (recorded "
            f"payloads, offline). Set it with the {MODE_ENV_VAR} environment variable or "
            "ExchangeResource(mode=...)."
        )
    return mode


def _to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _choices(name: str, available: list[str]) -> str:
    close = difflib.get_close_matches(name, available, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return f"{hint} Available ({len(available)}): {', '.join(available)}."


class ExchangeResource(dg.ConfigurableResource, KnownSettings):
    """ccxt exchanges for the extract assets, live or replayed.

    `mode="live"` talks to the exchange (rate limited, `timeout_ms`, `max_retries` retries
    with exponential backoff from `retry_backoff_seconds` on network errors). `mode="replay"`
    (the default) serves recorded markets and seeded, deterministic candles (`replay_seed`) in
    each exchange's native format through ccxt's own parsing: no network needed. Replay also
    serves every symbol of `replay_symbols` (default: settings.SYMBOLS) on every exchange: a
    symbol the recording of an exchange does not list gets a synthesized market there, in the
    exchange's own format, with a warning naming it once (`synthetic_markets` lists them).

    Example::

        exchange = ExchangeResource(mode="replay", replay_seed=7)
        candles = exchange.fetch_ohlcv_range(
            "binance", "BTC/USDT", "1h", datetime(2024, 1, 2), datetime(2024, 1, 3)
        )  # 24 rows [ts_ms, open, high, low, close, volume]
        markets = exchange.load_markets("okx")  # {"BTC/USDT": {...}, ...}
    """

    mode: str = Field(
        default="replay",
        description=(
            "'live' uses the exchanges' APIs over the network; 'replay' serves recorded / "
            f"generated payloads offline. Usually set from the {MODE_ENV_VAR} env var."
        ),
    )
    timeout_ms: int = Field(default=30_000, description="ccxt request timeout (live), ms.")
    max_retries: int = Field(
        default=3, description="Retries of a request failing with a ccxt NetworkError."
    )
    retry_backoff_seconds: float = Field(
        default=1.0,
        description="Wait before the first retry; doubles on each retry, plus a random jitter "
        "of up to as much again; at most 60 s.",
    )
    replay_seed: int = Field(default=0, description="Seed of the replayed candle generator.")
    replay_faults: str = Field(
        default="",
        description=(
            "Replay mode: faults to inject, in order, e.g. 'network=2,rate_limit=1,down' or "
            f"'truncate=12:00' (see replay/faults.py). Empty: {FAULTS_ENV_VAR}, "
            "else none."
        ),
    )

    replay_symbols: list[str] = Field(
        default=list(SYMBOLS),
        description=(
            "Replay mode: symbols served on every exchange; those an exchange's recording does "
            "not list get a synthesized market. Default: SYMBOLS of settings.py."
        ),
    )

    _clients: dict[str, Any] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @field_validator("mode", mode="before")
    @classmethod
    def _check_mode(cls, value: Any) -> Any:
        if _is_env_var(value):
            return value  # resolved (and validated again) when a run starts
        return _normalize_mode(value)

    @field_validator("replay_faults", mode="before")
    @classmethod
    def _check_faults(cls, value: Any) -> Any:
        if isinstance(value, str):
            FaultPlan.parse(value)  # a typo is an error now, not a quiet run without faults
        return value

    @field_validator("timeout_ms", "max_retries", "retry_backoff_seconds", mode="before")
    @classmethod
    def _check_limits(cls, value: Any, info: ValidationInfo) -> Any:
        if _is_env_var(value):
            return value  # resolved (and validated again) when a run starts
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value  # not a number: pydantic reports the type error
        minimum = 1 if info.field_name == "timeout_ms" else 0
        if not math.isfinite(number) or number < minimum:
            raise ValueError(f"{info.field_name} must be >= {minimum}, got {value!r}")
        return value

    @classmethod
    def from_env(cls, **overrides: Any) -> ExchangeResource:
        """The resource with `mode` from EXCHANGE_MODE (default: replay), plus overrides."""
        overrides.setdefault("mode", os.environ.get(MODE_ENV_VAR, "").strip() or "replay")
        return cls(**overrides)

    # ----------------------------------------------------------------------------- clients

    @property
    def resolved_mode(self) -> str:
        """The mode in effect ("live" or "replay"), resolving an unresolved EnvVar."""
        value = self.mode
        if isinstance(value, _ENV_VAR_TYPES):
            value = value.get_value() or "replay"
        return _normalize_mode(value)

    def client(self, exchange_id: str) -> ccxt.Exchange:
        """The ccxt exchange for `exchange_id`, created once per resource instance (per run).

        Live: `getattr(ccxt, exchange_id)` with enableRateLimit and the timeout. Replay: the
        same class with fetch() answered by the replay transport.
        """
        mode = self.resolved_mode
        exchange_id = self._check_exchange_id(exchange_id, mode)
        with self._lock:
            client = self._clients.get(exchange_id)
            if client is None:
                client = self._create_client(exchange_id, mode)
                self._clients[exchange_id] = client
        return client

    def _check_exchange_id(self, exchange_id: str, mode: str) -> str:
        if mode == "replay":
            return check_exchange(exchange_id)
        import ccxt

        if exchange_id not in ccxt.exchanges:
            raise ValueError(
                f"Unknown exchange {exchange_id!r}: not a ccxt exchange id."
                + _choices(exchange_id, list(ccxt.exchanges))
            )
        return exchange_id

    def _client_config(self, exchange_id: str) -> dict[str, Any]:
        config = copy.deepcopy(CLIENT_PROFILES.get(exchange_id, {}))
        config.update({"enableRateLimit": True, "timeout": self.timeout_ms})
        return config

    def _create_client(self, exchange_id: str, mode: str) -> ccxt.Exchange:
        config = self._client_config(exchange_id)
        if mode == "replay":
            from ..replay import replay_client

            faults = FaultPlan.from_setting(self.replay_faults)
            client = replay_client(
                exchange_id,
                config,
                seed=self.replay_seed,
                faults=faults,
                symbols=self.replay_symbols,
            )
            for symbol in transport_of(client).wire.synthetic_symbols:
                dg.get_dagster_logger().warning(
                    "%s replay: %s is not in the recorded %s markets; serving a synthesized "
                    "market (made-up precision and limits, in %s's format) and generated "
                    "candles. Live %s may not list it.",
                    exchange_id,
                    symbol,
                    exchange_id,
                    exchange_id,
                    exchange_id,
                )
            return client
        import ccxt

        return getattr(ccxt, exchange_id)(config)

    # ----------------------------------------------------------------------------- retries

    def _call(self, exchange_id: str, action: str, function: Callable[[], T]) -> T:
        """Run one exchange request, retrying ccxt NetworkErrors with exponential backoff.

        ExchangeErrors (bad symbol, bad request, ...) are the exchange's answer: not retried.
        """
        import ccxt

        attempts = self.max_retries + 1

        def log_retry(retry: Retry) -> None:
            dg.get_dagster_logger().warning(
                "%s: %s failed with %s (%s); retry %d of %d in %.2fs",
                exchange_id,
                action,
                type(retry.error).__name__,
                retry.error,
                retry.attempt,
                self.max_retries,
                retry.wait,
            )

        try:
            return retry_call(
                function,
                retry_on=lambda error: isinstance(error, ccxt.NetworkError),
                backoff=Backoff(
                    attempts=attempts,
                    initial_seconds=self.retry_backoff_seconds,
                    max_seconds=MAX_RETRY_WAIT_SECONDS,
                ),
                on_retry=log_retry,
            )
        except ccxt.NetworkError as error:
            raise ExchangeUnavailableError(
                f"{exchange_id}: {action} failed after {attempts} attempt(s) "
                f"({self.max_retries} retries) with {type(error).__name__}: {error}. "
                f"{self._failure_hint(exchange_id, error)}"
            ) from error

    def _failure_hint(self, exchange_id: str, error: Exception) -> str:
        """What the last error means and what to do about it."""
        import ccxt

        if self.resolved_mode == "replay":
            return (
                f"Replay injected this fault (replay_faults={self.replay_faults!r}, "
                f"{FAULTS_ENV_VAR}={os.environ.get(FAULTS_ENV_VAR, '')!r}): remove the plan to "
                "replay without faults."
            )
        if isinstance(error, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
            return (
                f"{exchange_id} kept rate-limiting the requests: run fewer partitions at once "
                "(concurrency pools in deploy/dagster.yaml) or raise retry_backoff_seconds."
            )
        if isinstance(error, ccxt.ExchangeNotAvailable):
            return (
                f"{exchange_id} reports it is unavailable (maintenance or outage): retry the "
                f"partition later, or set {MODE_ENV_VAR}=replay to run offline."
            )
        return (
            f"The exchange API could not be reached (mode={self.resolved_mode}, "
            f"timeout_ms={self.timeout_ms}). Check network or proxy access to {exchange_id}, "
            f"or set {MODE_ENV_VAR}=replay to run offline on replayed payloads."
        )

    # ----------------------------------------------------------------------------- data

    def load_markets(self, exchange_id: str, reload: bool = False) -> dict[str, dict[str, Any]]:
        """ccxt's unified markets of the exchange, keyed by symbol (loaded once per client)."""
        client = self.client(exchange_id)
        return self._call(exchange_id, "load_markets", lambda: client.load_markets(reload))

    def synthetic_markets(self, exchange_id: str) -> list[str]:
        """Symbols whose markets replay synthesized on this exchange; none in live mode."""
        if self.resolved_mode != "replay":
            return []
        return list(transport_of(self.client(exchange_id)).wire.synthetic_symbols)

    def timeframes(self, exchange_id: str) -> list[str]:
        """Timeframes fetch_ohlcv_range accepts for the exchange in the current mode."""
        client = self.client(exchange_id)
        native = list((client.timeframes or {}).keys())
        if self.resolved_mode == "replay":
            return [timeframe for timeframe in REPLAY_TIMEFRAMES if timeframe in native]
        return native

    def page_limit(self, exchange_id: str) -> int:
        """Candles per fetch_ohlcv request: the exchange's maximum page size."""
        if exchange_id in PAGE_LIMITS:
            return PAGE_LIMITS[exchange_id]
        features = getattr(self.client(exchange_id), "features", None) or {}
        limit = ((features.get("spot") or {}).get("fetchOHLCV") or {}).get("limit")
        return int(limit) if limit else DEFAULT_PAGE_LIMIT

    def fetch_ohlcv_range(
        self,
        exchange_id: str,
        symbol: str,
        timeframe: str,
        start: datetime,
        end: datetime,
        *,
        page_size: int | None = None,
    ) -> list[list]:
        """Candles [ts_ms, open, high, low, close, volume] with start <= ts < end.

        Paginates ccxt's fetch_ohlcv(symbol, timeframe, since, limit) with the exchange's
        largest page (or `page_size`), bounding each page with `until` where ccxt supports it.
        Returns ccxt's unified rows, sorted by timestamp, without duplicates. Naive datetimes
        are UTC.
        """
        start_ms, end_ms = _to_ms(start), _to_ms(end)
        if end_ms < start_ms:
            raise ValueError(f"end ({end.isoformat()}) is before start ({start.isoformat()})")
        client = self.client(exchange_id)
        markets = self.load_markets(exchange_id)
        if symbol not in markets:
            if self.resolved_mode == "live":
                client.market(symbol)  # ccxt's own BadSymbol: "... does not have market symbol"
            raise ValueError(
                f"Unknown symbol {symbol!r} on {exchange_id} ({self.resolved_mode} mode): "
                "neither recorded nor in replay_symbols (settings.SYMBOLS), which replay serves "
                "on every exchange." + _choices(symbol, sorted(markets))
            )
        timeframes = self.timeframes(exchange_id)
        if timeframe not in timeframes:
            raise ValueError(
                f"Unsupported timeframe {timeframe!r} on {exchange_id} "
                f"({self.resolved_mode} mode). Supported: {', '.join(timeframes)}."
            )
        if page_size is not None and page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        page = page_size or self.page_limit(exchange_id)
        step = client.parse_timeframe(timeframe) * 1000
        bounded = exchange_id in UNTIL_EXCHANGES
        candles: dict[int, list] = {}
        cursor = start_ms
        for _ in range((end_ms - start_ms) // step + 2):  # at most one request per candle
            if cursor >= end_ms:
                break
            window_end = min(end_ms, cursor + page * step)
            params = {"until": window_end - 1} if bounded else {}
            since = cursor
            # cast: ccxt's base fetch_ohlcv only raises, so its return type reads as Never.
            rows = cast(
                "list[list[Any]]",
                self._call(
                    exchange_id,
                    f"fetch_ohlcv({symbol!r}, {timeframe!r}) since {_iso(since)}",
                    lambda since=since, params=params: client.fetch_ohlcv(
                        symbol, timeframe, since=since, limit=page, params=params
                    ),
                ),
            )
            inside = [row for row in rows if since <= row[0] < end_ms]
            for row in inside:
                candles[int(row[0])] = list(row)
            if inside:
                cursor = max(row[0] for row in inside) + step
            elif bounded:
                cursor = window_end  # nothing traded in this window: skip it
            else:
                break  # nothing after `since`: the exchange has no more candles
        return [candles[timestamp] for timestamp in sorted(candles)]
