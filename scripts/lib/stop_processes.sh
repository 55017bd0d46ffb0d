# Sourced by the scripts that start background workers (safe under set -e).
# stop_processes GRACE PID... asks each process to stop (SIGTERM: the Python
# commands finish their batch, commit and leave their Kafka group), waits up
# to GRACE seconds for all of them, then SIGKILLs whatever is left, with its
# children, and says which: Ctrl-C must always stop everything, promptly.
stop_processes() {
    local grace=$1 pid alive tries
    shift
    [ "$#" -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for ((tries = grace * 5; tries > 0; tries--)); do
        alive=0
        for pid in "$@"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 1 ] || break
        sleep 0.2
    done
    for pid in "$@"; do
        if kill -0 "$pid" 2>/dev/null; then
            echo "$(basename "$0"): '$(ps -o args= -p "$pid" || echo "pid $pid")' did not stop in $grace s; killed" >&2
            pkill -KILL -P "$pid" 2>/dev/null || true
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    wait 2>/dev/null || true
}
