"""A shared Redis client for doorbells and health checks (the broker itself is Celery's)."""

import functools

import redis
from django.conf import settings


@functools.cache
def redis_client() -> redis.Redis:
    # Short timeouts: Redis is a doorbell, so a slow or absent Redis must never stall a request
    # that has already committed its work to PostgreSQL.
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=30
    )
