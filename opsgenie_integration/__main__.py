"""``python -m opsgenie_integration``: the same as the ``opsgenie-integration`` command."""

import sys

from .cli import main

sys.exit(main())
