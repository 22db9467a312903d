"""Kraken spot REST API (https://api.kraken.com/0/public) in its native format.

- GET /0/public/AssetPairs: the recorded sample `samples/kraken_asset_pairs.json`, plus
  configured symbols it does not list, synthesized as Kraken writes a pair. Kraken keeps
  its legacy asset names: XXBT (bitcoin, "XBT"), XETH, ZUSD, ZEUR, XXDG (dogecoin, "XDG"), so
  pairs are keyed XXBTZUSD, XETHXXBT, XBTUSDT, ... ccxt maps XBT/XXBT to BTC. A synthesized
  pair is keyed by its altname (XBTUSDC), as Kraken keys its newer pairs, with legacy asset
  names in `base` and `quote` (XXBT, ZUSD).
- GET /0/public/OHLC?pair=XXBTZUSD&interval=60&since=..: `{"error": [], "result":
  {"XXBTZUSD": [[time, "open", "high", "low", "close", "vwap", "volume", count], ...],
  "last": time}}`, oldest first, `time` in SECONDS, `interval` in minutes
  (1 5 15 60 240 1440). The pair may be given by key or altname (XBTUSD); the result is keyed
  by the pair's key. Candles strictly after `since` (seconds), at most 720; `last` is the
  time of the last committed (closed) candle, the `since` for polling new data.
  Note: the live API only keeps the latest 720 candles per interval, whatever `since` says;
  replay serves any window so that historical days can be replayed.
Errors: HTTP 200 with `{"error": ["EQuery:Unknown asset pair"], "result": {}}`.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any, ClassVar

from .base import (
    Handler,
    Instrument,
    Request,
    Response,
    SyntheticMarket,
    WireFormat,
    decimals_of,
    fmt,
    int_param,
    open_times,
)

# Kraken's asset names that ccxt maps to other codes (its kraken `commonCurrencies`): the
# legacy names (X prefix: crypto, Z prefix: fiat) and a few renamed assets.
ASSET_CODES: dict[str, str] = {
    "XXBT": "BTC",
    "XBT": "BTC",
    "XETH": "ETH",
    "XXRP": "XRP",
    "XXDG": "DOGE",
    "XDG": "DOGE",
    "XLTC": "LTC",
    "XXLM": "XLM",
    "XXMR": "XMR",
    "XETC": "ETC",
    "XZEC": "ZEC",
    "XMLN": "MLN",
    "XREP": "REP",
    "ZUSD": "USD",
    "ZEUR": "EUR",
    "ZGBP": "GBP",
    "ZCAD": "CAD",
    "ZJPY": "JPY",
    "ZAUD": "AUD",
    "LUNA": "LUNC",
    "LUNA2": "LUNA",
    "REP": "REPV1",
    "REPV2": "REP",
    "UST": "USTC",
    "FEE": "KFEE",
}
# The asset name Kraken writes in a pair's base/quote for a unified code: the legacy
# four-letter name where there is one (XXBT, ZUSD), else the name ccxt maps to the code.
NATIVE_ASSETS: dict[str, str] = {
    code: native
    for native, code in sorted(ASSET_CODES.items(), key=lambda item: len(item[0]))
    if native != "REPV2"
}
_MAX_CANDLES = 720


def _error(message: str) -> Response:
    return Response(200, {"error": [message], "result": {}})


class KrakenWire(WireFormat):
    """Kraken's AssetPairs and OHLC endpoints, served from the sample and the generator.

    Example::

        wire = KrakenWire(seed=0)
        wire.native_timeframe("60")  # 3600: Kraken counts intervals in minutes
        wire.instruments["XXBTZUSD"].base  # "BTC": legacy asset names mapped to ccxt codes
    """

    exchange_id = "kraken"
    markets_sample = "kraken_asset_pairs.json"
    intervals: ClassVar[dict[str, str]] = {
        "1m": "1",
        "5m": "5",
        "15m": "15",
        "1h": "60",
        "4h": "240",
        "1d": "1440",
    }
    page_limit = _MAX_CANDLES

    def routes(self) -> dict[str, Handler]:
        return {"/0/public/AssetPairs": self.asset_pairs, "/0/public/OHLC": self.ohlc}

    def parse_instruments(self, payload: Any) -> list[Instrument]:
        instruments = []
        for key, entry in payload["result"].items():
            tick = entry.get("tick_size") or f"1e-{entry['pair_decimals']}"
            instruments.append(
                Instrument(
                    native_id=key,
                    base=asset_code(entry["base"]),
                    quote=asset_code(entry["quote"]),
                    tick=Decimal(tick),
                    lot=Decimal(f"1e-{entry['lot_decimals']}"),
                )
            )
        return instruments

    def keep_instruments(self, payload: Any, native_ids: set[str]) -> Any:
        result = payload["result"]
        payload["result"] = {key: entry for key, entry in result.items() if key in native_ids}
        return payload

    def market_ids(self, payload: Any) -> dict[str, str]:
        """Pairs are keyed by their legacy name (XXBTZUSD) and also known by their altname."""
        pairs = payload["result"]
        return {key: key for key in pairs} | {entry["altname"]: key for key, entry in pairs.items()}

    def synthetic_id(self, market: SyntheticMarket) -> str:
        return short_name(native_asset(market.base)) + short_name(native_asset(market.quote))

    def add_markets(self, payload: Any, markets: list[SyntheticMarket]) -> Any:
        pairs = payload["result"]
        taken = set(self.market_ids(payload))
        for market in markets:
            base, quote = native_asset(market.base), native_asset(market.quote)
            model = next((p for p in pairs.values() if p["quote"] == quote), None)
            entry = copy.deepcopy(model or next(iter(pairs.values())))
            entry.update(
                altname=self.synthetic_id(market),
                wsname=f"{short_name(base)}/{short_name(quote)}",
                base=base,
                quote=quote,
                pair_decimals=decimals_of(market.tick),
                lot_decimals=8,
                cost_decimals=min(decimals_of(market.min_cost) + 2, 10),
                leverage_buy=[],
                leverage_sell=[],
                fee_volume_currency="ZUSD",
                ordermin=fmt(market.lot, decimals_of(market.lot), strip=True),
                costmin=fmt(market.min_cost, decimals_of(market.min_cost), strip=True),
                tick_size=fmt(market.tick, decimals_of(market.tick), strip=False),
                status="online",
            )
            for key in ("long_position_limit", "short_position_limit"):
                entry.pop(key, None)
            pairs[self.claim_id(taken, self.synthetic_id(market), market)] = entry
        return payload

    def _resolve(self, name: str) -> tuple[str, dict[str, Any]] | None:
        pairs = self.markets_payload()["result"]
        if name in pairs:
            return name, pairs[name]
        for key, entry in pairs.items():
            if entry.get("altname") == name:
                return key, entry
        return None

    def asset_pairs(self, request: Request) -> Response:
        payload = self.markets_payload()
        wanted = request.query.get("pair")
        if wanted:
            selected = {}
            for name in wanted.split(","):
                resolved = self._resolve(name)
                if resolved is None:
                    return _error("EQuery:Unknown asset pair")
                selected[resolved[0]] = resolved[1]
            payload["result"] = selected
        return Response(200, payload)

    def ohlc(self, request: Request) -> Response:
        query = request.query
        resolved = self._resolve(query.get("pair", ""))
        if resolved is None:
            return _error("EQuery:Unknown asset pair")
        key, entry = resolved
        seconds = self.native_timeframe(query.get("interval", "1"))
        if seconds is None:
            return _error("EGeneral:Invalid arguments")
        try:
            since = int_param(query, "since")
        except ValueError:
            return _error("EGeneral:Invalid arguments")
        frame = seconds * 1000
        now = self.clock()
        times = open_times(
            frame,
            now,
            first=None if since is None else since * 1000 + 1,
            last=None,
            limit=_MAX_CANDLES,
            newest=since is None,
        )
        instrument = self.instruments[key]
        price_decimals = int(entry["pair_decimals"])
        lot_decimals = int(entry["lot_decimals"])
        rows = [
            [
                candle.timestamp_ms // 1000,
                fmt(candle.open, price_decimals, strip=False),
                fmt(candle.high, price_decimals, strip=False),
                fmt(candle.low, price_decimals, strip=False),
                fmt(candle.close, price_decimals, strip=False),
                fmt(candle.vwap, price_decimals, strip=False),
                fmt(candle.volume, lot_decimals, strip=False),
                candle.trades,
            ]
            for candle in self.quantized_candles(instrument, seconds, times)
        ]
        committed = [t for t in times if t + frame <= now]
        last = committed[-1] // 1000 if committed else (since or now // 1000)
        return Response(200, {"error": [], "result": {key: rows, "last": last}})


def asset_code(native: str) -> str:
    """The unified currency code of a Kraken asset name (XXBT -> BTC); others unchanged."""
    return ASSET_CODES.get(native, native)


def native_asset(code: str) -> str:
    """The Kraken asset name whose unified code is `code` (BTC -> XXBT, LUNA -> LUNA2)."""
    return NATIVE_ASSETS.get(code, code)


def short_name(native: str) -> str:
    """The asset's name in altnames and wsnames: legacy names lose their prefix (XXBT -> XBT)."""
    legacy = len(native) == 4 and native[0] in "XZ" and native in ASSET_CODES
    return native[1:] if legacy else native
