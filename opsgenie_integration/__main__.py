"""``python -m opsgenie_integration``: the same as the ``opsgenie-integration`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
