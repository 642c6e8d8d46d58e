"""`python -m thinktune ...` runs the `thinktune` command."""

import sys

from thinktune.cli import main

sys.exit(main())
