"""Atomic, undoable edits of small config files (/etc/fstab, /etc/sysctl.d/90-swapctl.conf).

The new content is computed under the lock (in snapshot), so the journal holds the exact old and new text;
undo writes the old bytes back when the file is still what we wrote, and otherwise re-applies only our own
line-level change in reverse, so an admin's later edits survive a rollback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swapctl.core.plan import Step, UndoContext

if TYPE_CHECKING:
    from swapctl.system.host import Host


def _digest(text: str | None) -> str | None:
    import hashlib  # loaded by the first digest, not at start-up (issue 8)

    return None if text is None else hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


class FileEdit(Step):
    """params: path (in-machine), plus whatever transform() needs. Subclasses define transform/revert."""

    kind = "file-edit"
    file_mode = 0o644

    def transform(self, old: str | None) -> str | None:
        """The new text (None: remove the file)."""
        raise NotImplementedError

    def revert(self, current: str, record: dict[str, Any]) -> str | None:
        """Undo our change on a file someone else has edited since; by default give the old text back."""
        return record["old"]

    def _read(self, host: Host) -> str | None:
        return host.read_text_or_none(self.params["path"])

    @property
    def _parent(self) -> str:
        return self.params["path"].rsplit("/", 1)[0] or "/"

    def snapshot(self, host: Host) -> dict[str, Any]:
        old = self._read(host)
        new = self.transform(old)
        # A missing directory (/etc/sysctl.d on a minimal system) is made by apply and removed again by undo.
        return {"old": old, "new_sha256": _digest(new), "new": new, "made_parent": not host.is_dir(self._parent)}

    def needed(self, host: Host) -> bool:
        old = self._read(host)
        return self.transform(old) != old

    def _write(self, host: Host, text: str | None) -> None:
        path = self.params["path"]
        if text is None:
            host.unlink(path)
        else:
            host.write_atomic(path, text.encode("utf-8", "surrogateescape"), mode=None
                              if host.lstat(path) else self.file_mode)

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        if self._read(host) != record["old"]:
            # Changed between snapshot and apply: impossible under the lock unless edited by hand.
            raise RuntimeError(f"{self.params['path']} changed while swapctl was editing it")
        if record.get("made_parent") and record["new"] is not None:
            host.makedirs(host.real(self._parent), 0o755)
        self._write(host, record["new"])

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        current = self._read(host)
        if _digest(current) == record["new_sha256"]:
            self._write(host, record["old"])
        elif current != record["old"]:
            ctx.notes.append(f"{self.params['path']} was edited since; only swapctl's own line was reverted")
            self._write(host, self.revert(current or "", record))
        # else: never applied (crash between intent and write), or already undone
        if record.get("made_parent"):
            host.remove_dir_if_empty(self._parent)
