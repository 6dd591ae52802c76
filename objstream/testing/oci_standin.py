"""A local, real-HTTP stand-in for OCI Object Storage, Vault Secrets, Functions and Monitoring.

`OciStandIn` is a ThreadingHTTPServer on 127.0.0.1 (ephemeral port) that the real `oci` SDK
talks to through `OBJECT_STORAGE_ENDPOINT` / `VAULT_SECRETS_ENDPOINT`. It checks every
request's OCI signature the way the services do (draft-cavage HTTP Signatures, rsa-sha256
over `date`, `(request-target)` and `host`, a date within five minutes) against:

- API keys registered with `register_api_key` (keyId `<tenancy>/<user>/<fingerprint>`), for
  `OCI_AUTH=config_file` with a config written by `write_oci_config`;
- resource principal session tokens (keyId `ST$<RPST>`) it forged itself in
  `resource_principal_env`: a JWT signed by the stand-in's own identity key whose `jwk`
  claim carries the session public key, as OCI's are. The SDK's v2.2 signer needs nothing
  but those environment variables, so no request leaves for anywhere but the stand-in.

Unsigned, tampered, stale or unknown-key requests get 401 and are counted in `rejections`.

Object Storage: `GET`/`HEAD /n/{namespace}/b/{bucket}/o/{name}` (name percent-decoded), with
ETag, Content-Length, Content-Type, Content-Encoding, opc-request-id; `Range` (`bytes=a-`,
`a-b`, `-n`) → 206; `If-Match` → 412; unknown bucket → 404 BucketNotFound, unknown object →
404 ObjectNotFound (codes in the error body of a GET; a HEAD answer has no body, as OCI's).
Objects come from bytes or from a file, which is streamed with sendfile.

Object Storage listing: `GET /n` → the namespace (`namespace`); `GET /n/{namespace}/b/{bucket}/o`
with `prefix`, `start`, `startAfter`, `end`, `limit`, `fields` → ListObjects' JSON, names in
order, at most `list_page_size` a page, `nextStartWith` when there are more.

Vault: `GET /20190301/secretbundles/{secretId}` → a secret bundle with BASE64 content;
unknown → 404 NotAuthorizedOrNotFound.

Functions (objstream.testing.functions_standin): GetFunction and InvokeFunction (detached and
sync) for functions registered with `register_function`, delivered to their fdk unix socket;
`deliveries`, `wait_for_deliveries`. POST bodies must be signed (`x-content-sha256`,
`content-length`, `content-type` in the signature, the digest matching the body), as OCI
requires.

Monitoring: `POST /20180401/metrics` (PostMetricData, MONITORING_ENDPOINT), whose signature
must also cover the body (`content-length`, `content-type`, `x-content-sha256`, checked
against the body), and which applies OCI's rules: the namespace matches `[a-z][a-z0-9_]*` and
does not start with `oci_` or `oracle_`, at most 50 metric streams per call, 1 to 20
dimensions with non-empty names and values, datapoints no older than 2 h and no more than
10 min ahead; else 400 InvalidParameter. Accepted calls are kept: `metric_posts`.

Faults are scripted per path (`fail_object`, `fail_secret`, `fail_function`, `fail_metrics`):
each request takes the next one of the queue: an error status (with `retry-after`), a delay,
a connection dropped after N body bytes (optionally after stalling). `requests`,
`request_count`, `last_headers` show what came.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, BinaryIO, Literal, Self
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from objstream.testing.functions_standin import (
    APPLICATION,
    Delivery,
    FunctionsService,
    canonical_path,
    function_path,
    invoke_path,
    parse_functions_path,
    sync_status,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path
    from types import TracebackType

REGION = "us-ashburn-1"
TENANCY = "ocid1.tenancy.oc1..aaaaaaaastandinstandinstandinstandinstandinstandinstandin"
COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaastandinstandinstandinstandinstandinstandinstand"
FUNCTION = "ocid1.fnfunc.oc1.iad.aaaaaaaastandinstandinstandinstandinstandinstandinstandinst"
NAMESPACE = "axaxnpcrorw5"
SECRETS_BASE = "/20190301/secretbundles/"
METRICS_PATH = "/20180401/metrics"
MAX_METRIC_STREAMS = 50  # per PostMetricData call
MAX_DIMENSIONS = 20
METRICS_MAX_AGE_SECONDS = 2 * 3600
METRICS_MAX_AHEAD_SECONDS = 10 * 60
_METRIC_NAMESPACE = re.compile(r"[a-z][a-z0-9_]*")
CLOCK_SKEW_SECONDS = 300  # OCI refuses signatures dated more than five minutes off
CHUNK_BYTES = 1024 * 1024
REQUIRED_SIGNED_HEADERS = frozenset({"date", "(request-target)", "host"})
# What OCI wants signed besides, for a request with a body.
REQUIRED_BODY_HEADERS = frozenset({"x-content-sha256", "content-length", "content-type"})
LIST_PAGE_SIZE = 1000  # ListObjects' own maximum

_OBJECT_PATH = re.compile(r"/n/([^/]+)/b/([^/]+)/o/(.+)")
_LIST_PATH = re.compile(r"/n/([^/]+)/b/([^/]+)/o/?")
_SIGNATURE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_ERROR_CODES = {
    400: "InvalidParameter",
    401: "NotAuthenticated",
    403: "NotAuthorized",
    404: "NotFound",
    409: "Conflict",
    412: "IfMatchFailed",
    416: "InvalidRange",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


# --- credentials ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKey:
    """A throwaway OCI API signing key and the user it belongs to."""

    private_key: rsa.RSAPrivateKey
    tenancy: str = TENANCY
    user: str = "ocid1.user.oc1..aaaaaaaastandinuser"

    @property
    def fingerprint(self) -> str:
        """The MD5 fingerprint of the DER public key, colon-separated, as OCI shows it."""
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        digest = hashlib.md5(der, usedforsecurity=False).hexdigest()
        return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

    @property
    def key_id(self) -> str:
        """The keyId the SDK signs with: `<tenancy>/<user>/<fingerprint>`."""
        return f"{self.tenancy}/{self.user}/{self.fingerprint}"

    @property
    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def make_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh RSA 2048 key, the size OCI requires."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_api_key(*, user: str = "ocid1.user.oc1..aaaaaaaastandinuser") -> ApiKey:
    """A throwaway API key for `OCI_AUTH=config_file` (register it with the stand-in)."""
    return ApiKey(make_rsa_key(), user=user)


def write_oci_config(
    directory: Path, key: ApiKey, *, region: str = REGION, profile: str = "DEFAULT"
) -> Path:
    """Write `directory/config` (an ~/.oci/config) and its key file; return the config path."""
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / "oci_api_key.pem"
    key_file.write_bytes(key.private_pem)
    key_file.chmod(0o600)
    config = directory / "config"
    config.write_text(
        f"[{profile}]\n"
        f"user={key.user}\n"
        f"fingerprint={key.fingerprint}\n"
        f"tenancy={key.tenancy}\n"
        f"region={region}\n"
        f"key_file={key_file}\n",
        encoding="utf-8",
    )
    return config


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_b64url(number: int) -> str:
    return _b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))


def _public_jwk(public_key: rsa.RSAPublicKey, kid: str) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {
        "kid": kid,
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "n": _int_b64url(numbers.n),
        "e": _int_b64url(numbers.e),
    }


def _public_key_from_jwk(jwk: Mapping[str, object]) -> rsa.RSAPublicKey:
    n, e = jwk.get("n"), jwk.get("e")
    if jwk.get("kty") != "RSA" or not isinstance(n, str) or not isinstance(e, str):
        raise ValueError("the jwk claim is not an RSA public key")
    modulus = int.from_bytes(_b64url_decode(n), "big")
    exponent = int.from_bytes(_b64url_decode(e), "big")
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def _sign_jwt(claims: Mapping[str, object], key: rsa.RSAPrivateKey) -> str:
    header = {"alg": "RS256", "typ": "JWT", "kid": "asw"}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _verify_jwt(token: str, key: rsa.RSAPublicKey) -> dict[str, object]:
    """The claims of an RS256 JWT signed by `key` and not expired; ValueError otherwise."""
    try:
        header_part, claims_part, signature_part = token.split(".")
        key.verify(
            _b64url_decode(signature_part),
            f"{header_part}.{claims_part}".encode("ascii"),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        claims = json.loads(_b64url_decode(claims_part))
    except (ValueError, InvalidSignature) as exc:
        raise ValueError(f"the session token is not signed by the stand-in: {exc!r}") from exc
    if not isinstance(claims, dict):
        raise TypeError("the session token's claims are not an object")
    expiry = claims.get("exp")
    if not isinstance(expiry, int) or expiry < time.time():
        raise ValueError("the session token has expired")
    return claims


# --- scripted faults and observations -------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What the stand-in does instead of (or while) answering one request.

    status: answer with this error status (and a JSON error body) instead of the resource.
    code: the error body's `code` (default: the usual one for the status).
    retry_after: seconds for a `retry-after` header on that error.
    delay: seconds to wait before answering at all.
    drop_after: send the headers and this many body bytes, then close the connection.
    stall: with drop_after, seconds to wait after those bytes before closing.
    """

    status: int | None = None
    code: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop_after: int | None = None
    stall: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in saw it."""

    method: str
    raw_path: str  # as sent: percent-encoded, with the query
    path: str  # percent-decoded, without the query
    headers: dict[str, str]  # lower-cased names
    authenticated: bool


@dataclass
class StoredObject:
    """An object the stand-in serves, from memory or from a file."""

    etag: str
    size: int
    content_type: str
    content_encoding: str | None
    data: bytes | None = None
    file: Path | None = None
    modified: float = field(default_factory=time.time)  # seconds since the epoch

    @property
    def last_modified(self) -> str:
        """The Last-Modified header."""
        return email.utils.formatdate(self.modified, usegmt=True)

    @property
    def time_modified(self) -> str:
        """ListObjects' `timeModified` (RFC 3339, milliseconds)."""
        when = dt.datetime.fromtimestamp(self.modified, dt.UTC)
        return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class StoredSecret:
    """A secret's current version."""

    content: str  # the bundle's `content`: base64 for contentType BASE64
    content_type: str
    version: int


# --- the server -----------------------------------------------------------------------------


class OciStandIn:
    """Object Storage, Vault Secrets and Functions on 127.0.0.1, verifying OCI signatures."""

    def __init__(
        self,
        *,
        clock_skew_seconds: int = CLOCK_SKEW_SECONDS,
        namespace: str = NAMESPACE,
        list_page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        self.clock_skew_seconds = clock_skew_seconds
        self.namespace = namespace  # what GetNamespace answers
        self.list_page_size = list_page_size
        self._functions = FunctionsService()
        self._identity_key = _process_key("identity")
        self._lock = threading.Lock()
        self._api_keys: dict[str, rsa.RSAPublicKey] = {}
        self._buckets: set[tuple[str, str]] = set()
        self._objects: dict[tuple[str, str, str], StoredObject] = {}
        self._secrets: dict[str, StoredSecret] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._requests: list[RecordedRequest] = []
        self._rejections: list[str] = []
        self._metric_posts: list[list[dict[str, object]]] = []
        self._server = _Server(self)
        self._thread: threading.Thread | None = None

    # lifecycle

    @property
    def url(self) -> str:
        """The endpoint for OBJECT_STORAGE_ENDPOINT, VAULT_SECRETS_ENDPOINT, FUNCTIONS_ENDPOINT
        and FUNCTION_INVOKE_ENDPOINT."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="oci-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, cut open connections, join every thread, close the socket.

        Detached deliveries under way finish first (a segment may still call the stand-in);
        no new one starts.
        """
        self._functions.close()
        self._server.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.cut_connections()
        self._server.server_close()  # joins the request threads

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # credentials

    def register_api_key(self, key: ApiKey) -> None:
        """Accept requests signed by `key` (keyId `<tenancy>/<user>/<fingerprint>`)."""
        with self._lock:
            self._api_keys[key.key_id] = key.private_key.public_key()

    def forge_session_token(
        self,
        session_key: rsa.RSAPrivateKey,
        *,
        lifetime_seconds: int = 10 * 365 * 24 * 3600,
        tenancy: str = TENANCY,
        compartment: str = COMPARTMENT,
        resource: str = FUNCTION,
    ) -> str:
        """A resource principal session token (RPST) the stand-in will accept."""
        now = int(time.time())
        claims = {
            "sub": resource,
            "iss": "authService.oracle.com",
            "aud": "oci",
            "iat": now,
            "exp": now + lifetime_seconds,
            "ttype": "res",
            "res_type": "fnfunc",
            "res_id": resource,
            "res_tenant": tenancy,
            "res_compartment": compartment,
            "jwk": json.dumps(_public_jwk(session_key.public_key(), kid=uuid.uuid4().hex)),
        }
        return _sign_jwt(claims, self._identity_key)

    def resource_principal_env(
        self, directory: Path, *, region: str = REGION, token_in_file: bool = False
    ) -> dict[str, str]:
        """The OCI_RESOURCE_PRINCIPAL_* variables OCI Functions sets (version 2.2).

        The session key is written to `directory`; the token is the variable's value, or
        with `token_in_file` a file path, as the SDK accepts both.
        """
        directory.mkdir(parents=True, exist_ok=True)
        session_key = _process_key("session")
        pem = directory / "rp_private.pem"
        pem.write_bytes(
            session_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        pem.chmod(0o600)
        token = self.forge_session_token(session_key)
        if token_in_file:
            token_file = directory / "rpst"
            token_file.write_text(token, encoding="ascii")
            token = str(token_file)
        return {
            "OCI_RESOURCE_PRINCIPAL_VERSION": "2.2",
            "OCI_RESOURCE_PRINCIPAL_RPST": token,
            "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM": str(pem),
            "OCI_RESOURCE_PRINCIPAL_REGION": region,
        }

    def function_env(
        self,
        directory: Path,
        *,
        auth: Literal["config_file", "resource_principal"] = "resource_principal",
    ) -> dict[str, str]:
        """Every variable a function run needs to use the stand-in with `auth`."""
        env = {
            "OCI_AUTH": auth,
            "OBJECT_STORAGE_ENDPOINT": self.url,
            "VAULT_SECRETS_ENDPOINT": self.url,
        }
        if auth == "resource_principal":
            env.update(self.resource_principal_env(directory))
        else:
            key = make_api_key()
            self.register_api_key(key)
            env["OCI_CONFIG_FILE"] = str(write_oci_config(directory, key))
            env["OCI_CONFIG_PROFILE"] = "DEFAULT"
        return env

    # Object Storage

    def create_bucket(self, namespace: str, bucket: str) -> None:
        """Make an (empty) bucket exist, so missing objects are ObjectNotFound."""
        with self._lock:
            self._buckets.add((namespace, bucket))

    def put_object(
        self,
        namespace: str,
        bucket: str,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        content_encoding: str | None = None,
        etag: str | None = None,
    ) -> str:
        """Store an object from bytes (replacing any); return its (new) ETag."""
        stored = StoredObject(
            etag=etag or str(uuid.uuid4()),
            size=len(data),
            content_type=content_type,
            content_encoding=content_encoding,
            data=bytes(data),
        )
        return self._store(namespace, bucket, name, stored)

    def put_object_file(
        self,
        namespace: str,
        bucket: str,
        name: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        content_encoding: str | None = None,
        etag: str | None = None,
    ) -> str:
        """Store an object served from `path` (read per request, never held in memory)."""
        stored = StoredObject(
            etag=etag or str(uuid.uuid4()),
            size=path.stat().st_size,
            content_type=content_type,
            content_encoding=content_encoding,
            file=path,
        )
        return self._store(namespace, bucket, name, stored)

    def _store(self, namespace: str, bucket: str, name: str, stored: StoredObject) -> str:
        with self._lock:
            self._buckets.add((namespace, bucket))
            self._objects[namespace, bucket, name] = stored
        return stored.etag

    def set_modified(self, namespace: str, bucket: str, name: str, when: float) -> None:
        """Set an object's Last-Modified/timeModified (seconds since the epoch)."""
        with self._lock:
            self._objects[namespace, bucket, name].modified = when

    def delete_object(self, namespace: str, bucket: str, name: str) -> None:
        """Remove an object (its bucket stays)."""
        with self._lock:
            self._objects.pop((namespace, bucket, name), None)

    def fail_object(self, namespace: str, bucket: str, name: str, *faults: Fault) -> None:
        """Queue faults for the next requests to this object, one per request."""
        self.add_faults(object_path(namespace, bucket, name), faults)

    # Vault

    def put_secret(
        self, secret_id: str, value: str | bytes, *, content_type: str = "BASE64"
    ) -> None:
        """Store (or rotate to) a secret whose content is `value`; base64-encoded for BASE64."""
        raw = value.encode() if isinstance(value, str) else value
        if content_type == "BASE64":
            content = base64.b64encode(raw).decode("ascii")
        else:
            content = raw.decode()
        with self._lock:
            previous = self._secrets.get(secret_id)
            version = previous.version + 1 if previous else 1
            self._secrets[secret_id] = StoredSecret(content, content_type, version)

    def fail_secret(self, secret_id: str, *faults: Fault) -> None:
        """Queue faults for the next requests for this secret, one per request."""
        self.add_faults(secret_path(secret_id), faults)

    # Functions

    def register_function(
        self,
        function_ocid: str,
        socket_path: Path,
        *,
        detached_timeout_seconds: float = 3600,
        timeout_seconds: float = 300,
        compartment_id: str = COMPARTMENT,
        application_id: str = APPLICATION,
        display_name: str = "objstream",
    ) -> None:
        """Make `function_ocid` exist; its invocations go to the fdk socket `socket_path`."""
        self._functions.register(
            function_ocid,
            socket_path,
            detached_timeout_seconds=detached_timeout_seconds,
            timeout_seconds=timeout_seconds,
            compartment_id=compartment_id,
            application_id=application_id,
            display_name=display_name,
        )

    def fail_function(self, function_ocid: str, *faults: Fault, lookup: bool = False) -> None:
        """Queue faults for the next invokes of the function (GetFunction with `lookup`)."""
        path = function_path(function_ocid) if lookup else invoke_path(function_ocid)
        self.add_faults(path, faults)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every invocation delivered to a function so far, in the order they finished."""
        return self._functions.deliveries

    def wait_for_deliveries(self, count: int, timeout: float = 60.0) -> list[Delivery]:
        """Wait until `count` deliveries have finished; TimeoutError after `timeout` s."""
        return self._functions.wait_for_deliveries(count, timeout)

    # Monitoring

    @property
    def metric_posts(self) -> list[list[dict[str, object]]]:
        """The `metricData` of every accepted PostMetricData call, in order."""
        with self._lock:
            return [list(post) for post in self._metric_posts]

    def fail_metrics(self, *faults: Fault) -> None:
        """Queue faults for the next PostMetricData calls, one per call."""
        self.add_faults(METRICS_PATH, faults)

    def _keep_metrics(self, metric_data: list[dict[str, object]]) -> None:
        with self._lock:
            self._metric_posts.append(metric_data)

    # faults and observations

    def add_faults(self, path: str, faults: Iterable[Fault]) -> None:
        """Queue faults for a decoded request path (see `object_path`, `secret_path`)."""
        with self._lock:
            self._faults.setdefault(path, deque()).extend(faults)

    def clear_faults(self, path: str | None = None) -> None:
        """Drop the faults still queued for `path` (for every path without one)."""
        with self._lock:
            if path is None:
                self._faults.clear()
            else:
                self._faults.pop(path, None)

    def pending_faults(self, path: str) -> int:
        """How many queued faults requests to `path` have not consumed yet."""
        with self._lock:
            return len(self._faults.get(path, ()))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests for one decoded path."""
        return [request for request in self.requests if request.path == path]

    def request_count(self, path: str) -> int:
        """How many requests came for one decoded path."""
        return len(self.requests_to(path))

    def last_headers(self, path: str) -> dict[str, str]:
        """The headers of the latest request for `path` (lower-cased names)."""
        matching = self.requests_to(path)
        if not matching:
            raise LookupError(f"no request for {path}")
        return matching[-1].headers

    @property
    def rejections(self) -> list[str]:
        """Why each rejected (401) request was refused."""
        with self._lock:
            return list(self._rejections)

    @property
    def rejected(self) -> int:
        """How many requests failed authentication."""
        return len(self.rejections)

    # used by the handler

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _reject(self, reason: str) -> None:
        with self._lock:
            self._rejections.append(reason)

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            return queue.popleft() if queue else None

    def _lookup_object(
        self, namespace: str, bucket: str, name: str
    ) -> StoredObject | Literal["no bucket"] | None:
        with self._lock:
            if (namespace, bucket) not in self._buckets:
                return "no bucket"
            return self._objects.get((namespace, bucket, name))

    def _list(self, namespace: str, bucket: str) -> list[tuple[str, StoredObject]] | None:
        """A bucket's objects in name order (UTF-8 bytes, as Object Storage sorts), or None."""
        with self._lock:
            if (namespace, bucket) not in self._buckets:
                return None
            found = [
                (name, stored)
                for (ns, b, name), stored in self._objects.items()
                if (ns, b) == (namespace, bucket)
            ]
        return sorted(found, key=lambda item: item[0].encode("utf-8", "surrogatepass"))

    def _lookup_secret(self, secret_id: str) -> StoredSecret | None:
        with self._lock:
            return self._secrets.get(secret_id)

    def _public_key_for(self, key_id: str) -> rsa.RSAPublicKey:
        """The key a request with `key_id` must be signed with; ValueError if none."""
        if key_id.startswith("ST$"):
            claims = _verify_jwt(key_id[3:], self._identity_key.public_key())
            jwk = claims.get("jwk")
            if not isinstance(jwk, str):
                raise ValueError("the session token has no jwk claim")
            parsed = json.loads(jwk)
            if not isinstance(parsed, dict):
                raise TypeError("the session token's jwk claim is not an object")
            return _public_key_from_jwk(parsed)
        with self._lock:
            key = self._api_keys.get(key_id)
        if key is None:
            raise ValueError(f"unknown keyId {key_id!r}")
        return key


def object_path(namespace: str, bucket: str, name: str) -> str:
    """The decoded request path of an object, as `requests_to` and faults key it."""
    return f"/n/{namespace}/b/{bucket}/o/{name}"


def secret_path(secret_id: str) -> str:
    """The decoded request path of a secret bundle."""
    return f"{SECRETS_BASE}{secret_id}"


_PROCESS_KEYS: dict[str, rsa.RSAPrivateKey] = {}
_PROCESS_KEYS_LOCK = threading.Lock()


def _process_key(role: str) -> rsa.RSAPrivateKey:
    """One key per role for the whole test process: RSA generation costs ~0.1 s a key.

    "identity" signs the session tokens the stand-in forges; "session" is the resource
    principal's session key (each token still gets its own claims and expiry).
    """
    with _PROCESS_KEYS_LOCK:
        if role not in _PROCESS_KEYS:
            _PROCESS_KEYS[role] = make_rsa_key()
        return _PROCESS_KEYS[role]


class _Unauthenticated(Exception):
    """Why a request's signature was refused."""


class _Server(ThreadingHTTPServer):
    # Non-daemon request threads are the ones server_close() joins: nothing outlives close().
    daemon_threads = False
    block_on_close = True

    def __init__(self, standin: OciStandIn) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.standin = standin
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def cut_connections(self) -> None:
        """Shut down kept-alive connections so their handler threads see EOF and end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-answer is expected (drops, timeouts): stay quiet."""
        del request, client_address


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real services
    timeout = 30  # an idle kept-alive connection ends on its own
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Silence the per-request stderr line."""
        del format, args

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_PUT(self) -> None:
        self._refuse_method()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self._serve(head=False, body=self.rfile.read(length) if length else b"")

    def do_DELETE(self) -> None:
        self._refuse_method()

    @property
    def _standin(self) -> OciStandIn:
        return self.server.standin

    def _refuse_method(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "MethodNotAllowed", "the stand-in only reads")

    def _serve(self, *, head: bool, body: bytes | None = None) -> None:
        raw_path = self.path
        path = canonical_path(unquote(urlsplit(raw_path).path))
        headers = {name.lower(): value for name, value in self.headers.items()}
        problem = self._authentication_problem(headers, raw_path, body)
        self._standin._record(
            RecordedRequest(self.command, raw_path, path, headers, authenticated=problem is None)
        )
        if problem is not None:
            self._standin._reject(f"{self.command} {path}: {problem}")
            self._error(HTTPStatus.UNAUTHORIZED, "NotAuthenticated", problem)
            return
        fault = self._standin._next_fault(path)
        if fault is not None and fault.delay and self.server.stopping.wait(fault.delay):
            return
        if fault is not None and fault.status is not None:
            extra = {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after else {}
            code = fault.code or _ERROR_CODES.get(fault.status, "Error")
            self._error(HTTPStatus(fault.status), code, f"injected {fault.status}", extra)
            return
        try:
            if body is not None:
                self._route_post(path, body)
            else:
                self._route(urlsplit(raw_path).path, path, head=head, fault=fault)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _route_post(self, path: str, body: bytes) -> None:
        if path == METRICS_PATH:
            self._post_metrics(body)
            return
        target = parse_functions_path(path)
        if target is None or not target[1]:
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "MethodNotAllowed", f"no POST on {path}")
            return
        self._invoke(target[0], body)

    def _post_metrics(self, body: bytes) -> None:
        try:
            document = json.loads(body)
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "InvalidParameter", "the body is not JSON")
            return
        metric_data = document.get("metricData") if isinstance(document, dict) else None
        problem = metric_data_problem(metric_data, time.time())
        if problem is not None:
            self._error(HTTPStatus.BAD_REQUEST, "InvalidParameter", problem)
            return
        assert isinstance(metric_data, list)
        self._standin._keep_metrics(metric_data)
        self._json(HTTPStatus.OK, {"failedMetricsCount": 0, "failedMetrics": []})

    def _route(self, encoded: str, path: str, *, head: bool, fault: Fault | None) -> None:
        functions = parse_functions_path(path)
        listing = _LIST_PATH.fullmatch(encoded)
        match = _OBJECT_PATH.fullmatch(encoded)
        if functions is not None and not functions[1]:
            self._get_function(functions[0], head=head)
        elif path in {"/n", "/n/"}:
            self._json(HTTPStatus.OK, self._standin.namespace, head=head)
        elif listing:
            namespace, bucket = (unquote(part) for part in listing.groups())
            self._list_objects(namespace, bucket, head=head)
        elif match:
            namespace, bucket, name = (unquote(part) for part in match.groups())
            self._object(namespace, bucket, name, head=head, fault=fault)
        elif path.startswith(SECRETS_BASE) and "/" not in path[len(SECRETS_BASE) :]:
            self._secret(path[len(SECRETS_BASE) :], head=head)
        else:
            self._error(HTTPStatus.NOT_FOUND, "NotFound", f"no such API: {path}")

    # authentication

    def _authentication_problem(
        self, headers: Mapping[str, str], raw_path: str, body: bytes | None
    ) -> str | None:
        """Why the request's OCI signature is not acceptable, or None if it is."""
        try:
            self._verify_signature(headers, raw_path)
            if body is not None:
                self._verify_body(headers, body)
        except _Unauthenticated as exc:
            return str(exc)
        return None

    def _verify_body(self, headers: Mapping[str, str], body: bytes) -> None:
        """A body's headers are signed and its digest is the body's (the signature covers it)."""
        params = dict(_SIGNATURE_PARAM.findall(headers.get("authorization", "")))
        missing = REQUIRED_BODY_HEADERS - set(params.get("headers", "").split())
        if missing:
            raise _Unauthenticated(f"the signature does not cover the body's {sorted(missing)}")
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
        if headers.get("x-content-sha256") != digest:
            raise _Unauthenticated("x-content-sha256 is not the body's SHA-256")
        if headers.get("content-length") != str(len(body)):
            raise _Unauthenticated("content-length is not the body's length")

    def _verify_signature(self, headers: Mapping[str, str], raw_path: str) -> None:
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Signature "):
            raise _Unauthenticated("no OCI signature (authorization header)")
        params = dict(_SIGNATURE_PARAM.findall(authorization))
        if params.get("algorithm") != "rsa-sha256":
            raise _Unauthenticated(f"algorithm {params.get('algorithm')!r} is not rsa-sha256")
        signed = params.get("headers", "date").split()
        missing = REQUIRED_SIGNED_HEADERS - set(signed)
        if missing:
            raise _Unauthenticated(f"the signature does not cover {sorted(missing)}")
        self._check_date(headers.get("date") or headers.get("x-date"))
        lines = []
        for name in signed:
            if name == "(request-target)":
                lines.append(f"(request-target): {self.command.lower()} {raw_path}")
            elif name in headers:
                lines.append(f"{name}: {headers[name]}")
            else:
                raise _Unauthenticated(f"signed header {name!r} is not in the request")
        try:
            public_key = self._standin._public_key_for(params.get("keyId", ""))
            public_key.verify(
                base64.b64decode(params.get("signature", ""), validate=True),
                "\n".join(lines).encode("utf-8"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise _Unauthenticated("the signature does not match the request") from None
        except (ValueError, TypeError) as exc:  # unknown key, bad token, undecodable signature
            raise _Unauthenticated(str(exc)) from None

    def _check_date(self, value: str | None) -> None:
        if not value:
            raise _Unauthenticated("no date header")
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            raise _Unauthenticated(f"unreadable date {value!r}") from None
        skew = abs(time.time() - when)
        if skew > self._standin.clock_skew_seconds:
            raise _Unauthenticated(f"date {value!r} is {skew:.0f}s off")

    # Object Storage

    def _object(
        self, namespace: str, bucket: str, name: str, *, head: bool, fault: Fault | None
    ) -> None:
        stored = self._standin._lookup_object(namespace, bucket, name)
        if stored == "no bucket":
            self._error(
                HTTPStatus.NOT_FOUND,
                "BucketNotFound",
                f"Either the bucket named '{bucket}' does not exist in the namespace "
                f"'{namespace}' or you are not authorized to access it",
            )
            return
        if stored is None:
            self._error(
                HTTPStatus.NOT_FOUND,
                "ObjectNotFound",
                f"The object '{name}' was not found in the bucket '{bucket}'",
            )
            return
        if not self._preconditions_hold(stored):
            return
        byte_range = self._byte_range(stored)
        if byte_range is None:
            return
        start, end = byte_range
        partial = "range" in self.headers
        self.send_response(HTTPStatus.PARTIAL_CONTENT if partial else HTTPStatus.OK)
        self._common_headers(stored)
        self.send_header("content-length", str(end - start))
        if partial:
            self.send_header("content-range", f"bytes {start}-{end - 1}/{stored.size}")
        self.end_headers()
        if head:
            return
        limit = end
        if fault is not None and fault.drop_after is not None:
            limit = min(end, start + fault.drop_after)
        self._send_body(stored, start, limit)
        if limit < end and fault is not None:  # the scripted drop: stall if asked, hang up
            if fault.stall:
                self.server.stopping.wait(fault.stall)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def _preconditions_hold(self, stored: StoredObject) -> bool:
        """If-Match / If-None-Match; answers 412 or 304 itself and says False."""
        if_match = self.headers.get("if-match")
        if if_match and if_match.strip('"') not in {stored.etag, "*"}:
            self._error(
                HTTPStatus.PRECONDITION_FAILED,
                "IfMatchFailed",
                f"The If-Match header ({if_match}) does not match the entity tag",
            )
            return False
        if_none_match = self.headers.get("if-none-match")
        if if_none_match and if_none_match.strip('"') in {stored.etag, "*"}:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self._common_headers(stored)
            self.send_header("content-length", "0")
            self.end_headers()
            return False
        return True

    def _byte_range(self, stored: StoredObject) -> tuple[int, int] | None:
        """[start, end) to send; answers 416 itself and says None for a bad Range."""
        range_header = self.headers.get("range")
        if not range_header:
            return 0, stored.size
        parsed = _parse_range(range_header, stored.size)
        if parsed is None:
            self._error(
                HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                f"the range {range_header!r} cannot be satisfied",
                {"content-range": f"bytes */{stored.size}"},
            )
        return parsed

    def _common_headers(self, stored: StoredObject) -> None:
        self.send_header("etag", stored.etag)
        self.send_header("content-type", stored.content_type)
        if stored.content_encoding:
            self.send_header("content-encoding", stored.content_encoding)
        self.send_header("accept-ranges", "bytes")
        self.send_header("last-modified", stored.last_modified)
        self.send_header("opc-request-id", _request_id())

    def _send_body(self, stored: StoredObject, start: int, end: int) -> None:
        if stored.data is not None:
            view = memoryview(stored.data)
            for offset in range(start, end, CHUNK_BYTES):
                self.wfile.write(view[offset : min(offset + CHUNK_BYTES, end)])
            return
        assert stored.file is not None
        with stored.file.open("rb") as file:
            _send_file(self.connection, file, start, end - start)

    def _list_objects(self, namespace: str, bucket: str, *, head: bool) -> None:
        """ListObjects: names in order from `start`/after `startAfter`, one page at a time."""
        query = {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query).items()}
        listed = self._standin._list(namespace, bucket)
        if listed is None:
            self._error(
                HTTPStatus.NOT_FOUND,
                "BucketNotFound",
                f"Either the bucket named '{bucket}' does not exist in the namespace "
                f"'{namespace}' or you are not authorized to access it",
            )
            return
        prefix, start = query.get("prefix", ""), query.get("start")
        after, end = query.get("startAfter"), query.get("end")
        limit = min(int(query.get("limit", LIST_PAGE_SIZE)), self._standin.list_page_size)
        fields = set(query.get("fields", "name").split(",")) | {"name"}
        chosen = [
            (name, stored)
            for name, stored in listed
            if name.startswith(prefix)
            and (start is None or name >= start)
            and (after is None or name > after)
            and (end is None or name < end)
        ]
        page, rest = chosen[:limit], chosen[limit:]
        document: dict[str, object] = {
            "objects": [_summary(name, stored, fields) for name, stored in page],
            "prefixes": [],
        }
        if rest:
            document["nextStartWith"] = rest[0][0]
        self._json(HTTPStatus.OK, document, head=head)

    # Functions

    def _get_function(self, function_ocid: str, *, head: bool) -> None:
        function = self._standin._functions.lookup(function_ocid)
        if function is None:
            self._not_authorized_or_not_found()
            return
        self._json(HTTPStatus.OK, function.describe(self._standin.url), head=head)

    def _invoke(self, function_ocid: str, body: bytes) -> None:
        function = self._standin._functions.lookup(function_ocid)
        if function is None:
            self._not_authorized_or_not_found()
            return
        invoke_type = (self.headers.get("fn-invoke-type") or "sync").lower()
        if invoke_type not in {"sync", "detached"}:
            self._error(HTTPStatus.BAD_REQUEST, "InvalidParameter", "fn-invoke-type")
            return
        if invoke_type == "detached":
            if not self._standin._functions.invoke_detached(function, body):
                self._error(HTTPStatus.SERVICE_UNAVAILABLE, "ServiceUnavailable", "closing")
                return
            self._json(HTTPStatus.ACCEPTED, {})
            return
        delivery = self._standin._functions.invoke_sync(function, body)
        self.send_response(sync_status(delivery))
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(delivery.reply)))
        self.send_header("opc-request-id", _request_id())
        self.send_header("fn-call-id", delivery.call_id)
        self.end_headers()
        self.wfile.write(delivery.reply)

    def _not_authorized_or_not_found(self) -> None:
        self._error(
            HTTPStatus.NOT_FOUND,
            "NotAuthorizedOrNotFound",
            "Authorization failed or requested resource not found.",
        )

    # Vault

    def _secret(self, secret_id: str, *, head: bool) -> None:
        secret = self._standin._lookup_secret(secret_id)
        if secret is None:
            self._not_authorized_or_not_found()
            return
        bundle = {
            "secretId": secret_id,
            "versionNumber": secret.version,
            "versionName": None,
            "stages": ["CURRENT", "LATEST"],
            "timeCreated": "2026-11-01T09:00:00.000Z",
            "timeOfDeletion": None,
            "timeOfExpiry": None,
            "metadata": None,
            "secretBundleContent": {"contentType": secret.content_type, "content": secret.content},
        }
        self._json(HTTPStatus.OK, bundle, head=head)

    # responses

    def _error(
        self,
        status: HTTPStatus,
        code: str,
        message: str,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._json(status, {"code": code, "message": message}, extra_headers=extra_headers)

    def _json(
        self,
        status: HTTPStatus,
        document: object,
        *,
        head: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("opc-request-id", _request_id())
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        # A HEAD answer never has a body, errors included (OCI's HeadObject 404 has none, so
        # the SDK sees no error code); one written anyway would be read as the next answer.
        if not head and self.command != "HEAD":
            self.wfile.write(body)


def _summary(name: str, stored: StoredObject, fields: set[str]) -> dict[str, object]:
    """An ObjectSummary with the fields asked for (`name` always)."""
    every: dict[str, object] = {
        "name": name,
        "size": stored.size,
        "etag": stored.etag,
        "timeModified": stored.time_modified,
        "timeCreated": stored.time_modified,
        "md5": base64.b64encode(
            hashlib.md5(stored.data or b"", usedforsecurity=False).digest()
        ).decode("ascii"),
        "storageTier": "Standard",
        "archivalState": None,
    }
    return {key: value for key, value in every.items() if key in fields}


def metric_data_problem(metric_data: object, now: float) -> str | None:
    """Why OCI Monitoring would refuse a PostMetricData `metricData` list, or None."""
    if not isinstance(metric_data, list) or not metric_data:
        return "metricData must be a non-empty list"
    if len(metric_data) > MAX_METRIC_STREAMS:
        return f"{len(metric_data)} metric streams in one call; at most {MAX_METRIC_STREAMS}"
    for stream in metric_data:
        problem = (
            _metric_stream_problem(stream, now) if isinstance(stream, dict) else "not an object"
        )
        if problem is not None:
            name = stream.get("name") if isinstance(stream, dict) else None
            return f"metric {name!r}: {problem}"
    return None


def _metric_stream_problem(stream: Mapping[str, object], now: float) -> str | None:  # noqa: PLR0911 - one answer per rule of the service
    namespace = stream.get("namespace")
    if not isinstance(namespace, str) or not _METRIC_NAMESPACE.fullmatch(namespace):
        return f"namespace {namespace!r} must match ^[a-z][a-z0-9_]*$"
    if namespace.startswith(("oci_", "oracle_")):
        return f"namespace {namespace!r} starts with a reserved prefix (oci_, oracle_)"
    compartment = stream.get("compartmentId")
    if not isinstance(compartment, str) or not compartment.startswith("ocid1."):
        return f"compartmentId {compartment!r} is not an OCID"
    if not isinstance(stream.get("name"), str) or not stream.get("name"):
        return "the name is empty"
    dimensions = stream.get("dimensions")
    if not isinstance(dimensions, dict) or not 1 <= len(dimensions) <= MAX_DIMENSIONS:
        return f"1 to {MAX_DIMENSIONS} dimensions are required"
    if not all(isinstance(v, str) and k and v for k, v in dimensions.items()):
        return f"dimension names and values must be non-empty strings: {dimensions}"
    datapoints = stream.get("datapoints")
    if not isinstance(datapoints, list) or not datapoints:
        return "datapoints must be a non-empty list"
    for point in datapoints:
        problem = _datapoint_problem(point, now)
        if problem is not None:
            return problem
    return None


def _datapoint_problem(point: object, now: float) -> str | None:
    if not isinstance(point, dict) or not isinstance(point.get("value"), int | float):
        return f"datapoint {point!r} has no numeric value"
    stamp = point.get("timestamp")
    try:
        when = dt.datetime.fromisoformat(str(stamp)).timestamp()
    except ValueError:
        return f"timestamp {stamp!r} is not RFC 3339"
    if when < now - METRICS_MAX_AGE_SECONDS:
        return f"timestamp {stamp} is more than 2 hours old"
    if when > now + METRICS_MAX_AHEAD_SECONDS:
        return f"timestamp {stamp} is more than 10 minutes ahead"
    return None


def _send_file(connection: socket.socket, file: BinaryIO, offset: int, count: int) -> None:
    """Send `count` bytes of `file` from `offset`: sendfile, else 1 MiB writes."""
    if count <= 0:
        return
    try:
        connection.sendfile(file, offset=offset, count=count)
    except (AttributeError, NotImplementedError):  # no os.sendfile on this platform
        file.seek(offset)
        remaining = count
        while remaining:
            chunk = file.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            connection.sendall(chunk)
            remaining -= len(chunk)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """`bytes=a-b`, `bytes=a-` or `bytes=-n` → [start, end) within `size`; None if unsatisfiable."""
    match = _RANGE.fullmatch(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.groups()
    if not first:  # suffix: the last n bytes
        length = int(last)
        return (max(0, size - length), size) if length and size else None
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        return None
    return start, end


def _request_id() -> str:
    return uuid.uuid4().hex.upper()
