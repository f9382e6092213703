"""``python -m drugresponse ...``: the same as the ``drugresponse`` command."""

import sys

from drugresponse.cli import main

sys.exit(main())
