"""``python -m cli``: the ``pidengine`` command without its entry point."""

import sys

from cli.main import main

sys.exit(main())
