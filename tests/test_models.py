"""Model loading: embedded weights are verified, tampered copies refused, the device decided once."""

from __future__ import annotations

import pytest

from tutor import models
from tutor.errors import ModelError


def test_embedded_model_passes_its_hash_check():
    folder = models.embedded_model_dir("all-MiniLM-L6-v2")
    assert (folder / "model.safetensors").is_file()


def test_tampered_weights_are_refused(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not the real weights")
    with pytest.raises(ModelError, match="fails its SHA-256 check"):
        expected = models.EMBEDDED_MODELS["all-MiniLM-L6-v2"][1]
        models.verify_hashes(tmp_path, expected)


def test_tampered_embedded_model_is_refused_before_loading(monkeypatch):
    package, hashes = models.EMBEDDED_MODELS["all-MiniLM-L6-v2"]
    monkeypatch.setitem(models.EMBEDDED_MODELS, "all-MiniLM-L6-v2", (package, {"model.safetensors": "0" * 64}))
    with pytest.raises(ModelError, match="tampered with or corrupt"):
        models.SentenceEmbedder("all-MiniLM-L6-v2")


def test_missing_weight_file_names_the_fix(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        models.verify_hashes(tmp_path, {"model.bin": "0" * 64})


def test_device_is_cpu_without_cuda():
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert models.resolve_device("auto") == expected
    assert models.compute_type(expected) == ("float16" if expected == "cuda" else "int8")


def test_hash_embedder_is_deterministic_and_normalised():
    import numpy as np

    first = models.HashEmbedder().embed(["autograd records operations", "tensors"])
    second = models.HashEmbedder().embed(["autograd records operations", "tensors"])
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)


def test_importing_tutor_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, tutor; from tutor import Tutor; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
