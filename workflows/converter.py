"""The data converter every client and worker uses: pydantic models as JSON payloads.

Plain JSON dicts (as the stock ``temporal`` CLI sends) pass through unchanged. Processes that
encrypt histories use ``activities.payload_codec.encrypting_converter``: this converter plus the
tenant's payload codec (crypto and key I/O, which workflows must not import).
"""

from temporalio.contrib.pydantic import pydantic_data_converter

DATA_CONVERTER = pydantic_data_converter

__all__ = ["DATA_CONVERTER"]
