#!/bin/sh
# check-independence.sh -- the independence rule on the sources
# (tools/README.md): the oracle, the generator, the common library and the
# runner never name a header of the reference library (ref/), and no file
# under tools/ includes a header of another folder by a relative path (which
# would get round the include paths the Makefile gives each folder).
# Exit status 0 when the rule holds; 1 with the offending lines otherwise.
set -u
status=0
ref_headers=$(cd ref && ls *.h | sed 's/\./\\./g' | paste -sd '|' -)
for folder in oracle gen common runner; do
    hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]([^\">]*/)?($ref_headers)[\">]" \
           tools/$folder/*.c tools/$folder/*.h 2>/dev/null)
    if [ -n "$hits" ]; then
        echo "independence: tools/$folder/ includes a header of ref/:" >&2
        echo "$hits" >&2
        status=1
    fi
done
hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' tools/*/*.c tools/*/*.h)
if [ -n "$hits" ]; then
    echo "independence: a tools/ file includes a header by a path; use the" \
         "folder's include paths instead:" >&2
    echo "$hits" >&2
    status=1
fi
[ "$status" -eq 0 ] && echo "independence: oracle/, gen/, common/ and runner/ include nothing of ref/"
exit "$status"
