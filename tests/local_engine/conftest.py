from __future__ import annotations

import pytest
import torch

from tests.local_engine.tiny_models import write_hf_model

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """Factory: a tiny random HF checkpoint folder per (arch, overrides), written once per session."""
    cache: dict = {}

    def make(arch: str = "llama", **overrides):
        key = (arch, tuple(sorted((k, str(v)) for k, v in overrides.items())))
        if key not in cache:
            folder = tmp_path_factory.mktemp(f"tiny-{arch}")
            model = write_hf_model(folder, arch, **overrides)
            cache[key] = (folder, model)
        return cache[key]

    return make
