#!/bin/bash
# WAA's /entry.sh (windowsarena/winarena, 2024): started as the one string argument of
# ENTRYPOINT ["/bin/bash", "-c"], so this bash is PID 1. It installs no SIGTERM handler, so
# `docker stop` waits the whole stop timeout and ends with 137, as with the real image.

# Simulator hook, not in the real script: die.sh ends the container with a chosen exit code.
mkdir -p /run/waa-sim
echo $$ > /run/waa-sim/entry.pid
trap 'exit "$(cat /run/waa-sim/exit_code 2>/dev/null || echo 1)"' USR1

# Fix for Azure ML Job not using the correct root path
cd /

echo "Starting WinArena..."

prepare_image=false
start_client=true
agent="navi"
model="gpt-4-vision-preview"
som_origin="oss"
a11y_backend="uia"
clean_results=true
worker_id="0"
num_workers="1"
result_dir="./results"
json_name="evaluation_examples_windows/test_all.json"
client_extra_args=()

while [[ $# -gt 0 ]]; do
    case "$1" in
        --prepare-image) prepare_image=$2; shift 2 ;;
        --start-client) start_client=$2; shift 2 ;;
        --agent) agent=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        --som-origin) som_origin=$2; shift 2 ;;
        --a11y-backend) a11y_backend=$2; shift 2 ;;
        --clean-results) clean_results=$2; shift 2 ;;
        --worker-id) worker_id=$2; shift 2 ;;
        --num-workers) num_workers=$2; shift 2 ;;
        --result-dir) result_dir=$2; shift 2 ;;
        --json-name) json_name=$2; shift 2 ;;
        --help) echo "Usage: $0 [options]"; exit 0 ;;
        *) client_extra_args+=("$1"); shift ;;
    esac
done

# Starts the VM and blocks until the Windows Arena Server is ready
echo "Starting VM..."
./entry_setup.sh
echo "VM started, server ready"

if [ "$prepare_image" = "true" ]; then
    echo "Preparing Arena image by gracefully shutting down the Windows VM..."
    response=$(python3 /opt/waa-sim/probe.py POST /shutdown)

    if [ "$response" -eq 200 ]; then
        echo "Windows VM is shutting down..."
        sleep "${WAA_SIM_SHUTDOWN_WAIT:-180}" # (real: 180) Wait for any updates to be saved, and for windows.boot to be created
    else
        echo "Failed to shut down the Windows VM. Exiting..."
    fi
else
    echo "Skipping image preparation..."
    # Start the client script
    if [ "$start_client" = "true" ]; then
        echo "Starting client..."
        ./start_client.sh --agent "$agent" --model "$model" --som-origin "$som_origin" --a11y-backend "$a11y_backend" --clean-results "$clean_results" --worker-id "$worker_id" --num-workers "$num_workers" --result-dir "$result_dir" --json-name "$json_name" "${client_extra_args[@]}"
        client_status=$?
        echo "Client exited with status $client_status"
        exit "$client_status"
    else
        echo "Keeping container alive"
        while true; do
            sleep 60 & wait $!  # (real: `sleep 60`) lets the USR1 hook act at once
        done
        echo "Exiting..."
    fi
fi

# Wait for any process to exit
wait -n

# Exit with the status of the process that exited first
exit $?
