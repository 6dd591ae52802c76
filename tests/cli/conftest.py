"""Fixtures for the CLI tests: a user's environment, with or without the test broker."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.cli.running import clean_environment, stream_settings

if TYPE_CHECKING:
    from pathlib import Path

    from objstream.testing.brokers import Broker


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a user with nothing configured."""
    return clean_environment(tmp_path)


@pytest.fixture(scope="module")
def cli_topic(broker: Broker) -> str:
    """A topic with 3 partitions, like the demo's, shared by a test module."""
    return broker.create_topic(partitions=3)


@pytest.fixture
def stream_env(base_env: dict[str, str], broker: Broker, cli_topic: str) -> dict[str, str]:
    """A user configured for the test broker."""
    return {**base_env, **stream_settings(broker, cli_topic)}
