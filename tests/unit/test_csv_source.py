"""Parsing the Kaggle "Best Books 10k" schema, quirks included."""
from __future__ import annotations

import io
import textwrap

import pytest

from smartlib_server.csv_source import ParsedRow, RowError, load_file, read_rows

from ..conftest import dataset_path

HEADER = ",Book,Author,Description,Genres,Avg_Rating,Num_Ratings,URL,Characters\n"


def parse(body: str) -> list:
    return list(read_rows(io.StringIO(HEADER + textwrap.dedent(body))))


def test_a_full_row_with_quirks():
    rows = parse(
        '0,"Harry Potter and the Philosopher’s Stone (Harry Potter, #1)",J.K. Rowling,"Line one\n'
        'line two","[\'Fantasy\', \'Young Adult\']",4.47,"9,278,135",https://www.goodreads.com/book/show/72193.HP,'
        '"[""Harry Potter""]"\n'
    )
    assert len(rows) == 1 and isinstance(rows[0], ParsedRow)
    book = rows[0].book
    assert book.id == "gr-72193"
    assert book.description == "Line one\nline two"
    assert book.genres == ("Fantasy", "Young Adult") and book.main_genre == "Fantasy"
    assert book.num_ratings == 9278135 and book.avg_rating == 4.47
    assert (book.series_name, book.series_position) == ("Harry Potter", "1")
    assert book.characters == ("Harry Potter",) and book.list_rank == 0


def test_empty_values_are_fine_and_ids_are_derived():
    rows = parse("5,Some Book,Some Author,,[],,,,\n")
    book = rows[0].book
    assert book.id.startswith("sl-") and book.genres == () and book.avg_rating == 0 and book.num_ratings == 0
    again = parse("9,some book!,SOME AUTHOR,,,,,,\n")[0].book
    assert again.id == book.id  # deterministic from the normalised title and author


def test_bad_rows_are_reported_with_line_numbers_and_skipped():
    rows = parse(
        "0,Good,Author,,\"['A']\",4,10,,\n"
        "1,,No Title Here,,,,,,\n"
        "2,Bad Genres,Author,,\"['unclosed\",,,,\n"
        "3,Bad Rating,Author,,,7.5,,,\n"
        "4,Bad Count,Author,,,,\"12a\",,\n"
        "5,Also Good,Author,,,,,,\n"
    )
    kinds = [type(r).__name__ for r in rows]
    assert kinds == ["ParsedRow", "RowError", "RowError", "RowError", "RowError", "ParsedRow"]
    errors = [r for r in rows if isinstance(r, RowError)]
    assert [e.line for e in errors] == [3, 4, 5, 6]
    assert "title" in errors[0].reason and "Genres" in errors[1].reason
    assert "Avg_Rating" in errors[2].reason and "Num_Ratings" in errors[3].reason


@pytest.mark.parametrize("column", ["Genres", "Characters"])
def test_list_columns_are_never_evaluated(tmp_path, column):
    # Evaluated, this would touch a file and yield a valid list of strings, so only a parser that
    # never evaluates refuses the row (an expression that evaluates to a non-list proves nothing).
    marker = tmp_path / "evaluated"
    expression = f"[__import__('pathlib').Path({str(marker)!r}).touch() or 'Fantasy']"
    cells = ["0", "X", "Y", "", "", "", "", "", ""]
    cells[HEADER.strip().split(",").index(column)] = f'"{expression}"'
    rows = parse(",".join(cells) + "\n")
    assert isinstance(rows[0], RowError) and column in rows[0].reason
    assert not marker.exists()


def test_missing_required_column_is_a_clear_error():
    with pytest.raises(ValueError, match="Author"):
        list(read_rows(io.StringIO("Book,Description\nA,B\n")))


def test_duplicate_editions_merge_and_fill_gaps(tmp_path):
    path = tmp_path / "books.csv"
    path.write_text(
        HEADER
        + "0,The Road,Cormac McCarthy,,\"['Fiction']\",,,,\n"
        + "1,The Road,Cormac McCarthy,A father and son walk.,\"['Fiction']\",3.98,\"1,000\",,\n"
        + "2,Other,Someone,,,,,,\n",
        encoding="utf-8",
    )
    books, errors, read, merged = load_file(path)
    assert (len(books), len(errors), read, merged) == (2, 0, 3, 1)
    road = books[0][1]
    assert road.description == "A father and son walk." and road.num_ratings == 1000 and road.list_rank == 0


@pytest.mark.dataset
def test_the_10k_catalog_accounts_for_every_row():
    path = dataset_path()
    if not path.is_file():
        pytest.skip(f"the 10k Goodreads CSV is not at {path} (set SMARTLIB_DATA_DIR)")
    books, errors, read, merged = load_file(path)
    assert read == 10_000
    assert len(books) + len(errors) + merged == read
    assert len({b.id for _, b in books}) == len(books)  # ids are unique after merging
    assert merged >= 104  # the README counts 104 rows that repeat a title and author
