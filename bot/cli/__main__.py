"""``python -m bot.cli``: the csbot command line."""

from bot.cli import main

raise SystemExit(main())
