"""In-machine paths resolved under a --root tree as a chroot would resolve them: every symbolic link is followed
inside the tree (an absolute target starts again at the tree's top, `..` stops there), so no link in a test
tree, a snapshot or an image can lead a read or a write to this machine's own files."""

from __future__ import annotations

import errno
import os
import stat

MAXSYMLINKS = 40  # the kernel's limit on links followed in one lookup (ELOOP past it)


def resolve(root: str, path: str, *, follow_last: bool = True) -> str:
    """The real path of an absolute in-machine `path` under `root` (root "/" is this machine: returned as is,
    the kernel resolves it). With follow_last=False a link in the last component is itself the answer, as
    lstat, readlink, unlink and O_NOFOLLOW see it. A missing component ends the resolution: the rest is
    joined as written (a later open then fails with ENOENT, as it would in a chroot)."""
    if root == "/":
        return path
    top = root.rstrip("/")
    todo = [c for c in reversed(path.split("/")) if c]
    done: list[str] = []
    followed = 0
    missing = False
    while todo:
        comp = todo.pop()
        if comp == ".":
            continue
        if missing:
            done.append(comp)  # after a missing component (or through a file) nothing resolves: ENOENT later
            continue
        if comp == "..":
            if done:
                done.pop()
            continue
        if not todo and not follow_last:
            done.append(comp)
            continue
        candidate = top + "/" + "/".join([*done, comp])
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            missing = True
            done.append(comp)
            continue
        if not stat.S_ISLNK(st.st_mode):
            done.append(comp)
            if todo and not stat.S_ISDIR(st.st_mode):
                missing = True  # a component under a regular file: ENOTDIR, as the kernel's lookup says
            continue
        followed += 1
        if followed > MAXSYMLINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), top + path)
        target = os.readlink(candidate)
        if target.startswith("/"):
            done = []
        todo.extend(c for c in reversed(target.split("/")) if c)
    return top + "/" + "/".join(done) if done else top


def inside(root: str, real: str) -> str:
    """The in-machine path of a real path under root (the inverse of resolve for a resolved path)."""
    if root == "/":
        return real
    rel = os.path.relpath(real, root)
    return "/" if rel == "." else "/" + rel
