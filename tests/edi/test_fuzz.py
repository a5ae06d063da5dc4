"""Fuzzing: arbitrary bytes and mutated real files raise nothing but X12Error, and every
interchange that does read can be acknowledged."""

import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.edi.x12 import (
    X12Error,
    ack_997,
    ack_999,
    ack_ta1,
    map_interchange,
    read_interchange,
    read_interchanges,
)

from .conftest import CORPUS, ISA, PO_850, corpus_dir, interchange_text

NOW = datetime.datetime(2024, 1, 6, 9, 15, tzinfo=datetime.UTC)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Bytes that steer mutations into separators, digits and segment ids.
INTERESTING = b"*~:^|>\n\r 0123456789ISAGEST\x00\xff"
# Small enough that hundreds of mutated copies parse in seconds.
SEED_LIMIT = 20_000


def seeds() -> list[bytes]:
    files = sorted(CORPUS.glob("*/*")) if CORPUS.is_dir() else []
    found = [path.read_bytes() for path in files if path.stat().st_size <= SEED_LIMIT]
    # Without the corpus the fuzzing still runs, on a built interchange.
    return found or [interchange_text(PO_850).encode()]


SEEDS = seeds()


def exercise(data: bytes | str) -> None:
    """Read, map and acknowledge ``data``; only X12Error may escape."""
    try:
        interchanges = read_interchanges(data)
    except X12Error as error:
        problem = error.to_dict()
    else:
        problem = None
        acknowledge_all(interchanges)
    if problem is not None:
        assert problem["code"] in {"PARSE_ERROR", "ENVELOPE_REJECTED", "SCHEMA_INVALID"}
        assert problem["message"]


def acknowledge_all(interchanges) -> None:
    for interchange in interchanges:
        map_interchange(interchange)
        read_interchange(ack_ta1(interchange, interchange_control="1", now=NOW))
        for group in interchange.groups:
            read_interchange(ack_997(group, interchange_control="2", group_control="2", now=NOW))
            read_interchange(ack_999(group, interchange_control="3", group_control="3", now=NOW))


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_x12_error(data):
    exercise(data)


@FUZZ
@given(st.text(max_size=600))
def test_arbitrary_text_after_a_valid_isa_raises_only_x12_error(tail):
    exercise(ISA + tail)


mutations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "delete", "insert", "replace"]),
        st.floats(min_value=0, max_value=1, exclude_max=True),
        st.one_of(st.sampled_from(INTERESTING), st.integers(0, 255)),
    ),
    min_size=1,
    max_size=8,
)


def mutate(data: bytes, changes) -> bytes:
    buffer = bytearray(data)
    for kind, where, byte in changes:
        if not buffer:
            buffer.append(byte)
            continue
        at = int(where * len(buffer))
        if kind == "flip":
            buffer[at] ^= 1 << (byte % 8)
        elif kind == "delete":
            del buffer[at : at + 1 + byte % 4]
        elif kind == "insert":
            buffer.insert(at, byte)
        else:
            buffer[at] = byte
    return bytes(buffer)


@FUZZ
@given(seed=st.sampled_from(SEEDS), changes=mutations)
def test_mutated_real_files_raise_only_x12_error(seed, changes):
    exercise(mutate(seed, changes))


@FUZZ
@given(
    seed=st.sampled_from(SEEDS),
    changes=mutations,
    encoding=st.sampled_from(["utf-16", "utf-16-le", "utf-16-be"]),
)
def test_mutated_utf16_files_raise_only_x12_error(seed, changes, encoding):
    text = seed.decode("utf-8", errors="replace")
    exercise(mutate(text.encode(encoding), changes))


def test_fuzzing_seeds_are_the_real_corpus_files():
    corpus_dir("850")  # skips without the corpus, fails under CI

    assert len(SEEDS) > 50
