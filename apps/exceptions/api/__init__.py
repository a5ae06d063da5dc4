"""The exceptions' part of the status API: the work queue, activity and replay."""
