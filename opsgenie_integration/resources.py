"""Where the packaged data files live: the manifest, the JSON Schemas and the field mappings.

In a built wheel they ship inside the package (``opsgenie_integration/_data/``); in a source
checkout (or an editable install) they sit at the top of the repository, beside the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    """The folder holding ``integration.yaml``, ``schemas/`` and ``field_mappings/``.

    Raises:
        FileNotFoundError: neither the packaged copy nor the source tree's copy exists.
    """
    for candidate in (_PACKAGE_DIR / "_data", _PACKAGE_DIR.parent):
        if (candidate / "integration.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        "integration.yaml not found beside the package: the installation is incomplete"
    )


def data_path(relative: str) -> Path:
    """Absolute path of a data file given relative to the data root (``schemas/x.json``)."""
    return data_root() / relative
