#!/bin/bash
# WAA's /start_vm.sh runs dockur's boot script (under tini in the real image).
/run/entry.sh
rc=$?
# Simulator hook, not in the real image: with WAA_SIM_EXIT_ON_ERROR=1 a failed boot script ends
# the whole container with its exit code (88, 17, ...) instead of leaving it running.
if [ "${WAA_SIM_EXIT_ON_ERROR:-0}" = "1" ] && [ "$rc" -ne 0 ]; then
  exec /opt/waa-sim/die.sh "$rc"
fi
exit "$rc"
