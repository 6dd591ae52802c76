"""The Functions invoke adapter against the stand-in: the real oci SDK, real HTTP, signatures.

Deliveries go to real fdk servers over their unix sockets: an echo function that answers
with the Fn headers it was given (so a fresh deadline and call id are seen by the function
itself), and, once, the objstream function with the real broker.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

import oci
import pytest
import requests

from function.adapters.auth import OciSigning
from function.adapters.functions import OciFunctionInvoker, make_function_invoker
from function.adapters.oci_sdk import build_client, oci_config_and_signer
from function.core.deadline import Deadline
from function.errors import DeadlineExceeded, HandOffError
from function.settings import Settings
from objstream.fn_server import FUNC_PY, PACKAGE_ROOT
from objstream.testing.fdk_server import FdkServer
from objstream.testing.functions_standin import function_path, invoke_path
from objstream.testing.oci_standin import Fault, OciStandIn, make_api_key, write_oci_config
from objstream.testing.scenario import oci_event, read_stream

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from objstream.testing.brokers import Broker

ECHO = "ocid1.fnfunc.oc1.iad.aaaaaaaaechoechoechoechoechoechoechoechoecho"
OBJSTREAM = "ocid1.fnfunc.oc1.iad.aaaaaaaaobjstreamobjstreamobjstreamobjstr"
UNKNOWN = "ocid1.fnfunc.oc1.iad.aaaaaaaanosuchfunctionnosuchfunctionnosuch"
DETACHED_TIMEOUT = 900
NAMESPACE, BUCKET = "axaxnpcrorw5", "uploads"

ECHO_FUNC = """
import json, time
from fdk import response

def handler(ctx, data=None):
    body = data.getvalue() if hasattr(data, "getvalue") else (data.read() if data else b"")
    if body.startswith(b"sleep:"):
        time.sleep(float(body[6:]))
    seen = {"deadline": ctx.Deadline(), "callId": ctx.CallID(), "bytes": len(body)}
    return response.Response(ctx, response_data=json.dumps(seen),
                             headers={"Content-Type": "application/json"})
"""


@pytest.fixture(scope="module")
def standin() -> Iterator[OciStandIn]:
    with OciStandIn() as running:
        running.create_bucket(NAMESPACE, BUCKET)
        yield running


@pytest.fixture(scope="module")
def echo(standin: OciStandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FdkServer]:
    work = tmp_path_factory.mktemp("echo")
    func_py = work / "echo_func.py"
    func_py.write_text(ECHO_FUNC, encoding="utf-8")
    with FdkServer(func_py, {}, work) as server:
        standin.register_function(
            ECHO, server.socket_path, detached_timeout_seconds=DETACHED_TIMEOUT
        )
        yield server


@pytest.fixture(scope="module")
def api_key_env(standin: OciStandIn, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A workstation's settings: an API key in an OCI config, every endpoint the stand-in's."""
    return {
        **standin.function_env(tmp_path_factory.mktemp("oci"), auth="config_file"),
        "STREAM_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "STREAM_TOPIC": "unused",
        "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
        "FUNCTIONS_ENDPOINT": standin.url,
    }


def _signing(env: dict[str, str]) -> tuple[dict[str, Any], Any]:
    return oci_config_and_signer(Settings.from_env(env))


def _invoker(
    standin: OciStandIn, env: dict[str, str], ocid: str = ECHO, **kw: Any
) -> OciFunctionInvoker:
    config, signer = _signing(env)
    return OciFunctionInvoker(
        config, signer, ocid, management_endpoint=standin.url, retry_base_sleep=0.05, **kw
    )


def _deliveries_after(standin: OciStandIn, before: int, count: int) -> list[Any]:
    return standin.wait_for_deliveries(before + count, timeout=30)[before:]


def test_a_detached_invoke_is_accepted_at_once_and_delivered_with_a_fresh_deadline(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str]
) -> None:
    before = len(standin.deliveries)
    deadline = Deadline.in_seconds(5)
    with _invoker(standin, api_key_env) as invoker:
        started = time.monotonic()
        invoker.invoke_detached(b"sleep:1.5", deadline)
        accepted_in = time.monotonic() - started
    assert accepted_in < 1.0  # 202 before the function has even finished
    [delivery] = _deliveries_after(standin, before, 1)
    assert delivery.detached
    assert delivery.body == b"sleep:1.5"
    assert delivery.status == 200, delivery.error
    assert delivery.seconds >= 1.5
    seen = json.loads(delivery.reply)
    assert seen["callId"] == delivery.call_id
    function_deadline = dt.datetime.fromisoformat(seen["deadline"])
    # The function's own deadline: the detached timeout from delivery, not the caller's 5 s.
    expected = delivery.delivered_at + dt.timedelta(seconds=DETACHED_TIMEOUT)
    assert abs((function_deadline - expected).total_seconds()) < 2
    assert standin.last_headers(invoke_path(ECHO))["fn-invoke-type"] == "detached"
    assert standin.rejected == 0, standin.rejections


def test_each_delivery_gets_its_own_call_id(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str]
) -> None:
    before = len(standin.deliveries)
    with _invoker(standin, api_key_env) as invoker:
        for _ in range(3):
            invoker.invoke_detached(b"{}", Deadline.in_seconds(5))
    delivered = _deliveries_after(standin, before, 3)
    assert len({d.call_id for d in delivered}) == 3
    assert {json.loads(d.reply)["callId"] for d in delivered} == {d.call_id for d in delivered}


def test_the_invoke_endpoint_is_looked_up_once_and_cached(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str]
) -> None:
    lookups = standin.request_count(function_path(ECHO))
    invokes = standin.request_count(invoke_path(ECHO))
    with _invoker(standin, api_key_env) as invoker:
        invoker.invoke_detached(b"{}", Deadline.in_seconds(5))
        invoker.invoke_detached(b"{}", Deadline.in_seconds(5))
        assert invoker.endpoint(Deadline.in_seconds(5)) == standin.url
    assert standin.request_count(function_path(ECHO)) == lookups + 1
    assert standin.request_count(invoke_path(ECHO)) == invokes + 2


def test_function_invoke_endpoint_skips_the_lookup(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str]
) -> None:
    env = {**api_key_env, "FUNCTION_OCID": ECHO, "FUNCTION_INVOKE_ENDPOINT": standin.url}
    settings = Settings.from_env({k: v for k, v in env.items() if k != "FUNCTIONS_ENDPOINT"})
    lookups = standin.request_count(function_path(ECHO))
    invoker = make_function_invoker(settings, OciSigning(settings))
    assert isinstance(invoker, OciFunctionInvoker)
    before = len(standin.deliveries)
    invoker.invoke_detached(b"{}", Deadline.in_seconds(5))
    _deliveries_after(standin, before, 1)
    assert standin.request_count(function_path(ECHO)) == lookups


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"CONTINUATION": "off", "FUNCTION_OCID": ECHO}, id="continuation-off"),
        pytest.param({}, id="no-function-ocid"),
    ],
)
def test_no_invoker_when_the_function_does_not_continue(
    api_key_env: dict[str, str], env: dict[str, str]
) -> None:
    settings = Settings.from_env({**api_key_env, **env})
    assert make_function_invoker(settings, OciSigning(settings)) is None


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_refused_invoke_names_the_iam_policy(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str], status: int
) -> None:
    invoker = _invoker(standin, api_key_env, invoke_endpoint=standin.url)
    standin.fail_function(ECHO, Fault(status=status))
    started = time.monotonic()
    with pytest.raises(HandOffError) as caught:
        invoker.invoke_detached(b"{}", Deadline.in_seconds(3))
    assert time.monotonic() - started < 1.0  # not retried: IAM will not change in a second
    message = str(caught.value)
    assert f"{status} " in message
    assert "use fn-invocation" in message
    assert f"target.function.id = '{ECHO}'" in message
    assert standin.pending_faults(invoke_path(ECHO)) == 0


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_refused_lookup_names_read_fn_function_and_the_endpoint_key(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str], status: int
) -> None:
    invoker = _invoker(standin, api_key_env)
    standin.fail_function(ECHO, Fault(status=status), lookup=True)
    invokes = standin.request_count(invoke_path(ECHO))
    with pytest.raises(HandOffError) as caught:
        invoker.invoke_detached(b"{}", Deadline.in_seconds(3))
    message = str(caught.value)
    assert "read fn-function" in message
    assert "FUNCTION_INVOKE_ENDPOINT" in message
    assert ECHO in message
    assert standin.request_count(invoke_path(ECHO)) == invokes


def test_an_unavailable_service_is_retried_then_answered_before_a_short_deadline(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str]
) -> None:
    invoker = _invoker(standin, api_key_env, invoke_endpoint=standin.url)
    standin.fail_function(ECHO, *[Fault(status=503)] * 100)
    invokes = standin.request_count(invoke_path(ECHO))
    started = time.monotonic()
    try:
        with pytest.raises(HandOffError) as caught:
            invoker.invoke_detached(b"{}", Deadline.in_seconds(2))
    finally:
        standin.clear_faults(invoke_path(ECHO))
    assert time.monotonic() - started < 2.0
    assert standin.request_count(invoke_path(ECHO)) - invokes > 1  # retried
    message = str(caught.value)
    assert "503" in message
    assert standin.url in message
    assert "service gateway" in message


def test_a_throttled_invoke_succeeds_on_retry(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str]
) -> None:
    invoker = _invoker(standin, api_key_env, invoke_endpoint=standin.url)
    standin.fail_function(ECHO, Fault(status=429, retry_after=0.2))
    before = len(standin.deliveries)
    invoker.invoke_detached(b"{}", Deadline.in_seconds(5))
    _deliveries_after(standin, before, 1)


def test_a_silent_service_is_a_deadline_exceeded_at_the_deadline(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str]
) -> None:
    invoker = _invoker(standin, api_key_env, invoke_endpoint=standin.url)
    standin.fail_function(ECHO, Fault(delay=5))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        invoker.invoke_detached(b"{}", Deadline.in_seconds(1))
    assert time.monotonic() - started < 1.5


def test_an_unreachable_endpoint_names_it_and_the_network_path(
    api_key_env: dict[str, str], standin: OciStandIn
) -> None:
    invoker = _invoker(standin, api_key_env, invoke_endpoint="http://127.0.0.1:9")
    with pytest.raises(HandOffError) as caught:
        invoker.invoke_detached(b"{}", Deadline.in_seconds(2))
    assert "http://127.0.0.1:9" in str(caught.value)
    assert "service gateway" in str(caught.value)


@pytest.mark.parametrize("with_endpoint", [False, True], ids=["looked-up", "configured"])
def test_an_unknown_function_is_not_found_naming_it(
    standin: OciStandIn, api_key_env: dict[str, str], *, with_endpoint: bool
) -> None:
    endpoint = standin.url if with_endpoint else None
    invoker = _invoker(standin, api_key_env, UNKNOWN, invoke_endpoint=endpoint)
    with pytest.raises(HandOffError) as caught:
        invoker.invoke_detached(b"{}", Deadline.in_seconds(3))
    assert "404 NotAuthorizedOrNotFound" in str(caught.value)
    assert UNKNOWN in str(caught.value)


def test_a_request_signed_with_an_unknown_key_is_refused(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str], tmp_path: Path
) -> None:
    stranger = make_api_key(user="ocid1.user.oc1..aaaaaaaastranger")  # never registered
    env = {**api_key_env, "OCI_CONFIG_FILE": str(write_oci_config(tmp_path, stranger))}
    invoker = _invoker(standin, env, invoke_endpoint=standin.url)
    rejected, before = standin.rejected, len(standin.deliveries)
    with pytest.raises(HandOffError) as caught:
        invoker.invoke_detached(b"{}", Deadline.in_seconds(3))
    assert "401" in str(caught.value)
    assert standin.rejected == rejected + 1
    assert "unknown keyId" in standin.rejections[-1]
    time.sleep(0.2)
    assert len(standin.deliveries) == before


def test_resource_principal_signing_invokes_as_in_production(
    standin: OciStandIn,
    echo: FdkServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rp = standin.resource_principal_env(tmp_path / "rp")
    for key, value in rp.items():
        monkeypatch.setenv(key, value)
    env = {
        **rp,
        "OCI_AUTH": "resource_principal",
        "STREAM_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "STREAM_TOPIC": "unused",
        "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
        "FN_FN_ID": ECHO,  # what OCI Functions sets: the function continues with itself
        "FUNCTIONS_ENDPOINT": standin.url,
    }
    settings = Settings.from_env(env)
    invoker = make_function_invoker(settings, OciSigning(settings))
    assert invoker is not None
    rejected, before = standin.rejected, len(standin.deliveries)
    with caplog.at_level(logging.INFO, logger="function.adapters.functions"):
        invoker.invoke_detached(b'{"hello": 1}', Deadline.in_seconds(5))
    _deliveries_after(standin, before, 1)
    assert standin.rejected == rejected
    signature = standin.last_headers(invoke_path(ECHO))["authorization"]
    assert 'keyId="ST$' in signature
    [handed] = [r for r in caplog.records if r.getMessage().startswith("continuation handed")]
    assert handed.__dict__["function_ocid"] == ECHO
    assert handed.__dict__["invoke_endpoint"] == standin.url
    assert handed.__dict__["body_bytes"] == len(b'{"hello": 1}')
    assert handed.__dict__["opc_request_id"]
    assert "hello" not in handed.getMessage()


def test_a_sync_invoke_answers_with_the_functions_reply(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str]
) -> None:
    config, signer = _signing(api_key_env)
    client = build_client(
        oci.functions.FunctionsInvokeClient,
        config,
        signer,
        endpoint=standin.url,
        endpoint_key="FUNCTION_INVOKE_ENDPOINT",
        service="Functions invoke",
    )
    response = client.invoke_function(ECHO, invoke_function_body=b"abc", fn_invoke_type="sync")
    assert response.status == 200
    assert json.loads(response.data.content)["bytes"] == 3


@pytest.mark.broker
def test_a_detached_event_reaches_the_broker_through_the_objstream_function(
    standin: OciStandIn,
    broker: Broker,
    api_key_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    topic = broker.create_topic()
    work = tmp_path_factory.mktemp("fdk")
    env = {
        **standin.function_env(work / "oci", auth="resource_principal"),
        "STREAM_BOOTSTRAP_SERVERS": broker.plaintext.bootstrap_servers,
        "STREAM_TOPIC": topic,
        "STREAM_SECURITY_PROTOCOL": "PLAINTEXT",
        "CONTINUATION": "off",
    }
    name = f"detached/{uuid.uuid4().hex[:8]}/orders.csv"
    etag = standin.put_object(NAMESPACE, BUCKET, name, b"id,n\r\n1,a\r\n2,b\r\n3,c\r\n")
    with FdkServer(FUNC_PY, env, work, pythonpath=str(PACKAGE_ROOT)) as server:
        standin.register_function(OBJSTREAM, server.socket_path)
        before = len(standin.deliveries)
        invoker = _invoker(standin, api_key_env, OBJSTREAM)
        invoker.invoke_detached(oci_event(NAMESPACE, BUCKET, name, etag), Deadline.in_seconds(5))
        [delivery] = _deliveries_after(standin, before, 1)
        assert delivery.status == 200, (delivery.reply, server.log())
    assert json.loads(delivery.reply)["status"] == "published"
    messages = read_stream(broker, topic, subject=name)
    assert [m.type for m in messages] == [
        "com.oraclecloud.objectstorage.createobject",
        "objstream.record",
        "objstream.record",
        "objstream.record",
        "objstream.object.published",
    ]
    assert [m.json()["id"] for m in messages[1:-1]] == ["1", "2", "3"]


def test_a_body_changed_after_signing_is_refused_and_never_delivered(
    standin: OciStandIn, echo: FdkServer, api_key_env: dict[str, str]
) -> None:
    _, signer = _signing(api_key_env)
    request = requests.Request(
        "POST",
        f"{standin.url}/20181201/functions/{ECHO}/actions/invoke",
        data=b'{"segment": 1}',
        headers={"fn-invoke-type": "detached", "content-type": "application/json"},
        auth=signer,
    ).prepare()
    request.body = b'{"segment": 9}'  # same length, another digest
    rejected, before = standin.rejected, len(standin.deliveries)
    with requests.Session() as session:
        answer = session.send(request, timeout=5)
    assert answer.status_code == 401
    assert standin.rejected == rejected + 1
    assert "x-content-sha256" in standin.rejections[-1]
    time.sleep(0.2)
    assert len(standin.deliveries) == before
