"""tlsinspect: a TLS handshake inspector and packet analyzer (the observer's view of each connection)."""

from __future__ import annotations

__version__ = "0.1.0"
