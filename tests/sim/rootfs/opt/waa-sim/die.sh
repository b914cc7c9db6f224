#!/bin/bash
# End the container with exit code $1. The real image has no such path: bash as PID 1 never
# exits on its own, but crash faults and WAA_SIM_EXIT_ON_ERROR need the container to end.
# /entry.sh (PID 1) has a USR1 trap that exits with the code stored in exit_code. Bash runs a
# trap only once its foreground child is gone, so the other processes are ended too: shells
# with SIGPIPE first (bash reports no job killed by SIGPIPE, so nothing extra reaches docker
# logs), then everything else with SIGKILL. PID 1, this script and /entry.sh are spared.
code="${1:-1}"
echo "$code" > /run/waa-sim/exit_code
entry="$(cat /run/waa-sim/entry.pid 2>/dev/null)"
[ -n "$entry" ] && kill -USR1 "$entry" 2>/dev/null
shells=() others=()
for p in /proc/[0-9]*; do
  p="${p#/proc/}"
  { [ "$p" = 1 ] || [ "$p" = "$$" ] || [ "$p" = "$entry" ]; } && continue
  case "$(readlink "/proc/$p/exe" 2>/dev/null)" in
    */bash) shells+=("$p") ;;
    *) others+=("$p") ;;
  esac
done
[ ${#shells[@]} -gt 0 ] && kill -PIPE "${shells[@]}" 2>/dev/null
for _ in $(seq 50); do  # at most 1 s for the shells to go before their children are killed
  alive=0
  for p in "${shells[@]}"; do [ -d "/proc/$p" ] && [ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" != Z ] && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.02
done
[ ${#others[@]} -gt 0 ] && kill -KILL "${others[@]}" 2>/dev/null
exit 0
