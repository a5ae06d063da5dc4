"""What each connector kind needs in its settings, checked before a connector is saved."""

from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.transports.rest import validate_settings as rest_problems


def _missing(settings: dict, *names: str) -> list[str]:
    return [f"{name} is required" for name in names if not settings.get(name)]


def connector_settings_problems(*, kind: str, settings: dict) -> list[str]:
    """Human-readable problems with ``settings`` for a connector of ``kind`` (empty if fine)."""
    if not isinstance(settings, dict):
        return ["settings must be a JSON object"]
    secrets = [key for key in settings if key.lower() in {"secret", "password", "token", "key"}]
    problems = [
        f"{key}: secrets are never stored here; name an environment variable with {key}_env"
        for key in secrets
    ]
    if kind == ConnectorKindChoices.WEBHOOK_IN:
        problems += _missing(settings, "secret_env")
    elif kind == ConnectorKindChoices.FILE_IN:
        problems += _missing(settings, "path")
    elif kind == ConnectorKindChoices.SFTP_IN:
        problems += _missing(settings, "host", "username", "path", "host_key")
        if not settings.get("password_env") and not settings.get("private_key_env"):
            problems.append("password_env or private_key_env is required")
    elif kind == ConnectorKindChoices.REST_OUT:
        problems += rest_problems(settings)
    key_fields = settings.get("key_fields", {})
    if not isinstance(key_fields, dict):
        problems.append("key_fields must map key kinds to dotted paths")
    return problems
