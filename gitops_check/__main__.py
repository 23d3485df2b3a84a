from __future__ import annotations

from gitops_check.cli import main

raise SystemExit(main())
