"""docs/errors.md stays true: every call in its table is refused with exactly that message."""

from __future__ import annotations

import re

import pytest
from error_cases import CALLS, TABLE, _cell, namespace, run

ROW = re.compile(r"^\| (\d+) \| `(.+)` \| (.+) \|$")


def _rows() -> list[tuple[str, str]]:
    rows = []
    for line in TABLE.read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows.append((match.group(2), match.group(3)))
    return rows


ROWS = _rows()


def test_the_table_lists_every_case_and_at_least_130():
    assert [call for call, _ in ROWS] == CALLS
    assert len(ROWS) >= 130


@pytest.fixture(scope="module")
def ns():
    return namespace()


@pytest.mark.parametrize("call, expected", ROWS, ids=[f"row{i}" for i in range(1, len(ROWS) + 1)])
def test_each_rejected_input_gives_the_documented_message(call, expected, ns):
    assert _cell(run(call, ns)) == expected
