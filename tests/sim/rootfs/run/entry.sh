#!/bin/bash
# dockur/windows' boot script (/run/entry.sh), which WAA's /start_vm.sh runs.
exec python3 -u /opt/waa-sim/dockur.py
