"""Steward screens: records, mappings and their approval queue, merges, import and export."""

from apps.masterdata.admin import base, governed, imports, merge, records  # noqa: F401
