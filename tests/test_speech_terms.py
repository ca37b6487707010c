"""Heard non-words mapped back to the glossary's spelling (fast: no model)."""

from __future__ import annotations

from tutor.speech import repair_terms

TERMS = ["gradients", "NumPy", "autograd", "nn.Module", "Adam"]
KNOWN = frozenset({"computes", "records", "tensors", "gradient", "calling"})


def test_a_word_missing_one_sound_takes_the_glossary_spelling():
    heard = "Autograd records tensors that require radients, and humpy arrays convert."
    repaired = repair_terms(heard, TERMS, KNOWN)
    assert repaired == "Autograd records tensors that require gradients, and NumPy arrays convert."


def test_words_the_notes_use_short_words_and_distant_words_stay():
    heard = "calling backward computes the gradient; radiance stays, so does Adom"
    assert repair_terms(heard, TERMS, KNOWN) == heard
