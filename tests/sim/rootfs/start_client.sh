#!/bin/bash
# WAA's /start_client.sh: the benchmark client lives in /client.
cd /client
exec python -u run.py "$@"
