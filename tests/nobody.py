"""Run a command as nobody (uid 65534) with this interpreter, wherever it lives.

pyenv's Pythons live under /root (mode 0700), so nobody cannot even load their libpython. The command runs in
a private mount namespace where each directory nobody cannot search on the way to the interpreter, its
libraries, the site-packages and the code under test is covered by a tmpfs that holds bind mounts of just
those paths. Nothing outside the namespace changes, and no permission of a real file is touched."""

from __future__ import annotations

import os
import shlex
import stat
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

NOBODY = 65534


def _searchable_by_others(path: Path) -> bool:
    st = path.stat()
    return bool(st.st_mode & stat.S_IXOTH) or st.st_uid == NOBODY


def _blocking_ancestor(path: Path) -> Path | None:
    """The highest directory above `path` that nobody cannot search, if any."""
    for parent in reversed(path.parents):
        if not _searchable_by_others(parent):
            return parent
    return None


def interpreter_paths() -> list[Path]:
    """What running sys.executable needs: the binary, its prefix (libpython, the stdlib) and site-packages."""
    paths = {Path(os.path.realpath(sys.executable)), Path(os.path.realpath(sys.base_prefix))}
    paths |= {Path(os.path.realpath(p)) for p in sys.path if p.endswith("site-packages")}
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir:
        paths.add(Path(os.path.realpath(libdir)))
    return sorted(paths)


def _q(path: Path) -> str:
    return shlex.quote(str(path))


def as_nobody(argv: list[str], *, hold: Path, reach: Iterable[Path] = ()) -> list[str]:
    """`argv` run as nobody, with sys.executable and every path in `reach` reachable. `hold` is an empty
    root-only directory the namespace uses to keep the covered directories at hand."""
    setpriv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    wanted = {*interpreter_paths(), *(Path(os.path.realpath(p)) for p in reach)}
    outermost = [p for p in wanted if not any(a in wanted for a in p.parents)]  # a bind mount brings the rest
    covered: dict[Path, list[Path]] = {}
    for path in sorted(outermost):
        blocker = _blocking_ancestor(path)
        if blocker is not None:
            covered.setdefault(blocker, []).append(path)
    if not covered:
        return [*setpriv, *argv]
    script = ["set -e"]
    for n, (blocker, paths) in enumerate(sorted(covered.items())):
        kept = hold / str(n)
        script += [f"mkdir -p {_q(kept)}", f"mount --bind {_q(blocker)} {_q(kept)}"]
        script.append(f"mount -t tmpfs -o mode=0755 swapctl-test {_q(blocker)}")
        for path in paths:
            if path.is_dir():
                script.append(f"mkdir -p {_q(path)}")
            else:  # the tmpfs hides the real file: this makes a mount point inside the tmpfs
                script += [f"mkdir -p {_q(path.parent)}", f"[ -e {_q(path)} ] || : > {_q(path)}"]
            script.append(f"mount --bind {_q(kept / path.relative_to(blocker))} {_q(path)}")
    script.append("exec " + shlex.join([*setpriv, *argv]))
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script)]
