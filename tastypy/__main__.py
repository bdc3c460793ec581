"""``python -m tastypy``: the same as the ``tastypy`` command."""

import sys

from tastypy.cli import main

sys.exit(main())
