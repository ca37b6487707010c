"""Search-term normalisation: compounds, abbreviations, CamelCase and case meet on both sides."""

from __future__ import annotations

import pytest

from tutor.terms import abbreviations, expand, search_terms, word_terms


@pytest.mark.parametrize(("question", "notes"), [
    ("mini-batch", "minibatch"),
    ("mini batch", "mini-batch"),
    ("minibatch", "mini batch"),
    ("pre-trained", "pretrained"),
    ("cross entropy loss", "CrossEntropyLoss"),
    ("DATALOADER", "DataLoader"),
])
def test_spellings_of_one_compound_share_a_term(question, notes):
    assert set(search_terms(question)) & set(search_terms(notes)) - {"loss"}


def test_abbreviations_expand_from_the_reviewed_list():
    assert abbreviations()["lr"] == "learning rate"
    assert "learn" in search_terms("best lr for adam") and "rate" in search_terms("best lr for adam")
    assert "(fully connected)" in expand("what does an fc layer do")
    assert "normal" in search_terms("bn")  # batch normalization


def test_abbreviations_are_whole_words_only():
    assert expand("a valid value") == "a valid value"  # "val" inside "valid" and "value" stays


def test_a_full_stop_joins_no_compound():
    assert "lossoptim" not in search_terms("the loss. optimizers")
    assert "lossoptim" in search_terms("loss optimizers")


def test_question_and_notes_are_normalised_alike():
    assert search_terms("Optimiser") == search_terms("optimiser")
    assert set(search_terms("optimiser")) & set(search_terms("optimizer"))


def test_word_terms_keep_each_word_with_its_expansion():
    words = dict(word_terms("what do grads do"))
    assert "gradient" in words["grads"] and "do" not in words


def test_the_retriever_respells_typos_but_not_english_words_or_names(fake_config):
    from tests.conftest import HashEmbedder
    from tutor import Tutor

    retriever = Tutor.load(fake_config, embedder=HashEmbedder()).retriever
    assert "difference" in retriever.repair_spelling("whats the diffrence between view and reshape")
    kept = "can I read the tree of a ResNet with AdamW"
    assert retriever.repair_spelling(kept) == kept
