#!/bin/sh
# install-bench-deps.sh -- installs, from Debian's archive, what `make bench`
# needs beyond the build: PyTorch and NumPy for /usr/bin/python3 (the torch
# comparison in tools/bench_torch.py). Idempotent: packages already installed
# are skipped, and `apt-get update` runs once, only when something is missing.
# A failed install is reported but does not fail the benchmark: the C part
# runs without torch, and bench_torch.py says the torch ratio is unavailable.
set -u

PACKAGES="python3-torch python3-numpy"

missing=""
for package in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    [ "$status" = "installed" ] || missing="$missing $package"
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "install-bench-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    run=""
elif command -v sudo >/dev/null 2>&1; then
    run="sudo"
else
    echo "install-bench-deps: need root (or sudo) to install:$missing;" \
         "the torch comparison will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # the list is meant to split into words
if ! { $run apt-get update -qq && $run apt-get install -y -qq $missing; }; then
    echo "install-bench-deps: could not install:$missing;" \
         "the torch comparison will be skipped" >&2
fi
exit 0
