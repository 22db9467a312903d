"""Record a markets sample from the live exchange API (needs the internet).

    uv run python -m <package>.replay.record binance BTC/USDT ETH/USDT ETH/BTC

Loads the exchange's markets in live mode, through exactly the request replay serves (same
client options as the resource), keeps the symbols given (all when none are given: large),
and writes the exchange's raw payload to `samples/<file>` of the wire format. Candles are not
recorded: replay generates them for any window.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

from .transport import WIRE_FORMATS, check_exchange

SAMPLES_DIR = Path(__file__).parent / "samples"


def _flat(value: Any) -> bool:
    if isinstance(value, list):
        return all(not isinstance(item, dict | list) for item in value)
    return not isinstance(value, dict)


def pretty_json(value: Any, level: int = 0) -> str:
    """Indented JSON that keeps short leaves (lists of scalars, filter objects) on one line."""
    pad = "  " * (level + 1)
    if isinstance(value, list) and all(_flat(item) for item in value):
        return json.dumps(value, separators=(", ", ": "))
    flat_dict = isinstance(value, dict) and all(_flat(item) for item in value.values())
    if flat_dict and value and level >= 2:
        return json.dumps(value, separators=(", ", ": "))
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{pad}{json.dumps(key)}: {pretty_json(item, level + 1)}" for key, item in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * level + "}"
    if isinstance(value, list):
        items = [f"{pad}{pretty_json(item, level + 1)}" for item in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * level + "]"
    return json.dumps(value)


def record_markets(
    exchange_id: str,
    symbols: list[str] | None = None,
    *,
    client: Any = None,
    path: Path | None = None,
) -> Path:
    """Fetch the live markets payload, keep `symbols`, write it as the replay sample.

    `client` defaults to ExchangeResource(mode="live").client(exchange_id).
    """
    check_exchange(exchange_id)
    wire = WIRE_FORMATS[exchange_id]()
    if client is None:
        from ..resources.exchange import ExchangeResource

        client = ExchangeResource(mode="live").client(exchange_id)
    responses: list[tuple[str, Any]] = []
    fetch = client.fetch

    def capture(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        data = fetch(url, method, headers, body)
        responses.append((url, copy.deepcopy(data)))
        return data

    client.fetch = capture
    try:
        markets = client.load_markets(True)
    finally:
        del client.fetch
    if len(responses) != 1:
        urls = ", ".join(url for url, _ in responses)
        raise RuntimeError(
            f"{exchange_id}: expected load_markets to make one request, saw {len(responses)}: "
            f"{urls}. Adjust CLIENT_PROFILES in resources/exchange.py and the wire format."
        )
    wanted = symbols or sorted(markets)
    missing = [symbol for symbol in wanted if symbol not in markets]
    if missing:
        raise ValueError(f"{exchange_id} has no market {', '.join(missing)}")
    payload = wire.keep_instruments(responses[0][1], {markets[s]["id"] for s in wanted})
    target = path or SAMPLES_DIR / wire.markets_sample
    target.write_text(pretty_json(payload) + "\n", encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("exchange", choices=sorted(WIRE_FORMATS))
    parser.add_argument("symbols", nargs="*", help="unified symbols to keep, e.g. BTC/USDT")
    parser.add_argument("--output", type=Path, help="file to write (default: the sample)")
    args = parser.parse_args(argv)
    target = record_markets(args.exchange, args.symbols, path=args.output)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
