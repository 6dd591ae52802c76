"""The function's configuration in Terraform is objstream's configuration: real keys, all set.

The keys objstream reads are found by running `Settings.from_env` over a recording mapping, so
the list cannot drift from function/settings.py; `KAFKA_<PROPERTY>` keys are passed through by
prefix. Values that are literals (or variable defaults) must be accepted by `Settings.from_env`.
"""

from __future__ import annotations

import re
from collections.abc import ItemsView, Iterator, Mapping

import pytest

from function.errors import ConfigError
from function.settings import Settings
from objstream.testing.terraform import MODULE, literal, module_locals, nested, resource, variables

# What OCI Functions adds to every function's environment besides its configuration: the
# function's OCID and the resource principal's variables.
OCI_FUNCTIONS_ENV = {
    "FN_FN_ID": "ocid1.fnfunc.oc1.iad.aaaa",
    "OCI_RESOURCE_PRINCIPAL_VERSION": "2.2",
}

# Sample values for configuration entries that are Terraform references to resources.
_REFERENCE_SAMPLES = {
    "STREAM_BOOTSTRAP_SERVERS": "abc.streaming.us-ashburn-1.oci.oraclecloud.com:9092",
    "STREAM_TOPIC": "objstream",
    "STREAM_USERNAME": "mytenancy/objstream-writer/ocid1.streampool.oc1.iad.aaaa",
    "STREAM_AUTH_TOKEN_SECRET_OCID": "ocid1.vaultsecret.oc1.iad.aaaa",
    "METRICS": "oci",
}


class RecordingEnv(Mapping[str, str]):
    """A mapping that remembers every key looked up in it by name."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def items(self) -> ItemsView[str, str]:
        # Iterating (the KAFKA_ prefix rule) looks at every key without reading it by name:
        # without this, Mapping.items() would go through __getitem__ and record every key.
        return self._values.items()

    def __len__(self) -> int:
        return len(self._values)


def base_config() -> dict[str, object]:
    config = module_locals()["base_function_config"]
    assert isinstance(config, dict)
    return config


def sample_env() -> dict[str, str]:
    """The function's configuration with literal values, variable defaults, and samples."""
    defaults = variables(MODULE)
    env: dict[str, str] = {}
    for key, value in base_config().items():
        text = literal(value)
        if text is None and isinstance(value, str):
            reference = re.fullmatch(r"\$\{var\.([a-z0-9_]+)\}", value)
            if reference and "default" in defaults[reference.group(1)]:
                text = literal(defaults[reference.group(1)]["default"])
        if text is None:
            assert key in _REFERENCE_SAMPLES, f"no sample value for {key} = {value}"
            text = _REFERENCE_SAMPLES[key]
        env[key] = text
    return env


def keys_settings_reads() -> set[str]:
    env = RecordingEnv({**OCI_FUNCTIONS_ENV, **sample_env()})
    Settings.from_env(env)
    return env.read


def test_every_config_key_is_one_objstream_reads() -> None:
    read = keys_settings_reads()
    assert {"STREAM_BOOTSTRAP_SERVERS", "STREAM_TOPIC", "OCI_AUTH"} <= read  # the recorder works
    unknown = {key for key in base_config() if key not in read and not key.startswith("KAFKA_")}
    assert not unknown, f"function config keys objstream does not read: {sorted(unknown)}"


def test_config_with_its_defaults_is_accepted_by_settings() -> None:
    """Every required key is set, and every literal and default value is a valid one."""
    settings = Settings.from_env({**OCI_FUNCTIONS_ENV, **sample_env()})
    assert settings.security_protocol.value == "SASL_SSL"
    assert settings.sasl_mechanism.value == "PLAIN"
    assert settings.oci_auth.value == "resource_principal"
    assert settings.auth_token is None  # the token comes from Vault, never from the config


@pytest.mark.parametrize(
    "key",
    [
        "STREAM_BOOTSTRAP_SERVERS",
        "STREAM_TOPIC",
        "STREAM_USERNAME",
        "STREAM_AUTH_TOKEN_SECRET_OCID",
    ],
)
def test_each_required_key_is_required(key: str) -> None:
    """Without it Settings refuses the configuration, naming it: so the module must set it."""
    env = sample_env()
    assert key in env
    del env[key]
    with pytest.raises(ConfigError, match=f"^{key}"):
        Settings.from_env(env)


def test_no_secret_in_the_config() -> None:
    assert "STREAM_AUTH_TOKEN" not in base_config()
    for value in base_config().values():
        assert "auth_token}" not in str(value).replace("auth_token_secret_ocid", "")


def test_bootstrap_servers_is_the_private_endpoint_on_9092() -> None:
    assert module_locals()["bootstrap_servers"] == (
        '"${oci_streaming_stream_pool.this.endpoint_fqdn}:9092"'
    )
    assert base_config()["STREAM_BOOTSTRAP_SERVERS"] == "${local.bootstrap_servers}"
    assert base_config()["STREAM_TOPIC"] == "${oci_streaming_stream.this.name}"


def test_username_is_tenancy_user_pool() -> None:
    assert module_locals()["stream_username"] == (
        '"${local.stream_user_path}/${oci_streaming_stream_pool.this.id}"'
    )


def test_the_function_resource() -> None:
    function = resource("oci_functions_function.this").body
    assert function["config"] == "${local.function_config}"
    assert function["image"] == "${var.function_image}"
    assert function["memory_in_mbs"] == "${var.function_memory_mb}"
    assert function["timeout_in_seconds"] == "${var.function_timeout_seconds}"
    assert function["detached_mode_timeout_in_seconds"] == (
        "${var.function_detached_timeout_seconds}"
    )
    defaults = variables(MODULE)
    assert defaults["function_memory_mb"]["default"] == 512
    assert defaults["function_timeout_seconds"]["default"] == 300
    assert defaults["function_detached_timeout_seconds"]["default"] == 3600
    (destination,) = nested(function, "failure_destination")
    assert literal(destination["kind"]) == "NOTIFICATION"
    assert destination["topic_id"] == "${oci_ons_notification_topic.alarms.id}"
    application = resource("oci_functions_application.this").body
    assert application["subnet_ids"] == ["${oci_core_subnet.private.id}"]
    assert application["network_security_group_ids"] == [
        "${oci_core_network_security_group.function.id}"
    ]
