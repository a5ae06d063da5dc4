"""HMAC webhook signatures: the header format, rotation, expiry and malformed input."""

import hashlib
import hmac

import pytest

from apps.connectors import signing
from apps.connectors.signing import SignatureError, sign, verify

SECRET = "s3cret-one"
BODY = b'{"id": "REQ-1"}'
NOW = 1_700_000_000


def _code(header, *, secrets=(SECRET,), body=BODY, now=NOW, tolerance=300) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(header, body, list(secrets), tolerance=tolerance, now=now)
    assert caught.value.message
    return caught.value.code


def test_sign_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, BODY, NOW) == f"t={NOW},v1={expected}"


def test_sign_without_timestamp_uses_now():
    header = sign(SECRET, BODY)

    verify(header, BODY, [SECRET], tolerance=5)


def test_verify_accepts_own_signature():
    verify(sign(SECRET, BODY, NOW), BODY, [SECRET], tolerance=300, now=NOW)


def test_verify_accepts_any_of_several_v1_values():
    good = sign(SECRET, BODY, NOW).split(",")[1]
    header = f"t={NOW},v1={'0' * 64},{good},v1={'f' * 64}"

    verify(header, BODY, [SECRET], tolerance=300, now=NOW)


def test_verify_tolerates_spaces_between_parts():
    t, v1 = sign(SECRET, BODY, NOW).split(",")

    verify(f" {t} , {v1} ", BODY, [SECRET], tolerance=300, now=NOW)


def test_verify_accepts_previous_secret_during_rotation():
    header = sign("old-secret", BODY, NOW)

    verify(header, BODY, [SECRET, "old-secret"], tolerance=300, now=NOW)


def test_verify_rejects_other_secret():
    assert _code(sign("other", BODY, NOW)) == "signature_invalid"


def test_verify_rejects_changed_body():
    assert _code(sign(SECRET, BODY, NOW), body=BODY + b" ") == "signature_invalid"


def test_verify_rejects_signature_moved_to_other_timestamp():
    v1 = sign(SECRET, BODY, NOW).split(",")[1]

    assert _code(f"t={NOW + 1},{v1}") == "signature_invalid"


def test_verify_rejects_v0_scheme():
    v0 = sign(SECRET, BODY, NOW).split(",")[1].replace("v1=", "v0=")

    assert _code(f"t={NOW},{v0}") == "signature_malformed"


@pytest.mark.parametrize("header", [None, ""])
def test_verify_missing_header(header):
    assert _code(header) == "signature_missing"


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"t={NOW}",
        "v1=abcdef",
        f"t=,v1={'a' * 64}",
        f"t=abc,v1={'a' * 64}",
        f"t=-{NOW},v1={'a' * 64}",
        f"t={NOW},v1=",
        f"sha256={'a' * 64}",
    ],
)
def test_verify_malformed_header(header):
    assert _code(header) == "signature_malformed"


def test_verify_non_ascii_digit_timestamp_is_malformed():
    v1 = sign(SECRET, BODY, NOW).split(",")[1]

    assert _code(f"t=\u00b2,{v1}") == "signature_malformed"


def test_verify_non_ascii_v1_value_is_rejected():
    assert _code(f"t={NOW},v1=\u00e9{'a' * 63}") in {"signature_invalid", "signature_malformed"}


def test_verify_rejects_timestamp_older_than_tolerance():
    assert _code(sign(SECRET, BODY, NOW - 301)) == "signature_expired"


def test_verify_rejects_timestamp_beyond_tolerance_in_future():
    assert _code(sign(SECRET, BODY, NOW + 301)) == "signature_expired"


def test_verify_accepts_timestamp_exactly_at_tolerance():
    verify(sign(SECRET, BODY, NOW - 300), BODY, [SECRET], tolerance=300, now=NOW)
    verify(sign(SECRET, BODY, NOW + 300), BODY, [SECRET], tolerance=300, now=NOW)


def test_verify_checks_expiry_before_comparing_digests():
    # An old header with a wrong digest is reported as expired: no digest work for replays.
    assert _code(f"t={NOW - 1000},v1={'0' * 64}") == "signature_expired"


def test_verify_compares_digests_in_constant_time(monkeypatch):
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    good = sign(SECRET, BODY, NOW).split("v1=")[1]

    verify(f"t={NOW},v1={'0' * 64},v1={good}", BODY, [SECRET], tolerance=300, now=NOW)
    with pytest.raises(SignatureError):
        verify(f"t={NOW},v1={'0' * 64}", BODY, ["a", "b"], tolerance=300, now=NOW)

    assert compared[:2] == [(good, "0" * 64), (good, good)]
    # Every secret is tried against the candidate through compare_digest, never with ==.
    assert len(compared) == 4
