"""The corpus: interview pages in ``corpus/`` parsed into question/answer items.

Each page is recognised by its shape (see ``tutor.pages``), never by its file name, so a user can drop
in another page of a known shape. Every item gets a stable id (``001-26``: file prefix and position),
its source file, section and a topic.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from tutor.errors import CorpusError

PARSER_VERSION = 5

BOILERPLATE = re.compile(r"^(LISTEN TO THE .* LIKE AN AUDIOBOOK|/?p>)\s*$", re.IGNORECASE | re.MULTILINE)
# Everything after these headings links to other pages.
TRAILERS = re.compile(r"^(\d+\. )?(Related Articles|Related Posts|Further Resources)\s*$.*", re.MULTILINE | re.DOTALL)


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

    @property
    def prompt(self) -> str:
        """What to show or ask: the question, else the section title."""
        return self.question or self.title

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Item:
        return cls(**data)


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


def classify_topic(title: str, answer: str | None) -> str:
    """The topic whose keywords weigh most: a hit in the title counts three times one in the answer."""
    title_l, answer_l = title.lower(), (answer or "").lower()
    best, best_score = "PyTorch basics", 0
    for topic, keywords in TOPIC_KEYWORDS.items():
        score = sum(3 * title_l.count(k) + min(answer_l.count(k), 3) for k in keywords)
        if score > best_score:
            best, best_score = topic, score
    return best


def strip_boilerplate(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\u00a0", " ")
    text = re.sub(r"\./p>", ".", text)
    text = BOILERPLATE.sub("", text)
    text = TRAILERS.sub("", text)
    return text


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The pages of ``corpus_dir``, sorted; raises CorpusError when there are none."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"Corpus directory {corpus_dir} does not exist.")
    files = sorted(p for p in corpus_dir.glob("*.txt") if p.is_file())
    if not files:
        raise CorpusError(f"Corpus directory {corpus_dir} has no .txt pages.")
    return files


def corpus_hash(corpus_dir: Path) -> str:
    """SHA-256 over the parser version and every page's name and bytes."""
    digest = hashlib.sha256(f"parser:{PARSER_VERSION}".encode())
    for path in corpus_files(corpus_dir):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def load_corpus(corpus_dir: Path) -> list[Item]:
    """Parse every page of ``corpus_dir`` into items.

    Raises:
        CorpusError: the directory is missing or empty, a page is not UTF-8 text, or no page yields items.
    """
    from tutor import pages

    files = corpus_files(corpus_dir)
    texts = {}
    for path in files:
        try:
            texts[path] = strip_boilerplate(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path.name} is not UTF-8 text ({exc.reason}).") from exc
    vocab = pages.build_vocabulary(texts.values())
    items: list[Item] = []
    for path, text in texts.items():
        items.extend(pages.parse_page(path.name, text, vocab))
    if not any(item.answer for item in items):
        raise CorpusError(f"No question/answer items could be parsed from {corpus_dir}.")
    return items
