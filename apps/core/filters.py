"""Filter fields shared by the FilterSets of the console and the status API."""

import datetime

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField

# Python accepts offsets up to ±24 h and years 1-9999; PostgreSQL refuses offsets past ±15:59
# and a year 1 shifted into year 0. Found by schemathesis: such input must be a 400, not a 500.
_MAX_OFFSET = datetime.timedelta(hours=14)


class UtcIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        offset = value.utcoffset()
        if offset is not None and abs(offset) > _MAX_OFFSET:
            raise ValidationError("The UTC offset must be within ±14:00.", code="invalid")
        try:
            return value.astimezone(datetime.UTC)
        except OverflowError:
            raise ValidationError("The date is out of range.", code="invalid") from None


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter whose every valid input PostgreSQL accepts."""

    field_class = UtcIsoDateTimeField
