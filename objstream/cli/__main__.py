"""`python -m objstream.cli`: the `objstream` command without its console script."""

from objstream.cli.main import main

raise SystemExit(main())
