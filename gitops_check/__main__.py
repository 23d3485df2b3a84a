from __future__ import annotations

from gitops_check.entry import main

raise SystemExit(main())
