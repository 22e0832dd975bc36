"""Kafka topics of raw FIX messages: the bus source and the replay producer (confluent-kafka).

    source = KafkaSource.from_uri("kafka://broker:9092/fix", group="lpscore")

One record per message: the value is the FIX message, the key its symbol, the header
``capture_ns`` the capture time (lpscore.stream.replay writes them so). Each partition is a
lane of lpscore.stream.runner: when the group gives this worker a partition, the lane's
checkpoint is loaded and the partition read from the checkpointed offset; when a rebalance
takes it away, the lane is checkpointed first. Offsets live in the checkpoint with the
state, never only in Kafka: that is what makes the effect exactly-once (docs/stream.md).

URI: ``kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?key=value...]``; query keys are passed to
librdkafka as they are (``security.protocol=SSL``...).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl, urlsplit

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from lpscore.errors import InputError
from lpscore.quarantine import QuarantinedRecord
from lpscore.stream.decode import Record
from lpscore.stream.replay import LogMessage

__all__ = ["KafkaLines", "KafkaSource", "parse_kafka_uri", "produce_messages"]


def parse_kafka_uri(uri: str) -> tuple[str, str, dict[str, str]]:
    """``kafka://h:p,h2:p2/topic?k=v`` -> (bootstrap servers, topic, librdkafka settings)."""
    parts = urlsplit(uri)
    topic = parts.path.strip("/")
    if parts.scheme != "kafka" or not parts.netloc or not topic or "/" in topic:
        raise InputError(f"{uri}: use kafka://HOST:PORT[,HOST:PORT]/TOPIC[?setting=value]")
    return parts.netloc, topic, dict(parse_qsl(parts.query))


REACH_TIMEOUT_S = 10.0
"""How long a source or the replay waits for the brokers' first answer before it stops
with an error (a wrong address or brokers down): librdkafka itself would retry for ever."""


class TopicMeta(Protocol):
    """What lpscore reads of a topic's metadata (confluent_kafka's ``TopicMetadata``)."""

    error: KafkaError | None
    partitions: Mapping[int, object]


def reach(client: Consumer | Producer, bootstrap: str, topic: str | None = None
          ) -> dict[str, TopicMeta]:
    """The cluster's topics (only ``topic``, if given) by name; InputError, saying what to
    check, when the brokers do not answer within ``REACH_TIMEOUT_S``."""
    try:
        return cast("dict[str, TopicMeta]",
                    client.list_topics(topic, timeout=REACH_TIMEOUT_S).topics)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        why = error.str() if isinstance(error, KafkaError) else str(error)
        raise InputError(f"kafka://{bootstrap}: the brokers did not answer within "
                         f"{REACH_TIMEOUT_S:g} s ({why}); check the address and that they "
                         "are running") from exc


FETCH_WAIT_MS = 5
"""How long a fetch may wait on the broker for records (librdkafka's ``fetch.wait.max.ms``,
500 ms by default): a record waits up to this long between the bus and the worker when
the broker answers a fetch only when the wait is over, as librdkafka's mock cluster does
(p50 277 ms and p99 496 ms from produce to consume at 1,000 fills/s with the default;
3.5 ms and 37 ms with 5 ms; benchmarks/RESULTS.md). Idle consumers fetch more often for
it. The topic URI's query overrides it (``?fetch.wait.max.ms=100``)."""


class KafkaSource:
    """A consumer-group member reading a topic's partitions as lanes."""

    def __init__(self, bootstrap: str, topic: str, group: str,
                 settings: Mapping[str, str] | None = None,
                 dead_letter: str | None = None) -> None:
        self.topic = topic
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": group,
            "enable.auto.commit": False, "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500, "fetch.wait.max.ms": FETCH_WAIT_MS,
            **(settings or {})})
        # a wrong address or topic would wait for ever (with --until-idle too: a worker is
        # never idle before a partition is assigned to it)
        _partitions_of(self._consumer, bootstrap, topic)
        self._producer = (Producer({"bootstrap.servers": bootstrap, **(settings or {})})
                          if dead_letter else None)
        self._dead_letter = dead_letter
        self._next: dict[int, int] = {}
        self._open: Callable[[str], Mapping[str, Any] | None] | None = None
        self._close: Callable[[str], None] | None = None
        self.errors: list[str] = []

    @classmethod
    def from_uri(cls, uri: str, group: str, dead_letter: str | None = None) -> KafkaSource:
        bootstrap, topic, settings = parse_kafka_uri(uri)
        return cls(bootstrap, topic, group, settings, dead_letter)

    def lane(self, partition: int) -> str:
        return f"kafka:{self.topic}/{partition}"

    def start(self, open_lane: Callable[[str], Mapping[str, Any] | None],
              close_lane: Callable[[str], None]) -> None:
        self._open, self._close = open_lane, close_lane
        self._consumer.subscribe([self.topic], on_assign=self._on_assign,
                                 on_revoke=self._on_revoke, on_lost=self._on_revoke)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._open is not None
        for tp in partitions:
            position = self._open(self.lane(tp.partition))
            tp.offset = int(position["offset"]) if position else OFFSET_BEGINNING
            self._next[tp.partition] = tp.offset if position else 0
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._close is not None
        for tp in partitions:
            self._close(self.lane(tp.partition))
            self._next.pop(tp.partition, None)
        consumer.unassign()

    def poll(self, max_records: int, timeout_s: float) -> dict[str, list[Record]]:
        """Up to ``max_records`` records, returned as soon as there are any: what the
        consumer holds now, else the first to come within ``timeout_s`` and what came with
        it (``consume(n, timeout)`` alone would wait for all ``n`` or the whole timeout)."""
        out: dict[str, list[Record]] = {}
        messages = self._consumer.consume(max_records, 0)
        if not messages and timeout_s > 0:
            messages = self._consumer.consume(1, timeout_s)
            if messages and max_records > 1:
                messages += self._consumer.consume(max_records - 1, 0)
        # per partition: its lane and list, or None for a partition revoked meanwhile
        lanes: dict[int, tuple[str, list[Record]] | None] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    self.errors.append(str(error))
                continue
            partition, offset = message.partition(), message.offset()
            if partition is None or offset is None:
                continue
            if partition not in lanes:
                name = self.lane(partition)
                lanes[partition] = ((name, out.setdefault(name, []))
                                    if partition in self._next else None)
            lane = lanes[partition]
            if lane is None:
                continue  # a record fetched before its partition was revoked
            capture = None
            headers = message.headers()      # a list of pairs from a consumer
            if headers:
                for header, value in (headers.items() if isinstance(headers, dict)
                                      else headers):
                    if header == "capture_ns":
                        capture = value
            lane[1].append(Record(lane[0], offset, message.value() or b"",
                                  int(capture) if capture else None))
            self._next[partition] = offset + 1
        return out

    def position(self, lane: str) -> dict[str, Any]:
        partition = int(lane.rpartition("/")[2])
        return {"offset": self._next.get(partition, 0)}

    def lag(self) -> int:
        total = 0
        for partition, offset in self._next.items():
            try:
                _, high = self._consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=0.2, cached=True)
            except Exception:
                continue
            if high is not None and high >= 0:
                total += max(high - offset, 0)
        return total

    def dead_letter(self, records: Iterable[QuarantinedRecord]) -> None:
        """Copy quarantined records to the dead-letter topic, as JSON."""
        if self._producer is None or self._dead_letter is None:
            return
        for record in records:
            self._producer.produce(self._dead_letter, json.dumps(asdict(record)).encode())
        self._producer.flush(5.0)

    def close(self) -> None:
        self._consumer.close()
        if self._producer is not None:
            self._producer.flush(5.0)


def produce_messages(messages: Iterable[LogMessage], uri: str) -> int:
    """Produce replayed messages (lpscore.stream.replay) to the topic of ``uri``."""
    bootstrap, topic, settings = parse_kafka_uri(uri)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "enable.idempotence": True, **settings})
    partitions = len(_partitions_of(producer, bootstrap, topic))
    n = 0
    for message in messages:
        headers: list[tuple[str, str | bytes | None]] = (
            [("capture_ns", str(message.capture_ns).encode())]
            if message.capture_ns is not None else [])
        if message.key is None:
            targets: list[int | None] = list(range(partitions)) if message.admin else [0]
        else:
            targets = [None]
        for partition in targets:
            kwargs: dict[str, Any] = {} if partition is None else {"partition": partition}
            while True:
                try:
                    producer.produce(topic, message.value, key=message.key, headers=headers,
                                     **kwargs)
                    break
                except BufferError:
                    producer.poll(0.05)
            n += 1
        producer.poll(0)
    left = producer.flush(30.0)
    if left:
        raise InputError(f"{left} messages not delivered to {uri} within 30 s")
    return n


def _partitions_of(client: Consumer | Producer, bootstrap: str, topic: str) -> list[int]:
    """The topic's partitions, in order; InputError when the brokers do not answer
    (``reach``) or do not have it (producing one record first creates it on brokers that
    create topics on first use, such as librdkafka's mock cluster). Any other error the
    brokers report for the topic (a leader not yet elected, a topic being created) is
    asked again for up to ``REACH_TIMEOUT_S``, then named as it is: it is not "not found"."""
    deadline = time.monotonic() + REACH_TIMEOUT_S
    while True:
        found = reach(client, bootstrap, topic).get(topic)
        error = None if found is None else found.error
        if found is not None and error is None and found.partitions:
            return sorted(found.partitions)
        if error is None or error.code() in _NOT_FOUND:
            why = "" if error is None else f" ({error.str()})"
            raise InputError(f"kafka topic {topic}: not found on the brokers{why}; create "
                             "it first")
        if time.monotonic() >= deadline:
            raise InputError(f"kafka topic {topic}: the brokers at {bootstrap} still report "
                             f"{error.name()} ({error.str()}) for it after "
                             f"{REACH_TIMEOUT_S:g} s; check the topic's state and this "
                             "client's rights to it")
        time.sleep(_METADATA_RETRY_S)


_NOT_FOUND = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC)
_METADATA_RETRY_S = 0.25
"""How long ``_partitions_of`` waits before asking again about a topic the brokers report
an error for."""


class KafkaLines:
    """Every partition of a topic read from its beginning, one record per line, without a
    consumer group (each worker reads all of it; nothing is committed): the quote source of
    lpscore.stream.quotes. Each partition is read in order; partitions are not ordered
    against each other, which the processor allows for (it tracks quotes per symbol)."""

    def __init__(self, bootstrap: str, topic: str,
                 settings: Mapping[str, str] | None = None) -> None:
        self.topic = topic
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": "lpscore-quotes",
            "enable.auto.commit": False, "enable.auto.offset.store": False,
            **(settings or {})})
        self._consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING)
                               for p in _partitions_of(self._consumer, bootstrap, topic)])
        self.errors: list[str] = []

    @classmethod
    def from_uri(cls, uri: str) -> KafkaLines:
        bootstrap, topic, settings = parse_kafka_uri(uri)
        return cls(bootstrap, topic, settings)

    def read(self, max_records: int = 100_000) -> list[Record]:
        out: list[Record] = []
        for msg in self._consumer.consume(num_messages=max_records, timeout=0.05):
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    self.errors.append(str(error))
                continue
            value = msg.value() or b""
            out.append(Record(f"kafka:{self.topic}/{msg.partition()}", msg.offset() or 0,
                              value.rstrip(b"\r\n")))
        return out

    def lag(self) -> int:
        """Records not read yet, over every partition."""
        total = 0
        for tp in self._consumer.position(self._consumer.assignment()):
            _, high = self._consumer.get_watermark_offsets(tp, cached=True)
            total += max(high - tp.offset, 0) if tp.offset >= 0 else high
        return total

    def close(self) -> None:
        self._consumer.close()
