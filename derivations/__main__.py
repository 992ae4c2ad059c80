"""``python -m derivations`` is the ``verigrad`` command."""

import sys

from derivations.cli import main

sys.exit(main())
