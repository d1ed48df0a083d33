"""`python -m simulator` runs the wirelab command line."""

from __future__ import annotations

from simulator.cli import main

raise SystemExit(main())
