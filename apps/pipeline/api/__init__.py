"""The pipeline's part of the status API: transactions, their events, replay and lineage."""
