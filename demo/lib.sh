# Shell helpers of the demo scripts (sourced by them, not run).

# stop_job PID: end a background job the script started (if it still runs) and reap it.
# An empty PID (no job, or one already waited for) does nothing.
stop_job() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
