#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Proves the installed afk package is usable by another project: installs a configured and
# built afk into a temporary prefix, checks that the installed public headers pull in no
# third-party headers, then builds examples/ against that prefix with find_package(afk)
# and runs them: embed_afk (config, policy, run record) and embed_tick (a tick of the
# engine over the example's own in-memory tracker and stand-in ports).
#
# Usage: scripts/check-install.sh [build-dir]   (default: build/dev, already built)
set -eu

source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${1:-build/dev}

fail() {
  echo "install-and-consume: FAILED: $*" >&2
  exit 1
}

[ -f "$build_dir/CMakeCache.txt" ] || fail "$build_dir is not a configured CMake build directory"

work_dir=$(mktemp -d "${TMPDIR:-/tmp}/afk-check-install.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT
prefix=$work_dir/prefix

echo "== installing $build_dir into $prefix"
cmake --install "$build_dir" --prefix "$prefix"

echo "== checking installed headers for third-party includes"
include_dir=$prefix/include/afk
[ -d "$include_dir" ] || fail "no headers installed under $include_dir"
# Public headers must stay free of third-party types (house style §3.2): a consumer
# compiles against afk alone, never against curl, libgit2, nlohmann or toml++.
if grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](curl/|git2|nlohmann/|toml\+\+/)' \
  "$include_dir"; then
  fail "installed headers include third-party headers (listed above)"
fi

echo "== building examples/ against the installed package"
cmake -S "$source_dir/examples" -B "$work_dir/examples-build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug
cmake --build "$work_dir/examples-build"
# A stray afk elsewhere on the system must not stand in for the one just installed.
found=$(sed -n 's/^afk_DIR:[A-Z]*=//p' "$work_dir/examples-build/CMakeCache.txt")
case $found in
"$prefix"/*) ;;
*) fail "examples/ found afk at '$found', not under $prefix" ;;
esac

for example in embed_afk embed_tick; do
  echo "== running $example"
  status=0
  "$work_dir/examples-build/$example" || status=$?
  [ "$status" -eq 0 ] || fail "$example exited with status $status"
done

echo "install-and-consume: ok"
