"""``python -m console_api.gateway``: run the agent gateway with ``VSC_GATEWAY_*`` settings."""

import asyncio
import logging

from console_api.gateway.server import serve

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve())
