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

from performance_doc import floor_through_ansible, module_floor  # noqa: E402  pylint: disable=wrong-import-position


def median_of(tree: dict[str, Any], key: str) -> float:
    return statistics.median(tree[key]['seconds'])


def plot_times(axis: Any, data: dict[str, Any]) -> None:
    """Whole-process time over entries: both grids, their floor and dkms status."""
    for group, label, style in (('sizes', 'dkms_facts, %s grid' % data['modules']['kind'], 'o-'),
                                ('real_sizes', 'dkms_facts, real modules', 'D-')):
        sizes = data[group]
        if not sizes:
            continue
        entries = [size['entries'] for size in sizes]
        axis.loglog(entries, [median_of(size, 'facts') for size in sizes], style, label=label)
        for size in sizes:
            axis.annotate(size['shape'], (size['entries'], median_of(size, 'facts')), textcoords='offset points',
                          xytext=(4, -12), fontsize=8)
    if data['real_sizes']:
        axis.loglog([size['entries'] for size in data['real_sizes']],
                    [floor_through_ansible(size, data['interpreter']) for size in data['real_sizes']], 'D:',
                    color='#55a868', label='floor through Ansible, real modules')
    measured = [size for size in data['sizes'] if size['dkms']]
    if measured:
        axis.loglog([size['entries'] for size in measured], [median_of(size, 'dkms') for size in measured], 's-',
                    label='dkms status')
    axis.margins(x=0.1, y=0.15)  # room for the size labels
    axis.set(xlabel='entries (kernels x packages)', ylabel='wall time, s (median)', title='Whole-process time')
    axis.grid(True, which='both', alpha=0.3)
    axis.legend(fontsize=8)


def plot_per_entry(axis: Any, data: dict[str, Any]) -> None:
    for group, label, style in (('sizes', 'dkms_facts, %s grid' % data['modules']['kind'], 'o-'),
                                ('real_sizes', 'dkms_facts, real modules', 'D-')):
        sizes = data[group]
        if sizes:
            axis.semilogx([size['entries'] for size in sizes],
                          [median_of(size, 'facts') / size['entries'] * 1000 for size in sizes], style, label=label)
    measured = [size for size in data['sizes'] if size['dkms']]
    if measured:
        axis.semilogx([size['entries'] for size in measured],
                      [median_of(size, 'dkms') / size['entries'] * 1000 for size in measured], 's-',
                      label='dkms status')
    axis.set_yscale('log')
    axis.set(xlabel='entries (kernels x packages)', ylabel='ms per entry', title='Cost per entry')
    axis.grid(True, which='both', alpha=0.3)
    axis.legend(fontsize=8)


def plot_roots(axis: Any, data: dict[str, Any]) -> None:
    """dkms_facts against its floors on the real root and the large module."""
    roots = data['real_roots']
    width = 0.2
    for offset, (label, values) in enumerate((
            ('dkms_facts', [median_of(tree, 'facts') for tree in roots]),
            ('floor through Ansible', [floor_through_ansible(tree, data['interpreter']) for tree in roots]),
            ('AnsibleModule floor', [module_floor(tree) for tree in roots]),
            ('reading floor', [median_of(tree, 'floor_reader') for tree in roots]))):
        bars = axis.bar([index + (offset - 1.5) * width for index in range(len(roots))], values, width, label=label)
        axis.bar_label(bars, fmt='%.2f', fontsize=7)
    axis.set_xticks(range(len(roots)), ['%s\n%s' % (tree['name'], tree['shape']) for tree in roots], fontsize=8)
    axis.set(ylabel='wall time, s (median)', title='Real modules against their floors')
    axis.legend(fontsize=8)


def plot_fleet(axis: Any, fleet: dict[str, Any], large: dict[str, Any]) -> None:
    names = ['%s\n%s' % (name.replace(' (', '\n('), fleet['shape']) for name in fleet['tasks']]
    values = [task['per_host_ms'] for task in fleet['tasks'].values()]
    if large:
        names += ['%s\n%s real' % (name, large['shape']) for name in large['tasks']]
        values += [task['per_host_ms'] for task in large['tasks'].values()]
    bars = axis.bar(range(len(names)), values, color=['#999999', '#dd8452', '#4c72b0', '#bbbbbb', '#55a868'][:len(names)])
    axis.bar_label(bars, fmt='%.0f')
    axis.set_xticks(range(len(names)), names, fontsize=7)
    axis.set(ylabel='ms per host (playbook median / hosts)',
             title='Fleet: %d forks, %d and %d hosts' % (fleet['forks'], fleet['hosts'], large.get('hosts', 0)))


def plot(data: dict[str, Any], png: Path) -> None:
    panels = [plot_times, plot_per_entry]
    if data['real_roots']:
        panels.append(plot_roots)
    if data['fleet']:
        panels.append(lambda axis, data: plot_fleet(axis, data['fleet'], data['fleet_large']))
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6))
    for draw, axis in zip(panels, axes):
        draw(axis, data)
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
