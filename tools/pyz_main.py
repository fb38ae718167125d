"""swapctl as one file (the __main__ of swapctl.pyz, written by tools/build-pyz).

Python imports from a zip without a bytecode cache, so every start would compile swapctl, Typer and rich
again (130-200 ms). The first run unpacks the archive into a directory of its own build, named by the hash of
its contents, and later runs import from there, where Python keeps its usual __pycache__ per version:
/var/cache/swapctl/pyz-HASH for root, ~/.cache/swapctl/pyz-HASH (or $XDG_CACHE_HOME) for anyone else. The
directory is used only when it and the one above it are real directories owned by the user running swapctl
and closed to everyone else (0700); otherwise, or when nothing can be written, swapctl runs from the archive
itself, only slower (as it does with SWAPCTL_PYZ_CACHE=0; SWAPCTL_PYZ_CACHE=/abs/dir picks the
directory that holds the builds). Stdlib only, and Python 3.9 syntax."""

import os
import stat
import sys

BUILD = "@BUILD@"  # the first 16 hex digits of the sha256 of the archive's packages (tools/build-pyz)
DONE = ".complete"  # written last: a directory without it was cut short and is unpacked again


def _cache_base() -> str:
    chosen = os.environ.get("SWAPCTL_PYZ_CACHE", "")
    if os.path.isabs(chosen):
        return chosen
    if os.geteuid() == 0:
        return "/var/cache/swapctl"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    home = os.path.expanduser("~")
    parent = xdg if os.path.isabs(xdg) else os.path.join(home, ".cache")
    return os.path.join(parent, "swapctl")


def _private_dir(path: str) -> bool:
    """A real directory (not a link) of this user's that nobody else can write or list."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077


def _unpack(archive: str, base: str, target: str) -> bool:
    import shutil
    import tempfile
    import zipfile

    try:
        os.makedirs(os.path.dirname(base), mode=0o755, exist_ok=True)
        try:
            os.mkdir(base, 0o700)
        except FileExistsError:
            pass
        if not _private_dir(base):
            return False
        temp = tempfile.mkdtemp(prefix=".unpack-", dir=base)
        try:
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    if name == "__main__.py" or name.startswith("/") or ".." in name.split("/"):
                        continue
                    zf.extract(name, temp)
            with open(os.path.join(temp, DONE), "w") as fh:
                fh.write(BUILD + "\n")
            os.chmod(temp, 0o700)
            try:
                os.rename(temp, target)
            except OSError:  # another run unpacked the same build first
                pass
        finally:
            if os.path.isdir(temp):
                shutil.rmtree(temp, ignore_errors=True)
    except OSError:
        return False
    return os.path.exists(os.path.join(target, DONE))


def _compile(target: str) -> None:
    """Bytecode for this interpreter, once: Python would write it on import too, but not where
    PYTHONDONTWRITEBYTECODE is set (as in many container images), and then every start would compile again."""
    marker = os.path.join(target, ".compiled-" + sys.implementation.cache_tag)
    if os.path.exists(marker):
        return
    import compileall

    try:
        compileall.compile_dir(target, quiet=2, workers=1)
        with open(marker, "w") as fh:
            fh.write(BUILD + "\n")
    except OSError:
        pass


def _forget_old_builds(base: str, keep: str) -> None:
    """Other builds' directories not used for a day (a swapctl started from one may still be running)."""
    import shutil
    import time

    for name in os.listdir(base):
        path = os.path.join(base, name)
        if name.startswith("pyz-") and path != keep and _private_dir(path):
            try:
                if time.time() - os.lstat(path).st_mtime > 86400:
                    shutil.rmtree(path)
            except OSError:
                pass


def _use_cache(archive: str) -> None:
    base = _cache_base()
    target = os.path.join(base, "pyz-" + BUILD)
    if not (_private_dir(target) and os.path.exists(os.path.join(target, DONE))):
        if not _unpack(archive, base, target):
            return
        _forget_old_builds(base, target)
    if _private_dir(base) and _private_dir(target):
        _compile(target)
        sys.path.insert(0, target)


def run() -> None:
    archive = os.path.dirname(os.path.abspath(__file__))  # __file__ is ARCHIVE/__main__.py
    if os.environ.get("SWAPCTL_PYZ_CACHE") != "0" and os.path.isfile(archive):
        _use_cache(archive)
    from swapctl.cli.app import main

    main()


if __name__ == "__main__":
    run()
