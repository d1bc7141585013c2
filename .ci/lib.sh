#!/usr/bin/env bash
# Shared by .ci/run and the .ci/install-*.sh scripts (sourced, not run).
#
#   step "what it does" command args...
#
# prints what starts, a line every $CLUE_HEARTBEAT_S seconds (default 60)
# while it runs (so a log file never sits silent for minutes), and how long
# it took; returns the command's exit status.

step() {
    local what="$1"
    shift
    local start=$SECONDS
    local every="${CLUE_HEARTBEAT_S:-60}"
    echo "== ${what} ..."
    "$@" &
    local pid=$!
    (
        # The sleep is killed with the loop, and holds no output open should it outlive it.
        nap=""
        trap 'kill $nap 2>/dev/null; exit 0' TERM
        while :; do
            sleep "$every" </dev/null >/dev/null 2>&1 &
            nap=$!
            wait "$nap"
            kill -0 "$pid" 2>/dev/null || exit 0
            echo "   ... still ${what}: $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s so far"
        done
    ) &
    local beat=$!
    local rc=0
    wait "$pid" || rc=$?
    kill "$beat" 2>/dev/null || true
    wait "$beat" 2>/dev/null || true
    if [ "$rc" -eq 0 ]; then
        echo "== ${what}: done in $(( SECONDS - start )) s"
    else
        echo "== ${what}: FAILED (exit ${rc}) after $(( SECONDS - start )) s" >&2
    fi
    return "$rc"
}
