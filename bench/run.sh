#!/usr/bin/env bash
# Runs the benchmarks: installs hyperfine from Debian's packages if needed,
# then `go run ./bench`. Pass -ca-bundle to add a miss with AWS_CA_BUNDLE.
set -euo pipefail
cd "$(dirname "$0")/.."
# hyperfine times the commands; GNU time measures peak RSS.
if ! command -v hyperfine >/dev/null || [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq hyperfine time
  else
    echo "bench: install hyperfine and GNU time (apt-get install hyperfine time)" >&2
    exit 1
  fi
fi
export AWS_EC2_METADATA_DISABLED=true
# Static builds, as shipped: with gcc on the machine a plain go build links
# libc dynamically, which costs every hit about a millisecond.
export CGO_ENABLED=0
exec go run ./bench "$@"
