# Shell helpers of the demo scripts (sourced by them, not run).

# stop_job PID: end a background job the script started (if it still runs) and reap it.
# An empty PID (no job, or one already waited for) does nothing.
stop_job() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}

# demo_tmp PREFIX PIDVAR: make the script's temp dir $TMP; on exit, stop the background
# job whose PID the variable named PIDVAR holds (see stop_job), then remove $TMP.
demo_tmp() {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  # shellcheck disable=SC2064 # PIDVAR's name is fixed now, its value is read at exit
  trap "stop_job \"\${$2:-}\"; rm -rf \"\$TMP\"" EXIT
}
