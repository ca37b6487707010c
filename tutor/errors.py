"""Domain errors. The CLI and the UI turn each into one clear sentence for the user."""


class TutorError(Exception):
    """Base class: the message is written for the user."""


class CorpusError(TutorError):
    """The corpus directory is missing, empty or unreadable."""


class ModelError(TutorError):
    """A model is missing, or its weights fail their SHA-256 check."""


class IndexMismatch(TutorError):
    """The index on disk does not match the corpus, the model or the format."""


class InputError(TutorError):
    """The user's question or answer cannot be used (empty, too long, unreadable)."""


class AudioError(TutorError):
    """A recording cannot be transcribed."""


class PageSkipped(TutorError):
    """One page of notes cannot be read; the message completes "<file name> …" (the build goes on)."""
