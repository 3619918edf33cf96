import re
import unicodedata

from smartlib_core.text import bare_title, dedupe_key, derived_id, fold, goodreads_id, split_series


def test_fold_strips_case_accents_and_punctuation():
    assert fold("Harry Potter and the Philosopher’s Stone!") == "harry potter and the philosophers stone"
    assert fold("Cem Anos de Solidão") == "cem anos de solidao"


def test_series_suffix():
    assert split_series("Harry Potter and the Chamber of Secrets (Harry Potter, #2)") == (
        "Harry Potter and the Chamber of Secrets", "Harry Potter", "2")
    assert split_series("The Way of Kings (The Stormlight Archive, #1)")[1] == "The Stormlight Archive"
    assert split_series("Plain Title") == ("Plain Title", "", "")
    assert bare_title("Dune (Dune, #1)") == "dune"


def test_ids():
    assert goodreads_id("https://www.goodreads.com/book/show/2657.To_Kill_a_Mockingbird") == "gr-2657"
    assert goodreads_id("") == ""
    assert derived_id("Dune", "Frank Herbert") == derived_id("DUNE (Dune, #1)", "frank herbert")
    assert dedupe_key("Dune", "Frank Herbert") != dedupe_key("Dune", "Someone Else")


def test_fold_of_ascii_text_takes_the_short_way_to_the_same_result():
    """fold skips normalising ASCII text (most of a catalog's titles and names): the result must
    be what the full pass gives, punctuation, apostrophes, case and spacing included."""
    def full(text: str) -> str:
        no_marks = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        return " ".join(re.sub(r"[^\w\s]", " ", no_marks.replace("’", "").replace("'", "").lower()).split())

    samples = ["Harry Potter and the Philosopher's Stone!", "  Dune  (Dune, #1) ", "O'Brien\tTIM", "A.B._C-d/e",
               "Ender's Game: Special 20th Anniversary Edition", "", "1984", "Catch-22 -- a  novel"]
    for text in samples:
        assert text.isascii() and fold(text) == full(text), text
