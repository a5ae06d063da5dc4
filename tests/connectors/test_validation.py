"""What each connector kind requires in its settings."""

import pytest

from apps.connectors.validation import connector_settings_problems


@pytest.mark.parametrize(
    ("kind", "settings", "problems"),
    [
        ("webhook_in", {"secret_env": "X"}, []),
        ("webhook_in", {}, ["secret_env is required"]),
        ("file_in", {"path": "/in"}, []),
        ("file_in", {}, ["path is required"]),
        (
            "sftp_in",
            {"host": "h", "username": "u", "path": "/", "host_key": "k", "password_env": "P"},
            [],
        ),
        (
            "sftp_in",
            {"host": "h", "username": "u", "path": "/", "host_key": "k"},
            ["password_env or private_key_env is required"],
        ),
        (
            "sftp_in",
            {"password_env": "P"},
            [
                "host is required",
                "username is required",
                "path is required",
                "host_key is required",
            ],
        ),
        ("rest_out", {"url": "https://erp.example.org/api"}, []),
        ("rest_out", {"url": "ftp://erp"}, ["url must be an http(s) URL"]),
        (
            "rest_out",
            {"url": "https://e", "headers": {"X": 1}},
            ["headers must map names to text values"],
        ),
        (
            "webhook_in",
            {"secret_env": "X", "key_fields": ["po"]},
            ["key_fields must map key kinds to dotted paths"],
        ),
    ],
)
def test_connector_settings_problems_per_kind(kind, settings, problems):
    assert connector_settings_problems(kind=kind, settings=settings) == problems


@pytest.mark.parametrize("key", ["secret", "password", "token", "key"])
def test_connector_settings_refuse_secrets_in_the_database(key):
    problems = connector_settings_problems(
        kind="webhook_in", settings={"secret_env": "X", key: "v"}
    )
    assert problems == [
        f"{key}: secrets are never stored here; name an environment variable with {key}_env"
    ]


def test_connector_settings_must_be_an_object():
    assert connector_settings_problems(kind="webhook_in", settings=["x"]) == [
        "settings must be a JSON object"
    ]
