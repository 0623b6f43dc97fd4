# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/performance.md from the benchmark's results (the dict that benchmarks/output/results.json holds)."""

from __future__ import annotations

from typing import Any

# The goals: 10x10 at least this much faster than dkms status; fleet cost at most setup's.
RATIO_GOAL = 30.0
RATIO_SHAPE = '10x10'

MODULES = {
    'kbuild': '''**Modules: kbuild-built against the installed %(headers)s headers.** The benchmark builds one
out-of-tree package of two modules once, with `make -C /lib/modules/%(headers)s/build M=DIR modules`
(%(build_s).1f s, no signing): the second imports a symbol the first exports with `EXPORT_SYMBOL`, and
both call kernel functions, so their `__versions` hold %(core)d and %(client)d real entries (`module_layout`,
`_printk`, the kmalloc family, `kfree`, ...) and their vermagic is `%(vermagic)s`. Every kernel of a
tree gets its own copy of those headers' real `Module.symvers` (%(symvers_lines)d lines, %(symvers_mib).1f MiB)
in `build/`, as each RHEL kernel ships its own, plus `build/include` and a copy of the first module as
its in-tree module (so the vermagic compares); each package's dkms builds are copies of the two
modules under the package's module names.''',
    'gcc': '''**Modules: gcc-compiled ELF objects** (no kernel headers were installed, or `--modules gcc`):
`tests/unit/system_trees.py` compiles objects with real `.modinfo`, `__versions` and export symbols,
not kbuild builds, and gives each kernel a three-symbol `Module.symvers`.''',
}

METHOD = '''Each size K x P is a system tree under a temporary ROOT with dkms's layout: the first half of the
kernels (rounded up) have every package built and installed (`var/lib/dkms/M/V/K/x86_64/module/`,
`lib/modules/K/updates/dkms/`, the `kernel-K-x86_64` link); each kernel of the second half shares the
kABI of one of them and is covered only by absolute RHEL-style `weak-updates/` links to its installs.
Each package has two modules, the second importing a symbol the first exports, so every weak link
gets a full kABI verdict (vermagic, `module_layout` and every `__versions` CRC against the kernel's
`Module.symvers`, siblings included).

Both tools run as whole processes on the same tree, one after the other, with the page cache warm
from building it: `python plugins/modules/dkms_facts.py args.json` (`{"root": ROOT}`, the
interpreter below) and `dkms status --dkmstree ROOT/var/lib/dkms --sourcetree ROOT/usr/src
--installtree ROOT/lib/modules` (the dkms source links in the tree are relative, so dkms reads that
tree). Python keeps its bytecode cache in the temporary directory, so the collection's code is
compiled once, in an untimed first run, as it would be once installed. Before timing, the benchmark
checks that the facts report every entry as built (installed or weak, with a compatible verdict for
each weak module) and that dkms status prints exactly one `installed` line per package and native
kernel (it has nothing to say about weak-covered kernels). Times are medians of whole-process wall
times; dkms status is repeated less on big trees (about %(budget)d lines per size), the run count is
in brackets. Peak memory is the maximum resident set size that GNU time (`%%M`) reports over the
runs: for dkms status and ansible-playbook, that of their largest single process, not a sum.'''


def _mib(value: float | None) -> str:
    return 'n/a' if value is None else '%.1f' % value


def _seconds(value: float) -> str:
    return '%.3f' % value if value < 10 else '%.1f' % value


def _size_table(sizes: list[dict[str, Any]]) -> list[str]:
    rows = ['| K x P | entries | `.ko` files | weak links | dkms lines | dkms_facts s (runs) | ms per entry '
            '| peak MiB | without kABI s | dkms status s (runs) | peak MiB | ratio |',
            '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for size in sizes:
        facts = size['facts']
        facts_median = _median(facts['seconds'])
        dkms = size['dkms']
        if dkms:
            dkms_cells = '%s (%d) | %s | %.1fx' % (_seconds(_median(dkms['seconds'])), len(dkms['seconds']),
                                                   _mib(dkms['peak_rss_mib']), size['ratio'])
        else:
            dkms_cells = 'not measured | | '
        rows.append('| %s | %d | %d | %d | %d | %s (%d) | %.2f | %s | %s | %s |' % (
            size['shape'], size['entries'], size['ko_files'], size['weak_links'], size['dkms_lines'],
            _seconds(facts_median), len(facts['seconds']), facts_median / size['entries'] * 1000,
            _mib(facts['peak_rss_mib']), _seconds(_median(size['facts_no_kabi']['seconds'])), dkms_cells))
    return rows


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _goals(data: dict[str, Any]) -> list[str]:
    lines = []
    by_shape = {size['shape']: size for size in data['sizes']}
    target = by_shape.get(RATIO_SHAPE)
    if target and target['ratio']:
        lines.append('- %s at least %.0fx faster than `dkms status`: %.1fx, %s.' % (
            RATIO_SHAPE, RATIO_GOAL, target['ratio'], 'met' if target['ratio'] >= RATIO_GOAL else '**not met**'))
        if target['ratio'] < RATIO_GOAL:
            lines.append(_ratio_bound(target))
    fit = data['fit']
    if fit:
        lines.append('- Linear growth: least squares over the sizes gives t = %.3f s + %.3f ms x entries, '
                     'R^2 = %.4f.' % (fit['intercept_s'], fit['ms_per_entry'], fit['r2']))
    tasks = data['fleet'].get('tasks', {})
    setup = tasks.get('setup (gather_subset=min)')
    facts = tasks.get('dkms_facts')
    if setup and facts:
        lines.append('- Per host in a fleet run no more than `setup` with `gather_subset=min`: %.0f ms against '
                     '%.0f ms, %s.' % (facts['per_host_ms'], setup['per_host_ms'],
                                       'met' if facts['per_host_ms'] <= setup['per_host_ms'] else '**not met**'))
    return lines


def _ratio_bound(size: dict[str, Any]) -> str:
    """Where the time of the ratio's size goes, from its own timings."""
    facts = _median(size['facts']['seconds'])
    no_kabi = _median(size['facts_no_kabi']['seconds'])
    dkms = _median(size['dkms']['seconds'])
    budget = dkms / RATIO_GOAL
    return ('  What bounds it: with `kabi_check: false` (no `.ko` file or symvers read at all) the module takes '
            '%.3f s, %.1fx `dkms status`; that is Python, `ansible.module_utils.basic` and the walk of the tree. '
            '%.0fx would leave %.0f ms for the verdicts of %d weak links; they take %.0f ms (%.2f ms per link), '
            'most of it pyelftools parsing the section headers of each module file it opens.'
            % (no_kabi, dkms / no_kabi, RATIO_GOAL, max(budget - no_kabi, 0) * 1000, size['weak_links'],
               (facts - no_kabi) * 1000, (facts - no_kabi) * 1000 / size['weak_links']))


def _fleet(fleet: dict[str, Any]) -> list[str]:
    if not fleet:
        return ['Not measured in this run.']
    intro = ('`ansible-playbook -f %d` over %d inventory hosts with `ansible_connection=local`, each with its own '
             'ROOT (a %s tree), one task per playbook, no fact gathering; median of %d runs of the whole '
             'command. Per host: the median divided by the hosts.'
             % (fleet['forks'], fleet['hosts'], fleet['shape'], fleet['runs']))
    rows = [intro,
            '',
            '| task | playbook s | per host ms | peak MiB |',
            '|---|---:|---:|---:|']
    for name, task in fleet['tasks'].items():
        rows.append('| `%s` | %.2f | %.0f | %s |'
                    % (name, task['median_s'], task['per_host_ms'], _mib(task['peak_rss_mib'])))
    return rows


def _modules(modules: dict[str, Any]) -> str:
    if modules['kind'] == 'kbuild':
        return MODULES['kbuild'] % dict(modules, **modules['imports'])
    return MODULES['gcc']


def render_markdown(data: dict[str, Any], arguments: str) -> str:
    machine = data['machine']
    command = 'bash benchmarks/run.sh' + (' ' + arguments if arguments else '')
    out = [
        '# Performance of `kabi.dkms.dkms_facts`',
        '',
        'Generated on %s by `%s` (see `benchmarks/README.md`); re-run it to refresh this page and '
        'the plot.' % (machine['date'], command),
        '',
        '## Machine',
        '',
        '| CPUs | CPU | RAM | OS | host kernel | module Python | ansible-core | pyelftools | dkms |',
        '|---|---|---|---|---|---|---|---|---|',
        '| %s | %s | %s GiB | %s | %s | %s | %s | %s | %s |' % (
            machine['cpus'], machine['cpu_model'], machine['ram_gib'], machine['os'], machine['host_kernel'],
            machine['python'], machine['ansible_core'], machine['pyelftools'], machine['dkms']),
        '',
        '## Method',
        '',
        METHOD % {'budget': data['dkms_line_budget']},
        '',
        _modules(data['modules']),
        '',
        '## The fact module against `dkms status`',
        '',
        'An entry is one (kernel, package) pair: K x P entries per tree. "without kABI" is the fact module '
        'with `kabi_check: false` (no ELF or symvers reading), same number of runs.',
        '',
    ]
    out += _size_table(data['sizes'])
    out += ['', '![Run time and cost per entry of dkms_facts and dkms status, and the fleet cost per host]'
                '(performance.png)', '', '## Fleet cost', '']
    out += _fleet(data['fleet'])
    out += ['', '## Goals (issue 4)', '']
    out += _goals(data)
    if data['profile']:
        out += ['', '## Profile of the fact module on %s' % data['profile_shape'], '',
                '`python -m cProfile -o prof plugins/modules/dkms_facts.py args.json`, top 15 by cumulative time:',
                '', '```text', data['profile'], '```']
    return '\n'.join(out) + '\n'
