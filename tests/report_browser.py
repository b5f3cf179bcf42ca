#!/usr/bin/python3
"""report_browser.py -- TAP test: the HTML conformance report in a real
browser (Debian's headless chromium, driven over its DevTools protocol on a
pipe; standard library only, plus PIL for reading the screenshot).

Usage (prove passes the arguments after ::):
    prove -e /usr/bin/python3 tests/report_browser.py :: \\
        REPORT.html VECTORS_DIR SCREENSHOT.png RUN.json...

It first proves the harness itself: a page that logs a console error and
throws must be caught, a page that fetches an external asset must be caught,
and a blank page's screenshot must count as blank. Then it opens the report
and checks: no console error, no uncaught exception, no request for
anything but the file itself and data: URLs; one section per RUN.json whose
per-file verdict counts, totals, failure blocks and known failures are those
of the JSON report; the manifest hash is that of VECTORS_DIR/SHA256SUMS;
every image decoded; and the screenshot (written to SCREENSHOT.png) is not
blank.
"""

import base64
import hashlib
import io
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FAILING = ("fail", "timeout", "crash", "protocol_error", "unexpected_pass")
VERDICTS = ("pass", "fail", "unsupported", "timeout", "crash",
            "protocol_error", "known_failure", "unexpected_pass")
# Without these flags chromium waits for the network, which is closed here.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-quic", "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1200,900"]
TIMEOUT_S = 30.0


# ---- TAP --------------------------------------------------------------------

class Tap:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def ok(self, condition, description, diagnostics=""):
        self.count += 1
        print(f"{'ok' if condition else 'not ok'} {self.count} - {description}")
        if not condition:
            self.failed += 1
            for line in str(diagnostics).splitlines():
                print(f"# {line}")
        sys.stdout.flush()
        return condition

    def done(self):
        print(f"1..{self.count}")
        return 1 if self.failed else 0


# ---- the browser ------------------------------------------------------------

class Browser:
    """Headless chromium with --remote-debugging-pipe: commands are JSON
    objects separated by NUL bytes, written to its fd 3 and read from its
    fd 4. One page, attached with a flat session."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="lmr-chromium-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        child_fds = (to_child_r, from_child_w)

        def wire_fds():  # in the child: the two pipe ends become fds 3 and 4
            read_end, write_end = os.dup(child_fds[0]), os.dup(child_fds[1])
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.process = subprocess.Popen(
            ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
             "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire_fds, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"})
        self.session = self.call("Target.attachToTarget", {
            "targetId": target["targetId"], "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _send(self, method, params, session):
        self.next_id += 1
        message = {"id": self.next_id, "method": method,
                   "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self.to_child, json.dumps(message).encode() + b"\0")
        return self.next_id

    def _receive(self, deadline):
        """The next message, or None when the deadline passes first."""
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.from_child], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method, params=None, session=False):
        """Sends a command and returns its result; events seen meanwhile
        are kept in self.events."""
        wanted = self._send(method, params, session)
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            message = self._receive(deadline)
            if message is None:
                raise RuntimeError(f"{method}: no answer in {TIMEOUT_S} s")
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event, quiet_s=0.5):
        """Waits for an event, then until nothing arrives for quiet_s (late
        console messages); False if the event never came."""
        deadline = time.monotonic() + TIMEOUT_S
        seen = any(e["method"] == event for e in self.events)
        while not seen:
            message = self._receive(deadline)
            if message is None:
                return False
            if "method" in message:
                self.events.append(message)
                seen = message["method"] == event
        while True:
            message = self._receive(time.monotonic() + quiet_s)
            if message is None:
                return True
            if "method" in message:
                self.events.append(message)

    def open(self, url):
        """Loads url; the events of the load."""
        self.events = []
        self.call("Page.navigate", {"url": url}, session=True)
        loaded = self.wait_for("Page.loadEventFired")
        return loaded, list(self.events)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {
            "expression": expression, "returnByValue": True,
            "awaitPromise": True}, session=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self):
        """A PNG of the whole page, beyond the window."""
        return base64.b64decode(self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True},
            session=True)["data"])

    def close(self):
        try:
            self.call("Browser.close")
            self.process.wait(timeout=10)
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            pass
        if self.process.poll() is None:  # our own process group only
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.to_child)
        os.close(self.from_child)
        shutil.rmtree(self.profile, ignore_errors=True)


# ---- what a load did ----------------------------------------------------------

def console_errors(events):
    """Console errors, uncaught exceptions and error log entries."""
    errors = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and \
                params.get("type") in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", "")))
                            for a in params.get("args", []))
            errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description",
                                                    details.get("text", ""))
            errors.append(f"uncaught exception: {text}")
        elif method == "Log.entryAdded" and \
                params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log ({entry.get('source')}): {entry.get('text')}")
    return errors


def foreign_requests(events, own_url):
    """Requests for anything but own_url and data: URLs."""
    urls = [e["params"]["request"]["url"] for e in events
            if e["method"] == "Network.requestWillBeSent"]
    return [u for u in urls if u != own_url and not u.startswith("data:")]


def blankness(png):
    """(share of pixels unlike the most common colour, distinct colours)."""
    from PIL import Image
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 24)
    background = max(colours)[0]
    total = image.width * image.height
    return 1.0 - background / total, len(colours)


def is_blank(png):
    share, distinct = blankness(png)
    return share < 0.01 or distinct < 16


# ---- the report's DOM -----------------------------------------------------------

DOM_QUERY = r"""
(() => {
  const counts = (row) => {
    const out = {};
    row.querySelectorAll('td[data-count]').forEach(
        td => { out[td.dataset.count] = parseInt(td.textContent, 10); });
    return out;
  };
  const sections = [...document.querySelectorAll('section.run')].map(s => ({
    testee: s.dataset.testee, cls: s.dataset.class,
    rows: Object.fromEntries([...s.querySelectorAll('table.verdicts tr[data-op]')]
        .map(r => [r.dataset.op, counts(r)])),
    failures: [...s.querySelectorAll('div.failure')].map(d => d.dataset.id),
    known: [...s.querySelectorAll('table.known tr[data-id]')].map(r => r.dataset.id),
  }));
  const overview = [...document.querySelectorAll('#overview tr[data-testee]')]
      .map(r => ({testee: r.dataset.testee, cls: r.dataset.class, counts: counts(r)}));
  const images = [...document.images].map(i => ({
      width: i.naturalWidth, height: i.naturalHeight, complete: i.complete,
      data: i.src.startsWith('data:image/png;base64,')}));
  const hash = document.getElementById('manifest-sha256');
  return {title: document.title, sections, overview, images,
          manifest: hash ? hash.textContent : null,
          engines: !!document.getElementById('engines')};
})()
"""


def expected_of(path):
    """What the JSON report says: testee, class, per-file counts, totals,
    the failing and the known-failure case ids."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    run, summary = data["run"], data["summary"]
    name = (run.get("testee") or {}).get("name") or \
        f"offline results {run.get('results')}"
    rows = {row["op"]: {v: row[v] for v in VERDICTS} | {"cases": row["cases"]}
            for row in summary["ops"]}
    totals = dict(summary["verdicts"])
    totals["cases"] = sum(totals.values())
    failing = [c["id"] for c in data["cases"] if c["verdict"] in FAILING]
    known = [c["id"] for c in data["cases"] if c["verdict"] == "known_failure"]
    return {"file": os.path.basename(path), "testee": name,
            "cls": summary["class"], "rows": rows,
            "totals": totals, "failing": failing, "known": known}


class Checks:
    """The named results of checking one page: (name, passed, diagnostics).
    The same checks run on the real report (all must pass) and on broken
    copies of it (the one each copy breaks must fail)."""

    def __init__(self):
        self.results = []

    def ok(self, condition, name, diagnostics=""):
        self.results.append((name, bool(condition), diagnostics))

    def failed(self, fragment):
        """1 if a check whose name contains fragment failed."""
        return any(fragment in name and not passed
                   for name, passed, _ in self.results)


def check_section(checks, section, expected, label):
    rows = dict(section["rows"])
    totals = rows.pop("total", None)
    mismatched = [f"{op}: page {rows.get(op)} json {want}"
                  for op, want in expected["rows"].items()
                  if rows.get(op) != want]
    checks.ok(set(rows) == set(expected["rows"]) and not mismatched,
              f"{label}: the per-file verdict table has the JSON summary's "
              f"{len(expected['rows'])} rows and counts",
              "\n".join(mismatched[:10]) or
              f"rows differ: {sorted(set(rows) ^ set(expected['rows']))}")
    checks.ok(totals == expected["totals"],
              f"{label}: the total row is the summary's verdicts "
              f"({expected['totals']['cases']} cases, "
              f"{expected['totals']['pass']} pass)",
              f"page {totals}\njson {expected['totals']}")
    checks.ok(section["failures"] == expected["failing"],
              f"{label}: {len(expected['failing'])} failure blocks, one per "
              "failing case, in order",
              f"page {section['failures']}\njson {expected['failing']}")
    checks.ok(section["known"] == expected["known"],
              f"{label}: {len(expected['known'])} known failures listed",
              f"page {section['known']}\njson {expected['known']}")


def check_page(browser, page_path, vectors, runs, screenshot_path=None):
    """Every check of the report at page_path against the JSON runs."""
    checks = Checks()
    url = "file://" + page_path
    loaded, events = browser.open(url)
    checks.ok(loaded, "the report loads")
    errors = console_errors(events)
    checks.ok(not errors, "no console error, exception or error log entry",
              "\n".join(errors))
    foreign = foreign_requests(events, url)
    checks.ok(not foreign, "self-contained: no request but the file itself "
              "and data: URLs", "\n".join(foreign))

    dom = browser.evaluate(DOM_QUERY)
    checks.ok(dom["title"] == "lmref conformance report", "the page's title",
              dom["title"])
    with open(os.path.join(vectors, "SHA256SUMS"), "rb") as f:
        manifest = hashlib.sha256(f.read()).hexdigest()
    checks.ok(dom["manifest"] == manifest,
              "the page shows the sha256 of vectors/SHA256SUMS",
              f"page {dom['manifest']} file {manifest}")
    checks.ok(len(dom["sections"]) == len(runs) and
              len(dom["overview"]) == len(runs),
              f"one section and one overview row per run ({len(runs)})",
              f"{len(dom['sections'])} sections, "
              f"{len(dom['overview'])} overview rows")
    for i, (expected, section) in enumerate(zip(runs, dom["sections"])):
        label = f"{expected['file']} ({expected['testee']}, " \
                f"{expected['cls']})"
        checks.ok(section["testee"] == expected["testee"] and
                  section["cls"] == expected["cls"],
                  f"section {i + 1} is {label}",
                  f"page {section['testee']}, {section['cls']}")
        check_section(checks, section, expected, label)
        overview = dom["overview"][i]["counts"]
        totals = expected["totals"]
        failing = sum(totals[v] for v in FAILING)
        checks.ok(overview == {"cases": totals["cases"],
                               "pass": totals["pass"], "failing": failing,
                               "unsupported": totals["unsupported"],
                               "known_failure": totals["known_failure"]},
                  f"{label}: the overview row's counts", str(overview))
    checks.ok(dom["engines"], "the engines' section is there")
    images = dom["images"]
    checks.ok(len(images) == len(runs) and
              all(i["complete"] and i["width"] > 0 and i["data"]
                  for i in images),
              "one chart per run, each an embedded PNG that decoded",
              str(images))
    if screenshot_path is not None:
        png = browser.screenshot()
        with open(screenshot_path, "wb") as f:
            f.write(png)
        share, distinct = blankness(png)
        checks.ok(not is_blank(png),
                  f"the screenshot is not blank ({share:.1%} of its pixels "
                  f"differ from the background, {distinct} colours; "
                  f"{os.path.basename(screenshot_path)})")
    return checks


# Broken copies of the report: (what is changed, the text replaced, its
# replacement, a fragment of the name of the check that must then fail).
BREAKAGES = [
    ("a count in a verdict table", '<td data-count="pass" class="">',
     '<td data-count="pass" class="">1', "per-file verdict table"),
    ("a console error", "</body>",
     "<script>console.error('broken copy')</script></body>",
     "no console error"),
    ("an external image", "</body>",
     '<img src="https://example.org/x.png" alt="x"></body>',
     "self-contained"),
    ("a failure block dropped", '<div class="failure"',
     '<div class="dropped"', "failure blocks"),
]


# ---- the harness's own controls ------------------------------------------------

def check_harness(tap, browser, scratch):
    """A test that cannot fail is a defect: show each check failing."""
    bad = os.path.join(scratch, "bad.html")
    with open(bad, "w") as f:
        f.write("<!DOCTYPE html><title>bad</title><p>bad page</p><script>"
                "console.error('deliberate console error');"
                "throw new Error('deliberate exception');</script>")
    loaded, events = browser.open("file://" + bad)
    errors = console_errors(events)
    tap.ok(loaded and any("deliberate console error" in e for e in errors)
           and any("deliberate exception" in e for e in errors),
           "control: a page that logs an error and throws is caught",
           "\n".join(errors) or "nothing caught")

    external = os.path.join(scratch, "external.html")
    with open(external, "w") as f:
        f.write('<!DOCTYPE html><title>x</title>'
                '<img src="http://192.0.2.1/x.png" alt="x">')
    _, events = browser.open("file://" + external)
    tap.ok(foreign_requests(events, "file://" + external) ==
           ["http://192.0.2.1/x.png"],
           "control: a page that fetches an external asset is caught",
           str(foreign_requests(events, "file://" + external)))

    blank = os.path.join(scratch, "blank.html")
    with open(blank, "w") as f:
        f.write("<!DOCTYPE html><title>blank</title><body></body>")
    browser.open("file://" + blank)
    tap.ok(is_blank(browser.screenshot()),
           "control: a blank page's screenshot counts as blank",
           str(blankness(browser.screenshot())))


def check_breakages(tap, browser, page_path, vectors, runs, scratch):
    """Each broken copy of the report must fail the check it breaks."""
    with open(page_path, encoding="utf-8") as f:
        text = f.read()
    for what, old, new, check in BREAKAGES:
        if old not in text:
            tap.ok(False, f"broken copy ({what}): {old!r} is not in the page")
            continue
        broken = os.path.join(scratch, "broken.html")
        with open(broken, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new, 1))
        checks = check_page(browser, broken, vectors, runs)
        tap.ok(checks.failed(check),
               f"control: a copy with {what} fails '{check}'",
               "\n".join(f"{'ok' if p else 'FAILED'}: {n}"
                         for n, p, _ in checks.results))


def main(argv):
    tap = Tap()
    if len(argv) < 4:
        print("Bail out! usage: report_browser.py REPORT.html VECTORS_DIR "
              "SCREENSHOT.png RUN.json...")
        return 2
    page_path, vectors, screenshot_path = (os.path.abspath(a)
                                           for a in argv[:3])
    runs = [expected_of(path) for path in argv[3:]]
    if shutil.which("chromium") is None:
        print("Bail out! chromium is not installed (make deps)")
        return 1
    scratch = tempfile.mkdtemp(prefix="lmr-report-test-")
    browser = Browser()
    try:
        check_harness(tap, browser, scratch)
        for name, passed, diagnostics in check_page(
                browser, page_path, vectors, runs, screenshot_path).results:
            tap.ok(passed, name, diagnostics)
        check_breakages(tap, browser, page_path, vectors, runs, scratch)
    finally:
        browser.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
