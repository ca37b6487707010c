"""Fixtures: a fast tutor over the real corpus with a fake embedder, and the real model once per session.

Nothing is written inside the repository: every index lives in a temporary directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tutor.config import Config
from tutor.models import HashEmbedder

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the corpus that a test may change."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def fake_config(tmp_path: Path, corpus_copy: Path) -> Config:
    return Config(corpus_dir=corpus_copy, index_dir=tmp_path / "index", embed_model="hash", data_dir=tmp_path / "data")


@pytest.fixture
def fake_tutor(fake_config: Config):
    from tutor import Tutor

    return Tutor.load(fake_config, embedder=HashEmbedder())


@pytest.fixture(scope="session")
def real_embedder():
    """The embedder as the tutor runs it: all-MiniLM-L6-v2's copy adapted to interview questions (tuned once
    into the user cache folder, then reused)."""
    from tutor.tuning import TunedEmbedder

    return TunedEmbedder()


@pytest.fixture(scope="session")
def real_tutor(tmp_path_factory, real_embedder):
    """The tutor as a user runs it: the embedded all-MiniLM-L6-v2 over the project corpus."""
    from tutor import Tutor

    base = tmp_path_factory.mktemp("real")
    config = Config(index_dir=base / "index", data_dir=base / "data")
    return Tutor.load(config, embedder=real_embedder)
