# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's PNG: plot.py RESULTS_JSON OUTPUT_PNG (needs matplotlib; benchmarks/run.sh provides it)."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use('Agg')  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=wrong-import-position


def plot(data: dict[str, Any], png: Path) -> None:
    sizes = data['sizes']
    entries = [size['entries'] for size in sizes]
    facts = [statistics.median(size['facts']['seconds']) for size in sizes]
    measured = [size for size in sizes if size['dkms']]
    dkms_entries = [size['entries'] for size in measured]
    dkms = [statistics.median(size['dkms']['seconds']) for size in measured]
    panels = 3 if data['fleet'] else 2
    figure, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.4))

    total = axes[0]
    total.loglog(entries, facts, 'o-', label='dkms_facts')
    total.loglog(entries, [statistics.median(size['facts_no_kabi']['seconds']) for size in sizes], 'o--',
                 color='#4c72b0', alpha=0.5, label='dkms_facts, kabi_check=false')
    if measured:
        total.loglog(dkms_entries, dkms, 's-', label='dkms status')
    for size, seconds in zip(sizes, facts):
        total.annotate(size['shape'], (size['entries'], seconds), textcoords='offset points', xytext=(4, -12),
                       fontsize=8)
    total.margins(x=0.1, y=0.15)  # room for the size labels
    total.set(xlabel='entries (kernels x packages)', ylabel='wall time, s (median)', title='Whole-process time, %s modules' % data['modules']['kind'])
    total.grid(True, which='both', alpha=0.3)
    total.legend()

    per_entry = axes[1]
    per_entry.semilogx(entries, [s / n * 1000 for s, n in zip(facts, entries)], 'o-', label='dkms_facts')
    if measured:
        per_entry.semilogx(dkms_entries, [s / n * 1000 for s, n in zip(dkms, dkms_entries)], 's-',
                           label='dkms status')
    per_entry.set_yscale('log')
    per_entry.set(xlabel='entries (kernels x packages)', ylabel='ms per entry', title='Cost per entry')
    per_entry.grid(True, which='both', alpha=0.3)
    per_entry.legend()

    if data['fleet']:
        fleet = data['fleet']
        names = list(fleet['tasks'])
        bars = axes[2].bar(range(len(names)), [fleet['tasks'][name]['per_host_ms'] for name in names],
                           color=['#999999', '#dd8452', '#4c72b0'][:len(names)])
        axes[2].bar_label(bars, fmt='%.0f')
        axes[2].set_xticks(range(len(names)), [name.replace(' (', '\n(') for name in names], fontsize=8)
        axes[2].set(ylabel='ms per host (playbook median / hosts)',
                    title='Fleet: %d hosts, %d forks, %s trees' % (fleet['hosts'], fleet['forks'], fleet['shape']))
    figure.tight_layout()
    figure.savefig(png, dpi=100)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    plot(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
