"""Topics on librdkafka's mock cluster (the ``kafka`` fixture of conftest.py)."""

from __future__ import annotations

import uuid


def fresh_topic(kafka: str, name: str) -> str:
    """A new topic, created by asking for its metadata (the mock cluster auto-creates it,
    4 partitions)."""
    from confluent_kafka import Producer  # noqa: PLC0415

    topic = f"{name}-{uuid.uuid4().hex[:6]}"
    Producer({"bootstrap.servers": kafka}).list_topics(topic, timeout=10)
    return topic
