"""The procure-to-pay part of the status API: business documents and where they stand."""
