#!/usr/bin/env bash
# The caching wrapper that motivated ekstoken, rewritten for the benchmark:
# it takes the same steps as the shell script of the blog post this project
# started from (see the README), so that its cache hit can be timed beside
# ekstoken's. Usage: blogscript.sh CLUSTER REGION [PROFILE]
#
# On a hit it creates and chmods its directory, reads expirationTimestamp
# with jq, converts it and now with date (asking uname first, each time), compares it with now less 60 s, and cats
# the stored JSON. On a miss it runs `aws eks get-token` and stores its
# output. Its flaws, which ekstoken does not share, are kept on purpose:
# one entry per cluster and profile whatever the region or keys, a plain
# write then chmod, and the stored apiVersion replayed.
set -euo pipefail
cluster="${1:?cluster name required}"
region="${2:?region required}"
profile="${3:-default}"
dir="${HOME}/.kube/eks-token-cache"
mkdir -p "$dir"
chmod 700 "$dir"
file="${dir}/${cluster}_${profile}.json"

# As in the post, each time conversion first asks uname which date to use.
now() { [[ "$(uname)" == Darwin ]] && date +%s || date +%s; }
epoch() { [[ "$(uname)" == Darwin ]] && gdate -d "$1" +%s || date -d "$1" +%s; }

if [[ -f "$file" ]]; then
  expires=$(jq -r '.status.expirationTimestamp // empty' "$file" 2>/dev/null || true)
  if [[ -n "$expires" ]] && (( $(now) < $(epoch "$expires") - 60 )); then
    cat "$file"
    exit 0
  fi
fi
args=(eks get-token --cluster-name "$cluster" --region "$region")
[[ "$profile" != default ]] && args+=(--profile "$profile")
json=$(aws "${args[@]}")
echo "$json" > "$file"
chmod 600 "$file"
echo "$json"
