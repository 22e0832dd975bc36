"""What the brokers say about a topic: "not found" only when they say so; any other error
is asked again for a while, then named."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError

from lpscore.errors import InputError
from lpscore.stream import kafka


class Answers:
    """A client whose ``list_topics`` gives one answer after another (the last one for
    ever)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.asked = 0

    def list_topics(self, topic: str, timeout: float) -> SimpleNamespace:
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return SimpleNamespace(topics={} if answer is None else {topic: answer})


def meta(error: int | None = None, partitions: int = 0) -> SimpleNamespace:
    return SimpleNamespace(error=None if error is None else KafkaError(error),
                           partitions=dict.fromkeys(range(partitions)))


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka, "REACH_TIMEOUT_S", 0.3)
    monkeypatch.setattr(kafka, "_METADATA_RETRY_S", 0.01)


def test_a_leader_not_yet_elected_is_waited_for() -> None:
    client = Answers(meta(KafkaError.LEADER_NOT_AVAILABLE), meta(KafkaError.LEADER_NOT_AVAILABLE),
                     meta(partitions=3))
    assert kafka._partitions_of(client, "b:9092", "fix") == [0, 1, 2]   # type: ignore[arg-type]
    assert client.asked == 3


def test_an_error_that_stays_is_named_not_taken_for_a_missing_topic() -> None:
    client = Answers(meta(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    with pytest.raises(InputError, match="still report TOPIC_AUTHORIZATION_FAILED") as caught:
        kafka._partitions_of(client, "b:9092", "fix")   # type: ignore[arg-type]
    assert "not found" not in str(caught.value)
    assert client.asked > 1


@pytest.mark.parametrize("answer", [None, meta(KafkaError.UNKNOWN_TOPIC_OR_PART),
                                    meta(KafkaError._UNKNOWN_TOPIC), meta()])
def test_a_missing_topic_is_reported_at_once(answer: SimpleNamespace | None) -> None:
    client = Answers(answer)
    with pytest.raises(InputError, match="kafka topic fix: not found on the brokers"):
        kafka._partitions_of(client, "b:9092", "fix")   # type: ignore[arg-type]
    assert client.asked == 1
