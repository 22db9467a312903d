"""Bybit V5 REST API (https://api.bybit.com) in its native format, spot category.

- GET /v5/market/instruments-info?category=spot: the recorded sample
  `samples/bybit_instruments_spot.json`, plus configured symbols it does not list,
  synthesized as Bybit writes an instrument (lotSizeFilter, priceFilter as stripped strings).
- GET /v5/market/kline?category=spot&symbol=BTCUSDT&interval=60&start=..&end=..&limit=..:
  `{"retCode": 0, "retMsg": "OK", "result": {"category", "symbol", "list": [[startTime,
  open, high, low, close, volume, turnover], ...]}, "retExtInfo": {}, "time": ...}`, every
  value a string, NEWEST FIRST. `start` selects from the candle containing it, `end` is
  inclusive; limit: default 200, at most 1000. Intervals: 1 5 15 60 240 D.
Errors come with HTTP 200 and a non-zero retCode (10001: parameter error).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any, ClassVar

from .base import (
    Handler,
    Instrument,
    ReplayError,
    Request,
    Response,
    SyntheticMarket,
    WireFormat,
    fmt,
    int_param,
    open_times,
)


class BybitWire(WireFormat):
    """Bybit's spot instruments-info and kline endpoints, served from the sample and the generator.

    Example::

        wire = BybitWire(seed=0)
        wire.native_timeframe("60")  # 3600: Bybit names one hour "60"
        wire.instruments["BTCUSDT"]  # Instrument("BTCUSDT", "BTC", "USDT", tick, lot)
    """

    exchange_id = "bybit"
    markets_sample = "bybit_instruments_spot.json"
    intervals: ClassVar[dict[str, str]] = {
        "1m": "1",
        "5m": "5",
        "15m": "15",
        "1h": "60",
        "4h": "240",
        "1d": "D",
    }
    page_limit = 1000

    def routes(self) -> dict[str, Handler]:
        return {
            "/v5/market/instruments-info": self.instruments_info,
            "/v5/market/kline": self.kline,
        }

    def parse_instruments(self, payload: Any) -> list[Instrument]:
        return [
            Instrument(
                native_id=entry["symbol"],
                base=entry["baseCoin"],
                quote=entry["quoteCoin"],
                tick=Decimal(entry["priceFilter"]["tickSize"]),
                lot=Decimal(entry["lotSizeFilter"]["basePrecision"]),
            )
            for entry in payload["result"]["list"]
        ]

    def keep_instruments(self, payload: Any, native_ids: set[str]) -> Any:
        result = payload["result"]
        result["list"] = [item for item in result["list"] if item["symbol"] in native_ids]
        return payload

    def _envelope(self, result: Any, code: int = 0, message: str = "OK") -> Response:
        return Response(
            200,
            {
                "retCode": code,
                "retMsg": message,
                "result": result,
                "retExtInfo": {},
                "time": self.clock(),
            },
        )

    def _spot_only(self, request: Request) -> None:
        category = request.query.get("category")
        if category != "spot":
            raise ReplayError(
                f"bybit replay records the spot category only, not category={category!r}: "
                f"{request.method} {request.url}"
            )

    def add_markets(self, payload: Any, markets: list[SyntheticMarket]) -> Any:
        instruments = payload["result"]["list"]
        taken = set(self.market_ids(payload))
        for market in markets:
            model = next((i for i in instruments if i["quoteCoin"] == market.quote), instruments[0])
            entry = copy.deepcopy(model)
            entry["symbol"] = self.claim_id(taken, self.synthetic_id(market), market)
            entry.update(
                {"baseCoin": market.base, "quoteCoin": market.quote, "innovation": "0"},
                status="Trading",
                marginTrading="none",
            )
            entry["lotSizeFilter"] = {
                "basePrecision": fmt(market.lot, 8, strip=True),
                "quotePrecision": "0.00000001",
                "minOrderQty": fmt(market.lot, 8, strip=True),
                "maxOrderQty": fmt(market.max_amount, 8, strip=True),
                "minOrderAmt": fmt(market.min_cost, 8, strip=True),
                "maxOrderAmt": "2000000",
            }
            entry["priceFilter"] = {"tickSize": fmt(market.tick, 8, strip=True)}
            instruments.append(entry)
        return payload

    def instruments_info(self, request: Request) -> Response:
        self._spot_only(request)
        payload = self.markets_payload()
        wanted = request.query.get("symbol")
        if wanted is not None:
            result = payload["result"]
            result["list"] = [item for item in result["list"] if item["symbol"] == wanted]
        payload["time"] = self.clock()
        return Response(200, payload)

    def kline(self, request: Request) -> Response:
        self._spot_only(request)
        query = request.query
        instrument = self.instruments.get(query.get("symbol", ""))
        if instrument is None:
            return self._envelope({}, 10001, "Not supported symbols")
        seconds = self.native_timeframe(query.get("interval"))
        if seconds is None:
            return self._envelope({}, 10001, "Invalid period!")
        try:
            limit = int_param(query, "limit") or 200
            start = int_param(query, "start")
            end = int_param(query, "end")
        except ValueError:
            return self._envelope({}, 10001, "params error")
        frame = seconds * 1000
        times = open_times(
            frame,
            self.clock(),
            first=None if start is None else (start // frame) * frame,
            last=end,
            limit=min(max(limit, 1), 1000),
            newest=start is None,
        )
        rows = [
            [
                str(candle.timestamp_ms),
                fmt(candle.open, 8, strip=True),
                fmt(candle.high, 8, strip=True),
                fmt(candle.low, 8, strip=True),
                fmt(candle.close, 8, strip=True),
                fmt(candle.volume, 8, strip=True),
                fmt(candle.quote_volume, 8, strip=True),
            ]
            for candle in reversed(self.quantized_candles(instrument, seconds, times))
        ]
        return self._envelope({"category": "spot", "symbol": instrument.native_id, "list": rows})
