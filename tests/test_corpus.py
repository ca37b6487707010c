"""Parser tests: exact counts per page shape, against the documents themselves."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tutor.corpus import load_corpus
from tutor.errors import CorpusError
from tutor.items import TOPICS

from .conftest import CORPUS


@pytest.fixture(scope="module")
def items():
    return load_corpus(CORPUS)


def by_page(items, prefix):
    return [item for item in items if item.source.startswith(prefix)]


def test_lost_question_page_gets_a_derived_question_per_answer(items):
    page = by_page(items, "000")
    assert len(page) == (CORPUS / "000_9a57014076c286a5.txt").read_text().count("\nAnswer:\n")
    assert len(page) == 20
    assert all(item.question_derived and item.question.endswith("?") for item in page)
    questions = {item.question for item in page}
    assert "What is max pooling?" in questions
    assert "How do you implement a custom loss function in PyTorch?" in questions
    assert "What are the differences between a linked list and an array?" in questions


def test_numbered_page_keeps_all_fifty_questions_in_order(items):
    page = by_page(items, "001")
    assert [item.section for item in page] == [f"Q{n}" for n in range(1, 51)]
    assert page[0].question == "What is PyTorch?"
    assert page[49].question == "What is the Softmax activation function?"


def test_flattened_comparison_table_reads_as_rows(items):
    table = next(item for item in items if item.id == "001-26")
    rows = [line for line in table.answer.splitlines() if line.startswith("- **PyTorch:**")]
    assert len(rows) == 5
    assert "**TensorFlow:** It has slower speed" in table.answer


def test_bullet_page_has_twenty_answers_in_four_sections(items):
    page = by_page(items, "002")
    assert len(page) == 20
    assert Counter(item.section for item in page) == {
        "Foundational Concepts": 5, "Intermediate Concepts": 5, "Advanced Concepts": 5, "Scenario-Based Questions": 5,
    }


@pytest.mark.parametrize("repaired", [
    "A torch.Tensor is the fundamental data structure",
    "model.train(): Enables specific layers",
    "Dataset is an abstract class",
    "autograd is PyTorch's automatic differentiation engine",
    "requires_grad=True",
])
def test_glued_inline_code_is_repaired(items, repaired):
    text = "\n".join(item.answer for item in by_page(items, "002"))
    assert repaired in text


def test_glued_questions_read_well(items):
    questions = {item.id: item.question for item in by_page(items, "002")}
    assert questions["002-05"].startswith("What is the difference between model.train() and model.eval()?")
    assert questions["002-06"] == "How do torch.utils.data.Dataset and torch.utils.data.DataLoader work together?"


def test_sparse_page_keeps_fifteen_questions_and_one_answer(items):
    page = by_page(items, "003")
    assert len(page) == 15
    assert [item.answer is not None for item in page] == [True] + [False] * 14
    assert page[12].question == "What is the purpose of zero_grad() in PyTorch, and when is it used?"
    assert {item.section for item in page} == {
        "PyTorch Fundamentals", "Neural Network Design with PyTorch", "Training and Optimization Techniques",
    }


def test_article_is_split_by_its_numbered_sections(items):
    page = by_page(items, "004")
    text = (CORPUS / "004_5a5c71b225f530c2.txt").read_text()
    headings = re.findall(r"^(\d+)\. (.+)$", text, flags=re.MULTILINE)
    assert [int(n) for n, _ in headings] == list(range(1, 18))
    titles = [item.title for item in page]
    # 17 sections: the link list "Further Resources" is dropped, section 13 becomes its three exercises,
    # and the summary table after section 11 is an item of its own.
    assert len(page) == 17 - 1 - 1 + 3 + 1
    assert "Implement a Custom Linear Layer Without Using nn.Linear" in titles
    assert "Further Resources" not in titles
    loop = next(item for item in page if item.title.startswith("The Training Loop"))
    assert "```python\nfor epoch in range(num_epochs):" in loop.answer
    assert "Backward Pass: Call loss.backward() to compute gradients." in loop.answer


def test_no_answer_is_empty_or_starts_with_boilerplate(items):
    for item in items:
        if item.answer is not None:
            assert item.answer.strip(), item.id
            assert not re.match(r"(?i)(answer:|listen to|/p>|related articles)", item.answer), item.id
    everything = "\n".join(f"{item.prompt}\n{item.answer or ''}" for item in items)
    assert "LISTEN TO THE" not in everything
    assert "/p>" not in everything
    assert "Related Articles" not in everything


def test_every_item_has_a_stable_unique_id_source_and_known_topic(items):
    ids = [item.id for item in items]
    assert len(ids) == len(set(ids))
    assert ids == [item.id for item in load_corpus(CORPUS)]
    assert all(item.topic in TOPICS for item in items)
    topics = {item.id: item.topic for item in items}
    assert topics["000-19"] == "general CS"  # linked list vs array
    assert topics["002-11"] == "distributed"
    assert topics["001-21"] == "CNNs"


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path: Path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="has no pages"):
        load_corpus(tmp_path / "empty")


def test_repeated_list_openings_are_not_kept_as_answer_text(items):
    answer = next(item for item in items if item.id == "002-10").answer
    assert answer.count("Inference/Evaluation:") == 1
    assert not answer.rstrip().endswith("using")
    assert "used during:\n- Inference/Evaluation" in answer
