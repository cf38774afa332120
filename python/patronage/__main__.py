"""`python -m patronage`: the ``patronage`` command (see :mod:`patronage._cli`)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
