"""``python -m app [command]`` — see ``python -m app --help``."""

from __future__ import annotations

import sys

from app.cli import main

sys.exit(main(sys.argv[1:]))
