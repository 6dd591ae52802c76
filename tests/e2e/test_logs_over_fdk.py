"""What reaches OCI Logging: fdk's own stderr log, with the function served over fdk's socket.

fdk sets the root logger to DEBUG, so every library's debug line would be a log entry in OCI
Logging; the handler module holds them back. An invocation whose object is gone makes the
oci SDK (and urllib3 under it) talk to Vault, Object Storage and Monitoring, the stand-in.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from objstream.testing.fdk_server import FdkServer
from objstream.testing.oci_standin import METRICS_PATH, OciStandIn
from objstream.testing.scenario import oci_event

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE, BUCKET = "axaxnpcrorw5", "uploads"
SECRET_ID = "ocid1.vaultsecret.oc1.phx.amaaaaaalogstoken"
# fdk's format: `<call id> - <logger> - <LEVEL> - <message>`
LIBRARY_DEBUG = re.compile(r" - (oci|urllib3|requests)[\w.]* - DEBUG - ")


def test_fdk_log_has_objstreams_lines_and_no_library_debug_lines(tmp_path: Path) -> None:
    with OciStandIn() as standin:
        standin.create_bucket(NAMESPACE, BUCKET)
        standin.put_secret(SECRET_ID, "not-the-broker-password")
        env = {
            **standin.function_env(tmp_path / "oci", auth="resource_principal"),
            "FN_FN_ID": "ocid1.fnfunc.oc1.iad.aaaaaaaalogs",
            "CONTINUATION": "off",
            "STREAM_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # never reached: the object is gone
            "STREAM_TOPIC": "objstream",
            "STREAM_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "STREAM_USERNAME": "tenancy/user/ocid1.streampool.oc1..logs",
            "STREAM_AUTH_TOKEN_SECRET_OCID": SECRET_ID,
            "MONITORING_ENDPOINT": standin.url,
        }
        name = f"gone/{uuid.uuid4().hex[:8]}.csv"
        with FdkServer(ROOT / "function" / "func.py", env, tmp_path, pythonpath=str(ROOT)) as fdk:
            reply = fdk.call(oci_event(NAMESPACE, BUCKET, name, "etag-1"))
            log = fdk.log()
        posted = standin.metric_posts

    assert reply.status == 200, log
    assert json.loads(reply.body)["status"] == "skipped"
    assert standin.request_count(METRICS_PATH) == 1  # the SDK really did talk, thrice
    assert posted[0][0]["dimensions"] == {"bucket": BUCKET, "outcome": "skipped"}
    assert re.search(rf" - function\.outcome - INFO - skipped {re.escape(name)}: ", log), log
    assert not LIBRARY_DEBUG.search(log), log
