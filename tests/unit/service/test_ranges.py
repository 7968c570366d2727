import pytest

from service.ranges import RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("bytes=0-99", (0, 99)), ("bytes=100-", (100, 999)), ("bytes=-100", (900, 999)),
     ("bytes=-5000", (0, 999)), ("bytes=990-5000", (990, 999)), ("bytes=5-2", None), ("items=0-1", None),
     ("bytes=0-1,5-6", None), ("bytes=-", None)],
)  # fmt: skip
def test_parse_range(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=2000-3000", "bytes=-0"])
def test_unsatisfiable(header):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)
