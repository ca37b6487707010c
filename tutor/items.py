"""The one record every page reader produces: a question with its answer, its section and its topic.

A leaf module: it imports nothing of the tutor's own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Item:
    """One question with its answer from one page.

    ``answer`` is None for a question the page asks but does not answer (most of page 003): such items
    are practised and graded against other pages, never shown as empty answers. ``question`` is None
    for an article section, whose ``title`` is shown instead; ``question_derived`` marks a question
    the parser wrote because the page lost it.
    """

    id: str
    source: str
    section: str
    title: str
    question: str | None
    answer: str | None
    topic: str
    question_derived: bool = False
    page: str = ""  # the page's title (``corpus/pages.toml``, its first heading, or its file name)
    phrasings: tuple[str, ...] = ()  # other ways to ask the question (``corpus/phrasings.toml``)

    @property
    def prompt(self) -> str:
        """What to show or ask: the question, else the section title."""
        return self.question or self.title

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Item:
        return cls(**{**data, "phrasings": tuple(data.get("phrasings", ()))})


# Ordered: the first topic wins ties, so specific topics come before broad ones.
TOPIC_KEYWORDS: dict[str, tuple[str, ...]] = {
    "general CS": ("operating system", "linked list", "kernel is the core"),
    "distributed": ("dataparallel", "distributed", "multi-gpu", "all-reduce", "ddp", "multiple gpus"),
    "deployment": ("deploy", "production", "torchscript", "onnx", "quantiz", "serving", "latency", "install"),
    "debugging": ("debug", "nan", "anomaly", "overfitting", "validation loss", "gpu usage", "bottleneck"),
    "data loading": ("dataset", "dataloader", "data loading", "augmentation", "shuffl", "mnist", "cifar"),
    "optimizers": ("optim", "learning rate", "scheduler", "sgd", "adam", "gradient descent", ".step()"),
    "loss functions": ("loss function", "mseloss", "crossentropy", "bceloss", "ctcloss", "mean squared"),
    "training loop": ("training loop", "train()", "eval()", "zero_grad", "epoch", "transfer learning",
                      "freez", "state_dict", "save"),
    "autograd": ("autograd", "gradient", "backward", "requires_grad", "derivative", "backpropagation",
                 "no_grad", "computation graph", ".grad"),
    "CNNs": ("convolution", "conv1d", "conv2d", "pooling", "cnn", "stride", "padding", "feature map",
             "fully connected"),
    "RNNs": ("recurrent", "rnn", "sequence model", "lstm"),
    "nn.Module": ("nn.module", "torch.nn", "layer", "sequential", "forward", "activation", "relu",
                  "sigmoid", "softmax", "perceptron", "nn.linear", "module"),
    "tensors": ("tensor", "numpy", "ndarray", "from_numpy", "cuda", "dtype", "reshape", "view(",
                "broadcast"),
    "general ML": ("regression", "neural network", "auto-encoder", "autoencoder", "type 1", "type i ",
                   "feed-forward", "machine learning", "deep learning"),
    "PyTorch basics": ("pytorch", "tensorflow", "framework"),
}
TOPICS = tuple(TOPIC_KEYWORDS)


def classify_topic(title: str, answer: str | None, fallback: str | None = None) -> str:
    """The topic whose keywords weigh most: a hit in the title counts three times one in the answer.

    With a ``fallback`` (the heading of a user's notes), a keyword topic must be clear — a title hit or
    three answer hits — or the fallback is the topic.
    """
    title_l, answer_l = title.lower(), (answer or "").lower()
    best, best_score = "PyTorch basics", 0
    for topic, keywords in TOPIC_KEYWORDS.items():
        score = sum(3 * title_l.count(k) + min(answer_l.count(k), 3) for k in keywords)
        if score > best_score:
            best, best_score = topic, score
    return fallback if fallback and best_score < 3 else best


def citation(page: str, section: str) -> str:
    """How a learner is pointed to a passage: "page title · section" (the section when there is one)."""
    return f"{page} · {section}" if section else page
