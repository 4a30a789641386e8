#!/usr/bin/env bash
# Screenshots a report.html in headless Chromium, the way a reader sees it: the first screen
# (the summary) and every chart as the page renders it (inlined SVG, ids prefixed per chart),
# a few charts per image. Looking at these is how the charts' colours, legends and labels are
# checked by eye before a change lands (the ids and colours are also asserted by
# tests/test_charts.c). Needs Debian's chromium (apt-get install chromium).
# usage: scripts/report-screenshot.sh REPORT_DIR [OUT_DIR]   (default OUT_DIR: REPORT_DIR/shots)
set -eu
report=${1:?usage: scripts/report-screenshot.sh REPORT_DIR [OUT_DIR]}
out=${2:-$report/shots}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "report-screenshot: no chromium found (apt-get install chromium)" >&2; exit 2; }
[ -f "$report/report.html" ] || { echo "report-screenshot: $report/report.html: no such file" >&2; exit 2; }
mkdir -p "$out"
shoot() {   # shoot PAGE PNG HEIGHT
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size="1280,$3" --screenshot="$2" "file://$(realpath "$1")" >/dev/null 2>&1 ||
        { echo "report-screenshot: chromium failed on $1" >&2; exit 1; }
    echo "$2"
}
shoot "$report/report.html" "$out/first-screen.png" 1000
# the charts, three to a page: the page's own head (styles) and its figures, nothing else
python3 - "$report/report.html" "$out" <<'PY'
import sys
page, out = sys.argv[1], sys.argv[2]
s = open(page, encoding="utf-8").read()
head = s[: s.index("<body>") + len("<body>")]
figs = s[s.index("<h2>Charts</h2>"):].split("<figure ")[1:]
for k in range(0, len(figs), 3):
    body = "".join("<figure " + f.replace("</body></html>", "") for f in figs[k:k + 3])
    open(f"{out}/charts-{k // 3 + 1}.html", "w", encoding="utf-8").write(head + body + "</body></html>\n")
PY
for p in "$out"/charts-*.html; do shoot "$p" "${p%.html}.png" 2200; done
