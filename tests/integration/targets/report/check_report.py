# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks the report files, and the HTML in a real headless chromium.

Usage: check_report.py REPORT_DIR SCREENSHOT
       check_report.py --shots REPORT_DIR SCREENSHOT PDF   a screenshot and a printed PDF; prints the
                                                           page weight and the PDF's page count

The page is loaded with a probe script appended that clicks the filter and reads the
rendered layout; chromium's --dump-dom returns the probe's JSON verdict. No driver needed.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from build_roots import HOSTILE_HOST

# Debian's chromium running as root in a container; nothing may reach the network.
CHROMIUM_FLAGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--hide-scrollbars', '--window-size=1400,1000',
]

PROBE = r"""
<script>
(function () {
  function shown(el) { return el.getClientRects().length > 0; }
  function rows() { return Array.from(document.querySelectorAll('table.matrix tbody tr:not(.group)')).filter(shown); }
  function hosts(trs) {  // every host a matrix row names, folded ones included
    return trs.reduce(function (all, tr) {
      return all.concat(Array.from(tr.querySelectorAll('th a')).map(function (a) { return a.textContent; }));
    }, []);
  }
  function cells(sel) { return Array.from(document.querySelectorAll(sel)).filter(shown); }
  var out = {statuses: {}, colours: {}};
  out.collapsed = Array.from(document.querySelectorAll('section.covered')).map(function (s) { return s.dataset.package; });
  document.querySelectorAll('section.covered details').forEach(function (d) { d.open = true; });
  cells('table.matrix td[class*="s-"]').forEach(function (td) {
    var status = td.className.match(/s-([a-z-]+)/)[1];
    out.statuses[status] = (out.statuses[status] || 0) + (td.textContent.indexOf(status) === 0 ? 1 : 0);
    out.colours[status] = getComputedStyle(td).backgroundColor;
  });
  out.next_boot = cells('td.boot').filter(function (td) { return /next boot/.test(td.textContent); }).length;
  out.totals = document.getElementById('t-uncovered').textContent;
  out.generated = document.getElementById('generated').textContent;
  out.row_hosts = hosts(rows());
  out.packages = Array.from(document.querySelectorAll('section.package')).map(function (s) { return s.dataset.package; });
  var why = document.querySelector('td.s-weak-incompatible details');
  why.open = true;
  out.why = shown(why.querySelector('li')) ? why.querySelector('li').textContent : null;
  out.why_title = why.parentNode.title;
  // Host and kernel links land on their rows.
  var link = document.querySelector('table.matrix tbody th a');
  out.host_link = link && document.getElementById(link.getAttribute('href').slice(1)) !== null;
  var kernel = document.querySelector('table.matrix thead th.kernel a');
  out.kernel_link = kernel && document.getElementById(kernel.getAttribute('href').slice(1)) !== null;
  // Sorting the hosts table by "not covered", twice, puts the most uncovered host first.
  var table = document.querySelector('#hosts table'), heading = table.tHead.rows[0].cells[5];
  heading.click(); heading.click();
  out.sorted_first = Number(table.tBodies[0].rows[0].cells[5].textContent);
  out.sorted_max = Math.max.apply(null, Array.from(table.tBodies[0].rows).map(function (tr) { return Number(tr.cells[5].textContent); }));
  var search = document.getElementById('search');
  search.value = 'HOST2';
  search.dispatchEvent(new Event('input'));
  out.searched = rows().map(function (tr) { return tr.getAttribute('data-search'); })
    .concat(Array.from(table.tBodies[0].rows).filter(shown).map(function (tr) { return tr.cells[0].textContent; }));
  search.value = '';
  search.dispatchEvent(new Event('input'));
  document.getElementById('only-uncovered').click();
  out.filtered_hosts = hosts(rows());
  out.filtered_covered_cells = cells('table.matrix td.cc').length;
  out.filtered_uncovered_cells = cells('table.matrix td:not(.ok):not(.none)').length;
  out.hash = location.hash;
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def chromium(*args: str) -> str:
    binary = os.environ.get('CHROMIUM', 'chromium')
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run([binary, *CHROMIUM_FLAGS, '--user-data-dir=' + profile, *args],
                                capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


def probe(page: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        probed = Path(tmp, 'probed.html')
        probed.write_text(page.read_text().replace('</body>', PROBE + '</body>'))
        dom = chromium('--dump-dom', probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    if not found:
        raise AssertionError('the probe did not run; the page is broken:\n' + dom[:2000])
    return json.loads(html.unescape(found.group(1)))


def expect(condition: bool, what: str, seen: Any) -> None:
    if not condition:
        raise AssertionError('%s; seen: %r' % (what, seen))


def main(report: Path, screenshot: Path) -> None:
    coverage = json.loads((report / 'coverage.json').read_text())
    summary = coverage['summary']
    page = (report / 'index.html').read_text()
    markdown = (report / 'coverage.md').read_text()
    expect('<b>x</b>' not in page and html.escape(HOSTILE_HOST) in page, 'host names are escaped in HTML', HOSTILE_HOST)
    expect(r'evil\<b\>x\</b\>\|\`y\`\&z' in markdown, 'host names are escaped in Markdown', markdown[:300])
    expect(not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page), 'no remote assets', None)
    # The symbol whose CRC the test tree changed, as the facts name it.
    symbol = next(module['kabi']['mismatched'][0] for facts in coverage['hosts'].values()
                  for kernel in facts['kernels'].values() for package in kernel['packages'].values()
                  if package['status'] == 'weak-incompatible'
                  for module in package['modules'].values() if module['kabi'] and module['kabi']['mismatched'])
    reason = 'mismatched CRCs: ' + symbol
    expect('**weak-incompatible**' in markdown and reason.replace('_', '\\_') in markdown,
           'Markdown marks uncovered cells and gives the kABI reason', markdown)
    expect({f['host'] for f in coverage['failed']} == {'down', 'no-root'}, 'failed hosts are listed', coverage['failed'])

    seen = probe(report / 'index.html')
    statuses = {'installed', 'weak', 'weak-incompatible', 'built', 'missing', 'excluded'}
    expect(statuses <= {s for s, n in seen['statuses'].items() if n}, 'the matrix shows each status as a word',
           seen['statuses'])
    expect(len({seen['colours'][s] for s in statuses}) == len(statuses), 'each status has its own colour',
           seen['colours'])
    expect(seen['next_boot'] > 0, 'next-boot kernels are marked', seen)
    expect(seen['totals'].startswith(str(summary['kernels_uncovered'])), 'totals at the top', seen['totals'])
    expect(seen['why'] is not None and reason in seen['why'] and reason in seen['why_title'],
           'the kABI reason expands and hovers', seen)
    expect(HOSTILE_HOST in seen['row_hosts'], 'the hostile host name renders as text', seen['row_hosts'])
    expect(seen['generated'].startswith('Generated 20'), 'the generation time is shown', seen['generated'])
    expect(seen['host_link'] and seen['kernel_link'], 'host and kernel links land on their rows', seen)
    expect(seen['sorted_first'] == seen['sorted_max'], 'the hosts table sorts', seen)
    expect(seen['searched'] and all('host2' in host for host in seen['searched']), 'the search keeps matching hosts',
           seen['searched'])
    fully_covered = {host for host, facts in coverage['hosts'].items() if not facts['uncovered']}
    expect(set(seen['collapsed']) == {p for p in seen['packages'] if all(
        not f['uncovered'] or all(u['package'] != p for u in f['uncovered']) for f in coverage['hosts'].values())},
        'fully covered packages are collapsed', seen)
    covered_rows = [host for host in seen['row_hosts'] if host not in seen['filtered_hosts']]
    expect(covered_rows and seen['filtered_hosts'], 'the filter hides covered rows and keeps the others', seen)
    expect(fully_covered <= set(covered_rows) and seen['filtered_covered_cells'] == 0 and seen['filtered_uncovered_cells'] > 0,
           'only what is not covered stays visible', seen)
    expect(seen['hash'] == '#only-uncovered', 'the filter state is in the address', seen['hash'])

    screenshot.parent.mkdir(parents=True, exist_ok=True)
    chromium('--screenshot=' + str(screenshot.resolve()), (report / 'index.html').resolve().as_uri())
    expect(screenshot.stat().st_size > 10000, 'a screenshot was written', screenshot)
    print('report checked in %s; screenshot %s' % (shutil.which(os.environ.get('CHROMIUM', 'chromium')), screenshot))


def shots(report: Path, screenshot: Path, pdf: Path) -> None:
    page = (report / 'index.html').resolve().as_uri()
    chromium('--screenshot=' + str(screenshot.resolve()), page)
    chromium('--print-to-pdf=' + str(pdf.resolve()), '--no-pdf-header-footer', page)
    # Chromium writes each page object as a plain dictionary: /Type /Page (not /Pages).
    pages = len(re.findall(rb'/Type\s*/Page(?![a-zA-Z])', pdf.read_bytes()))
    expect(pages > 0 and screenshot.stat().st_size > 10000, 'a screenshot and a printed PDF were written', pages)
    print(json.dumps({'index_html_bytes': (report / 'index.html').stat().st_size,
                      'coverage_json_bytes': (report / 'coverage.json').stat().st_size,
                      'pdf_pages': pages, 'screenshot': str(screenshot), 'pdf': str(pdf)}))


if __name__ == '__main__':
    if sys.argv[1] == '--shots':
        shots(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main(Path(sys.argv[1]), Path(sys.argv[2]))
