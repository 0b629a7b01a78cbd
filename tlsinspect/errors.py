"""The few exception types of tlsinspect.

Parsers have three outcomes: a value, ``None`` for "need more data", or one `DecodeError` for bytes that can
never parse. Any other exception escaping a parser is a bug (the fuzz tests check this), in the spirit of h11's
``RemoteProtocolError`` contract.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """The bytes given can never decode as the thing asked for (malformed peer data)."""


class CaptureError(Exception):
    """The capture source cannot be read at all (not a capture file, unknown format, no permission).

    The message is one line for a person; the CLI prints it and exits with status 2.
    """
