#!/bin/sh
# A CI step that gives the runner swap, idempotently: the first run adds it, every later run says "already".
#
#   SWAP_SIZE=4G sh examples/ci/add-swap.sh
#
# Environment (all optional):
#   SWAP_PATH          swap file to create                       [/swapfile]
#   SWAP_SIZE          its size: 512M, 2G, 1.5GiB ...            [2G]
#   SWAP_PRIORITY      swap priority 0-32767                     [kernel's choice]
#   SWAP_PERSIST       yes: add it to /etc/fstab; no: this boot  [no: runners are thrown away]
#   SWAPCTL            swapctl to use (a venv's, or the single file swapctl.pyz from tools/build-pyz);
#                      unset: swapctl on PATH, else dist/swapctl.pyz of this checkout, else pip-install one
#   SWAPCTL_PIP_SPEC   what pip installs when it has to          [the swapctl checkout holding this script]
#                      (a wheel, a path, or git+https://...; never a bare name: swapctl is not on PyPI,
#                      and a package someone else publishes under that name is not this one)
#   SWAPCTL_VENV       where pip installs it                     [$HOME/.cache/swapctl-venv]
#   SWAPCTL_STATE_DIR  swapctl's journal and lock                [/var/lib/swapctl]
#   PYTHON             interpreter for the venv and for reading the JSON   [python3]
#   GITHUB_OUTPUT      set by GitHub Actions: the step writes changed=true|false there
#
# Exit status: 0 when the swap is in place (added now or before); swapctl's own code otherwise
# (2 bad input, 3 refused, e.g. /swapfile is already a swap area of another size; 1 failed, rolled back).
# Needs root: run it as root, or as a user with passwordless sudo (GitHub's hosted runners are).
set -eu

SWAP_PATH=${SWAP_PATH:-/swapfile}
SWAP_SIZE=${SWAP_SIZE:-2G}
SWAP_PRIORITY=${SWAP_PRIORITY:-}
SWAP_PERSIST=${SWAP_PERSIST:-no}
PYTHON=${PYTHON:-python3}

say() { printf 'add-swap: %s\n' "$*" >&2; }

# swapctl itself: the one given, the one on PATH, or a fresh one in a private venv (a venv, because
# distributions mark their system Python externally managed, PEP 668).
if [ -z "${SWAPCTL:-}" ]; then
    if command -v swapctl >/dev/null 2>&1; then
        SWAPCTL=$(command -v swapctl)
    elif [ -z "${SWAPCTL_PIP_SPEC:-}" ] && [ -f "$(dirname "$0")/../../dist/swapctl.pyz" ]; then
        SWAPCTL=$(cd "$(dirname "$0")/../../dist" && pwd)/swapctl.pyz  # runs on the python3 on PATH
    else
        checkout=$(cd "$(dirname "$0")/../.." && pwd)
        spec=${SWAPCTL_PIP_SPEC:-}
        if [ -z "$spec" ]; then
            if [ -f "$checkout/pyproject.toml" ] && grep -q '^name = "swapctl"' "$checkout/pyproject.toml"; then
                spec=$checkout
            else
                say "no swapctl on PATH and no checkout around this script: set SWAPCTL or SWAPCTL_PIP_SPEC"
                exit 2
            fi
        fi
        venv=${SWAPCTL_VENV:-${HOME:-/tmp}/.cache/swapctl-venv}
        say "installing $spec into $venv"
        [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
        SWAPCTL=$venv/bin/swapctl
    fi
fi

# sudo resets the environment, so the state dir goes on the command line rather than through env.
set -- create "$SWAP_PATH" --size "$SWAP_SIZE" -o json
if [ -n "$SWAP_PRIORITY" ]; then
    set -- "$@" --priority "$SWAP_PRIORITY"
fi
case $SWAP_PERSIST in
    yes|true|1) ;;
    no|false|0) set -- "$@" --no-persist ;;
    *) say "SWAP_PERSIST must be yes or no, not '$SWAP_PERSIST'"; exit 2 ;;
esac
if [ -n "${SWAPCTL_STATE_DIR:-}" ]; then
    set -- --state-dir "$SWAPCTL_STATE_DIR" "$@"
fi
if [ "$(id -u)" -ne 0 ]; then
    set -- sudo -n "$SWAPCTL" "$@"
else
    set -- "$SWAPCTL" "$@"
fi

# swapctl prints the JSON envelope on stdout and its error, with a hint, on stderr (left to the log).
rc=0
out=$("$@") || rc=$?
if [ "$rc" -ne 0 ]; then
    say "swapctl failed with exit $rc"
    exit "$rc"
fi

changed=$(printf '%s' "$out" | "$PYTHON" -c 'import json, sys; print(str(json.load(sys.stdin)["changed"]).lower())') || {
    say "swapctl exited 0 but printed no JSON envelope: $out"
    exit 1
}

if [ "$changed" = true ]; then
    say "added $SWAP_PATH ($SWAP_SIZE)"
else
    say "$SWAP_PATH is already an active swap file of $SWAP_SIZE: nothing to do"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf 'changed=%s\n' "$changed" >>"$GITHUB_OUTPUT"
fi
# The step's stdout is the envelope, for a later step to read.
printf '%s\n' "$out"
