"""OKX V5 REST API (https://www.okx.com/api/v5) in its native format, SPOT instruments.

- GET /api/v5/public/instruments?instType=SPOT: the recorded sample
  `samples/okx_instruments_spot.json`, plus configured symbols it does not list, synthesized
  as OKX writes an instrument (instId BASE-QUOTE, tickSz, lotSz, minSz as stripped strings).
- GET /api/v5/market/candles and /api/v5/market/history-candles
  ?instId=BTC-USDT&bar=1H&after=..&before=..&limit=..:
  `{"code": "0", "msg": "", "data": [[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm],
  ...]}`, strings, NEWEST FIRST. `after` returns candles older than it, `before` newer than it
  (both exclusive); the newest `limit` candles of that range come back (default 100, at most
  300). /market/candles only covers the latest 1440 candles, /market/history-candles all of
  them. Bars: 1m 5m 15m 1H 4H 1Dutc (ccxt asks UTC-aligned daily candles). `confirm` is "0"
  for the candle still open, "1" otherwise.
Errors come with a non-zero "code" (51001: instrument does not exist, 51000: parameter error).
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

_RECENT_CANDLES = 1440


class OkxWire(WireFormat):
    """OKX's SPOT instruments and (history-)candles endpoints, from the sample and the generator.

    Example::

        wire = OkxWire(seed=0)
        wire.native_timeframe("1H")  # 3600: OKX names one hour "1H"
        wire.instruments["BTC-USDT"]  # Instrument("BTC-USDT", "BTC", "USDT", tick, lot)
    """

    exchange_id = "okx"
    markets_sample = "okx_instruments_spot.json"
    intervals: ClassVar[dict[str, str]] = {
        "1m": "1m",
        "5m": "5m",
        "15m": "15m",
        "1h": "1H",
        "4h": "4H",
        "1d": "1Dutc",
    }
    page_limit = 300

    def routes(self) -> dict[str, Handler]:
        return {
            "/api/v5/public/instruments": self.public_instruments,
            "/api/v5/market/candles": self.candles,
            "/api/v5/market/history-candles": self.history_candles,
        }

    def parse_instruments(self, payload: Any) -> list[Instrument]:
        return [
            Instrument(
                native_id=entry["instId"],
                base=entry["baseCcy"],
                quote=entry["quoteCcy"],
                tick=Decimal(entry["tickSz"]),
                lot=Decimal(entry["lotSz"]),
            )
            for entry in payload["data"]
        ]

    def keep_instruments(self, payload: Any, native_ids: set[str]) -> Any:
        payload["data"] = [item for item in payload["data"] if item["instId"] in native_ids]
        return payload

    @staticmethod
    def _error(code: str, message: str) -> Response:
        return Response(200, {"code": code, "msg": message, "data": []})

    def synthetic_id(self, market: SyntheticMarket) -> str:
        return f"{market.base}-{market.quote}"

    def add_markets(self, payload: Any, markets: list[SyntheticMarket]) -> Any:
        instruments = payload["data"]
        taken = set(self.market_ids(payload))
        next_code = max(int(entry["instIdCode"]) for entry in instruments) + 1
        for market in markets:
            model = next((i for i in instruments if i["quoteCcy"] == market.quote), instruments[0])
            entry = copy.deepcopy(model)
            lot = fmt(market.lot, 8, strip=True)
            entry.update(
                instId=self.claim_id(taken, self.synthetic_id(market), market),
                instIdCode=next_code,
                baseCcy=market.base,
                quoteCcy=market.quote,
                tradeQuoteCcyList=[market.quote],
                tickSz=fmt(market.tick, 8, strip=True),
                lotSz=lot,
                minSz=lot,
                lever="",
                state="live",
            )
            next_code += 1
            instruments.append(entry)
        return payload

    def public_instruments(self, request: Request) -> Response:
        inst_type = request.query.get("instType")
        if inst_type != "SPOT":
            raise ReplayError(
                f"okx replay records SPOT instruments only, not instType={inst_type!r}: "
                f"{request.method} {request.url}"
            )
        payload = self.markets_payload()
        wanted = request.query.get("instId")
        if wanted is not None:
            payload["data"] = [item for item in payload["data"] if item["instId"] == wanted]
            if not payload["data"]:
                return self._error(
                    "51001", "Instrument ID, Instrument ID code, or Spread ID doesn't exist."
                )
        return Response(200, payload)

    def candles(self, request: Request) -> Response:
        return self._candles(request, recent_only=True)

    def history_candles(self, request: Request) -> Response:
        return self._candles(request, recent_only=False)

    def _candles(self, request: Request, *, recent_only: bool) -> Response:
        query = request.query
        instrument = self.instruments.get(query.get("instId", ""))
        if instrument is None:
            return self._error(
                "51001", "Instrument ID, Instrument ID code, or Spread ID doesn't exist."
            )
        seconds = self.native_timeframe(query.get("bar", "1m"))
        if seconds is None:
            return self._error("51000", "Parameter bar error")
        try:
            limit = int_param(query, "limit") or 100
            after = int_param(query, "after")
            before = int_param(query, "before")
        except ValueError:
            return self._error("51000", "Parameter after error")
        frame = seconds * 1000
        now = self.clock()
        first = None if before is None else before + 1
        if recent_only:
            oldest = (now // frame - (_RECENT_CANDLES - 1)) * frame
            first = oldest if first is None else max(first, oldest)
        times = open_times(
            frame,
            now,
            first=first,
            last=None if after is None else after - 1,
            limit=min(max(limit, 1), 300),
            newest=True,
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
                fmt(candle.quote_volume, 8, strip=True),
                "1" if candle.timestamp_ms + frame <= now else "0",
            ]
            for candle in reversed(self.quantized_candles(instrument, seconds, times))
        ]
        return Response(200, {"code": "0", "msg": "", "data": rows})
