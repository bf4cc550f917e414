"""``python3 -m compiler.train ...``: the ``train`` command (:func:`compiler.train.cli.main`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
