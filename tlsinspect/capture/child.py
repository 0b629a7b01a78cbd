"""`tlsinspect live -- COMMAND`: run a client with a fresh key log (SSLKEYLOGFILE) while the capture runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import IO, Any

from tlsinspect.errors import CaptureError


class ChildCommand:
    """A command run with SSLKEYLOGFILE pointing at a fresh, private key log (`keylog_path`)."""

    def __init__(self, command: list[str], stdout: int | IO[Any] | None = None) -> None:
        if not command or shutil.which(command[0]) is None:
            name = command[0] if command else ""
            raise CaptureError(f"cannot run {name!r}: not found (or not executable)")
        self.command = command
        self.stdout = stdout
        self._tmpdir = tempfile.mkdtemp(prefix="tlsinspect-keylog-")
        self.keylog_path = os.path.join(self._tmpdir, "sslkeylog.txt")
        fd = os.open(self.keylog_path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        os.close(fd)
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env["SSLKEYLOGFILE"] = self.keylog_path
        try:
            self._proc = subprocess.Popen(self.command, env=env, stdout=self.stdout)
        except OSError as e:
            raise CaptureError(f"cannot run {self.command[0]!r}: {e.strerror or e}") from e

    def exited(self) -> bool:
        return self._proc is not None and self._proc.poll() is not None

    def end(self) -> int | None:
        """The child's exit status, terminating it (then killing it) if it is still running; removes the key
        log. None if it never started."""
        proc, self._proc = self._proc, None
        status = None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(2.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(2.0)
            status = proc.returncode
        shutil.rmtree(self._tmpdir, ignore_errors=True)
        return status
