"""Tokenizer and glue repair, with small hand-made inputs."""

from tutor.text import Vocabulary, repair_glued, tokenize


def test_identifiers_are_kept_whole_and_split():
    terms = tokenize("Call optimizer.zero_grad() and torch.no_grad")
    assert "optimizer.zero_grad" in terms and "zero_grad" in terms
    assert {"zero", "grad", "optim"} <= set(terms)
    assert "torch.no_grad" in terms and "no" not in terms  # "no" is a stopword on its own


def test_module_names_match_with_or_without_namespace():
    assert set(tokenize("nn.Module")) >= {"nn.module", "modul"}
    assert "modul" in tokenize("what is a Module")


def test_stopword_only_text_gives_no_terms():
    assert tokenize("what is it?") == []


def test_repair_uses_the_vocabulary_of_other_pages():
    vocab = Vocabulary([
        "Use torch.Tensor here. The torch.utils.data.Dataset class. model.eval() is used.",
        "A torch.Tensor is a Dataset with model.eval() calls",
        "A torch.Tensoris glued. Datasetis glued. likeDropout andmodel.eval()",
    ])
    fixed = repair_glued("A torch.Tensoris glued. Datasetis glued. likeDropout andmodel.eval()", vocab)
    assert fixed == "A torch.Tensor is glued. Dataset is glued. like Dropout and model.eval()"


def test_repair_leaves_ordinary_words_alone():
    vocab = Vocabulary(["because the context is another format", "TensorFlow and PyTorch", "TensorFlow again"])
    assert repair_glued("because the context is another format of TensorFlow", vocab) == \
        "because the context is another format of TensorFlow"


def test_only_a_word_that_may_be_a_typo_is_respelled():
    from tutor.text import could_be_a_typo

    assert all(could_be_a_typo(w) for w in ("propogation", "diffrence", "wich", "shuffel"))
    # Everyday English is not respelled as the nearest word of the notes ("read" as "ready", "tree" as "three"),
    # nor is a name written with inner capitals ("AdamW" as "adam", "ResNet" as "reset").
    assert not any(could_be_a_typo(w) for w in ("read", "tree", "compile", "case", "AdamW", "ResNet", "TensorRT"))
    assert could_be_a_typo("DIFFRENCE")  # a question in capitals is not a name
