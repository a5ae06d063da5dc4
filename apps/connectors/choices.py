"""Enumerations of the connectors app."""

from django.db import models


class ConnectorKindChoices(models.TextChoices):
    WEBHOOK_IN = "webhook_in", "Inbound HTTPS webhook"
    FILE_IN = "file_in", "Inbound file drop (local folder)"
    SFTP_IN = "sftp_in", "Inbound SFTP pickup"
    REST_OUT = "rest_out", "Outbound REST API"
    SFTP_OUT = "sftp_out", "Outbound SFTP drop"


class MessageFormatChoices(models.TextChoices):
    JSON = "json", "JSON"
    X12 = "x12", "X12 EDI"
    HL7V2 = "hl7v2", "HL7 v2"
    CSV = "csv", "CSV"


class ConnectorRunKindChoices(models.TextChoices):
    PICKUP = "pickup", "File pickup"


class ConnectorRunStatusChoices(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partly failed"
    FAILED = "failed", "Failed"
