"""Attributing audited changes to the person on whose behalf a service runs.

django-auditlog's ``set_actor`` does not restore an enclosing context when it exits, so a
service that sets the actor inside a request (where the middleware already set one) would
leave later saves of that request unattributed. ``acting_as`` restores it.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from auditlog.context import auditlog_value, set_actor


@contextmanager
def acting_as(actor) -> Iterator[None]:
    try:
        outer = auditlog_value.get()
    except LookupError:
        outer = None
    if outer is not None and outer.get("actor") == actor:
        yield  # already attributed to this actor (e.g. by the request middleware)
        return
    try:
        with set_actor(actor):
            yield
    finally:
        if outer is not None:
            auditlog_value.set(outer)
