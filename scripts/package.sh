#!/usr/bin/env bash
# Builds the release build (build/, configured as scripts/build.sh does unless it is
# configured already) and packs it into a Debian package with CPack. Prints the path of
# the .deb, and nothing else, on stdout.
#   EG_BUILD_DIR    the build directory (default build)
#   EG_PACKAGE_DIR  where the .deb goes (default <build dir>/packages)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${EG_BUILD_DIR:-build}
out=${EG_PACKAGE_DIR:-$build/packages}

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
# What ships is the g++ release build: not a sanitizer or fuzzing build, not Debug.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
case "$(cache CMAKE_BUILD_TYPE)" in
  Release | RelWithDebInfo | MinSizeRel) ;;
  *) echo "package.sh: $build is a $(cache CMAKE_BUILD_TYPE) build, not a release build" >&2; exit 1 ;;
esac
sanitize=$(cache EG_SANITIZE)
if [ -n "$sanitize" ] && [ "$sanitize" != OFF ] || [ "$(cache EG_FUZZ)" = ON ]; then
  echo "package.sh: $build is a sanitizer or fuzzing build" >&2
  exit 1
fi

cmake --build "$build" --target event-gateway >&2
mkdir -p "$out"
rm -f "$out"/event-gateway_*.deb
cpack --config "$build/CPackConfig.cmake" -B "$(cd "$out" && pwd)" >&2
debs=("$out"/event-gateway_*.deb)
if [ ${#debs[@]} -ne 1 ] || [ ! -f "${debs[0]}" ]; then
  echo "package.sh: cpack made no event-gateway .deb in $out" >&2
  exit 1
fi
echo "$(cd "$(dirname "${debs[0]}")" && pwd)/$(basename "${debs[0]}")"
