"""Seeded, deterministic candles for replay mode.

Every asset has a continuous USD price path: the log price is a reference level plus a sum of
smooth value-noise octaves (scales from half a year down to one minute, amplitudes scaled like a
random walk with the asset's annual volatility). The path is a pure function of
(seed, asset, time), so any instant can be evaluated on its own and the result never depends on
how a window is paginated. A pair's price is base path / quote path (so ETH/BTC agrees with
ETH/USDT and BTC/USDT), times a tiny per-exchange basis.

A candle [t, t + timeframe) opens at price(t) and closes at price(t + timeframe), so neighbouring
candles connect exactly, across pages and days. High and low cover the open, the close and the
midpoint of the path, plus wicks; wicks and volume come from a hash of
(seed, exchange, symbol, timeframe, candle index). Values are floats; the wire formats round
them to each market's tick and lot size.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

_MASK = (1 << 64) - 1
_YEAR_SECONDS = 365 * 86_400
_DAY_SECONDS = 86_400

# Octave scales of the price path, in seconds: 180 d, 30 d, 5 d, 1 d, 4 h, 1 h, 15 m, 4 m, 1 m.
_PATH_SCALES = (15_552_000, 2_592_000, 432_000, 86_400, 14_400, 3_600, 900, 240, 60)
_PATH_GAIN = 1.2
# Per-exchange basis: a few basis points of slow drift between venues.
_BASIS_OCTAVES = ((86_400, 2e-4), (3_600, 1e-4), (300, 5e-5))
_MIN_AMPLITUDE = 2e-5


@dataclass(frozen=True)
class AssetProfile:
    """Reference USD price, annual volatility and daily traded USD value of an asset.

    Example::

        profile = ASSETS["BTC"]  # AssetProfile(65_000.0, 0.55, 2.5e10)
        profile.usd_price, profile.annual_volatility  # 65000.0, 0.55: the path wanders around
        fallback_profile("NEW")  # a stable made-up profile for an asset missing from ASSETS
    """

    usd_price: float
    annual_volatility: float
    daily_usd_volume: float


# Levels are rounded 2024-2025 figures; the path wanders around them (roughly x0.5 to x2).
ASSETS: dict[str, AssetProfile] = {
    "BTC": AssetProfile(65_000.0, 0.55, 2.5e10),
    "ETH": AssetProfile(3_200.0, 0.70, 1.2e10),
    "SOL": AssetProfile(150.0, 0.90, 3.0e9),
    "BNB": AssetProfile(580.0, 0.60, 1.5e9),
    "XRP": AssetProfile(0.55, 0.80, 1.5e9),
    "DOGE": AssetProfile(0.14, 1.00, 1.2e9),
    "ADA": AssetProfile(0.45, 0.85, 5.0e8),
    "LINK": AssetProfile(15.0, 0.85, 4.0e8),
    "LTC": AssetProfile(80.0, 0.70, 4.0e8),
    "AVAX": AssetProfile(30.0, 0.90, 4.0e8),
    "TON": AssetProfile(5.5, 0.80, 3.0e8),
    "OKB": AssetProfile(45.0, 0.60, 5.0e7),
    "USDT": AssetProfile(1.0, 0.004, 5.0e10),
    "USDC": AssetProfile(1.0, 0.003, 8.0e9),
    "USD": AssetProfile(1.0, 0.0, 0.0),
    "EUR": AssetProfile(1.08, 0.07, 0.0),
}

# Share of an asset's traded value that a pair with this quote gets on one exchange.
_QUOTE_SHARE = {"USDT": 1.0, "USD": 0.35, "USDC": 0.25, "EUR": 0.08, "BTC": 0.04, "ETH": 0.02}
# Share of the market each exchange trades (spot).
_EXCHANGE_SHARE = {"binance": 0.30, "bybit": 0.10, "okx": 0.10, "kraken": 0.04}


def _mix(value: int) -> int:
    """splitmix64 finaliser: a fast, well-distributed 64-bit integer hash."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def stream_key(*parts: object) -> int:
    """A 64-bit key naming one random stream, e.g. ("path", seed, "BTC", 3600)."""
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def uniform(key: int, index: int) -> float:
    """Deterministic uniform number in [0, 1) for the index-th draw of a stream."""
    return (_mix(key ^ ((index * 0xD1B54A32D192ED03) & _MASK)) >> 11) / 9007199254740992.0


def fallback_profile(asset: str) -> AssetProfile:
    """A stable made-up profile for an asset missing from ASSETS (price 0.01 .. 100 USD)."""
    draw = uniform(stream_key("fallback-asset", asset), 0)
    return AssetProfile(10 ** (4 * draw - 2), 0.9, 5.0e7)


class _Path:
    """log(price) of one stream: a reference level plus smooth value-noise octaves.

    Each octave is value noise in [-amplitude, amplitude]: hashed knots every `scale` seconds,
    joined by smoothstep. The path remembers the last knot pair of each octave (one tuple per
    octave, replaced atomically), so neighbouring instants hash each knot once.
    """

    def __init__(self, level: float, octaves: list[tuple[int, int, float]]) -> None:
        self.log_level = math.log(level)
        # (key, scale in seconds, amplitude); negligible octaves are dropped.
        self.octaves = [octave for octave in octaves if octave[2] >= _MIN_AMPLITUDE]
        self._knots: list[tuple[int, float, float] | None] = [None] * len(self.octaves)

    def log_price(self, seconds: float) -> float:
        total = self.log_level
        knots = self._knots
        for slot, (key, scale, amplitude) in enumerate(self.octaves):
            position = seconds / scale
            knot = math.floor(position)
            cached = knots[slot]
            if cached is None or cached[0] != knot:
                cached = (knot, 2.0 * uniform(key, knot) - 1.0, 2.0 * uniform(key, knot + 1) - 1.0)
                knots[slot] = cached
            fraction = position - knot
            low = cached[1]
            total += amplitude * (
                low + (cached[2] - low) * fraction * fraction * (3.0 - 2.0 * fraction)
            )
        return total


def _asset_path(seed: int, asset: str, profile: AssetProfile) -> _Path:
    octaves = [
        (
            stream_key("path", seed, asset, scale),
            scale,
            _PATH_GAIN * profile.annual_volatility * math.sqrt(scale / _YEAR_SECONDS),
        )
        for scale in _PATH_SCALES
    ]
    return _Path(profile.usd_price, octaves)


@dataclass(frozen=True)
class Candle:
    """One generated candle; volume in base units, quote_volume in quote units.

    Example::

        (candle,) = CandleGenerator(0, "binance").candles("BTC", "USDT", 3_600, [1704153600000])
        candle.open, candle.close  # floats: 47308.46..., 47391.60...
        quantize(candle, instrument)  # rounded to the market's tick and lot
    """

    timestamp_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float
    trades: int
    taker_buy_ratio: float


class PairSeries:
    """Candles of one market (exchange, base/quote) for one seed.

    Example::

        series = PairSeries(seed=0, exchange_id="binance", base="ETH", quote="BTC")
        series.price(1704153600)  # ETH/BTC at 2024-01-02T00:00Z: ETH path / BTC path
        series.candles(3_600, [1704153600000, 1704157200000])  # two hourly candles
    """

    def __init__(self, seed: int, exchange_id: str, base: str, quote: str) -> None:
        self.seed = seed
        self.exchange_id = exchange_id
        self.base = base
        self.quote = quote
        base_profile = ASSETS.get(base) or fallback_profile(base)
        quote_profile = ASSETS.get(quote) or fallback_profile(quote)
        self._base_path = _asset_path(seed, base, base_profile)
        self._quote_path = _asset_path(seed, quote, quote_profile)
        self._basis = _Path(
            1.0,
            [
                (stream_key("basis", seed, exchange_id, base, quote, s), s, a)
                for s, a in _BASIS_OCTAVES
            ],
        )
        self.annual_volatility = math.hypot(
            base_profile.annual_volatility, quote_profile.annual_volatility
        )
        self.daily_usd_volume = (
            base_profile.daily_usd_volume
            * _QUOTE_SHARE.get(quote, 0.02)
            * _EXCHANGE_SHARE.get(exchange_id, 0.05)
        )

    def price(self, seconds: float) -> float:
        """The pair's price (quote per base) at an instant, in seconds since the epoch."""
        return self._at(seconds)[0]

    def _at(self, seconds: float) -> tuple[float, float]:
        """(pair price, base asset price in USD) at an instant."""
        log_base = self._base_path.log_price(seconds)
        log_pair = log_base - self._quote_path.log_price(seconds) + self._basis.log_price(seconds)
        return math.exp(log_pair), math.exp(log_base)

    def candles(self, timeframe_seconds: int, open_times_ms: list[int]) -> list[Candle]:
        """Candles opening at the given times (each a multiple of the timeframe)."""
        if not open_times_ms:
            return []
        key = stream_key(
            "candle", self.seed, self.exchange_id, self.base, self.quote, timeframe_seconds
        )
        sigma = max(self.annual_volatility, 0.01) * math.sqrt(timeframe_seconds / _YEAR_SECONDS)
        share = timeframe_seconds / _DAY_SECONDS
        result = []
        boundary: tuple[int, tuple[float, float]] | None = None
        for timestamp_ms in sorted(open_times_ms):
            start = timestamp_ms // 1000
            index = start // timeframe_seconds
            # The open of a candle is the close of the previous one: evaluate each boundary once.
            if boundary is not None and boundary[0] == start:
                opening, base_usd = boundary[1]
            else:
                opening, base_usd = self._at(start)
            middle = self._at(start + timeframe_seconds / 2)[0]
            closing = self._at(start + timeframe_seconds)
            boundary = (start + timeframe_seconds, closing)
            close = closing[0]
            draws = [uniform(key, 8 * index + slot) for slot in range(6)]
            high = max(opening, close, middle) * math.exp(0.6 * sigma * draws[0])
            low = min(opening, close, middle) * math.exp(-0.6 * sigma * draws[1])
            # Log-normal volume, busier in European and American hours and on big moves.
            normal = math.sqrt(-2.0 * math.log(1.0 - draws[2])) * math.cos(2 * math.pi * draws[3])
            hour = (start % _DAY_SECONDS) / 3_600
            season = 1.0 + 0.35 * math.sin(2 * math.pi * (hour - 9) / 24)
            activity = 1.0 + 0.5 * abs(math.log(close / opening)) / sigma
            usd = self.daily_usd_volume * share * season * activity * math.exp(0.45 * normal - 0.1)
            volume = usd / base_usd
            typical = (opening + high + low + close) / 4
            result.append(
                Candle(
                    timestamp_ms=timestamp_ms,
                    open=opening,
                    high=high,
                    low=low,
                    close=close,
                    volume=volume,
                    quote_volume=volume * typical,
                    trades=max(1, int(usd / (350.0 + 900.0 * draws[4]))),
                    taker_buy_ratio=0.35 + 0.3 * draws[5],
                )
            )
        return result


class CandleGenerator:
    """Candles of every market of one exchange, for one seed (series are cached per pair).

    Example::

        generator = CandleGenerator(seed=0, exchange_id="binance")
        day = [1704153600000 + hour * 3_600_000 for hour in range(24)]
        candles = generator.candles("BTC", "USDT", 3_600, day)  # the same on every call
    """

    def __init__(self, seed: int, exchange_id: str) -> None:
        self.seed = seed
        self.exchange_id = exchange_id
        self._series: dict[tuple[str, str], PairSeries] = {}

    def series(self, base: str, quote: str) -> PairSeries:
        pair = (base, quote)
        if pair not in self._series:
            self._series[pair] = PairSeries(self.seed, self.exchange_id, base, quote)
        return self._series[pair]

    def candles(
        self, base: str, quote: str, timeframe_seconds: int, open_times_ms: list[int]
    ) -> list[Candle]:
        return self.series(base, quote).candles(timeframe_seconds, open_times_ms)
