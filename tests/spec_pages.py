#!/usr/bin/python3
"""TAP: the marking of normative and informative text in spec/.

    /usr/bin/python3 tests/spec_pages.py [SPEC_DIR]

The convention is spec/README.md's "Normative and informative text":
a section whose heading ends in "(informative)" is informative with its
subsections, a blockquote is informative and opens with a bold label, a
page whose title ends in "(informative)" is informative throughout. This
test checks, page by page:

  index       every page of spec/ is in spec/README.md's table of files, and
              every file the table names exists;
  labels      every blockquote opens with a bold label ("> **Derivation.**");
  derivations a paragraph that opens with a derivation or an example
              ("Derivation", "Example", "For example") sits in an
              informative section or blockquote;
  glossary    spec/glossary.md is linked from spec/README.md;
  links       every link of a page to a page of spec/ with an anchor
              (`file.md#anchor`, `#anchor`) finds the anchor: an explicit
              <a id> or the slug of a heading, so that renaming a heading
              (marking it informative) breaks no link;
  retired     no page but the glossary uses a spelling of spec/glossary.md's
              table of retired spellings (a letter with a second meaning);
  case ids    every case id a page cites (`op/slug`, or `op/prefix*`, with
              op a vector file) names a case of that file, so an erratum's
              or a decision's evidence cannot go stale.
"""
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spec_errors  # noqa: E402 -- tests/spec_errors.py: the table reader

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "spec")
VECTORS = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "vectors")
CASE_ID = re.compile(r"`([a-z][a-z0-9_]*)/([A-Za-z0-9*-]+)`")

INFORMATIVE = "(informative)"
OPENERS = re.compile(r"^(\*\*)?(Derivation|Example|For example|Alternatives in the wild|Why)\b")
LABEL = re.compile(r"^> \*\*[^*]+\*\*")


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, detail=()):
        self.n += 1
        if not cond:
            self.failed += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name))
        for line in detail:
            print("#   " + line)

    def done(self):
        print("1..%d" % self.n)
        return 1 if self.failed else 0


def heading_level(line):
    m = re.match(r"^(#+) ", line)
    return len(m.group(1)) if m else 0


def misplaced_openers(lines):
    """Lines that open a paragraph with a derivation or an example outside
    an informative section or blockquote, as 'LINE: text'."""
    found = []
    informative_level = 0      # level of the informative heading we are under
    page_informative = False
    fence = False
    previous_blank = True
    for number, line in enumerate(lines, 1):
        if line.startswith("```"):
            fence = not fence
        if fence:
            continue
        level = heading_level(line)
        if level:
            title = line.rstrip()
            if level == 1:
                page_informative = title.endswith(INFORMATIVE)
            if informative_level and level <= informative_level:
                informative_level = 0
            if not informative_level and title.endswith(INFORMATIVE):
                informative_level = level
            previous_blank = True
            continue
        if previous_blank and OPENERS.match(line) and not (page_informative or informative_level):
            found.append("%d: %s" % (number, line.strip()[:70]))
        previous_blank = line.strip() == ""
    return found


def unlabelled_quotes(lines):
    found = []
    inside = False
    for number, line in enumerate(lines, 1):
        if line.startswith(">"):
            if not inside and not LABEL.match(line):
                found.append("%d: %s" % (number, line.strip()[:70]))
            inside = True
        else:
            inside = False
    return found


def vector_ids(vectors=VECTORS):
    """{file stem: set of case ids} of every vector file."""
    ids = {}
    for path in sorted(glob.glob(os.path.join(vectors, "*.json"))):
        with open(path, encoding="utf-8") as f:
            ids[os.path.basename(path)[:-len(".json")]] = {c["id"] for c in json.load(f)["cases"]}
    return ids


def stale_case_ids(text, ids):
    """Cited case ids of vector files that name no case, as 'id'."""
    stale = []
    for m in CASE_ID.finditer(text):
        stem, slug = m.groups()
        if stem not in ids:
            continue                      # not a case id (a path, a ratio)
        cited = stem + "/" + slug
        pattern = re.escape(cited).replace(r"\*", ".*")
        if not any(re.fullmatch(pattern, case) for case in ids[stem]):
            stale.append(cited)
    return stale


def slug(heading):
    """GitHub's anchor of a heading's text."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text):
    found = set(re.findall(r'<a id="([^"]+)">', text))
    for line in text.split("\n"):
        level = heading_level(line)
        if level:
            found.add(slug(line[level + 1:]))
    return found


def broken_links(page, text, anchors_of):
    """Links from page to an anchor of a spec page that does not exist."""
    broken = []
    for target, anchor in re.findall(r"\]\(([\w.-]*\.md|)#([^)\s]+)\)", text):
        target = target or page
        if target in anchors_of and anchor not in anchors_of[target]:
            broken.append("%s#%s" % (target, anchor))
    return broken


def retired_patterns(spec=SPEC):
    """[(compiled pattern, what to write instead)] of the glossary's table."""
    with open(os.path.join(spec, "glossary.md"), encoding="utf-8") as f:
        text = f.read()
    found = []
    for pattern_cell, _, instead in spec_errors.spec_table(text, "retired"):
        for pattern in re.findall(r"`([^`]+)`", pattern_cell):
            found.append((re.compile(pattern), instead))
    return found


def retired_uses(lines, patterns):
    found = []
    for number, line in enumerate(lines, 1):
        for pattern, instead in patterns:
            if pattern.search(line):
                found.append("%d: %s (write %s)" % (number, line.strip()[:60], instead))
    return found


def main():
    tap = Tap()
    pages = sorted(f for f in os.listdir(SPEC) if f.endswith(".md"))
    readme = open(os.path.join(SPEC, "README.md"), encoding="utf-8").read()
    listed = set(re.findall(r"^\| \[([\w.-]+\.md)\]", readme, re.M))
    missing = [p for p in pages if p != "README.md" and p not in listed]
    tap.ok(not missing, "every spec page is in spec/README.md's table",
           ["not listed: " + p for p in missing])
    absent = sorted(p for p in listed if p not in pages)
    tap.ok(not absent, "every page spec/README.md lists exists",
           ["missing: " + p for p in absent])
    tap.ok("(glossary.md)" in readme, "spec/README.md links the glossary")
    ids = vector_ids()
    retired = retired_patterns()
    tap.ok(len(retired) > 0, "the glossary lists %d retired spellings" % len(retired))
    anchors_of = {p: anchors(open(os.path.join(SPEC, p), encoding="utf-8").read())
                  for p in pages}
    for page in pages:
        text = open(os.path.join(SPEC, page), encoding="utf-8").read()
        lines = text.split("\n")
        bad = broken_links(page, text, anchors_of)
        tap.ok(not bad, "%s: every link to an anchor of spec/ finds it" % page, bad)
        if page != "glossary.md":
            bad = retired_uses(lines, retired)
            tap.ok(not bad, "%s: no retired spelling" % page, bad)
        bad = stale_case_ids(text, ids)
        tap.ok(not bad, "%s: every cited case id names a case" % page, bad)
        bad = unlabelled_quotes(lines)
        tap.ok(not bad, "%s: every blockquote opens with a bold label" % page, bad)
        bad = misplaced_openers(lines)
        tap.ok(not bad, "%s: derivations and examples are marked informative" % page, bad)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
