"""Asking the tutor: the real embedded model over the real corpus (integration), and bad input (fast)."""

from __future__ import annotations

import pytest

from tutor.errors import InputError


@pytest.mark.slow
def test_answer_cites_its_source(real_tutor):
    reply = real_tutor.ask("why do we call optimizer.zero_grad() every step?")
    assert reply.confident
    best = reply.hits[0]
    assert best.source.endswith(".txt") and best.page and not best.page.endswith(".txt")
    assert f"Source: {best.page}" in reply.text and best.source in reply.text  # the title, the file beside it
    assert "zero_grad" in reply.text


@pytest.mark.slow
def test_exact_identifier_is_found(real_tutor):
    assert real_tutor.ask("what is CTCLoss").hits[0].id == "001-11"


@pytest.mark.slow
def test_misspelled_question_still_finds_the_answer(real_tutor):
    reply = real_tutor.ask("how do i shuffel my data each epoch")
    # Among the three items shown (as the answer and its neighbours, or, when refused, as the nearest topics).
    assert {"004-11", "002-06"} & {hit.id for hit in reply.hits[:3]}
    assert real_tutor.ask("how do i shuffle my data each epoch").hits[0].id == reply.hits[0].id  # as if spelt right


@pytest.mark.slow
def test_question_answered_by_several_pages_gives_a_hit_per_page(real_tutor):
    reply = real_tutor.ask("What is max pooling?")
    ids = [hit.id for hit in reply.hits]
    assert {"001-46", "000-10"} <= set(ids[:2])
    assert "Also answered on 1 other page" in reply.text


@pytest.mark.slow
def test_follow_up_uses_the_conversation(real_tutor):
    history = [{"role": "user", "content": "what is Conv1d?"},
               {"role": "assistant", "content": real_tutor.ask("what is Conv1d?").text}]
    reply = real_tutor.ask("and the 3D one?", history=history)
    assert reply.hits[0].id == "001-21"
    alone = real_tutor.ask("and the 3D one?")
    assert not alone.follow_up


@pytest.mark.slow
def test_a_concept_inside_a_long_answer_is_quoted_first(real_tutor):
    reply = real_tutor.ask("what does nn.Dropout do")
    best = reply.hits[0]
    assert best.id == "004-07" and "Dropout" in best.passage and len(best.passage) < len(best.answer) / 2
    assert reply.text.index("> nn.Dropout") < reply.text.index("nn.Linear")


@pytest.mark.slow
def test_a_follow_up_without_a_subject_leans_on_the_conversation(real_tutor):
    history = [{"role": "user", "content": "how do I freeze layers?"}]
    reply = real_tutor.ask("show me the code", history=history)
    assert reply.follow_up and reply.hits[0].id == "004-16"
    # A question of its own, asked in the middle of that conversation, keeps its own answer.
    for question, gold in DEV_QUESTIONS:
        fresh = real_tutor.ask(question, history=history)
        assert not fresh.follow_up and fresh.hits[0].id in gold, question


# A handful of the blind dev split (benchmarks/data/retrieval_blind.json), one or two per register.
DEV_QUESTIONS = [
    ("clear grads each step?", {"002-08", "004-10", "004-09"}),
    ("whats the diffrence between model.train() and model.eval()", {"002-05"}),
    ("how do i turn a numpy array into a tensor without copying", {"001-06", "003-04", "002-02", "004-02"}),
    ("what's the best lr schedule trick, like lowering it when validation loss stops improving", {"002-13"}),
    ("mini-batch vs batch gradient descent", {"001-27"}),
    ("DataParallel vs DDP", {"002-11"}),
]


@pytest.mark.slow
def test_blind_dev_questions_find_their_item(real_tutor):
    found = [real_tutor.ask(q).hits[0].id in gold for q, gold in DEV_QUESTIONS]
    assert sum(found) >= len(found) - 1, found
    assert all(real_tutor.ask(q).confident for q, _ in DEV_QUESTIONS)


@pytest.mark.slow
def test_the_confidence_decision_is_the_one_fitted_into_the_index(real_tutor):
    decision = real_tutor.decision
    assert decision == type(decision).from_json(real_tutor.index.manifest["confidence"])
    assert decision.fitted_on["in_scope"] > 200 and decision.fitted_on["out_of_scope"] > 60
    assert decision.probability(real_tutor.ask("what is max pooling?").evidence) > 0.9
    assert decision.probability(real_tutor.ask("how do I bake sourdough bread?").evidence) < 0.2


@pytest.mark.slow
@pytest.mark.parametrize("question", ["what's the capital of France?", "what is a Bloom filter?"])
def test_out_of_scope_questions_get_an_honest_answer(real_tutor, question):
    reply = real_tutor.ask(question)
    assert not reply.confident
    assert "isn't covered in my notes" in reply.text
    assert reply.hits  # the nearest topics are still offered


@pytest.mark.slow
def test_a_question_next_to_a_known_uncovered_one_is_refused_and_a_fresh_own_words_one_answered(real_tutor):
    # Worded afresh (not among the shipped questions): the first two lie next to shipped out-of-scope questions
    # that share the notes' words (sharding, compiling a model); the third describes softmax without naming it.
    for question in ("how does FSDP shard the optimizer state across GPUs",
                     "explain how torch.compile speeds up a model"):
        reply = real_tutor.ask(question)
        assert reply.evidence.known_outside > -0.1 and not reply.confident, (question, reply.probability)
    reply = real_tutor.ask("what squashes raw class scores into probabilities that sum to one")
    assert reply.confident and reply.hits[0].id == "001-50" and reply.evidence.known_outside < -0.2


@pytest.mark.slow
def test_most_near_misses_from_other_libraries_are_flagged(real_tutor):
    # Near misses share the notes' words ("gradient", "learning rate"), so the calibrated decision can
    # let a borderline one through; benchmarks/retrieval.py measures the rate on 39 blind ones.
    questions = ["how does gradient boosting work?", "how do I tune XGBoost's learning rate?",
                 "what is a random forest?", "how do I use JAX's jit?", "what does scikit-learn's GridSearchCV do?",
                 "how does FSDP shard parameters?"]
    flagged = [not real_tutor.ask(q).confident for q in questions]
    assert sum(flagged) > len(questions) / 2, dict(zip(questions, flagged, strict=True))


@pytest.mark.parametrize("question", ["", "   \n\t ", "\u200b\u200b", "\x00\x01"])
def test_empty_questions_are_refused_clearly(fake_tutor, question):
    with pytest.raises(InputError, match="empty"):
        fake_tutor.ask(question)


def test_non_text_question_is_refused(fake_tutor):
    with pytest.raises(InputError, match="must be text"):
        fake_tutor.ask(None)


def test_huge_question_is_capped_not_crashing(fake_tutor):
    reply = fake_tutor.ask("autograd " * 20_000)
    assert len(reply.query) <= fake_tutor.config.max_question_chars
    assert reply.hits


def test_control_characters_and_lone_surrogates_are_dropped(fake_tutor):
    reply = fake_tutor.ask("what is\x00 auto\ud800grad\x1b?")
    assert reply.query == "what is autograd?"


def test_html_in_a_question_is_inert_in_the_reply(fake_tutor):
    reply = fake_tutor.ask("<script>alert(1)</script> what is a tensor? <img src=x onerror=alert(1)>")
    assert "<script>" not in reply.text and "<img" not in reply.text


def test_malformed_history_is_ignored(fake_tutor):
    reply = fake_tutor.ask("what is a tensor", history=[None, {"role": "user"}, {"content": 3}, "text"])
    assert reply.hits


@pytest.mark.slow
def test_asks_and_grades_from_eight_threads_match_sequential_results(real_tutor):
    from concurrent.futures import ThreadPoolExecutor

    questions = ["what is autograd?", "how do i shuffle data each epoch", "why call zero_grad", "what is CTCLoss",
                 "difference between view and reshape", "how to save a model", "what is max pooling",
                 "explain batch normalization"]
    answer = "It keeps the largest value in each window of the feature map, shrinking the map."

    def work(question: str):
        reply = real_tutor.ask(question)
        grade = real_tutor.grade(question, answer)
        return [h.id for h in reply.hits], reply.confident, grade.score, [p.point for p in grade.covered]

    sequential = [work(q) for q in questions]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(work, questions)) == sequential
