"""The data converter every client and worker uses: pydantic models as JSON payloads.

Plain JSON dicts (as the stock ``temporal`` CLI sends) pass through unchanged. Processes that
encrypt histories attach a payload codec with :func:`with_payload_codec`; the codec itself lives
in ``activities.payload_codec`` (it does I/O and crypto, which workflows must not).
"""

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

DATA_CONVERTER = pydantic_data_converter


def with_payload_codec(codec: PayloadCodec) -> DataConverter:
    """:data:`DATA_CONVERTER` with ``codec``, and failures whose message and stack trace are payloads too.

    Without the encoded-attributes failure converter an error message (which may quote data)
    would sit in the history in clear even though every payload is encrypted.
    """
    return dataclasses.replace(
        DATA_CONVERTER,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


__all__ = ["DATA_CONVERTER", "with_payload_codec"]
