"""Messages the capture worker posts to the App (the only thing a worker thread may do with the UI)."""

from __future__ import annotations

from textual.message import Message

from tlsinspect.session import Event


class SessionBatch(Message):
    """One batch of session events, in order."""

    def __init__(self, events: tuple[Event, ...]) -> None:
        super().__init__()
        self.events = events


class SessionFailed(Message):
    """The source could not be read (one line for the user)."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message
