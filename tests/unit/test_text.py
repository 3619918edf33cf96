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
