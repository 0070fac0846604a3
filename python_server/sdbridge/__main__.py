"""`python -m sdbridge` runs the CLI."""

import sys

from sdbridge.cli import main

sys.exit(main())
