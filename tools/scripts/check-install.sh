#!/bin/sh
# check-install.sh -- installs into a temporary DESTDIR and builds a small
# program against the installed header and pkg-config file, so `make install`
# is known to give another C project a usable oracle.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=/opt/lmref-check
make -s install DESTDIR="$tmp/root" PREFIX="$prefix" >/dev/null
cat > "$tmp/use.c" <<'PROGRAM'
#include <lmref/lmr.h>
#include <stdio.h>
int main(void)
{
    const double E[6] = {1, 2, 3, 4, 5, 6};
    const int64_t ids[1] = {2};
    double y[2];
    int status = lmr_embed_lookup(y, E, ids, 1, 3, 2);
    if (status != LMR_OK || y[0] != 5 || y[1] != 6)
        return 1;
    puts("install: the installed lmref links and runs");
    return 0;
}
PROGRAM
export PKG_CONFIG_PATH="$tmp/root$prefix/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
cflags=$(pkg-config --cflags lmref)
libs=$(pkg-config --libs lmref)
# shellcheck disable=SC2086 # flags are meant to split
cc -std=c11 $cflags "$tmp/use.c" -o "$tmp/use" $libs
LD_LIBRARY_PATH="$tmp/root$prefix/lib" "$tmp/use"
