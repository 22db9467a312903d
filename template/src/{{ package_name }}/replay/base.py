"""Shared pieces of the per-exchange wire formats: requests, responses, instruments, windows."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from functools import cache
from importlib import resources
from typing import Any, ClassVar

from .generator import ASSETS, Candle, CandleGenerator, fallback_profile

# Timeframes replay serves (unified ccxt names) and their length in seconds.
REPLAY_TIMEFRAMES: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3_600,
    "4h": 14_400,
    "1d": 86_400,
}


class ReplayError(LookupError):
    """Replay was asked for something it has no recording or generator for.

    Example::

        transport = ReplayTransport("binance")
        try:
            transport.respond("GET", "https://api.binance.com/api/v3/ticker/price")
        except ReplayError as error:
            print(error)  # "Replay has no recording for GET ... Recorded endpoints: ..."
    """


@dataclass(frozen=True)
class Request:
    """One HTTP request as ccxt built it.

    ``ReplayTransport.respond`` builds it from the URL (``query``: the decoded query string)
    and hands it to the route of ``path``.

    Example::

        request = Request("GET", url, "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h"})
        response = BinanceWire().routes()[request.path](request)
    """

    method: str
    url: str
    path: str
    query: Mapping[str, str]
    body: str | None = None


@dataclass(frozen=True)
class Response:
    """What the exchange would answer: HTTP status and the decoded JSON body.

    `text` replaces the JSON body with raw text (an HTML error page of a CDN, a plain-text
    rate-limit answer).

    Example::

        Response(200, {"retCode": 0, "retMsg": "OK", "result": {...}})
        Response(403, None, reason="Forbidden", text="access too frequent")
    """

    status: int
    payload: Any
    reason: str = "OK"
    text: str | None = None


@dataclass(frozen=True)
class Instrument:
    """A market as the generator needs it: native id, asset codes, tick and lot size.

    Example::

        btc = Instrument("BTCUSDT", "BTC", "USDT", tick=Decimal("0.01"), lot=Decimal("0.00001"))
        BinanceWire().instruments["BTCUSDT"]  # the same, parsed from the recorded sample
    """

    native_id: str
    base: str
    quote: str
    tick: Decimal
    lot: Decimal


@dataclass(frozen=True)
class SyntheticMarket:
    """A configured market the recording does not list, with sizes as an exchange picks them.

    Replay serves it in the exchange's own wire format (each WireFormat's `add_markets`), so
    ccxt's parser builds it like a recorded one. Tick: about six significant digits of the
    pair's reference price; lot: about one US dollar's worth of the base or less; minimum
    order: one lot, and about five US dollars' worth of the quote.

    Example::

        market = synthetic_market("SOL/USDC")
        market.tick, market.lot  # Decimal("0.001"), Decimal("0.001")
    """

    symbol: str
    base: str
    quote: str
    tick: Decimal
    lot: Decimal
    min_cost: Decimal
    max_price: Decimal
    max_amount: Decimal


def _power_of_ten(exponent: int, lowest: int = -8, highest: int = 0) -> Decimal:
    return Decimal(1).scaleb(min(max(exponent, lowest), highest))


def synthetic_market(symbol: str) -> SyntheticMarket:
    """Sizes of a made-up market `symbol` ("BASE/QUOTE"), from the assets' reference prices."""
    base, _, quote = symbol.partition("/")
    base_usd = (ASSETS.get(base) or fallback_profile(base)).usd_price or 1.0
    quote_usd = (ASSETS.get(quote) or fallback_profile(quote)).usd_price or 1.0
    price = base_usd / quote_usd
    min_cost = 5.0 / quote_usd
    cost_exponent = math.floor(math.log10(min_cost))
    leading = int(min_cost / 10**cost_exponent)
    return SyntheticMarket(
        symbol=symbol,
        base=base,
        quote=quote,
        tick=_power_of_ten(math.floor(math.log10(price)) - 5),
        lot=_power_of_ten(math.floor(math.log10(1.0 / base_usd))),
        min_cost=max(Decimal(leading).scaleb(cost_exponent), Decimal(1).scaleb(-8)),
        max_price=_power_of_ten(math.ceil(math.log10(price)) + 3, lowest=0, highest=9),
        max_amount=_power_of_ten(math.ceil(math.log10(1e7 / base_usd)), lowest=0, highest=12),
    )


@cache
def load_sample(name: str) -> str:
    """The text of a recorded sample shipped in replay/samples/ (package data)."""
    package = __name__.rpartition(".")[0]
    return resources.files(package).joinpath("samples", name).read_text(encoding="utf-8")


def sample_payload(name: str) -> Any:
    """A fresh decoded copy of a sample (callers may not mutate the cached text)."""
    return json.loads(load_sample(name))


def now_ms() -> int:
    return int(time.time() * 1000)


def open_times(
    timeframe_ms: int,
    now: int,
    *,
    first: int | None,
    last: int | None,
    limit: int,
    newest: bool,
) -> list[int]:
    """Open times (ascending) of at most `limit` candles with first <= ts <= last.

    `first`/`last` are inclusive bounds on the open time (None: unbounded, then `last` is the
    candle open at `now`); candles never open after `now`. `newest` picks the `limit` newest
    candles of the range instead of the oldest (what exchanges do without a start bound).
    """
    newest_open = (now // timeframe_ms) * timeframe_ms
    upper = newest_open if last is None else min(newest_open, (last // timeframe_ms) * timeframe_ms)
    lower = None if first is None else -(-first // timeframe_ms) * timeframe_ms
    if limit <= 0 or (lower is not None and lower > upper):
        return []
    if newest or lower is None:
        begin = upper - (limit - 1) * timeframe_ms
        if lower is not None:
            begin = max(begin, lower)
        return list(range(begin, upper + 1, timeframe_ms))
    end = min(upper, lower + (limit - 1) * timeframe_ms)
    return list(range(lower, end + 1, timeframe_ms))


def decimals_of(step: Decimal) -> int:
    """Number of decimals of a tick or lot size: 0.01 -> 2, 1 -> 0."""
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int), f"{step} is not a finite decimal"
    return max(0, -exponent)


def fmt(value: Decimal, decimals: int, *, strip: bool) -> str:
    """Format like exchanges do: fixed decimals (Binance, Kraken) or stripped (Bybit, OKX)."""
    text = f"{value:.{decimals}f}"
    if strip and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


@dataclass(frozen=True)
class QuantizedCandle:
    """A candle rounded to the market's tick (prices) and lot (volumes), OHLC-consistent.

    Example::

        (raw,) = CandleGenerator(0, "binance").candles("BTC", "USDT", 3_600, [1704153600000])
        candle = quantize(raw, btc)  # btc: Instrument with tick 0.01, lot 0.00001
        candle.close, candle.volume  # Decimal("47391.60"), Decimal("9401.84713")
    """

    timestamp_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    vwap: Decimal
    trades: int
    taker_buy_volume: Decimal
    taker_buy_quote_volume: Decimal


def _on_grid(value: float, step: Decimal, rounding: str) -> Decimal:
    units = (Decimal(repr(value)) / step).to_integral_value(rounding=rounding)
    return max(units, Decimal(1)) * step


def quantize(candle: Candle, instrument: Instrument) -> QuantizedCandle:
    tick, lot = instrument.tick, instrument.lot
    opening = _on_grid(candle.open, tick, ROUND_HALF_EVEN)
    close = _on_grid(candle.close, tick, ROUND_HALF_EVEN)
    high = max(_on_grid(candle.high, tick, ROUND_CEILING), opening, close)
    low = min(_on_grid(candle.low, tick, ROUND_FLOOR), opening, close)
    volume = (Decimal(repr(candle.volume)) / lot).to_integral_value(rounding=ROUND_FLOOR) * lot
    volume = max(volume, lot)
    typical = (opening + high + low + close) / 4
    vwap = min(max(typical.quantize(tick, rounding=ROUND_HALF_EVEN), low), high)
    quote_decimals = Decimal(1).scaleb(-8)
    quote_volume = (volume * vwap).quantize(quote_decimals, rounding=ROUND_HALF_EVEN)
    ratio = Decimal(repr(round(candle.taker_buy_ratio, 6)))
    taker_volume = (volume * ratio / lot).to_integral_value(rounding=ROUND_FLOOR) * lot
    return QuantizedCandle(
        timestamp_ms=candle.timestamp_ms,
        open=opening,
        high=high,
        low=low,
        close=close,
        volume=volume,
        quote_volume=quote_volume,
        vwap=vwap,
        trades=candle.trades,
        taker_buy_volume=taker_volume,
        taker_buy_quote_volume=(taker_volume * vwap).quantize(quote_decimals),
    )


Handler = Callable[[Request], Response]
_CACHE_SIZE = 200_000


class WireFormat:
    """Serves one exchange's REST endpoints in that exchange's native format.

    Subclasses name the exchange, the recorded markets sample, the native interval codes and
    the routes (URL path -> handler). Markets come from the sample, plus one synthesized entry
    per configured symbol (`symbols`) that the sample does not list, written as the exchange
    writes its own (`add_markets`); candles are generated for any window, then rounded to each
    market's tick and lot size.

    Example::

        wire = BinanceWire(seed=0)  # any subclass: BybitWire, OkxWire, KrakenWire
        wire.native_timeframe("1h")  # 3600: the native interval code's length in seconds
        btc = wire.instruments["BTCUSDT"]
        candles = wire.quantized_candles(btc, 3_600, [1704153600000, 1704157200000])
        BinanceWire(symbols=["SOL/USDC"]).synthetic_symbols  # ["SOL/USDC"]: not recorded
    """

    exchange_id: ClassVar[str]
    markets_sample: ClassVar[str]
    # unified timeframe -> native interval code, only timeframes replay serves
    intervals: ClassVar[dict[str, str]]
    page_limit: ClassVar[int]

    def __init__(
        self, seed: int = 0, clock: Callable[[], int] = now_ms, symbols: Sequence[str] = ()
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.symbols = tuple(symbols)
        self._synthetic: list[SyntheticMarket] | None = None
        self.generator = CandleGenerator(seed, self.exchange_id)
        # Open time (ms) -> True when the candle is missing (a truncated day); None: none missing.
        self.candle_missing: Callable[[int], bool] | None = None
        self._instruments: dict[str, Instrument] | None = None
        # Candles are a pure function of their key: overlapping pages reuse them.
        self._cache: dict[tuple[str, int, int], QuantizedCandle] = {}

    def routes(self) -> dict[str, Handler]:
        raise NotImplementedError

    def parse_instruments(self, payload: Any) -> list[Instrument]:
        """Instruments of the native markets payload (the recorded sample)."""
        raise NotImplementedError

    def keep_instruments(self, payload: Any, native_ids: set[str]) -> Any:
        """The native markets payload reduced to these instruments (used when recording)."""
        raise NotImplementedError

    def add_markets(self, payload: Any, markets: list[SyntheticMarket]) -> Any:
        """The native markets payload with these markets appended, as the exchange writes them."""
        raise NotImplementedError

    def sample(self) -> Any:
        """A fresh copy of the recorded markets payload."""
        return sample_payload(self.markets_sample)

    @property
    def synthetic_markets(self) -> list[SyntheticMarket]:
        """The configured symbols the recording does not list, in configuration order."""
        if self._synthetic is None:
            recorded = {(i.base, i.quote) for i in self.parse_instruments(self.sample())}
            self._synthetic = [
                synthetic_market(symbol)
                for symbol in dict.fromkeys(self.symbols)
                if tuple(symbol.partition("/")[::2]) not in recorded
            ]
        return self._synthetic

    @property
    def synthetic_symbols(self) -> list[str]:
        return [market.symbol for market in self.synthetic_markets]

    def market_ids(self, payload: Any) -> dict[str, str]:
        """Every id a market of the payload is known by -> the key it is listed under."""
        return {i.native_id: i.native_id for i in self.parse_instruments(payload)}

    def synthetic_id(self, market: SyntheticMarket) -> str:
        """The id the exchange would give the synthesized market."""
        return market.base + market.quote

    def markets_payload(self) -> Any:
        """A fresh copy of the markets payload replay serves: the recording (byte for byte when
        every configured symbol is recorded), then the synthesized markets."""
        payload = self.sample()
        if not self.synthetic_markets:
            return payload
        return self.add_markets(self._without_displaced(payload), self.synthetic_markets)

    def _without_displaced(self, payload: Any) -> Any:
        """The recording without the markets no symbol asks for whose id a synthesized market
        needs: "BTCU/SDT" is BTCUSDT on Binance as BTC/USDT is, and an exchange lists one market
        per id. A configured market keeps its id (claim_id then names the clash)."""
        recorded = self.parse_instruments(payload)
        configured = {i.native_id for i in recorded if f"{i.base}/{i.quote}" in self.symbols}
        ids = self.market_ids(payload)
        claimed = {self.synthetic_id(market) for market in self.synthetic_markets}
        displaced = {ids[name] for name in claimed & ids.keys()} - configured
        if not displaced:
            return payload
        kept = {i.native_id for i in recorded} - displaced
        return self.keep_instruments(payload, kept)

    def claim_id(self, taken: set[str], native_id: str, market: SyntheticMarket) -> str:
        """`native_id` for a synthesized market, unless a recorded or earlier market has it."""
        if native_id in taken:
            raise ReplayError(
                f"{self.exchange_id} replay cannot synthesize {market.symbol}: its market id "
                f"{native_id} is already another market's. Remove {market.symbol} from SYMBOLS "
                "in settings.py (or from replay_symbols)."
            )
        taken.add(native_id)
        return native_id

    def instruments_of(self, payload: Any) -> dict[str, Instrument]:
        return {i.native_id: i for i in self.parse_instruments(payload)}

    @property
    def instruments(self) -> dict[str, Instrument]:
        if self._instruments is None:
            self._instruments = self.instruments_of(self.markets_payload())
        return self._instruments

    def native_timeframe(self, interval: str | None) -> int | None:
        """Length in seconds of a native interval code, None when replay does not serve it."""
        for unified, native in self.intervals.items():
            if native == interval:
                return REPLAY_TIMEFRAMES[unified]
        return None

    def quantized_candles(
        self, instrument: Instrument, timeframe_seconds: int, times_ms: list[int]
    ) -> list[QuantizedCandle]:
        if self.candle_missing is not None:
            times_ms = [t for t in times_ms if not self.candle_missing(t)]
        cache = self._cache
        native_id = instrument.native_id
        missing = [t for t in times_ms if (native_id, timeframe_seconds, t) not in cache]
        if missing:
            if len(cache) + len(missing) > _CACHE_SIZE:
                cache.clear()
            raw = self.generator.candles(
                instrument.base, instrument.quote, timeframe_seconds, missing
            )
            for candle in raw:
                cache[(native_id, timeframe_seconds, candle.timestamp_ms)] = quantize(
                    candle, instrument
                )
        return [cache[(native_id, timeframe_seconds, t)] for t in times_ms]


def int_param(query: Mapping[str, str], name: str) -> int | None:
    """An integer query parameter; None when absent. Raises ValueError when malformed."""
    value = query.get(name)
    if value is None or value == "":
        return None
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(name)
    return int(number)
