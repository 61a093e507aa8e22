#!/bin/sh
# Install without root, every way the README names, each into a throwaway HOME, and time it:
# the wheel, then `pip install --user`, `pipx install` and `uv tool install` of that wheel, each
# followed by `cockpit --version` and `cockpit doctor` on an example config. Dependencies come
# from the configured package index, so this needs one (tests/test_install.py does not).
#
#     sh bench/install.sh            # tools that are not installed are reported and skipped
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/cockpit-install-XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM

now() { date +%s.%N; }
took() { echo "$2 - $1" | bc; }

step() {  # name, then the command
    name=$1; shift
    start=$(now)
    if "$@" >"$WORK/$name.log" 2>&1; then
        printf '%-28s ok    %6.1f s\n' "$name" "$(took "$start" "$(now)")"
    else
        printf '%-28s FAIL  %6.1f s  (see below)\n' "$name" "$(took "$start" "$(now)")"
        tail -5 "$WORK/$name.log" | sed 's/^/    /'
        return 1
    fi
}

check_installed() {  # label, the cockpit command
    label=$1; cockpit=$2
    step "$label: --version" "$cockpit" --version || return 1
    step "$label: init" env HOME="$WORK/home-$label" XDG_CONFIG_HOME= "$cockpit" init || return 1
    # The example config points at hosts that do not exist here: doctor must run and say so
    # (exit 1), not crash (anything else).
    env HOME="$WORK/home-$label" XDG_CONFIG_HOME= XDG_DATA_HOME= SENTRY_TOKEN=example \
        "$cockpit" doctor --timeout 2 \
        >"$WORK/$label-doctor.log" 2>&1
    code=$?
    if [ "$code" -le 1 ]; then
        printf '%-28s ok    exit %s: %s\n' "$label: doctor" "$code" "$(tail -1 "$WORK/$label-doctor.log")"
    else
        printf '%-28s FAIL  exit %s\n' "$label: doctor" "$code"; tail -5 "$WORK/$label-doctor.log"
    fi
}

git -C "$REPO" archive --format=tar HEAD | (mkdir -p "$WORK/src" && tar -x -C "$WORK/src")
step "wheel (pip wheel)" "$PYTHON" -m pip wheel --no-deps -q -w "$WORK/dist" "$WORK/src" || exit 1
WHEEL=$(ls "$WORK"/dist/oncall_cockpit-*.whl)
echo "wheel: $(basename "$WHEEL") $(du -k "$WHEEL" | cut -f1) KB"

# pip install --user: the user's site, no root. Debian's Python is "externally managed"; a user
# install does not touch the system's packages, so it is allowed explicitly.
export PYTHONUSERBASE="$WORK/userbase"
if step "pip install --user" env HOME="$WORK/home-user" "$PYTHON" -m pip install --user \
        --break-system-packages -q "$WHEEL"; then
    check_installed user "$PYTHONUSERBASE/bin/cockpit"
fi
unset PYTHONUSERBASE

if command -v pipx >/dev/null; then
    export PIPX_HOME="$WORK/pipx" PIPX_BIN_DIR="$WORK/pipx-bin"
    step "pipx install" pipx install "$WHEEL" && check_installed pipx "$PIPX_BIN_DIR/cockpit"
else
    echo "pipx install                 skipped: pipx is not installed"
fi

if command -v uv >/dev/null; then
    export UV_TOOL_DIR="$WORK/uv-tools" UV_TOOL_BIN_DIR="$WORK/uv-bin"
    step "uv tool install" uv tool install "$WHEEL" && check_installed uv "$UV_TOOL_BIN_DIR/cockpit"
else
    echo "uv tool install              skipped: uv is not installed"
fi
