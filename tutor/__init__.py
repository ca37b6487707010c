"""Offline PyTorch interview tutor: ask, practise, get graded.

``import tutor`` stays light: torch and the models load on first use.
"""

from tutor.errors import AudioError, CorpusError, IndexMismatch, InputError, ModelError, TutorError

__all__ = ["AudioError", "CorpusError", "IndexMismatch", "InputError", "ModelError", "Tutor", "TutorError"]


def __getattr__(name: str):
    if name == "Tutor":
        from tutor.tutor import Tutor

        return Tutor
    raise AttributeError(name)
