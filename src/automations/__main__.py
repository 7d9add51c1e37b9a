"""`python -m automations` is the `automations` command."""

import sys

from .cli import main

sys.exit(main())
