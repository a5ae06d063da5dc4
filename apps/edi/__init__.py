"""EDI: the X12 codec (reader, acknowledgments, maps to canonical documents) and its tools."""
