"""`objstream check`: is the configuration complete, and can it reach everything it names?

One line per check, in the order a connection is made, so the first failure is the one to
fix: settings → bootstrap (TCP) → TLS (handshake and certificate) → Vault secret (the token) →
SASL (a metadata request with the credentials) → topic(s) → Object Storage. A check whose
prerequisite failed is skipped rather than failing with a confusing second error.

Every network step is bounded (seconds, not librdkafka's minutes). The auth token is used,
never shown: no line contains it, whatever the broker or Vault answers.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from function.errors import ConfigError, ObjstreamError, StreamUnavailable
from function.settings import OciAuth, Settings
from kafka_client.config import producer_config
from kafka_client.errors import ProducerConfigError
from objstream.local_objects import local_objects_dir
from objstream.stream_reader import (
    ClientErrors,
    auth_token,
    make_consumer,
    read_topic_metadata,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from rich.console import Console

_T = TypeVar("_T")

CONNECT_TIMEOUT = 5.0
METADATA_TIMEOUT = 10.0
OCI_TIMEOUT = 15.0

_SYMBOLS = {"ok": ("✓", "green"), "fail": ("✗", "bold red"), "skip": ("-", "yellow")}
_WORDS = {"ok": "ok  ", "fail": "FAIL", "skip": "skip"}


@dataclass
class Report:
    """Prints each check as it completes and remembers whether any failed."""

    console: Console
    fancy: bool
    failures: list[str] = field(default_factory=list)

    def line(self, state: str, name: str, detail: str) -> None:
        """One check's result."""
        if state == "fail":
            self.failures.append(name)
        if self.fancy:
            symbol, style = _SYMBOLS[state]
            self.console.print(
                f"[{style}]{symbol}[/] [bold]{name}[/]: {_escape(detail)}", soft_wrap=True
            )
        else:
            self.console.print(f"{_WORDS[state]}  {name}: {_escape(detail)}", soft_wrap=True)

    def ok(self, name: str, detail: str) -> None:
        """A check passed."""
        self.line("ok", name, detail)

    def fail(self, name: str, detail: str) -> None:
        """A check failed."""
        self.line("fail", name, detail)

    def skip(self, name: str, detail: str) -> None:
        """A check was not run, and why."""
        self.line("skip", name, detail)


def _escape(text: str) -> str:
    # Broker and SDK messages may contain [brackets] that rich would read as markup.
    return text.replace("[", r"\[")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One bootstrap server."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def bootstrap_endpoints(servers: str) -> list[Endpoint]:
    """`host:port[,…]` (optionally `proto://` prefixed, IPv6 in brackets) → endpoints."""
    endpoints = []
    for item in servers.split(","):
        entry = item.strip().rpartition("://")[2]
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(
                f"STREAM_BOOTSTRAP_SERVERS entry {item.strip()!r} is not host:port "
                "(OCI: cell-1.streaming.<region>.oci.oraclecloud.com:9092)"
            )
        endpoints.append(Endpoint(host.strip("[]"), int(port)))
    if not endpoints:
        raise ConfigError("STREAM_BOOTSTRAP_SERVERS names no host:port")
    return endpoints


def run_checks(env: Mapping[str, str], console: Console, *, fancy: bool) -> bool:
    """Run every check, printing as it goes; True when none failed."""
    report = Report(console, fancy)
    settings = _check_settings(env, report)
    if settings is None:
        return False
    reachable = _check_bootstrap(settings, report)
    if reachable is not None:
        tls_ok = _check_tls(settings, reachable, report)
    else:
        tls_ok = False
        if settings.security_protocol.uses_tls:
            report.skip("TLS", "skipped: the bootstrap servers are unreachable")
    token_ok, token = _check_token(settings, report)
    if not reachable:
        _skip_broker(settings, report, "the bootstrap servers are unreachable")
    elif not tls_ok:
        _skip_broker(settings, report, "TLS failed")
    elif not token_ok:
        _skip_broker(settings, report, "no auth token")
    else:
        _check_broker(settings, token, report)
    _check_objects(settings, local_objects_dir(env), report)
    if report.failures:
        count = len(report.failures)
        console.print(
            f"{count} check{'s' if count > 1 else ''} failed: {', '.join(report.failures)}"
        )
        return False
    console.print("all checks passed")
    return True


def _check_settings(env: Mapping[str, str], report: Report) -> Settings | None:
    try:
        settings = Settings.from_env(env)
        bootstrap_endpoints(settings.bootstrap_servers)
        # The producer configuration is built as the function builds it (KAFKA_* included);
        # a stand-in password is enough to validate it.
        stand_in = "x" if settings.security_protocol.uses_sasl else None
        producer_config(settings.connection(stand_in))
    except ConfigError as exc:
        report.fail("settings", str(exc))
        return None
    except ProducerConfigError as exc:
        report.fail("settings", str(exc))
        return None
    protocol = settings.security_protocol.value
    parts = [f"topic {settings.topic}", protocol]
    if settings.security_protocol.uses_sasl:
        parts.append(f"{settings.sasl_mechanism.value} as {settings.username}")
        parts.append(f"token from {settings.password_source}")
    if settings.dlq_topic != settings.topic:
        parts.append(f"dead letters to {settings.dlq_topic}")
    report.ok("settings", ", ".join(parts))
    return settings


def _check_bootstrap(settings: Settings, report: Report) -> Endpoint | None:
    """TCP to each bootstrap server; returns one that answered."""
    answered: list[str] = []
    failed: list[str] = []
    first: Endpoint | None = None
    for endpoint in bootstrap_endpoints(settings.bootstrap_servers):
        started = time.monotonic()
        try:
            with socket.create_connection((endpoint.host, endpoint.port), CONNECT_TIMEOUT):
                pass
        except OSError as exc:
            failed.append(f"{endpoint}: {_socket_error(exc)}")
            continue
        answered.append(f"{endpoint} ({(time.monotonic() - started) * 1000:.0f} ms)")
        first = first or endpoint
    if first is None:
        report.fail(
            "bootstrap",
            f"cannot connect to {'; '.join(failed)}. Check STREAM_BOOTSTRAP_SERVERS and the "
            "network path (VPN, security lists, a private endpoint's DNS)",
        )
        return None
    detail = "TCP connection to " + ", ".join(answered)
    if failed:
        detail += f"; but not to {'; '.join(failed)}"
    report.ok("bootstrap", detail)
    return first


def _socket_error(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"the host name does not resolve ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT:.0f} s"
    return exc.strerror or type(exc).__name__


def _check_tls(settings: Settings, endpoint: Endpoint, report: Report) -> bool:
    if not settings.security_protocol.uses_tls:
        report.skip("TLS", f"not used with STREAM_SECURITY_PROTOCOL={settings.security_protocol}")
        return True
    properties = settings.kafka_properties
    verify = properties.get("enable.ssl.certificate.verification", "true").lower() != "false"
    check_name = properties.get("ssl.endpoint.identification.algorithm", "https").lower() != "none"
    ca = settings.ssl_ca_location
    context = ssl.create_default_context(cafile=str(Path(ca).expanduser()) if ca else None)
    context.check_hostname = verify and check_name
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    trusted = f"STREAM_SSL_CA_LOCATION={ca}" if ca else "the system CAs"
    try:
        with (
            socket.create_connection((endpoint.host, endpoint.port), CONNECT_TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=endpoint.host) as tls,
        ):
            certificate: Mapping[str, Any] = tls.getpeercert() or {}
            version = tls.version()
    except ssl.SSLCertVerificationError as exc:
        report.fail(
            "TLS",
            f"the certificate of {endpoint} is not trusted: {exc.verify_message}. It was checked "
            f"against {trusted} and the host name {endpoint.host}; check STREAM_SSL_CA_LOCATION "
            "and that STREAM_BOOTSTRAP_SERVERS uses the name on the certificate",
        )
        return False
    except ssl.SSLError as exc:
        report.fail(
            "TLS",
            f"no TLS handshake with {endpoint}: {exc.reason or exc}. Is it a TLS port? "
            f"STREAM_SECURITY_PROTOCOL={settings.security_protocol} expects one",
        )
        return False
    except OSError as exc:
        report.fail("TLS", f"the TLS handshake with {endpoint} failed: {_socket_error(exc)}")
        return False
    if not verify:
        report.ok("TLS", f"{version} with {endpoint}; certificate NOT verified (by configuration)")
        return True
    report.ok(
        "TLS",
        f"{version} with {endpoint}; certificate for {_name(certificate, 'subject')} issued by "
        f"{_name(certificate, 'issuer')}, valid until {certificate.get('notAfter', '?')}, "
        f"verified against {trusted}",
    )
    return True


def _name(certificate: Mapping[str, Any], part: str) -> str:
    """A certificate's subject or issuer, as its common name (or organisation)."""
    fields = {key: value for rdn in certificate.get(part, ()) for key, value in rdn}
    return str(fields.get("commonName") or fields.get("organizationName") or "?")


def _check_token(settings: Settings, report: Report) -> tuple[bool, str | None]:
    """The auth token: from the environment, or read from the Vault secret."""
    if not settings.security_protocol.uses_sasl:
        return True, None
    if settings.auth_token is not None:
        report.skip("Vault secret", "not used: the token comes from STREAM_AUTH_TOKEN")
        return True, settings.auth_token
    name = "Vault secret"
    try:
        token = _bounded(lambda: auth_token(settings), OCI_TIMEOUT, f"reading {name}")
    except ObjstreamError as exc:
        report.fail(name, str(exc))
        return False, None
    report.ok(name, f"{settings.auth_token_secret_ocid} read (OCI_AUTH={settings.oci_auth})")
    return True, token


def _skip_broker(settings: Settings, report: Report, why: str) -> None:
    report.skip(_login_name(settings), f"skipped: {why}")
    report.skip("topic", f"skipped: {why}")


def _login_name(settings: Settings) -> str:
    return "SASL" if settings.security_protocol.uses_sasl else "broker"


def _check_broker(settings: Settings, token: str | None, report: Report) -> None:
    """A metadata request with the real credentials: login, then the topics."""
    errors = ClientErrors()
    consumer = make_consumer(settings, token, errors)
    started = time.monotonic()
    try:
        described = read_topic_metadata(
            consumer,
            settings,
            errors,
            topic=settings.topic,
            timeout=METADATA_TIMEOUT,
            serve=lambda: consumer.poll(0),
        )
    except StreamUnavailable as exc:
        if exc.kind is StreamUnavailable.Kind.TOPIC:
            _login_ok(settings, report, started)
            report.fail("topic", str(exc))
            _check_dlq(consumer, settings, errors, report)
        else:
            report.fail(_login_name(settings), str(exc))
            report.skip("topic", f"skipped: {_login_name(settings)} failed")
        return
    else:
        _login_ok(settings, report, started)
        report.ok("topic", f"{settings.topic} exists ({_partitions(described)})")
        _check_dlq(consumer, settings, errors, report)
    finally:
        consumer.close()


def _login_ok(settings: Settings, report: Report, started: float) -> None:
    took = f"{(time.monotonic() - started) * 1000:.0f} ms"
    if settings.security_protocol.uses_sasl:
        report.ok(
            "SASL",
            f"logged in as {settings.username} ({settings.sasl_mechanism}); metadata in {took}",
        )
    else:
        report.ok("broker", f"answered a metadata request in {took}")


def _check_dlq(consumer: Any, settings: Settings, errors: ClientErrors, report: Report) -> None:
    if settings.dlq_topic == settings.topic:
        return
    try:
        described = read_topic_metadata(
            consumer, settings, errors, topic=settings.dlq_topic, timeout=METADATA_TIMEOUT
        )
    except StreamUnavailable as exc:
        report.fail("dead-letter topic", str(exc).replace("STREAM_TOPIC", "STREAM_DLQ_TOPIC"))
        return
    report.ok(
        "dead-letter topic",
        f"{settings.dlq_topic} exists ({_partitions(described)})",
    )


def _partitions(described: Any) -> str:
    count = len(described.partitions)
    return f"{count} partition{'s' if count != 1 else ''}"


def _check_objects(settings: Settings, folder: Path | None, report: Report) -> None:
    name = "Object Storage"
    if folder is not None:
        if folder.is_dir():
            report.skip(
                name,
                f"not used: objects are read from LOCAL_OBJECTS_DIR={folder} "
                "(<namespace>/<bucket>/<object name>)",
            )
        else:
            report.fail(name, f"LOCAL_OBJECTS_DIR={folder} is not a folder")
        return
    if settings.oci_auth is OciAuth.CONFIG_FILE:
        config_file = Path(settings.oci_config_file).expanduser()
        if not config_file.is_file():
            report.skip(
                name,
                f"skipped: no OCI config at {settings.oci_config_file} (OCI_AUTH=config_file); "
                "create one with `oci setup config` to check Object Storage access",
            )
            return
    try:
        endpoint, namespace = _bounded(
            lambda: _object_storage_namespace(settings), OCI_TIMEOUT, f"reaching {name}"
        )
    except ObjstreamError as exc:
        report.fail(name, str(exc))
        return
    report.ok(name, f"{endpoint} answered (namespace {namespace}, OCI_AUTH={settings.oci_auth})")


def _object_storage_namespace(settings: Settings) -> tuple[str, str]:
    """GET /n (the tenancy's namespace): a signed request that proves the credentials."""
    import oci

    from function.adapters.oci_sdk import oci_config_and_signer

    config, signer = oci_config_and_signer(settings)
    options: dict[str, Any] = {
        "signer": signer,
        "timeout": (CONNECT_TIMEOUT, 10.0),
        "retry_strategy": oci.retry.NoneRetryStrategy(),
    }
    if settings.object_storage_endpoint:
        options["service_endpoint"] = settings.object_storage_endpoint
    endpoint = settings.object_storage_endpoint or f"the endpoint of {config.get('region')}"
    try:
        client = oci.object_storage.ObjectStorageClient(dict(config), **options)
        endpoint = str(client.base_client.endpoint)
        namespace = client.get_namespace().data
    except Exception as exc:
        # The SDK raises ServiceError, RequestException, ConnectTimeout, ValueError, …
        raise ObjstreamError(
            f"{endpoint} {_sdk_error(exc)}; check OBJECT_STORAGE_ENDPOINT, the region in the "
            "OCI config and the network path"
        ) from exc
    return endpoint, str(namespace)


_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"()]+)")


def _sdk_error(exc: Exception) -> str:
    """An OCI SDK error in one line (a ServiceError's str is a dict of tips)."""
    status, code, message = (getattr(exc, k, None) for k in ("status", "code", "message"))
    if status is not None and code is not None:
        return f"answered {status} {code}: {message}"
    text = str(exc.args[0]) if exc.args else ""
    # urllib3 nests the cause in a long repr; the errno text says what happened.
    found = _ERRNO.search(text)
    if found:
        return f"cannot be reached ({found.group(1).strip()})"
    return (
        f"failed: {type(exc).__name__}: {text[:200]}" if text else f"failed: {type(exc).__name__}"
    )


def _bounded(work: Callable[[], _T], timeout: float, doing: str) -> _T:
    """Run `work` with a hard time limit (OCI SDK calls can hang in DNS or the IMDS)."""
    outcome: list[_T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            failure.append(exc)

    # A daemon thread: if it hangs, the command still ends when the check has reported.
    thread = threading.Thread(target=target, name=doing, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise ObjstreamError(f"no answer within {timeout:.0f} s while {doing}")
    if failure:
        raise failure[0]
    return outcome[0]
