import pytest

from service.ranges import RangeNotSatisfiable, http_date, not_modified, parse_range, range_allowed


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=5-2", None),
        ("items=0-1", None),
        ("bytes=0-1,5-6", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=2000-3000", "bytes=-0"])
def test_unsatisfiable(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


ETAG, MODIFIED = '"a1-b2"', 1_790_000_000.75  # last modified at .75 s: HTTP dates carry whole seconds


@pytest.mark.parametrize(
    ("if_none_match", "if_modified_since", "expected"),
    [
        (None, None, False),
        (ETAG, None, True),
        ('"x", "a1-b2"', None, True),
        (f"W/{ETAG}", None, True),  # If-None-Match compares weakly
        ("*", None, True),
        ('"x"', None, False),
        ('"x"', http_date(MODIFIED), False),  # If-None-Match decides when present
        (None, http_date(MODIFIED), True),
        (None, http_date(MODIFIED + 60), True),
        (None, http_date(MODIFIED - 60), False),
        (None, "not a date", False),
    ],
)
def test_not_modified(if_none_match, if_modified_since, expected):
    assert not_modified(if_none_match, if_modified_since, ETAG, MODIFIED) is expected


@pytest.mark.parametrize(
    ("if_range", "expected"),
    [
        (None, True),
        (ETAG, True),
        (f"W/{ETAG}", False),  # If-Range needs a strong match
        ('"other"', False),
        (http_date(MODIFIED), True),
        (http_date(MODIFIED - 1), False),
        ("garbage", False),
    ],
)
def test_range_allowed(if_range, expected):
    assert range_allowed(if_range, ETAG, MODIFIED) is expected
