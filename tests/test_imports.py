"""The account import's limits (cms/imports.py), each at its boundary: rows per file, the length of a
username, a name and a password, and the batch in which emails and usernames are looked up."""

import pytest

from cms.accounts import create_user
from cms.extensions import db
from cms.imports import AccountImportError, read_rows, validate
from tests.support.database import StatementCounter
from tests.support.web import PASSWORD


def records(count: int, **fields) -> list[dict]:
    return [{"email": f"person{n}@example.org", "username": f"person{n}", **fields} for n in range(count)]


def test_a_file_of_max_rows_is_read_and_one_more_row_is_refused(app):
    assert [row.line for row in read_rows(records(3), max_rows=3)] == [2, 3, 4]
    with pytest.raises(AccountImportError) as refused:
        read_rows(records(4), max_rows=3)
    assert str(refused.value) == "The file has 4 rows; import at most 3 at a time."


def test_blank_lines_are_no_rows_and_do_not_count_towards_the_limit(app):
    """A column formatted down the sheet, or a CSV's trailing commas: 12,000 blank lines under 3 rows are 3 rows,
    read at a limit of 3, where the lines were counted and the file refused; only blank lines: no rows."""
    blank = [{"email": "", "username": None}] * 12_000
    assert [row.line for row in read_rows(records(3) + blank, max_rows=3)] == [2, 3, 4]
    with pytest.raises(AccountImportError, match="The file has 4 rows; import at most 3"):
        read_rows(records(4) + blank, max_rows=3)
    with pytest.raises(AccountImportError, match="no rows under its header"):
        read_rows(blank, max_rows=3)


def test_a_byte_order_mark_and_number_cells_are_read_as_written(app):
    """Excel's "CSV UTF-8" begins with a BOM, which reached the header's first name ("\ufeffemail"); a number
    cell of an xlsx (1000.0) is the number as typed."""
    [row] = read_rows([{"\ufeffEmail": "x@example.org", "username": 1000.0, "name": 12.5}])
    assert (row.email, row.username, row.name) == ("x@example.org", "1000", "12.5")


NO_PASSWORDS = "passwords are not imported: leave the column empty, each account is invited to choose its own"


def errors_of(**fields) -> list[str]:
    [row] = validate(read_rows([{"email": "someone@example.org", "username": "someone", **fields}]))
    return row.errors


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"username": "abc"}, None),
        ({"username": "ab"}, "username 'ab' must be 3–64 letters, digits, '.', '_' or '-'"),
        ({"username": "u" * 64}, None),
        ({"username": "u" * 65}, f"username '{'u' * 65}' must be 3–64 letters, digits, '.', '_' or '-'"),
        ({"name": "n" * 64}, None),
        ({"name": "n" * 65}, "name longer than 64 characters"),
        ({"password": ""}, None),
        ({"password": "vK7#qm2!Xz9p"}, NO_PASSWORDS),
    ],
    ids=["username-3", "username-2", "username-64", "username-65", "name-64", "name-65", "no-password", "password"],
)
def test_each_length_limit_accepts_its_boundary_and_refuses_one_past_it(app, fields, error):
    assert errors_of(**fields) == ([error] if error else [])


def _email_lookups(counter: StatementCounter) -> int:
    return sum("FROM user" in s and "lower(user.email) IN" in s for s in counter.statements)


@pytest.mark.parametrize(("count", "lookups"), [(1000, 1), (1001, 2)], ids=["one-batch", "one-more-row"])
def test_existing_accounts_are_found_in_batches_of_a_thousand_emails(app, count, lookups):
    """The last row of the file clashes with an account: found whether or not it falls in a second batch."""
    create_user(f"person{count - 1}@example.org", PASSWORD, ["Reader"], username="somebody")
    rows = read_rows(records(count))
    with StatementCounter(db.engine) as counter:
        validate(rows)
    assert _email_lookups(counter) == lookups
    assert [row.errors for row in rows if row.errors] == [
        [f"email person{count - 1}@example.org already has an account"]
    ]
