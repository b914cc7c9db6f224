#!/bin/bash
# WAA's /entry_setup.sh: dockur's boot script runs in the background while this loop polls the
# WAA server with no timeout. When dockur gives up, nothing here notices: the loop goes on.

echo "Starting WinArena VM..."

# Start the VM script in the background
cd / # Fix for Azure ML Job not using the correct root path
./start_vm.sh &

# Wait for the VM to start up (the real script curls 20.20.20.21:5000, the VM behind dockur's NAT)
while true; do
  response=$(python3 /opt/waa-sim/probe.py GET /probe)

  if [ "$response" -eq 200 ]; then
    break
  fi

  echo "Waiting for a response from the windows server. This might take a while..."

  sleep "${WAA_SIM_PROBE_INTERVAL:-5}"
done

echo "VM is up and running, and the Windows Arena Server is ready to use!"
