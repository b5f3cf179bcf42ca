"""report_html.py -- the HTML of the conformance report: a header with the
vectors' manifest hash, an overview table with one row per run, then one
section per run (its per-file verdict table, the strip chart, the failures
with their worst elements, the known failures, the unsupported cases), and
the engines' section. No script, no external asset: the chart is a PNG in a
data: URL, the style sheet is inline.

Elements the browser test reads carry data- attributes (data-testee,
data-class, data-op, data-count, data-id), so the test need not parse text.
"""

import base64
import html
import math

from report_data import FAILING, VERDICTS

STYLE = """
body { font-family: DejaVu Sans, Verdana, sans-serif; font-size: 14px;
       margin: 1.5em auto; max-width: 84em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 2px solid #999; }
h3 { margin-top: 1.5em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.15em 0.5em; text-align: right; }
th { background: #f3f3f3; } td.name, th.name { text-align: left; }
tr.total td { font-weight: bold; background: #fafafa; }
td.bad, span.bad { color: #b00; font-weight: bold; }
td.good, span.good { color: #070; font-weight: bold; }
td.zero { color: #aaa; }
td.where { text-align: left; font-size: 0.8em; max-width: 24em;
           overflow-wrap: anywhere; }
code, pre { font-family: DejaVu Sans Mono, monospace; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 0.5em; white-space: pre-wrap; }
div.failure { border-left: 4px solid #d62728; padding-left: 0.8em;
              margin: 1em 0; }
section.engines-placeholder { border: 2px dashed #999; padding: 0.5em 1em;
                              background: #fcfcf4; }
img.chart { max-width: 100%; border: 1px solid #eee; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em; }
dt { font-weight: bold; } dd { margin: 0; }
"""

VERDICT_TITLES = {"pass": "pass", "fail": "fail", "unsupported": "unsupported",
                  "timeout": "timeout", "crash": "crash",
                  "protocol_error": "protocol error",
                  "known_failure": "known failure",
                  "unexpected_pass": "unexpected pass"}


def esc(text):
    return html.escape(str(text), quote=True)


def show_number(value):
    """A double as the shortest text that reads back to it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return repr(value)


def show_fraction(fraction):
    if fraction is None:
        return "—"
    if math.isinf(fraction):
        return "∞"
    return f"{fraction:.3g}"


def fraction_class(fraction):
    return "bad" if fraction is not None and fraction > 1 else ""


# ---- the pieces -------------------------------------------------------------

def header(vectors, built, n_runs):
    if vectors.mismatches:
        check = (f'<span class="bad">{len(vectors.mismatches)} file(s) do '
                 f'not match it: {esc(", ".join(vectors.mismatches))}</span>')
    else:
        check = (f'<span class="good">all {vectors.file_count} vector files '
                 'match it</span>')
    return f"""<h1>lmref conformance report</h1>
<p>Built {esc(built)} from {n_runs} runner report(s) (<code>lmr-run
--report</code>). Each case is judged by its class's tolerance
(spec/tolerance.md): an element passes when |y − g| ≤ K·u·s + f; the
error beyond the floor e_f is in units of u·s and the chart shows e_f / K,
which is at most 1 exactly when the case passes.</p>
<dl class="vectors">
<dt>vectors</dt><dd><code>{esc(vectors.directory)}</code></dd>
<dt>manifest</dt><dd><code>{esc(vectors.manifest_path)}</code>, sha256
<code id="manifest-sha256">{esc(vectors.manifest_sha256)}</code>; {check}
(checked when this page was built)</dd>
</dl>"""


def overview(runs):
    rows = []
    for i, (run, anchor) in enumerate(runs):
        counts = run.counts()
        failing = sum(counts[v] for v in FAILING)
        result = ('<td class="good">pass</td>' if run.passed()
                  else '<td class="bad">FAIL</td>')
        worst = run.worst_fraction()
        rows.append(
            f'<tr data-testee="{esc(run.name)}" data-class="{esc(run.cls)}">'
            f'<td class="name"><a href="#{anchor}">{esc(run.name)}</a></td>'
            f'<td class="name">{esc(run.cls)}</td>'
            f'<td class="name">{esc(run.date)}</td>'
            f'<td data-count="cases">{len(run.cases)}</td>'
            f'<td data-count="pass">{counts["pass"]}</td>'
            f'<td data-count="failing">{failing}</td>'
            f'<td data-count="unsupported">{counts["unsupported"]}</td>'
            f'<td data-count="known_failure">{counts["known_failure"]}</td>'
            f'<td class="{fraction_class(worst)}">{show_fraction(worst)}</td>'
            f'{result}</tr>')
    return ("<h2>Overview</h2>\n<table id=\"overview\"><tr>"
            '<th class="name">testee</th><th class="name">class</th>'
            '<th class="name">date (UTC)</th><th>cases</th><th>pass</th>'
            "<th>failing</th><th>unsupported</th><th>known failures</th>"
            "<th>worst e_f / K</th><th>run</th></tr>\n"
            + "\n".join(rows) + "\n</table>")


def count_cell(name, value):
    bad = name in FAILING and value > 0
    css = "bad" if bad else ("zero" if value == 0 else "")
    return f'<td data-count="{name}" class="{css}">{value}</td>'


def verdict_table(run):
    head = "".join(f"<th>{esc(VERDICT_TITLES[v])}</th>" for v in VERDICTS)
    rows = []
    for row in run.ops:
        fraction, output = row.worst()
        where = ""
        if output is not None:
            case = next(c for c in row.cases if output in c.outputs)
            where = f"{esc(case.id)}, {esc(output.name)}"
        rows.append(
            f'<tr data-op="{esc(row.label)}"><td class="name">'
            f"{esc(row.label)}</td>"
            f'<td data-count="cases">{row.total()}</td>'
            + "".join(count_cell(v, row.counts[v]) for v in VERDICTS)
            + f'<td class="{fraction_class(fraction)}">'
            f"{show_fraction(fraction)}</td><td class=\"where\">{where}</td>"
            "</tr>")
    totals = run.counts()
    rows.append(
        '<tr class="total" data-op="total"><td class="name">total</td>'
        f'<td data-count="cases">{len(run.cases)}</td>'
        + "".join(count_cell(v, totals[v]) for v in VERDICTS)
        + f"<td>{show_fraction(run.worst_fraction())}</td><td></td></tr>")
    return ('<table class="verdicts"><tr><th class="name">vector file</th>'
            f"<th>cases</th>{head}<th>worst e_f / K</th>"
            '<th class="name">at (case, output)</th></tr>\n'
            + "\n".join(rows) + "\n</table>")


def output_rows(case):
    rows = []
    for out in case.outputs:
        if out.passed:
            continue
        position = ", ".join(str(i) for i in out.position())
        if out.is_index:
            difference, error, bound = "", "exact required", ""
        else:
            difference = show_number(out.got - out.want)
            error, bound = show_number(out.units), show_number(out.bound_units)
        rows.append(
            f'<tr><td class="name">{esc(out.name)}</td>'
            f"<td>[{esc(position)}]</td><td>{esc(show_number(out.got))}</td>"
            f"<td>{esc(show_number(out.want))}</td><td>{esc(difference)}</td>"
            f"<td>{esc(error)}</td><td>{esc(bound)}</td>"
            f"<td>{out.failures} of {out.count}</td></tr>")
    if not rows:
        return ""
    return ('<table class="worst"><tr><th class="name">output</th>'
            "<th>worst element</th><th>got</th><th>want</th><th>got − want</th>"
            "<th>error (u·s)</th><th>bound (u·s)</th>"
            "<th>elements out of bound</th></tr>\n" + "\n".join(rows)
            + "\n</table>")


def failure_block(case):
    stderr = (f"<p>testee's standard error:</p><pre>{esc(case.stderr)}</pre>"
              if case.stderr else "")
    kind = "valid" if case.valid else "invalid (must be rejected)"
    return (f'<div class="failure" data-id="{esc(case.id)}">'
            f"<p><b><code>{esc(case.id)}</code></b> — "
            f'<span class="bad">{esc(VERDICT_TITLES[case.verdict])}</span>; '
            f"{kind} case: {esc(case.comment)}</p>\n"
            + output_rows(case)
            + f"<pre>{esc(case.reason or '(no reason given)')}</pre>{stderr}"
            "</div>")


def failures(run):
    cases = run.failing_cases()
    body = ("<p>None.</p>" if not cases
            else "\n".join(failure_block(c) for c in cases))
    return f'<h4>Failures ({len(cases)})</h4>\n<div class="failures">{body}</div>'


def known_failures(run):
    cases = run.known_failures()
    if not cases:
        return "<h4>Known failures (0)</h4>\n<p>None.</p>"
    rows = "\n".join(
        f'<tr data-id="{esc(c.id)}"><td class="name"><code>{esc(c.id)}</code>'
        f'</td><td class="name">{esc(c.listed_reason or "")}</td>'
        f'<td class="name">{esc(c.verdict_before_list or "")}</td>'
        f'<td class="name"><pre>{esc(c.reason)}</pre></td></tr>'
        for c in cases)
    return (f"<h4>Known failures ({len(cases)})</h4>\n<p>Listed in the "
            "known-failures file: they do not fail the run.</p>\n"
            '<table class="known"><tr><th class="name">case</th>'
            '<th class="name">reason listed</th><th class="name">verdict</th>'
            "<th class=\"name\">what the runner found</th></tr>\n"
            + rows + "\n</table>")


def unsupported(run):
    cases = run.unsupported()
    if not cases:
        return "<h4>Unsupported (0)</h4>\n<p>None.</p>"
    items = "\n".join(f"<li><code>{esc(c.id)}</code>: {esc(c.reason)}</li>"
                      for c in cases)
    return (f"<h4>Unsupported ({len(cases)})</h4>\n<details><summary>"
            f"{len(cases)} cases the testee did not run</summary><ul>"
            f"{items}</ul></details>")


def chart_html(run, chart_png):
    if chart_png is None:
        return "<p>No case was run.</p>"
    chart = base64.b64encode(chart_png).decode("ascii")
    return f"""<img class="chart" alt="strip chart of every case's worst error
 as a fraction of its bound, per vector file, for {esc(run.name)} in class
 {esc(run.cls)}" src="data:image/png;base64,{chart}">"""


def run_section(run, anchor, chart_png):
    error = (f'<p class="bad">The run stopped: {esc(run.error)}</p>'
             if run.error else "")
    result = ('<span class="good">pass</span>' if run.passed()
              else '<span class="bad">FAIL</span>')
    return f"""<section class="run" id="{anchor}" data-testee="{esc(run.name)}"
 data-class="{esc(run.cls)}">
<h3>{esc(run.name)} — class {esc(run.cls)}</h3>
{error}
<dl>
<dt>testee</dt><dd>{esc(run.name)}</dd>
<dt>class</dt><dd>{esc(run.cls)}</dd>
<dt>date (UTC)</dt><dd>{esc(run.date)}</dd>
<dt>command</dt><dd><code>{esc(run.command) or "—"}</code></dd>
<dt>report</dt><dd><code>{esc(run.path)}</code>, vectors
<code>{esc(run.vectors_recorded)}</code></dd>
<dt>run</dt><dd>{result} (lmr-run exit status {run.exit_status});
{run.not_applicable} selected cases do not apply to class {esc(run.cls)}
and were not sent</dd>
</dl>
<h4>Verdicts per vector file</h4>
{verdict_table(run)}
<h4>How close to the bound</h4>
{chart_html(run, chart_png)}
{failures(run)}
{known_failures(run)}
{unsupported(run)}
</section>"""


def engines(sections):
    if sections:
        body = "\n".join(sections)
    else:
        body = """<section class="engines-placeholder" id="engines-none">
<p><b>No engine reports were given.</b> Real inference engines are checked
through adapters that speak the runner's protocol like any testee; pass each
adapter's runner report with <code>--engine REPORT.json</code>
(tools/report/README.md) and it appears here, one section per engine and
class.</p></section>"""
    return f'<h2 id="engines">Real engines</h2>\n{body}'


def page(vectors, built, runs, engine_runs, charts):
    """The whole HTML page. runs and engine_runs are lists of Run; charts
    maps id(run) to the PNG bytes of its strip chart."""
    anchors = [(run, f"run-{i + 1}") for i, run in enumerate(runs)]
    anchors += [(run, f"engine-{i + 1}") for i, run in enumerate(engine_runs)]
    sections = [run_section(run, anchor, charts[id(run)])
                for run, anchor in anchors[:len(runs)]]
    engine_sections = [run_section(run, anchor, charts[id(run)])
                       for run, anchor in anchors[len(runs):]]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>lmref conformance report</title>
<style>{STYLE}</style></head>
<body>
{header(vectors, built, len(anchors))}
{overview(anchors)}
<h2 id="bundled">Testees</h2>
{"".join(sections) if sections else "<p>No testee reports were given.</p>"}
{engines(engine_sections)}
</body></html>
"""
