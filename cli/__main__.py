"""``python -m cli``: the ``actsearch`` command without its console script."""

import sys

from cli import main

sys.exit(main())
