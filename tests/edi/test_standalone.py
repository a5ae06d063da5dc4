"""A transaction set cut out of its interchange reads back alone as the same document."""

import pytest

from apps.edi.x12 import map_interchange, read_interchange, standalone
from tests.edi.conftest import corpus_dir

KINDS = ("810", "850", "855", "856")


@pytest.mark.parametrize("kind", KINDS)
def test_each_set_of_a_corpus_file_stands_alone(kind):
    for path in sorted(corpus_dir(kind).iterdir()):
        _stands_alone(path)


def _stands_alone(path):
    interchange = read_interchange(path.read_bytes())
    map_interchange(interchange)
    good = [tx for tx in interchange.transaction_sets if tx.ok]
    for tx in good:
        again = read_interchange(standalone(tx))
        map_interchange(again)
        (alone,) = again.transaction_sets
        assert alone.ok, alone.error
        assert alone.document == tx.document
        assert (again.sender_id, again.receiver_id, again.control) == (
            interchange.sender_id,
            interchange.receiver_id,
            interchange.control,
        )
        assert (alone.group.control, alone.control) == (tx.group.control, tx.control)
