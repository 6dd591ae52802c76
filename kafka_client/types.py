"""The message shapes kafka_client speaks, with no Kafka client imported (cheap to import)."""

from __future__ import annotations

from typing import TypeAlias

# A message's headers in order, as librdkafka takes them: name, then bytes or text (or None).
Headers: TypeAlias = list[tuple[str, str | bytes | None]]
