#!/usr/bin/env bash
# Usage: release/tools.sh [--built] goreleaser|syft|krew
#
# Prints the path of the pinned release tool, building it first into
# ${XDG_CACHE_HOME:-~/.cache}/ekstoken/<tool>-<version>/ as .ci/run does
# for golangci-lint. Built once per version, with CGO off, from the Go
# module proxy; no other download.
#
# GoReleaser is pinned by tools/go.mod (a tool directive in a module of its
# own: in the main go.mod its graph would raise versions of modules that
# ekstoken links, spf13/pflag among them). syft and krew are built at the
# versions below from their own go.mod files.
#
# With --built it only prints the path of a tool already built, and exits
# 1 without building when it is not (the tests use it: they never build
# tools themselves).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/ekstoken"
only_built=false
if [ "${1:-}" = --built ]; then
  only_built=true
  shift
fi

build() { # build NAME VERSION PACKAGE[@VERSION] [DIR]
  local name=$1 version=$2 pkg=$3 dir=${4:-}
  local bin_dir="$cache/$name-$version"
  if [ ! -x "$bin_dir/$name" ]; then
    if $only_built; then
      echo "$name $version is not built in $bin_dir: run release/tools.sh $name" >&2
      exit 1
    fi
    echo "building $name $version into $bin_dir (once)" >&2
    # GOOS/GOARCH of the caller must not cross-compile the tool itself.
    if [ -n "$dir" ]; then
      (cd "$dir" && env -u GOOS -u GOARCH GOBIN="$bin_dir" CGO_ENABLED=0 GOFLAGS=-mod=readonly go install "$pkg") >&2
    else
      env -u GOOS -u GOARCH GOBIN="$bin_dir" CGO_ENABLED=0 go install "$pkg" >&2
    fi
  fi
  echo "$bin_dir/$name"
}

case "${1:-}" in
goreleaser)
  version=$(cd "$root/tools" && go list -m -f '{{.Version}}' github.com/goreleaser/goreleaser/v2)
  build goreleaser "$version" github.com/goreleaser/goreleaser/v2 "$root/tools"
  ;;
syft) build syft v1.57.1 github.com/anchore/syft/cmd/syft@v1.57.1 ;;
krew) build krew v0.4.3 sigs.k8s.io/krew/cmd/krew@v0.4.3 ;;
*)
  echo "usage: $0 [--built] goreleaser|syft|krew" >&2
  exit 2
  ;;
esac
