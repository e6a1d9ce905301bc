#!/usr/bin/env bash
# Usage: release/snapshot.sh [DIR]
#
# Builds a snapshot release of the working tree into DIR (default: dist):
# the archives for linux, darwin and windows on amd64 and arm64,
# checksums.txt, an SPDX SBOM per archive, and the krew, Homebrew and Scoop
# manifests. Nothing is signed, uploaded or published. The version is the
# next patch after the last tag, with -snapshot.<commit> appended.
#
# DIR is emptied first, so it must be missing, empty, or an earlier
# snapshot (it holds GoReleaser's artifacts.json): any other folder is
# refused rather than wiped.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dist="${1:-$root/dist}"
case "$dist" in /*) ;; *) dist="$PWD/$dist" ;; esac

if [ -e "$dist" ] && [ ! -d "$dist" ]; then
  echo "release/snapshot.sh: $dist is not a folder; name a new or empty one" >&2
  exit 1
fi
if [ -d "$dist" ] && [ -n "$(ls -A "$dist")" ] && [ ! -f "$dist/artifacts.json" ]; then
  echo "release/snapshot.sh: $dist is neither empty nor an earlier snapshot; it would be wiped, so name a new or empty folder" >&2
  exit 1
fi

goreleaser=$("$root/release/tools.sh" goreleaser)
syft=$("$root/release/tools.sh" syft)

cd "$root"
# GoReleaser reads the commit only after the remote's URL; in a clone with
# no remote it would stamp the commit "none". Such a clone gets the
# project's URL for this run only (git reads GIT_CONFIG_* from the
# environment); the repository's config is not touched.
if ! git ls-remote --get-url >/dev/null 2>&1; then
  n=${GIT_CONFIG_COUNT:-0}
  export GIT_CONFIG_COUNT=$((n + 1)) "GIT_CONFIG_KEY_$n=remote.origin.url" \
    "GIT_CONFIG_VALUE_$n=https://github.com/ekstoken/ekstoken.git"
fi
# GoReleaser runs syft by name. GOFLAGS from the caller (-buildvcs=false,
# say) would change the shipped build: the config says what it needs.
# The config comes in on stdin with the output folder added, as GoReleaser
# takes no flag for it.
{ cat .goreleaser.yaml; printf "\ndist: '%s'\n" "${dist//\'/\'\'}"; } |
  env -u GOFLAGS -u GOOS -u GOARCH PATH="$(dirname "$syft"):$PATH" \
    "$goreleaser" release --snapshot --clean --config -
echo "snapshot release in $dist" >&2
