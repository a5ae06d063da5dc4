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
    # Always enter a fresh set_actor: a context left behind by an earlier one looks alike
    # but no longer has its signal receiver, so it would attribute nothing.
    try:
        outer = auditlog_value.get()
    except LookupError:
        outer = None
    try:
        with set_actor(actor):
            yield
    finally:
        if outer is not None:
            auditlog_value.set(outer)
