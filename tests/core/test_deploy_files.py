"""The deployment files agree with the code: .env.example, docker-compose.yml and the Dockerfile.

Variables are found by scanning the source, so a new ``env_int("HUBCONSOLE_X", ...)`` without a
line in .env.example fails here. docker-compose.yml is read through ``docker-compose config``
when that binary exists (anchors merged, ``${...}`` interpolated by Compose itself), otherwise
parsed directly; either way it needs PyYAML in some interpreter, since the project's own
environment does not ship it.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from hubconsole.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

# What Compose needs to render the file; the values are this test's own.
COMPOSE_SECRET_KEY = "compose-test-secret-key-" + "k" * 40
COMPOSE_ENV = {"DJANGO_SECRET_KEY": COMPOSE_SECRET_KEY, "POSTGRES_PASSWORD": "compose-test-pw"}

WORKER_SERVICES = {
    "worker-processing": "processing",
    "worker-delivery": "delivery",
    "worker-connectors": "connectors",
    "worker-maintenance": "maintenance",
}
# The services that run HubConsole code (the rest are PostgreSQL, Redis and the SMTP catcher).
APP_SERVICES = {"migrate", "web", "beat", "sandbox", *WORKER_SERVICES}

# --- Scanning the source for the variables it reads -----------------------------------------------

_NAME = r"([A-Z][A-Z0-9_]*)"
_READS = [
    re.compile(pattern)
    for pattern in (
        r"\benv_(?:str|int|bool|float|list)\(\s*\"" + _NAME + '"',  # hubconsole.env readers
        r"\bos\.environ(?:\.get|\.setdefault|\.pop)?\(\s*\"" + _NAME + '"',
        r"\bos\.environ\[\s*\"" + _NAME + r'"\s*\]',
        r"\bos\.getenv\(\s*\"" + _NAME + '"',
        # The launcher's copy of the environment that it hands to its children.
        r"\benv(?:\.get|\.setdefault)\(\s*\"" + _NAME + '"',
        r"\benv\[\s*\"" + _NAME + r'"\s*\]',
        # Secrets named by connector settings ("secret_env": "X") and by command options.
        r'"\w+_env"\s*:\s*"' + _NAME + '"',
        r'"--[\w-]+-env",\s*default="' + _NAME + '"',
        # Variables the launcher writes into the demo secrets file it then loads.
        r'f"' + _NAME + r"=\{",
    )
]
_REQUIRED = re.compile(r"\benv_str\(\s*\"" + _NAME + r'"[^)]*required=True')


def _scanned_sources() -> list[Path]:
    return [
        ROOT / "hubconsole" / "settings.py",
        ROOT / "hubconsole" / "launcher.py",
        ROOT / "hubconsole" / "embedded.py",
        *sorted(ROOT.glob("apps/**/management/commands/*.py")),
    ]


def _variables_read() -> dict[str, set[str]]:
    """Variable name -> the files (relative paths) that read it."""
    found: dict[str, set[str]] = {}
    for path in _scanned_sources():
        text = path.read_text()
        for pattern in _READS:
            for name in pattern.findall(text):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def _variables_in_scripts() -> set[str]:
    names = set()
    for path in (ROOT / "scripts").iterdir():
        names |= set(re.findall(r"\$\{?(HUBCONSOLE_[A-Z0-9_]+)", path.read_text()))
    return names


def _compose_interpolated() -> set[str]:
    return set(re.findall(r"(?<!\$)\$\{" + _NAME, COMPOSE_FILE.read_text()))


_ENV_LINE = re.compile(r"^(#\s?)?" + _NAME + "=")


def _env_example() -> list[tuple[str, bool, str]]:
    """(name, commented out, the line above it) for every variable line of .env.example."""
    lines = ENV_EXAMPLE.read_text().splitlines()
    entries = []
    for index, line in enumerate(lines):
        match = _ENV_LINE.match(line)
        if match:
            above = lines[index - 1] if index else ""
            entries.append((match.group(2), bool(match.group(1)), above))
    return entries


def test_env_scan_finds_variables_of_every_kind_of_read():
    # The control for the two tests below: a broken pattern would make them pass vacuously.
    found = _variables_read()

    assert "hubconsole/settings.py" in found["DJANGO_SECRET_KEY"]  # env_str(...)
    assert "hubconsole/settings.py" in found["HUBCONSOLE_LEASE_SECONDS"]  # env_int(...)
    assert "hubconsole/launcher.py" in found["HUBCONSOLE_PORT"]  # os.environ.get(...)
    assert "hubconsole/launcher.py" in found["HUBCONSOLE_SANDBOX_ENABLED"]  # env.setdefault
    commands = "apps/sandbox/management/commands"
    assert (
        f"{commands}/sandbox_sftp.py" in found["HUBCONSOLE_SECRET_DEMO_SFTP_PASSWORD"]
    )  # --password-env
    assert f"{commands}/demo_setup.py" in found["HUBCONSOLE_SECRET_DEMO_WEBHOOK"]  # "secret_env"


def test_env_example_documents_every_variable_the_code_reads():
    documented = {name for name, _, _ in _env_example()}

    missing = {
        name: sorted(files) for name, files in _variables_read().items() if name not in documented
    }

    assert not missing, f"add these to .env.example: {missing}"


def test_env_example_lists_only_variables_something_reads():
    known = set(_variables_read()) | _compose_interpolated() | _variables_in_scripts()

    unread = sorted({name for name, _, _ in _env_example()} - known)

    assert not unread, f"nothing reads these .env.example variables: {unread}"


def test_env_example_lists_each_variable_once():
    names = [name for name, _, _ in _env_example()]

    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


def test_env_example_comments_give_meaning_default_and_production_need():
    for name, _, above in _env_example():
        assert above.startswith("# "), f"{name} needs a one-line comment above it"
        assert not _ENV_LINE.match(above), f"{name} needs its own comment"
        assert "Default:" in above, f"the comment of {name} must give its default"
        assert "Production" in above, f"the comment of {name} must say if production needs it"


def test_env_example_leaves_the_production_requirements_uncommented():
    required = set(_REQUIRED.findall((ROOT / "hubconsole" / "settings.py").read_text()))
    # Production checks these by hand rather than through required=True.
    required |= {"HUBCONSOLE_MODE", "DJANGO_ALLOWED_HOSTS"}
    active = {name for name, commented, _ in _env_example() if not commented}

    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY"} <= required
    assert required <= active, sorted(required - active)


# --- Reading docker-compose.yml -------------------------------------------------------------------


def _compose_commands() -> dict[str, list[str]]:
    """Compose implementations present on this machine: v1 (docker-compose) and v2 (plugin)."""
    found = {}
    if shutil.which("docker-compose"):
        found["v1"] = ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            found["v2"] = ["docker", "compose"]
    return found


def _run_compose(command: list[str], *args: str, env: dict[str, str], tmp_path: Path):
    # An empty --env-file keeps a developer's own .env out of the result.
    empty = tmp_path / "empty.env"
    empty.write_text("")
    clean = {k: v for k, v in os.environ.items() if k not in COMPOSE_ENV}
    return subprocess.run(
        [*command, "--env-file", str(empty), "-f", str(COMPOSE_FILE), *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


_TO_JSON = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"


def _yaml_interpreters() -> list[str]:
    # docker-compose 1.x is a Python program that depends on PyYAML, so its interpreter has it.
    candidates = []
    compose = shutil.which("docker-compose")
    if compose:
        first = Path(compose).read_bytes()[:200].split(b"\n")[0].decode(errors="ignore")
        if first.startswith("#!"):
            candidates.append(first[2:].strip().split()[0])
    candidates += ["/usr/bin/python3", shutil.which("python3") or ""]
    return [c for c in candidates if c and Path(c).exists()]


def _yaml_load(text: str):
    try:
        import yaml
    except ImportError:
        pass
    else:
        return yaml.safe_load(text)
    for interpreter in _yaml_interpreters():
        result = subprocess.run(
            [interpreter, "-c", _TO_JSON],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode == 0:
            return json.loads(result.stdout)
    pytest.skip("no Python with PyYAML here (install docker-compose or python3-yaml)")


_INTERPOLATION = re.compile(r"\$\$|\$\{(\w+)(?:(:-|:\?)([^}]*))?\}")


def _interpolate(value, env: dict[str, str]):
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, for when Compose is absent."""
    if isinstance(value, dict):
        return {key: _interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match):
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.groups()
        if env.get(name):
            return env[name]
        if operator == ":?":
            raise AssertionError(f"{name} is required: {argument}")
        return argument if operator == ":-" else ""

    return _INTERPOLATION.sub(replace, value)


@pytest.fixture(scope="module")
def raw_compose():
    """docker-compose.yml as written (anchors merged by YAML, nothing interpolated)."""
    return _yaml_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def compose(raw_compose, tmp_path_factory):
    """The configuration as Compose sees it: docker-compose config when installed."""
    command = _compose_commands().get("v1")
    if command is None:
        return _interpolate(raw_compose, COMPOSE_ENV)
    result = _run_compose(
        command,
        "--profile",
        "sandbox",
        "config",
        env=COMPOSE_ENV,
        tmp_path=tmp_path_factory.mktemp("compose"),
    )
    assert result.returncode == 0, result.stderr
    return _yaml_load(result.stdout)


def _argv(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _option(argv: list[str], short: str, long: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg in (short, long) and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(long + "="):
            return arg.split("=", 1)[1]
        if arg.startswith(short) and len(arg) > len(short) and not arg.startswith("--"):
            return arg[len(short) :]
    return None


def _healthcheck_text(service: dict) -> str:
    test = (service.get("healthcheck") or {}).get("test") or []
    text = test if isinstance(test, str) else " ".join(test)
    return text.replace("$$", "$")  # docker-compose config writes a literal $ escaped again


def _mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of each volume, from the short ("a:b") or the long (mapping) syntax."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.append((volume.get("source", ""), volume.get("target", "")))
        else:
            source, _, rest = str(volume).partition(":")
            mounts.append((source, rest.split(":")[0]))
    return mounts


def _is_celery(argv: list[str], subcommand: str) -> bool:
    return bool(argv) and Path(argv[0]).name == "celery" and subcommand in argv


def _routed_queues() -> set[str]:
    queues = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return queues | {settings.CELERY_TASK_DEFAULT_QUEUE}


# --- docker-compose.yml ---------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification(raw_compose):
    assert "version" not in raw_compose, "the Compose specification has no top-level version"
    assert "x-hubconsole" in raw_compose, "app services share the x-hubconsole anchor"
    assert set(raw_compose) <= {"services", "volumes", "networks", "secrets", "configs"} | {
        key for key in raw_compose if key.startswith("x-")
    }


def test_compose_has_every_service_of_the_stack(compose):
    services = compose["services"]

    assert {"postgres", "redis", "mailpit", "migrate", "web", "beat", "sandbox"} <= set(services)
    assert set(WORKER_SERVICES) <= set(services)


def test_compose_every_long_running_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        if name == "migrate":
            continue  # one-shot: it exits when the migrations are applied
        healthcheck = service.get("healthcheck") or {}
        assert healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        assert _healthcheck_text(service).split()[0] != "NONE", name


def test_compose_databases_have_their_readiness_healthchecks(compose):
    services = compose["services"]

    assert services["postgres"]["image"].startswith("postgres:16")
    assert "pg_isready" in _healthcheck_text(services["postgres"])
    assert ("pgdata", "/var/lib/postgresql/data") in _mounts(services["postgres"])
    assert "pgdata" in compose["volumes"]  # a named volume, not a folder in the checkout
    assert services["redis"]["image"].startswith("redis:7")
    assert "redis-cli ping" in _healthcheck_text(services["redis"])


def test_compose_has_one_worker_for_each_queue_in_the_task_routes(compose):
    consumers: dict[str, list[str]] = {}
    for name, service in compose["services"].items():
        argv = _argv(service)
        if _is_celery(argv, "worker"):
            queues = _option(argv, "-Q", "--queues")
            assert queues, f"{name} must name its queues with -Q"
            for queue in queues.split(","):
                consumers.setdefault(queue, []).append(name)

    assert set(consumers) == _routed_queues()
    for service, queue in WORKER_SERVICES.items():
        assert consumers[queue] == [service]


@pytest.mark.django_db  # Celery runs Django's system checks, which ask the server its version.
def test_compose_every_task_is_routed_to_a_queue_a_worker_consumes(compose):
    consumed = set()
    for service in compose["services"].values():
        argv = _argv(service)
        if _is_celery(argv, "worker"):
            consumed |= set(_option(argv, "-Q", "--queues").split(","))
    celery_app.loader.import_default_modules()
    tasks = sorted(name for name in celery_app.tasks if not name.startswith("celery."))

    assert tasks, "no tasks registered; the check below would prove nothing"
    for task in tasks:
        queue = celery_app.amqp.router.route({}, task, args=(), kwargs={})["queue"].name
        assert queue in consumed, f"{task} goes to {queue}, which no worker consumes"


def test_compose_worker_healthchecks_ping_their_own_node(compose):
    for name in WORKER_SERVICES:
        service = compose["services"][name]
        node = _option(_argv(service), "-n", "--hostname")
        check = _healthcheck_text(service)

        assert node, f"{name} needs a node name (-n queue@%h)"
        assert node.endswith("@%h"), f"{name} needs a node name like queue@%h"
        assert "inspect ping" in check, name
        assert f"-d {node.split('@')[0]}@$HOSTNAME" in check, name


def test_compose_runs_exactly_one_beat(compose):
    beats = [
        name for name, service in compose["services"].items() if _is_celery(_argv(service), "beat")
    ]

    assert beats == ["beat"]
    replicas = (compose["services"]["beat"].get("deploy") or {}).get("replicas", 1)
    assert int(replicas) == 1


def test_compose_web_serves_gunicorn_with_a_healthz_check(compose):
    web = compose["services"]["web"]
    argv = _argv(web)

    assert Path(argv[0]).name == "gunicorn"
    assert "hubconsole.wsgi:application" in argv
    assert "/healthz" in _healthcheck_text(web)


def test_compose_app_processes_wait_for_migrations_and_healthy_servers(compose):
    services = compose["services"]
    migrate = services["migrate"]

    assert _argv(migrate)[-3:] == ["manage.py", "migrate", "--noinput"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES - {"migrate"}:
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
        assert depends_on["postgres"]["condition"] == "service_healthy", name
        assert depends_on["redis"]["condition"] == "service_healthy", name


def test_compose_app_services_run_in_production_mode_with_the_secret_required(compose, raw_compose):
    raw_key = raw_compose["services"]["web"]["environment"]["DJANGO_SECRET_KEY"]

    assert raw_key.startswith("${DJANGO_SECRET_KEY:?")
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["HUBCONSOLE_MODE"] == "production", name
        assert environment["DJANGO_SECRET_KEY"] == COMPOSE_SECRET_KEY, name
        assert "DJANGO_DEBUG" not in environment, name


def test_compose_sends_mail_to_the_smtp_catcher(compose):
    services = compose["services"]
    environment = services["web"]["environment"]

    assert services[environment["EMAIL_HOST"]]["image"].startswith("axllent/mailpit")
    assert environment["EMAIL_PORT"] == "1025"


def test_compose_sandbox_is_opt_in_and_serves_the_sandbox_wsgi(compose):
    sandbox = compose["services"]["sandbox"]

    assert sandbox["profiles"] == ["sandbox"]
    assert "hubconsole.sandbox_wsgi:application" in _argv(sandbox)
    assert sandbox["environment"]["HUBCONSOLE_SANDBOX_ENABLED"] == "true"
    assert "sandbox" in sandbox["environment"]["DJANGO_ALLOWED_HOSTS"].split(",")
    assert "HUBCONSOLE_SANDBOX_ENABLED" not in compose["services"]["web"]["environment"]


def test_compose_passes_only_variables_the_code_reads(compose):
    known = set(_variables_read()) | {"WEB_CONCURRENCY"}  # gunicorn reads WEB_CONCURRENCY

    for name in APP_SERVICES:
        unknown = set(compose["services"][name]["environment"]) - known
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"


def _settings_probe(env: dict[str, str]) -> subprocess.Popen:
    probe = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, "
        "'csrf': s.CSRF_TRUSTED_ORIGINS, 'ssl_redirect': s.SECURE_SSL_REDIRECT, "
        "'hsts': s.SECURE_HSTS_SECONDS, 'pipeline': s.HUBCONSOLE, "
        "'throttle': [s.LOGIN_THROTTLE_ATTEMPTS, s.LOGIN_THROTTLE_WINDOW_SECONDS], "
        "'tz': s.TIME_ZONE, 'log': s.LOG_LEVEL, 'mail': s.MAILERS, 'from': s.DEFAULT_FROM_EMAIL, "
        "'beat': {k: v['schedule'] for k, v in s.CELERY_BEAT_SCHEDULE.items()}, "
        "'conn_max_age': s.DATABASES['default']['CONN_MAX_AGE']}))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_compose_empty_values_load_the_settings_defaults(compose):
    # Compose passes "" for every tuning variable left unset; that must mean "the default".
    environment = {k: str(v) for k, v in compose["services"]["web"]["environment"].items()}
    environment.update(DATABASE_URL=os.environ["DATABASE_URL"], REDIS_URL=os.environ["REDIS_URL"])
    base = {"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "hubconsole.settings"}
    as_given = _settings_probe({**base, **environment})
    unset = _settings_probe({**base, **{k: v for k, v in environment.items() if v != ""}})

    outcomes = []
    for process in (as_given, unset):
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        outcomes.append(json.loads(stdout))

    assert outcomes[0] == outcomes[1]
    loaded = outcomes[0]
    assert loaded["debug"] is False
    assert loaded["ssl_redirect"] is False  # plain HTTP on the local port mapping
    assert loaded["hosts"] == ["localhost", "127.0.0.1"]
    assert loaded["mail"]["default"]["OPTIONS"]["host"] == "mailpit"
    assert loaded["pipeline"]["LEASE_SECONDS"] == 120


@pytest.mark.parametrize("implementation", ["v1", "v2"])
def test_compose_config_validates(implementation, tmp_path):
    command = _compose_commands().get(implementation)
    if command is None:
        pytest.skip(
            f"Compose {implementation} is not installed here "
            "(v1: apt-get install docker-compose; v2: the docker compose plugin)"
        )

    result = _run_compose(
        command, "--profile", "sandbox", "config", "-q", env=COMPOSE_ENV, tmp_path=tmp_path
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(COMPOSE_ENV))
def test_compose_config_refuses_to_start_without_a_secret(missing, tmp_path):
    command = _compose_commands().get("v1") or _compose_commands().get("v2")
    if command is None:
        pytest.skip("Compose is not installed here (apt-get install docker-compose)")
    env = {k: v for k, v in COMPOSE_ENV.items() if k != missing}

    result = _run_compose(command, "config", "-q", env=env, tmp_path=tmp_path)

    assert result.returncode != 0
    assert missing in result.stderr


# --- Dockerfile -----------------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_installs_the_locked_dependencies_and_runs_as_a_service_user():
    instructions = _dockerfile_instructions()
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    users = [rest for keyword, rest in instructions if keyword == "USER"]

    assert instructions[0] == ("FROM", "python:3.12-slim")
    assert "uv sync --frozen --no-dev" in runs
    assert users, "the image must switch to a service user"
    assert users[-1] not in {"root", "0"}
    assert any(k == "CMD" and "gunicorn" in rest for k, rest in instructions)


def test_dockerfile_collectstatic_values_satisfy_production_settings(tmp_path):
    # Run the image's collectstatic step here, with exactly the build-time values it sets.
    step = next(
        rest
        for keyword, rest in _dockerfile_instructions()
        if keyword == "RUN" and "collectstatic" in rest
    )
    words = shlex.split(step)
    assignments = dict(word.split("=", 1) for word in words[: words.index("python")])
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "hubconsole.settings",
        **assignments,
        "HUBCONSOLE_STATIC_ROOT": str(tmp_path / "static"),
    }

    assert assignments["HUBCONSOLE_MODE"] == "production"
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()  # the manifest WhiteNoise serves


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    assert {".venv", "var", ".git", ".env"} <= ignored
