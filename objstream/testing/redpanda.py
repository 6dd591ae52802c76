"""Redpanda through testcontainers, with the same three listeners as the JVM broker.

Used when a Docker engine answers (never on CI machines of this project, which have no engine).
Listeners: PLAINTEXT, SASL_PLAINTEXT and SASL_SSL (mechanism PLAIN, a certificate for
`localhost` signed by a throwaway CA). Redpanda checks PLAIN passwords against its SCRAM user
store, so users are created with `rpk security user create`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import tarfile
import time
from io import BytesIO
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from objstream.testing.brokers import Broker
from objstream.testing.jvm_kafka import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    BrokerError,
    BrokerInfo,
    Listener,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

IMAGE = "docker.redpanda.com/redpandadata/redpanda:v25.1.9"
PLAIN_PORT, SASL_PORT, SSL_PORT = 9092, 9093, 9094
START_SCRIPT = "/var/lib/redpanda/objstream-start.sh"


def _certificate(
    subject: str,
    issuer_key: rsa.RSAPrivateKey | None = None,
    issuer: x509.Name | None = None,
    *,
    ca: bool,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
    return key, builder.sign(issuer_key or key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _put_file(container: Any, path: str, content: bytes) -> None:
    directory, name = path.rsplit("/", 1)
    with BytesIO() as archive:
        with tarfile.TarFile(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = int(time.time())
            tar.addfile(info, BytesIO(content))
        archive.seek(0)
        container.get_wrapped_container().put_archive(directory, archive.getvalue())


def set_redpanda_password(container: Any, username: str, password: str) -> None:
    """Create the user, or change its password."""
    for verb in ("create", "update"):
        args = ["rpk", "security", "user", verb, username]
        args += ["-p", password] if verb == "create" else ["--new-password", password]
        args += ["--mechanism", "SCRAM-SHA-256"]
        result = container.exec(args)
        if result.exit_code == 0:
            return
    raise BrokerError(f"rpk could not set the password of {username}")


def set_redpanda_produce_quota(
    container: Any,
    bytes_per_second: int | None,
    *,
    user: str | None = None,
    client_id: str | None = None,
) -> None:
    """Set (None: remove) a `producer_byte_rate` quota with `rpk cluster quotas alter`.

    Redpanda (v24.2+) has Kafka's client quotas for client ids, not for users before v26.1
    (this image is v25.1), so `user` is refused. Untested here: no Docker engine on the
    machines this was written on, so this path has never run.
    """
    if user is not None:
        raise NotImplementedError(
            f"Redpanda {IMAGE.rsplit(':', 1)[-1]} has no per-user client quotas; "
            "pass client_id (objstream's producer uses client.id=objstream) or nothing"
        )
    entity = ["--name", f"client-id={client_id}"] if client_id else ["--default", "client-id"]
    change = (
        ["--delete", "producer_byte_rate"]
        if bytes_per_second is None
        else ["--add", f"producer_byte_rate={bytes_per_second}"]
    )
    # As the superuser on the SASL listener: allowed whether or not authorization is on.
    admin = [
        *("-X", f"brokers=localhost:{SASL_PORT}", "-X", "sasl.mechanism=SCRAM-SHA-256"),
        *("-X", "user=admin", "-X", "pass=admin-password"),
    ]
    result = container.exec(["rpk", "cluster", "quotas", "alter", *admin, *change, *entity])
    if result.exit_code != 0:
        raise BrokerError(f"rpk could not change the produce quota: {result.output!r}")


@contextlib.contextmanager
def redpanda_broker(tmp_root: Path) -> Iterator[Broker]:
    """Start Redpanda (SASL on, PLAIN allowed) and yield it as a Broker."""
    from testcontainers.core.container import DockerContainer

    tls = tmp_root / "redpanda-tls"
    tls.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _certificate("objstream test CA", ca=True)
    key, cert = _certificate("localhost", ca_key, ca_cert.subject, ca=False)
    _, wrong_ca = _certificate("some other CA", ca=True)
    (tls / "ca.pem").write_bytes(_pem(ca_cert))
    (tls / "wrong-ca.pem").write_bytes(_pem(wrong_ca))

    container = (
        DockerContainer(IMAGE)
        .with_kwargs(entrypoint="sh")
        .with_command(f'-c "while [ ! -f {START_SCRIPT} ]; do sleep 0.1; done; sh {START_SCRIPT}"')
        .with_exposed_ports(PLAIN_PORT, SASL_PORT, SSL_PORT)
    )
    container.start()
    try:
        host = "localhost"
        ports = {p: int(container.get_exposed_port(p)) for p in (PLAIN_PORT, SASL_PORT, SSL_PORT)}
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        _put_file(container, "/var/lib/redpanda/broker.key", key_pem)
        _put_file(container, "/var/lib/redpanda/broker.crt", _pem(cert))
        _put_file(container, "/var/lib/redpanda/ca.crt", _pem(ca_cert))
        bootstrap = (
            "sasl_mechanisms: [SCRAM, PLAIN]\n"
            "superusers: [admin]\n"
            "auto_create_topics_enabled: false\n"
        )
        _put_file(container, "/etc/redpanda/.bootstrap.yaml", bootstrap.encode())
        names = {"plain": PLAIN_PORT, "sasl": SASL_PORT, "tls": SSL_PORT}
        listen = ",".join(f"{name}://0.0.0.0:{port}" for name, port in names.items())
        advertise = ",".join(f"{name}://{host}:{ports[port]}" for name, port in names.items())
        tls_config = json.dumps(
            [
                {
                    "name": "tls",
                    "enabled": True,
                    "cert_file": "/var/lib/redpanda/broker.crt",
                    "key_file": "/var/lib/redpanda/broker.key",
                    "truststore_file": "/var/lib/redpanda/ca.crt",
                    "require_client_auth": False,
                }
            ]
        )
        script = " ".join(
            [
                "rpk redpanda start --mode dev-container --smp 1 --memory 1G",
                f"--kafka-addr {listen}",
                f"--advertise-kafka-addr {advertise}",
                "--set redpanda.kafka_api[1].authentication_method=sasl",
                "--set redpanda.kafka_api[2].authentication_method=sasl",
                f"--set 'redpanda.kafka_api_tls={tls_config}'",
            ]
        )
        _put_file(container, START_SCRIPT, script.encode())
        deadline = time.monotonic() + 90
        while "Started Kafka API server" not in _logs(container):
            if time.monotonic() > deadline:
                raise BrokerError("Redpanda did not start within 90 s")
            time.sleep(0.5)
        set_redpanda_password(container, "admin", "admin-password")
        set_redpanda_password(container, DEFAULT_USERNAME, DEFAULT_PASSWORD)
        info = BrokerInfo(
            plaintext=Listener(f"{host}:{ports[PLAIN_PORT]}", "PLAINTEXT"),
            sasl_plaintext=Listener(
                f"{host}:{ports[SASL_PORT]}",
                "SASL_PLAINTEXT",
                "PLAIN",
                DEFAULT_USERNAME,
                DEFAULT_PASSWORD,
            ),
            sasl_ssl=Listener(
                f"{host}:{ports[SSL_PORT]}",
                "SASL_SSL",
                "PLAIN",
                DEFAULT_USERNAME,
                DEFAULT_PASSWORD,
                str(tls / "ca.pem"),
            ),
            pid=0,
            run_dir=str(tmp_root),
            users_file="",
            wrong_ca_location=str(tls / "wrong-ca.pem"),
        )
        yield Broker("redpanda", info, redpanda=container)
    finally:
        container.stop()


def _logs(container: Any) -> str:
    stdout, stderr = container.get_logs()
    return str((stdout + stderr).decode("utf-8", "replace"))
