"""`python -m app.cli`: the `genai` command."""

import sys

from app.cli import main

sys.exit(main())
