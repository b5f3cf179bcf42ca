#!/bin/sh
# check-install.sh -- installs into a temporary DESTDIR, then checks what
# another project gets from `make install`:
#   1. the shared object exports exactly the functions the installed headers
#      mark LMR_API (nm -D --defined-only), and every function those headers
#      declare is marked;
#   2. a C program builds against the installed headers and pkg-config file
#      and runs;
#   3. a C++ program does too (the headers' extern "C" guards).
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
prefix=/opt/lmref-check
make -s install DESTDIR="$tmp/root" PREFIX="$prefix" >/dev/null
root="$tmp/root$prefix"

# 1. The exported symbols. A declaration in an installed header starts at
# column 0 with its return type and names an lmr_ function; LMR_API stands
# alone on the line above it (ref/lmr_api.h). The static inline view
# constructors of lmr_view.h are defined in the header, not exported.
headers="$root/include/lmref"
awk '
    /^LMR_API$/ { marked = 1; next }
    /^static inline / { marked = 0; next }
    /^[a-z].*[ *]lmr_[a-z0-9_]*\(/ {
        name = $0
        sub(/\(.*/, "", name)
        sub(/.*[ *]/, "", name)
        print (marked ? "marked " : "unmarked ") name
    }
    { marked = 0 }
' "$headers"/*.h | sort > "$tmp/declared"
if grep '^unmarked ' "$tmp/declared"; then
    echo "install-check: the functions above are declared in an installed header without LMR_API" >&2
    exit 1
fi
sed 's/^marked //' "$tmp/declared" | sort > "$tmp/api"
nm -D --defined-only "$root/lib/liblmref.so.0" | awk '{ print $NF }' | sort > "$tmp/exported"
if ! cmp -s "$tmp/api" "$tmp/exported"; then
    echo "install-check: liblmref.so.0 exports other than the LMR_API functions" >&2
    echo "  (< marked LMR_API but not exported; > exported but not marked):" >&2
    diff "$tmp/api" "$tmp/exported" | grep '^[<>]' >&2
    exit 1
fi
echo "install: liblmref.so.0 exports exactly the $(wc -l < "$tmp/api") LMR_API functions of the installed headers"

export PKG_CONFIG_PATH="$root/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
cflags=$(pkg-config --cflags lmref)
libs=$(pkg-config --libs lmref)
export LD_LIBRARY_PATH="$root/lib"

# 2. A C program.
cat > "$tmp/use.c" <<'PROGRAM'
#include <lmref/lmr.h>
#include <stdio.h>
int main(void)
{
    const double E[6] = {1, 2, 3, 4, 5, 6};
    const int64_t ids[1] = {2};
    double y[2];
    int status = lmr_embed_lookup(lmr_mat_out_of(y, 1, 2), lmr_mat_of(E, 3, 2),
                                  lmr_ids_of(ids, 1));
    if (status != LMR_OK || y[0] != 5 || y[1] != 6)
        return 1;
    puts("install: the installed lmref links and runs from C");
    return 0;
}
PROGRAM
# shellcheck disable=SC2086 # flags are meant to split
cc -std=c11 $cflags "$tmp/use.c" -o "$tmp/use" $libs
"$tmp/use"

# 3. A C++ program: without extern "C" in the headers it would not link
# (the names would be mangled).
cat > "$tmp/use.cpp" <<'PROGRAM'
#include <lmref/lmr.h>
#include <cstdio>
#include <cstring>
int main()
{
    const double logits[3] = {1.0, 2.0, 3.0};
    double probs[3];
    int64_t token = -1;
    if (lmr_softmax(probs, logits, 1, 3, 1.0) != LMR_OK)
        return 1;
    if (probs[2] <= probs[1] || probs[1] <= probs[0])
        return 1;
    if (lmr_argmax(&token, logits, 1, 3) != LMR_OK || token != 2)
        return 1;
    if (std::strcmp(lmr_status_name(LMR_EDIM), "LMR_EDIM") != 0)
        return 1;
    std::puts("install: the installed lmref links and runs from C++");
    return 0;
}
PROGRAM
# shellcheck disable=SC2086 # flags are meant to split
g++ -std=c++11 -Wall -Wextra -Wpedantic $cflags "$tmp/use.cpp" -o "$tmp/use_cpp" $libs
"$tmp/use_cpp"
