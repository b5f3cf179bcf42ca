#!/bin/sh
# install-deps.sh [PACKAGE...] -- installs, from Debian's archive, the
# packages the build and the tests need (or the ones named). Idempotent:
# packages already installed are skipped, and `apt-get update` runs once,
# only when something is missing. Exits non-zero if an install fails.
set -eu

# gcc and clang-14 both build the reference (make bits-check compares them);
# g++ builds the install check's C++ program; clang-format-14 is make
# format-check's formatter.
PACKAGES="build-essential gcc g++ pkg-config libgsl-dev libmpfr-dev libgmp-dev \
libjansson-dev valgrind perl python3 python3-jsonschema python3-numpy \
python3-torch python3-matplotlib python3-pil python3-scipy chromium clang-14 \
libclang-rt-14-dev clang-format-14"
# Node and npm (the engine adapters, tools/engines/): the machine's own when
# it has them (any packaging); Debian's only when there is no node at all,
# since Debian's npm would conflict with another vendor's nodejs package.
command -v node >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
[ "$#" -gt 0 ] && PACKAGES="$*"

missing=""
for package in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    [ "$status" = "installed" ] || missing="$missing $package"
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "install-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    run=""
elif command -v sudo >/dev/null 2>&1; then
    run="sudo"
else
    echo "install-deps: need root (or sudo) to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$run apt-get update -qq
# shellcheck disable=SC2086 # the list is meant to split into words
$run apt-get install -y -qq --no-install-recommends $missing
