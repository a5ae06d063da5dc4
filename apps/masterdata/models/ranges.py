"""Range expressions for "never two at once" exclusion constraints without btree_gist."""

from django.contrib.postgres.fields import BigIntegerRangeField, DateRangeField
from django.db import models
from django.db.models import Func


class DateRange(Func):
    """daterange(from, to, '[]'): the inclusive validity window; an empty ``to`` is open."""

    function = "daterange"
    output_field = DateRangeField()


class KeyHash(Func):
    """A 64-bit hash of (external system, entity type, external code), immutable so that it
    can be a stored generated column."""

    template = "hashtextextended(%(expressions)s, 0)"
    arg_joiner = " || ':' || "
    output_field = models.BigIntegerField()


class PointRange(Func):
    """[value, value] as an int8range: two such ranges overlap exactly when values are equal.

    Lets a GiST exclusion constraint compare keys with the built-in range operator class,
    without the btree_gist extension (which embedded PostgreSQL builds do not ship).
    """

    function = "int8range"
    output_field = BigIntegerRangeField()

    def __init__(self, expression, **extra):
        super().__init__(expression, expression, models.Value("[]"), **extra)
