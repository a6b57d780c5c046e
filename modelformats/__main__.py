"""``python -m modelformats inspect PATH``, ``load`` or ``predict PATH FORMAT``: the child process."""

import sys

from modelformats.isolated import main

sys.exit(main(sys.argv[1:]))
