"""Run the van-sales API: ``python -m examples.vansales_api --db sqlite:///vansales.db --port 3000``.

The API key is read from ``VANSALES_API_KEY`` (never from the command line, where ``ps`` shows it).
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from examples.vansales_api.app import create_app
from examples.vansales_api.store import VanSalesStore


def main() -> None:
    """Parse the options and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite:///vansales.db", help="SQLAlchemy URL of the API's store")
    parser.add_argument("--schema", default=None, help="PostgreSQL schema for its tables (e.g. vansales_api)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    key = os.environ.get("VANSALES_API_KEY")
    if not key:
        parser.error("set VANSALES_API_KEY to the key clients must send in X-API-Key")
    store = VanSalesStore(url=args.db, schema=args.schema)
    uvicorn.run(create_app(store=store, api_keys={key: None}), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
