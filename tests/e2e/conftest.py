"""What the end-to-end tests over fdk's socket share: the function as the image lays it out,
served by fdk, with the Object Storage stand-in and a topic of the module's own."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from objstream.testing.fdk_server import FdkServer
from objstream.testing.image import lay_out_image
from objstream.testing.oci_standin import OciStandIn
from objstream.testing.scenario import function_env

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from objstream.testing.brokers import Broker


def function_over_fdk(
    namespace: str, bucket: str, secret_id: str, *, partitions: int
) -> tuple[object, object, object, object]:
    """A test module's fixtures `installed`, `standin`, `stream` and `function`, module-scoped.

    `function` is fdk serving the laid-out `function/func.py` over its unix socket, signing as
    a resource principal to the stand-in (which holds `bucket` in `namespace`), its SASL token
    in the stand-in's Vault under `secret_id`, publishing to `stream` (a topic of `partitions`
    partitions) on the broker's SASL_SSL listener. Assign the four to those names in the module.
    """

    @pytest.fixture(scope="module")
    def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
        """The function's files laid out as the image has them under /python (the Dockerfile's
        COPY sources less .dockerignore); the run-time requirements come from this venv."""
        target = lay_out_image(tmp_path_factory.mktemp("image") / "python")
        assert (target / "function" / "func.py").is_file()
        assert (target / "kafka_client" / "publisher.py").is_file()
        return target

    @pytest.fixture(scope="module")
    def standin() -> Iterator[OciStandIn]:
        with OciStandIn() as running:
            running.create_bucket(namespace, bucket)
            yield running

    @pytest.fixture(scope="module")
    def stream(broker: Broker) -> str:
        return broker.create_topic(partitions=partitions)

    @pytest.fixture(scope="module")
    def function(
        installed: Path,
        standin: OciStandIn,
        broker: Broker,
        stream: str,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> Iterator[FdkServer]:
        work = tmp_path_factory.mktemp("fdk")
        env = function_env(
            standin,
            work / "oci",
            broker.sasl_ssl,
            stream,
            secret_id=secret_id,
            auth="resource_principal",
        )
        with FdkServer(
            installed / "function" / "func.py", env, work, pythonpath=str(installed)
        ) as server:
            yield server

    return installed, standin, stream, function
