"""Contradiction cues between an answer sentence and the reference point it matches (tutor/contradiction.py)."""

import pytest

from tutor.contradiction import Context, clash, common_names, identifiers, opposites, subjects

NAMED = Context(named=frozenset({"detach", "clone", "eval", "train", "zero_grad"}))


@pytest.mark.parametrize(("point", "sentence", "cue"), [
    ("model.eval() disables dropout.", "eval() enables dropout so predictions vary.",
     "“enables” where the notes say “disables”"),
    ("detach() returns a tensor that shares storage with the original.", "detach() copies the data into new memory.",
     "“copies” where the notes say “shares”"),
    ("Set requires_grad to False for the frozen layers.", "Set requires_grad=True on the layers to freeze.",
     "“True” where the notes say “False”"),
    ("Gradients accumulate across backward calls.", "Gradients are overwritten by every backward call.",
     "“overwritten” where the notes say “accumulate”"),
])
def test_an_opposite_word_contradicts_the_point(point, sentence, cue):
    assert cue in clash(point, sentence, NAMED)


def test_an_opposite_word_is_no_contradiction_when_the_answer_says_the_notes_word_too():
    """A sentence that says the opposite of what its own answer asserts elsewhere speaks of something else."""
    point = "It introduces non-linearity, so the network can learn complex relationships."
    sentence = "Without it, stacking layers just collapses them into one big linear map."
    assert "“linear” where the notes say “nonlinear”" in clash(point, sentence)
    said = Context(answer=("An activation function adds nonlinearity.", sentence))
    assert clash(point, sentence, said) is None
    # A word misheard or mistyped is still said; the opposite word itself, spelled alike, is not.
    assert clash(point, sentence, Context(answer=("Its job is to add on linearity.", sentence))) is None
    assert clash(point, sentence, Context(answer=("Its job is to add linearity.", sentence))) is not None
    # An everyday word spelled like the notes' word is that word, not a mishearing: "shape" does not say "share".
    copies = "detach() copies the data into new memory."
    shares = "detach() returns a tensor that shares storage with the original."
    assert clash(shares, copies, Context(answer=("The shape stays the same.", copies))) is not None
    # Saying it only under a negation is no affirmation: the cue still fires.
    denied = Context(answer=("An activation function does not add nonlinearity.", sentence))
    assert "“linear” where the notes say “nonlinear”" in clash(point, sentence, denied)


def test_a_negated_claim_contradicts_the_point_that_affirms_it():
    point = "torch.from_numpy() shares memory with the NumPy array."
    assert "not share" in clash(point, "The tensor does not share memory with the array.")
    assert "affirms" in clash("A view does not copy the data.", "A view copies the data.")


def test_a_negation_said_with_a_negative_verb_agrees():
    """"without computing gradients" and "disables gradient computation" say the same thing."""
    point = "torch.no_grad() disables gradient computation to save memory."
    assert clash(point, "Inside no_grad the forward pass runs without computing gradients.") is None


def test_a_function_swapped_for_another_one_the_question_names():
    point = "detach() returns a tensor that shares storage with the original."
    asked = frozenset({"detach", "clone"})
    assert "says of clone what the notes say of detach" in clash(point, "clone() returns a tensor sharing storage.",
                                                                  Context(asked, asked))
    # A helper the question and its references do not name is just another function, not a swap.
    assert clash(point, "x.numpy() returns a tensor sharing storage.", Context(asked, asked)) is None


@pytest.mark.parametrize(("point", "sentence"), [
    ("model.eval() disables dropout.", "eval() turns dropout off for inference."),
    ("Call optimizer.zero_grad() before loss.backward().", "Clear gradients with zero_grad() before backward()."),
    ("Pooling reduces the spatial size of feature maps.", "Pooling shrinks the height and width of feature maps."),
    ("Dropout randomly zeroes activations during training.", "During training dropout zeroes random activations."),
    ("Non-linearity: a non-linear activation follows the convolution.", "Then you apply a nonlinearity like ReLU."),
    ("A do-while loop runs its body at least once.", "Its body does not need to be skipped: it runs once."),
])
def test_a_paraphrase_is_not_a_contradiction(point, sentence):
    assert clash(point, sentence, NAMED) is None


def test_identifiers_are_compared_by_their_last_part():
    assert identifiers("Call model.eval() then torch.no_grad() and nn.CrossEntropyLoss") == {
        "eval", "no_grad", "crossentropyloss"}


def test_the_opposites_list_is_symmetric_and_stemmed():
    table = opposites()
    assert "disabl" in table["enabl"] and "enabl" in table["disabl"]
    assert "turn off" in table["turn on"]


LOSS_AND_OPTIMIZER = "What are the roles of loss functions and optimizers?"
POINTS = ["Loss function: quantifies the difference between the predictions and the targets.",
          "Optimizer: adjusts the parameters using the gradients of the loss function."]


def test_the_subjects_of_a_question_are_the_things_it_sets_side_by_side():
    assert subjects(LOSS_AND_OPTIMIZER, POINTS).names == {"function", "optim"}
    assert subjects("What is autograd?", POINTS).names == set()
    # A subject the question writes as code must be code in the points: "Reshaping" is not reshape().
    assert subjects("view() and reshape()?", ["Reshaping keeps the data.", "view() needs contiguity."]).names == set()


def test_a_claim_moved_to_another_subject_contradicts_the_point():
    context = Context(subjects=subjects(LOSS_AND_OPTIMIZER, POINTS))
    swapped = "The optimizer measures how far the predictions are from the targets."
    assert "says of “optimizer” what the notes say of “function”" in clash(POINTS[0], swapped, context)
    right = "The loss function measures how far the predictions are from the targets, while the optimizer updates."
    assert clash(POINTS[0], right, context) is None


def test_a_name_most_of_the_notes_use_is_never_a_swapped_identifier():
    answers = ["PyTorch has tensors.", "In PyTorch, call model.eval().", "PyTorch uses autograd.", "Use .cuda().",
               "Losses compare outputs.", "Pooling shrinks maps.", "Dropout zeroes units.", "Adam adapts steps."]
    assert common_names(answers) == {"pytorch"}
    point = "PyTorch tensors can live on the GPU."
    sentence = "Calling .cuda() moves the tensor to the GPU."
    swapped = Context(asked=frozenset({"pytorch"}), named=frozenset({"pytorch", "cuda"}))
    assert clash(point, sentence, swapped) is not None
    assert clash(point, sentence, Context(swapped.asked, swapped.named, common=common_names(answers))) is None


def test_a_subject_swap_needs_a_clause_that_makes_the_point():
    context = Context(subjects=subjects("What is the difference between SGD and Adam?",
                                        ["SGD: one example per update.", "Adam: adaptive steps per parameter."]))
    point = "SGD: in SGD we use a single training example to compute each update."
    # Neither clause shares two of the point's words: no clause makes this point, so nothing is swapped.
    assert clash(point, "Adam adapts a step per parameter, while SGD applies one learning rate.", context) is None
