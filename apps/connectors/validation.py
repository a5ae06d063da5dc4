"""What each connector kind needs in its settings, checked before a connector is saved."""

from apps.connectors.choices import ConnectorKindChoices
from apps.connectors.secrets import SECRET_SETTINGS, secret_name_problem
from apps.connectors.transports.rest import validate_settings as rest_problems
from apps.connectors.transports.sftp import validate_settings as sftp_out_problems

# Words that mark a value as a credential. Connector settings are audited in clear, so such
# values must live in environment variables, named by a *_env setting.
_SECRET_WORDS = (
    "secret",
    "password",
    "passwd",
    "token",
    "apikey",
    "api_key",
    "private_key",
    "credential",
    "authorization",
    "cookie",
)


def _missing(settings: dict, *names: str) -> list[str]:
    return [f"{name} is required" for name in names if not settings.get(name)]


def _secret_keys(value, path: str = "") -> list[str]:
    """Dotted paths of keys, at any depth, that look like they hold a credential."""
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{path}.{key}" if path else str(key)
            lowered = str(key).lower().replace("-", "_")
            if not lowered.endswith("_env") and any(w in lowered for w in _SECRET_WORDS):
                found.append(here)
            found += _secret_keys(inner, here)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _secret_keys(inner, f"{path}[{index}]")
    return found


def connector_settings_problems(*, kind: str, settings: dict) -> list[str]:
    """Human-readable problems with ``settings`` for a connector of ``kind`` (empty if fine)."""
    if not isinstance(settings, dict):
        return ["settings must be a JSON object"]
    problems = [
        f"{key}: secrets are never stored here; name an environment variable with a *_env setting"
        for key in _secret_keys(settings)
    ]
    for setting in SECRET_SETTINGS:
        if settings.get(setting):
            problem = secret_name_problem(settings[setting])
            if problem:
                problems.append(f"{setting}: {problem}")
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
    elif kind == ConnectorKindChoices.SFTP_OUT:
        problems += sftp_out_problems(settings)
    key_fields = settings.get("key_fields", {})
    if not isinstance(key_fields, dict):
        problems.append("key_fields must map key kinds to dotted paths")
    return problems
