"""``python -m pycontainers``: the command line."""

import sys

from pycontainers.cli.main import main

sys.exit(main())
