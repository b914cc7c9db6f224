#!/bin/bash
# Build-time helper: write layer $1's share of PAD_MB megabytes of random (incompressible) data,
# at most PAD_LAYER_MB per layer, so the image has pull-sized layers for progress tests.
set -euo pipefail
index="$1" layers="$2"
per="${PAD_LAYER_MB:-256}" total="${PAD_MB:-0}"
if [ "$index" -eq $((layers - 1)) ] && [ "$total" -gt $((per * layers)) ]; then
  echo "PAD_MB=$total exceeds $layers layers of PAD_LAYER_MB=$per MB; raise PAD_LAYER_MB" >&2
  exit 1
fi
size=$((total - index * per))
[ "$size" -gt "$per" ] && size="$per"
if [ "$size" -gt 0 ]; then
  mkdir -p /opt/waa-sim/pad
  head -c "$((size * 1048576))" /dev/urandom > "/opt/waa-sim/pad/layer$index.bin"
fi
