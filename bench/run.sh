#!/usr/bin/env bash
# Runs the benchmark: installs jq (for the blog script) and GNU time (for
# peak RSS) from Debian's packages when missing, then `go run ./bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v jq >/dev/null || [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq jq time
  else
    echo "bench: install jq and GNU time (apt-get install jq time)" >&2
    exit 1
  fi
fi
export AWS_EC2_METADATA_DISABLED=true
exec go run ./bench "$@"
