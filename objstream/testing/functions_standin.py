"""The OCI Functions part of the stand-in (objstream.testing.oci_standin serves it).

What the real SDK calls, over the stand-in's one HTTP server, with its signatures checked:

- GetFunction, `GET /<version>/functions/{functionId}`: the function as the management API
  describes it, `invokeEndpoint` being the stand-in's own URL; unknown → 404
  NotAuthorizedOrNotFound;
- InvokeFunction, `POST /<version>/functions/{functionId}/actions/invoke`: with
  `fn-invoke-type: detached` the answer is 202 at once and the body is delivered to the
  function's fdk unix socket in a background thread, with a fresh `Fn-Deadline` (now + the
  function's detached timeout) and a fresh `Fn-Call-Id`, as OCI does; with `sync` (or no
  header) it is delivered at once and the function's status and body are the answer.

`<version>` is any API version date (OCI's is 20181201; SDKs send theirs); requests are
recorded, and faults keyed, under `function_path` / `invoke_path` (version 20181201).
`deliveries` shows what each function received and answered; `wait_for_deliveries` lets a
test wait for a detached chain to finish.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from function.errors import FnServerError
from objstream.fn_server import call

if TYPE_CHECKING:
    from pathlib import Path

FUNCTIONS_VERSION = "20181201"
FUNCTIONS_BASE = f"/{FUNCTIONS_VERSION}/functions/"
APPLICATION = "ocid1.fnapp.oc1.iad.aaaaaaaastandinapplication"

_FUNCTIONS_PATH = re.compile(r"/\d{8}/functions/([^/]+)(/actions/invoke)?")


def function_path(function_ocid: str) -> str:
    """The recorded path of GetFunction requests for `function_ocid` (and its fault key)."""
    return f"{FUNCTIONS_BASE}{function_ocid}"


def invoke_path(function_ocid: str) -> str:
    """The recorded path of InvokeFunction requests for `function_ocid` (and its fault key)."""
    return f"{FUNCTIONS_BASE}{function_ocid}/actions/invoke"


def canonical_path(path: str) -> str:
    """A Functions API path under version 20181201, whatever version the client sent."""
    match = _FUNCTIONS_PATH.fullmatch(path)
    if match is None:
        return path
    return f"{FUNCTIONS_BASE}{match.group(1)}{match.group(2) or ''}"


def parse_functions_path(path: str) -> tuple[str, bool] | None:
    """(function OCID, is an invoke) for a Functions API path, else None."""
    match = _FUNCTIONS_PATH.fullmatch(path)
    if match is None:
        return None
    return match.group(1), match.group(2) is not None


@dataclass(frozen=True)
class RegisteredFunction:
    """A function the stand-in knows, and the fdk socket its invocations go to."""

    ocid: str
    socket_path: Path
    detached_timeout_seconds: float
    timeout_seconds: float
    compartment_id: str
    application_id: str
    display_name: str

    def describe(self, invoke_endpoint: str) -> dict[str, object]:
        """The Function resource as GetFunction returns it (oci.functions.models.Function)."""
        return {
            "id": self.ocid,
            "displayName": self.display_name,
            "lifecycleState": "ACTIVE",
            "applicationId": self.application_id,
            "compartmentId": self.compartment_id,
            "image": "iad.ocir.io/axaxnpcrorw5/objstream/objstream:0.2.0",
            "imageDigest": "sha256:" + "0" * 64,
            "shape": "GENERIC_X86",
            "memoryInMBs": 256,
            "config": {},
            "timeoutInSeconds": int(self.timeout_seconds),
            "detachedModeTimeoutInSeconds": int(self.detached_timeout_seconds),
            "invokeEndpoint": invoke_endpoint,
            "freeformTags": {},
            "definedTags": {},
            "timeCreated": "2026-11-01T09:00:00.000Z",
            "timeUpdated": "2026-11-01T09:00:00.000Z",
        }


@dataclass(frozen=True)
class Delivery:
    """One invocation delivered to a function's fdk socket, and what the function answered."""

    function_ocid: str
    detached: bool
    body: bytes
    call_id: str
    deadline: dt.datetime  # the Fn-Deadline sent (to within the call's own clock read)
    delivered_at: dt.datetime
    status: int | None  # the function's HTTP status; None if it could not be reached
    reply: bytes
    seconds: float
    error: str | None = None


class FunctionsService:
    """The registered functions, their deliveries, and the detached delivery threads."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._functions: dict[str, RegisteredFunction] = {}
        self._deliveries: list[Delivery] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def register(
        self,
        function_ocid: str,
        socket_path: Path,
        *,
        detached_timeout_seconds: float,
        timeout_seconds: float,
        compartment_id: str,
        application_id: str,
        display_name: str,
    ) -> None:
        with self._lock:
            self._functions[function_ocid] = RegisteredFunction(
                function_ocid,
                socket_path,
                detached_timeout_seconds,
                timeout_seconds,
                compartment_id,
                application_id,
                display_name,
            )

    def lookup(self, function_ocid: str) -> RegisteredFunction | None:
        with self._lock:
            return self._functions.get(function_ocid)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def wait_for_deliveries(self, count: int, timeout: float) -> list[Delivery]:
        """Block until `count` deliveries have finished (or `timeout`); return them all."""
        end = time.monotonic() + timeout
        with self._lock:
            while len(self._deliveries) < count:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self._deliveries)} of {count} deliveries within {timeout:g} s"
                    )
                self._lock.wait(left)
            return list(self._deliveries)

    def invoke_sync(self, function: RegisteredFunction, body: bytes) -> Delivery:
        return self._deliver(function, body, detached=False)

    def invoke_detached(self, function: RegisteredFunction, body: bytes) -> bool:
        """Start delivering in the background; False when the stand-in is closing."""
        thread = threading.Thread(
            target=self._deliver,
            args=(function, body),
            kwargs={"detached": True},
            name=f"detached-{function.ocid[-8:]}",
            daemon=True,
        )
        with self._lock:
            if self._stopping.is_set():
                return False
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return True

    def close(self) -> None:
        """Accept no more detached invocations; wait for those being delivered."""
        self._stopping.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join()

    def _deliver(self, function: RegisteredFunction, body: bytes, *, detached: bool) -> Delivery:
        timeout = function.detached_timeout_seconds if detached else function.timeout_seconds
        call_id = uuid.uuid4().hex
        now = dt.datetime.now(dt.UTC)
        deadline = now + dt.timedelta(seconds=timeout)
        started = time.monotonic()
        status: int | None = None
        reply, error = b"", None
        try:
            answer = call(function.socket_path, body, deadline_in=timeout, call_id=call_id)
            status, reply = answer.status, answer.body
        except (FnServerError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception:  # noqa: BLE001 - a delivery thread must record, not die silently
            error = traceback.format_exc()
        delivery = Delivery(
            function.ocid,
            detached,
            body,
            call_id,
            deadline,
            now,
            status,
            reply,
            time.monotonic() - started,
            error,
        )
        with self._lock:
            self._deliveries.append(delivery)
            self._lock.notify_all()
        return delivery


def sync_status(delivery: Delivery) -> HTTPStatus:
    """What a sync invoke answers: the function's status, or 502 if it was unreachable."""
    if delivery.status is None:
        return HTTPStatus.BAD_GATEWAY
    return HTTPStatus(delivery.status)
