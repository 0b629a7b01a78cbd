from __future__ import annotations

from tlsinspect.cli import main

raise SystemExit(main())
