"""Atomic, undoable edits of small config files (/etc/fstab, /etc/sysctl.d/90-swapctl.conf).

The new content is computed under the lock (in snapshot), so the journal holds the exact old and new text;
undo writes the old bytes back when the file is still what we wrote, and otherwise re-applies only our own
line-level change in reverse, so an admin's later edits survive a rollback.

Links are the admin's: a kind that may follow one (fstab) edits the regular file it leads to, inside the root,
and leaves the link as it is; swapctl's own file must be a regular file (a link there, /dev/null above all,
is an admin's mask, and is refused). Neither an edit nor its undo ever replaces or deletes a link."""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING, Any, ClassVar

from swapctl.core import fields
from swapctl.core.errors import Refused
from swapctl.core.plan import Step, UndoContext
from swapctl.core.text import split_lines

if TYPE_CHECKING:
    from swapctl.system.host import Host


def _digest(text: str | None) -> str | None:
    import hashlib  # loaded by the first digest, not at start-up (issue 8)

    return None if text is None else hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _is_digest(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)


EDIT_RECORD = {
    "old": fields.Field(fields.optional(fields.is_content), "text or null"),
    "new": fields.Field(fields.optional(fields.is_content), "text or null"),
    "new_sha256": fields.Field(fields.optional(_is_digest), "a sha256 or null"),
    "made_parent": fields.Field(fields.is_bool, "true or false"),
    "target": fields.Field(fields.is_path, "an absolute path", required=False),
}


class FileEdit(Step):
    """params: path (in-machine), plus whatever transform() needs. Subclasses define transform/revert."""

    kind = "file-edit"
    file_mode = 0o644
    record_schema = EDIT_RECORD
    allowed_paths: ClassVar[tuple[str, ...]] = ()  # the files this kind may edit
    follows_links: ClassVar[bool] = False

    @classmethod
    def invalid(cls, params: dict[str, Any], record: dict[str, Any] | None) -> str | None:
        why = super().invalid(params, record)
        if why is None and not cls.may_edit(params["path"]):
            return f"{cls.kind} never edits {params['path'][:80]!r}"
        return why

    @classmethod
    def may_edit(cls, path: str) -> bool:
        return path in cls.allowed_paths

    def transform(self, old: str | None) -> str | None:
        """The new text (None: remove the file)."""
        raise NotImplementedError

    def revert(self, current: str, record: dict[str, Any]) -> str | None:
        """Undo our change on a file someone else has edited since; by default give the old text back."""
        return record["old"]

    @property
    def _parent(self) -> str:
        return self.params["path"].rsplit("/", 1)[0] or "/"

    def target(self, host: Host) -> str:
        """The regular file an edit writes: the path itself, or where a link there leads (when the kind follows
        links). Refused (exit 3) when that is a link swapctl must not follow, or is not a regular file."""
        path = self.params["path"]
        st = host.lstat(path)
        if st is None or stat.S_ISREG(st.st_mode):
            return path
        if not stat.S_ISLNK(st.st_mode):
            raise Refused(f"{path} is not a regular file; swapctl will not write it")
        link = host.readlink(path)
        if not self.follows_links:
            what = "masked (a link to /dev/null)" if link == "/dev/null" else f"a symbolic link to {link}"
            raise Refused(
                f"{path} is {what}; swapctl edits only its own regular file there",
                hint=f"remove {path} if swapctl may manage it, or leave these settings to that file",
            )
        real = host.resolve(path)
        tst = host.lstat(real)
        if tst is None or not stat.S_ISREG(tst.st_mode):
            raise Refused(
                f"{path} is a link to {real}, which is {'missing' if tst is None else 'not a regular file'}",
                hint=f"fix the link {path}, or replace it with the file itself",
            )
        return real

    def edits(self) -> tuple[str, Any]:
        return self.params["path"], self.transform

    def _read(self, host: Host, path: str | None = None) -> str | None:
        return host.read_text_or_none(path or self.params["path"])

    def check(self, host: Host) -> None:
        self.target(host)

    def snapshot(self, host: Host) -> dict[str, Any]:
        target = self.target(host)
        old = self._read(host, target)
        new = self.transform(old)
        # A missing directory (/etc/sysctl.d on a minimal system) is made by apply and removed again by undo.
        record = {"old": old, "new_sha256": _digest(new), "new": new, "made_parent": not host.is_dir(self._parent)}
        if target != self.params["path"]:
            record["target"] = target
        return record

    def proposed(self, host: Host) -> tuple[str | None, str | None]:
        """(the file's text now, the text the edit would leave); None: no file."""
        old = self._read(host, self.target(host))
        return old, self.transform(old)

    def needed(self, host: Host) -> bool:
        old, new = self.proposed(host)
        return new != old

    def _write(self, host: Host, path: str, text: str | None) -> None:
        if text is None:
            host.unlink(path)
        else:
            host.write_atomic(
                path, text.encode("utf-8", "surrogateescape"), mode=None if host.lstat(path) else self.file_mode
            )

    def apply(self, host: Host, record: dict[str, Any]) -> None:
        target = record.get("target", self.params["path"])
        if self._read(host, target) != record["old"]:
            # Changed between snapshot and apply: impossible under the lock unless edited by hand.
            raise RuntimeError(f"{self.params['path']} changed while swapctl was editing it")
        if record.get("made_parent") and record["new"] is not None:
            host.makedirs(self._parent, 0o755)
        self._write(host, target, record["new"])

    def _undo_problem(self, host: Host, record: dict[str, Any]) -> tuple[str | None, str | None]:
        """(where the undo writes, None) or (None, why it cannot: a link there now is not the one edited)."""
        path = self.params["path"]
        target = record.get("target", path)
        st = host.lstat(path)
        is_link = st is not None and stat.S_ISLNK(st.st_mode)
        if target == path and is_link:
            return None, f"{path} is a symbolic link now (to {host.readlink(path)})"
        if target != path and (not is_link or host.resolve(path) != target):
            return None, f"{path} no longer leads to {target}"
        tst = host.lstat(target)
        if tst is not None and not stat.S_ISREG(tst.st_mode):
            return None, f"{target} is not a regular file now"
        return target, None

    def check_undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        """Refuse, before any step is undone, a rollback that could not put this file back (a link changed, the
        file unreadable or grown past what swapctl reads): otherwise the rest would be undone and this not."""
        target, why = self._undo_problem(host, record)
        if why is not None:
            if ctx.force:
                return
            raise Refused(
                f"{why}: rollback would leave {self.params['path']} as it is and undo the rest",
                hint="put the file back as it was, or pass --force to undo the rest and leave it",
            )
        assert target is not None
        self._read(host, target)  # unreadable or too large: refused here (exit 3), not half way

    def undo(self, host: Host, record: dict[str, Any], ctx: UndoContext) -> None:
        target, why = self._undo_problem(host, record)
        if target is None:
            ctx.notes.append(f"{why}; left as it is")
            return
        current = self._read(host, target)
        if _digest(current) == record["new_sha256"]:
            self._write(host, target, record["old"])
        elif current != record["old"]:
            ctx.notes.append(f"{self.params['path']} was edited since; only swapctl's own line was reverted")
            self._write(host, target, self.revert(current or "", record))
        # else: never applied (crash between intent and write), or already undone
        if record.get("made_parent"):
            host.remove_dir_if_empty(self._parent)


class KeyedLinesEdit(FileEdit):
    """An edit of a file of swapctl's own that holds one line per key (sysctl.d `key = value` lines, tmpfiles.d
    `w` lines). params: path, settings {key: value, or None to drop the key's line}.

    Setting a key replaces its first line in place (keeping that line's newline or lack of one), drops later
    lines for it, and appends the keys that had none; every other line is kept byte for byte. Undo over a file
    someone edited since sets back only our keys, to the values in force before, and drops them if they had none.
    Subclasses give the grammar: how a line reads (parse), how one is written (render), which of two lines for a
    key is in force (last_wins), and the header a new file starts with."""

    header: ClassVar[str]
    last_wins: ClassVar[bool]  # sysctl: the last assignment of a key; tmpfiles: the first line for a path

    @staticmethod
    def parse(raw: str) -> tuple[str, str] | None:
        """(key, value) of a line that sets a key; None for any other line."""
        raise NotImplementedError

    @staticmethod
    def render(key: str, value: Any) -> str:
        """The line that sets key to value, without its newline."""
        raise NotImplementedError

    def lines(self, text: str, keys: Any) -> list[str]:
        """The file's lines as the editor sees them (a kind may split a line its reader reads as several)."""
        return split_lines(text)

    def append_order(self, keys: list[str]) -> list[str]:
        return keys

    def set_lines(self, text: str | None, settings: dict[str, Any]) -> str | None:
        out: list[str] = []
        placed: set[str] = set()
        for raw in self.lines(text or "", settings):
            parsed = self.parse(raw)
            key = parsed[0] if parsed else None
            if key is not None and key in settings:
                value = settings[key]
                if value is not None and key not in placed:
                    out.append(self.render(key, value) + ("\n" if raw.endswith("\n") else ""))
                placed.add(key)
                continue
            out.append(raw)
        missing = [k for k, v in settings.items() if v is not None and k not in placed]
        if not missing:
            return None if text is None else "".join(out)
        if text is None:
            out.append(self.header)
        elif out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.extend(self.render(k, settings[k]) + "\n" for k in self.append_order(missing))
        return "".join(out)

    def values(self, text: str | None) -> dict[str, str]:
        """Each key's value in force in text."""
        found: dict[str, str] = {}
        for raw in split_lines(text or ""):
            parsed = self.parse(raw)
            if parsed and (self.last_wins or parsed[0] not in found):
                found[parsed[0]] = parsed[1]
        return found

    def undo_description(self) -> str:
        return f"restore {self.params['path']}"

    def transform(self, old: str | None) -> str | None:
        return self.set_lines(old, self.params["settings"])

    def revert(self, current: str, record: dict[str, Any]) -> str | None:
        before = self.values(record["old"])
        text = self.set_lines(current, {k: before.get(k) for k in self.params["settings"]})
        if record["old"] is None and (text or "").strip() in ("", self.header.strip()):
            return None  # the file was ours alone: gone again
        return text
