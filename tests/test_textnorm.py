import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from assistant.textnorm import analyze, document_terms, fold, query_terms


def test_fold_removes_vietnamese_diacritics_and_case():
    assert fold("Sơn La") == "son la"
    assert fold("Điện Biên") == "dien bien"
    assert fold("Hoàng Xuân Chiến") == "hoang xuan chien"
    assert fold("ĐÀ NẴNG") == "da nang"


def test_fold_applies_nfkc_before_folding():
    assert fold("ﬁve") == "five"  # the ligature
    assert fold("Ｌａｏ") == "lao"  # full-width letters


def test_decomposed_and_composed_input_fold_alike():
    composed = "Việt Nam"
    decomposed = "Vie\u0323\u0302t Nam"
    assert fold(composed) == fold(decomposed) == "viet nam"


def test_spellings_of_viet_nam_share_a_term():
    written_apart = set(document_terms("the Việt Nam People's Army"))
    written_together = set(document_terms("the Vietnam People's Army"))
    plain = set(document_terms("Viet Nam border"))
    assert "vietnam" in written_apart & written_together & plain
    assert "vietnam" in query_terms("viet nam")
    assert "vietnam" in query_terms("Vietnam")


def test_place_names_match_with_or_without_diacritics():
    assert set(query_terms("son la")) <= set(document_terms("Sơn La province"))
    assert set(query_terms("Dien Bien")) <= set(document_terms("Điện Biên"))


def test_documents_join_only_capitalised_pairs_but_queries_join_any():
    assert "sonla" in document_terms("Son La")
    assert "borderguard" not in document_terms("the border guard")
    assert "borderguard" in query_terms("border guard")


def test_no_compound_across_punctuation_or_stop_words():
    assert "namlao" not in document_terms("Việt Nam – Laos")
    assert "lunglao" not in query_terms("lung of the lao")


def test_stemming_and_stop_words():
    analyzed = analyze("Who co-chaired the meetings?")
    assert analyzed.words == ["co", "chair", "meet"]


def test_names_are_capitalised_words_and_pairs():
    analyzed = analyze("the Lao side met in Luang Prabang")
    assert analyzed.names == {"lao", "luang", "prabang", "luangprabang"}


@given(st.text())
def test_fold_is_idempotent(text):
    assert fold(fold(text)) == fold(text)


@given(st.text())
def test_query_and_document_terms_are_folded_or_kept_as_written(text):
    for compounding in ("all", "capitalized"):
        analyzed = analyze(text, compounding)
        for term in analyzed.words + analyzed.compounds:
            assert term and term == fold(term)
        for term in analyzed.marked:  # a word written with marks, kept as written: its folded form is a word too
            assert term != fold(term) and unicodedata.normalize("NFC", term) == term
    assert query_terms(text) == analyze(text, "all").terms and document_terms(text) == analyze(text).terms


def test_vietnamese_function_words_are_left_out_and_names_meet_with_or_without_marks():
    analyzed = analyze("Ai đã chủ trì cuộc hội đàm của hai bên tại tỉnh Sơn La?", "all")
    assert analyzed.words == ["chu", "tri", "cuoc", "hoi", "dam", "hai", "ben", "tinh", "son", "la"]
    assert "sonla" in analyzed.compounds
    # "đã" is a function word, the "Đà" of Đà Nẵng is not, though both fold to "da"
    assert analyze("Đà Nẵng").words == ["da", "nang"] and analyze("đã").words == []
    # an ASCII spelling is a function word only in lower case: the names Theo and Cho stay
    assert analyze("Theo Cho theo cho").words == ["theo", "cho"]
    assert analyze("Phôngsalỳ").words == analyze("Phongsaly").words and analyze("Trường").words == ["truong"]


def test_words_written_with_marks_are_kept_as_written_beside_their_folded_form():
    analyzed = analyze("Thủ đô của Pháp; pháp luật; Phap")
    assert analyzed.words == ["thu", "do", "phap", "phap", "luat", "phap"]
    assert analyzed.marked == ["thủ", "đô", "pháp", "pháp", "luật"]  # "Phap", typed without marks, has none
    assert "pháp" in analyzed.terms and "phap" in analyzed.terms
