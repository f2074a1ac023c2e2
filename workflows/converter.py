"""The data converter every client and worker uses: pydantic models as JSON payloads.

Plain JSON dicts (as the stock ``temporal`` CLI sends) pass through unchanged.
"""

from temporalio.contrib.pydantic import pydantic_data_converter

DATA_CONVERTER = pydantic_data_converter

__all__ = ["DATA_CONVERTER"]
