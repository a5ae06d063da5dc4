"""What each connector kind requires in its settings."""

import pytest

from apps.connectors.validation import connector_settings_problems

W = "HUBCONSOLE_SECRET_WEBHOOK"
P = "HUBCONSOLE_SECRET_SFTP"


@pytest.mark.parametrize(
    ("kind", "settings", "problems"),
    [
        ("webhook_in", {"secret_env": W}, []),
        ("webhook_in", {}, ["secret_env is required"]),
        ("file_in", {"path": "/in"}, []),
        ("file_in", {}, ["path is required"]),
        (
            "sftp_in",
            {"host": "h", "username": "u", "path": "/", "host_key": "k", "password_env": P},
            [],
        ),
        (
            "sftp_in",
            {"host": "h", "username": "u", "path": "/", "host_key": "k"},
            ["password_env or private_key_env is required"],
        ),
        (
            "sftp_in",
            {"password_env": P},
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
            {"secret_env": W, "key_fields": ["po"]},
            ["key_fields must map key kinds to dotted paths"],
        ),
    ],
)
def test_connector_settings_problems_per_kind(kind, settings, problems):
    assert connector_settings_problems(kind=kind, settings=settings) == problems


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ({"secret": "v"}, "secret"),
        ({"password": "v"}, "password"),
        ({"api_key": "v"}, "api_key"),
        ({"client_secret": "v"}, "client_secret"),
        ({"headers": {"Authorization": "Bearer abc"}}, "headers.Authorization"),
        ({"headers": {"X-Api-Key": "abc"}}, "headers.X-Api-Key"),
        ({"oauth": {"refresh_token": "abc"}}, "oauth.refresh_token"),
    ],
)
def test_connector_settings_refuse_secrets_at_any_depth(settings, path):
    problems = connector_settings_problems(
        kind="rest_out", settings={"url": "https://e", **settings}
    )
    assert problems == [
        f"{path}: secrets are never stored here; name an environment variable with a *_env setting"
    ]


@pytest.mark.parametrize("name", ["DJANGO_SECRET_KEY", "DATABASE_URL", "HUBCONSOLE_SECRET_", "x"])
def test_connector_secret_names_must_be_connector_secret_variables(name):
    problems = connector_settings_problems(kind="webhook_in", settings={"secret_env": name})
    assert len(problems) == 1
    assert problems[0].startswith("secret_env: ")
    assert "HUBCONSOLE_SECRET_*" in problems[0]


def test_connector_settings_allow_public_keys_and_key_fields():
    settings = {
        "host": "h",
        "username": "u",
        "path": "/",
        "host_key": "ssh-ed25519 AAAA",
        "password_env": P,
        "key_fields": {"po": "po_number"},
    }
    assert connector_settings_problems(kind="sftp_in", settings=settings) == []


def test_connector_settings_must_be_an_object():
    assert connector_settings_problems(kind="webhook_in", settings=["x"]) == [
        "settings must be a JSON object"
    ]
