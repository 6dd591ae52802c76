"""OCI Streaming's limits, as numbers the core sizes records and messages by."""

from __future__ import annotations

from typing import Final

# OCI Streaming refuses messages, and produce requests, over 1 MB: librdkafka's own default
# request limit (message.max.bytes) of 1 000 000 bytes keeps both under it.
OCI_MAX_MESSAGE_BYTES: Final = 1_000_000
# Room kept in every message for the key and headers under the message limit: a record's
# value may be at most MAX_MESSAGE_BYTES less this.
HEADER_ROOM: Final = 16 * 1024
