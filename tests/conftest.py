"""Fixtures shared by every test folder: the real broker for this session."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from objstream.testing.brokers import Broker, running_broker

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """A real Kafka-API broker for the whole session (see tests/support/brokers.py)."""
    with running_broker(tmp_path_factory.mktemp("broker")) as running:
        yield running


@pytest.fixture
def topic(broker: Broker) -> str:
    """A fresh single-partition topic."""
    return broker.create_topic()
