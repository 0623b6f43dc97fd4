# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/performance.md from the benchmark's results (the dict that benchmarks/output/results.json holds)."""

from __future__ import annotations

from typing import Any

# Issue 14's goals: 10x10 at least this much faster than dkms status; the root of real modules within
# this factor of the Ansible floor; this cost per entry on the real grids up to 40x40; this peak memory.
# The issue's own figures say what its words mean: its root at "5.2x" was 4.0 s against 0.77 s, the
# AnsibleModule floor alone; its costs "per entry" (0.65 s + 4.5 ms per entry, the prototype's 1.24 ms)
# are the slope of run time over entries.
RATIO_GOAL = 20.0
RATIO_SHAPE = '10x10'
FLOOR_GOAL = 2.0
PER_ENTRY_GOAL_MS = 1.3
PER_ENTRY_SHAPE = '40x40'
MEMORY_GOAL_MIB = 50.0

MODULES = {
    'kbuild': '''**Grid modules: kbuild-built against the installed %(headers)s headers.** The benchmark builds one
out-of-tree package of two modules once, with `make -C /lib/modules/%(headers)s/build M=DIR modules`
(%(build_s).1f s, no signing): the second imports a symbol the first exports with `EXPORT_SYMBOL`, and
both call kernel functions, so their `__versions` hold %(core)d and %(client)d real entries (`module_layout`,
`_printk`, the kmalloc family, `kfree`, ...) and their vermagic is `%(vermagic)s`. Every kernel of a
tree gets its own copy of those headers' real `Module.symvers` (%(symvers_lines)d lines, %(symvers_mib).1f MiB)
and `.config` in `build/`, as each RHEL kernel ships its own, plus `build/include` and a copy of the first module as
its in-tree module (so the vermagic compares); each package's dkms builds are copies of the two
modules under the package's module names. With so few imports per module, these trees never
index a symvers: they measure the walk, the reads and the verdicts, not the symvers lookups.''',
    'debian': '''**Real modules: %(pool)d in-tree modules of Debian's `%(package)s`.** The benchmark fetches
that package and `linux-headers-%(release)s` once with `apt-get download` (no root, no dpkg lock) and
unpacks them with `dpkg-deb -x` into its cache (`benchmarks/cache`). Its pool is the %(pool)d modules
that import the most symbols (%(imports_min)d to %(imports_max)d `__versions` entries, median
%(imports_median)d; %(pool_mib).1f MiB; `%(large)s` aside), each made into a dkms package of one module; a
tree of P packages takes P modules spread evenly over the pool, so the average module is alike at
every size. Every kernel gets its own copy of the headers' real `Module.symvers` (%(symvers_lines)d lines)
and `.config` (which the fact module reads for each kernel, as on any host with headers), and
`%(in_tree)s` (the package's smallest module outside the pool) as its in-tree module, so every
weak link gets a verdict over hundreds of real CRCs. The copies are byte-identical, as the symvers of
kernels that share a kABI are line for line where their CRCs agree: dkms_facts reads every kernel's
symvers and finds the symbols its modules import in it, but parses a line it parsed for another
kernel only once per run, so a host whose kernels share no symvers line costs more per kernel than
these trees show. Each package's module has the name of the in-tree module it was, which its
package replaces: the modules that import from it are checked against its own export CRCs (read
from its symbol table), not the symvers' (the copies agree, so every verdict is the same). The dkms
builds are hard links to the unpacked files, the installed copies real
copies (the fact module compares both in full, and reads only the sections it needs). The modules
carry the package's own signatures (its build key's), which only the signed root's kernels check.
`%(large)s.ko` (%(large_mib).1f MiB, %(large_imports)d imports) is
benchmarked alone, plain and as `.ko.xz` (compressed as kbuild does: crc32 check, 1 MiB dictionary).''',
    'gcc': '''**Grid modules: gcc-compiled ELF objects** (no kernel headers were installed, or `--modules gcc`):
`tests/unit/system_trees.py` compiles objects with real `.modinfo`, `__versions` and export symbols,
not kbuild builds, and gives each kernel a three-symbol `Module.symvers`.''',
}

METHOD = '''Each size K x P is a system tree under a temporary ROOT with dkms's layout: the first N kernels
(half, rounded up, unless the size says `:N`) have every package built and installed
(`var/lib/dkms/M/V/K/x86_64/module/`, `lib/modules/K/updates/dkms/`, the `kernel-K-x86_64` link);
each other kernel shares the kABI of one of them and is covered only by absolute RHEL-style
`weak-updates/` links to its installs. Every weak link gets a full kABI verdict (vermagic,
`module_layout` and every `__versions` CRC against the kernel's `Module.symvers`, siblings included).
Like any host whose modules dkms built, the tree has a dkms: `usr/sbin/dkms` is a copy of this
machine's (a script that only tells its version, 3.0.10, where the machine has none). The fact
module reads which dkms it is from there and reads each `dkms.conf` as that version does (with no
dkms to read, as each dkms release since 3.0.10 would, which costs more). Like any host, it has a
kmod (`usr/bin/kmod`, a copy of this machine's: which compressed modules depmod and modprobe take)
and a way to boot: without EFI, so without Secure Boot, through GRUB, whose command line
`etc/default/grub` gives (the signed root below boots under Secure Boot). So every check concludes:
whether the kernel would enforce a module's signature is known, and every entry is verified.

All tools run as whole processes on the same tree, with the page cache warm from building it:
`python benchmarks/module_runner.py plugins/modules/dkms_facts.py args.json` (`{"root": ROOT}`, the
interpreter below) and
`dkms status --dkmstree ROOT/var/lib/dkms --sourcetree ROOT/usr/src --installtree ROOT/lib/modules`
(the dkms source links in the tree are relative, so dkms reads that tree). The fact module and the
AnsibleModule floor run as Ansible's AnsiballZ runs a module on a target
(`benchmarks/module_runner.py`: `ansible.module_utils.basic` imported first, then the module as
`__main__`), importing the module's packages as AnsiballZ lays them out, each with an empty
`__init__.py` (the checkout's are namespace packages, whose every import walks their path: some 4 ms
a run). Python keeps its bytecode cache in the temporary directory, so the collection's code is
compiled once, in an untimed first run, as it would be once installed. Before timing, the benchmark
checks that the facts report every entry as built (installed or weak, with a compatible verdict for
each weak module) and verified, and that dkms status prints exactly one `installed` line per package
and native kernel (it has nothing to say about weak-covered kernels). Times are medians of
whole-process wall times of interleaved runs (the commands of a tree in turn, so a passing load
weighs on all of them alike); dkms status is repeated less on big trees (about %(budget)d lines per
size), and the roots, whose ratio to the floor is a goal, more (their medians steadier), the run
count is in brackets. Peak memory is the maximum resident set size that GNU time (`%%M`) reports
over the runs: for dkms status and ansible-playbook, that of their largest single process, not a
sum.

**A second CPU.** Where the fact module may run on two CPUs or more (this machine has %(cpus)d; at
least 1.2 CPUs' time, where its cgroups set a CPU quota, `plugins/module_utils/_cpu_quota.py`) and
has enough installed copies to compare with their builds (`MIN_PAIRS` in
`plugins/module_utils/_compare_ahead.py`), it forks one worker. Where the kernels hold many plain
module files out of tree (`READ_AHEAD_MIN` in `plugins/module_utils/_coverage.py`) and the dkms
tree's entries times the kernels reach `MIN_PAIRS`, as on the roots and the larger real grids here,
the worker first reads the dkms tree (every dkms.conf) and hands it over while the module reads the
kernels' weak links and those files; else the module reads the tree. Then the module reads the plain
copies it has not read while the worker compares them with their builds from the first pair on, and
compares from the last pair back to where the worker got. Times, CPU times and peak memory include
the worker (GNU time counts a process with the children it waited for); the instruction counts below
are of the module's own process (callgrind would count a forked child from the fork with all its
parent did before), so they leave out the worker's share: the comparing, which is mostly reading
(system calls), and where it reads the dkms tree, that reading. Counts from before the worker read
the dkms tree (changelog fragment `dkms_tree_read_by_the_worker.yml`) included it.'''

FLOORS = '''**Floors, measured in the same runs.** Each real-module tree is also read by two programs
that do only what no implementation can avoid, in the same interleaved runs as the fact module:
`benchmarks/floor_reader.py ROOT` (plain Python, no Ansible) reads every distinct module file dkms
installed or a weak link points at and each kernel's in-tree module once, decompresses it, takes the
bytes of its `.modinfo`, `__versions` and `__ksymtab_strings` from the section table (on the signed
root also hashes the bytes each installed module's signature covers, with SHA-256), and reads the
`Module.symvers` of each kernel once, parsing and judging nothing;
`benchmarks/floor_module.py` is an `AnsibleModule` that only returns the JSON dkms_facts printed
for that tree (checked equal): the AnsibleModule floor, the "Ansible floor" of issue 14's goal.
"through Ansible" is the sum of both floors less one bare interpreter start (`python -c ''`,
%(interpreter).3f s): the least a fact module that reads as the reading floor does can cost for the same
output. The "x" columns are dkms_facts' median over each floor; "CPU s" is the median user + system
CPU time of dkms_facts, which a busy machine stretches less than wall time. On the roots, the
benchmark also counts the instructions that one run of dkms_facts and of each floor executes in
user space (valgrind's callgrind, when valgrind is installed: `scripts/bootstrap.sh --for bench`):
a count that does not change with the machine's speed, which on a shared machine can change by half
within one run; system calls (reading the files) are not in it.'''


DRIFT = '''In every other real-module tree each kernel gets a byte-for-byte copy of one `Module.symvers`.
The fact module reads a copy of the kernel before's symvers as that kernel's table (it compares
the bytes, then keeps the answers), so those copies cost it little after the first. Otherwise it
compares the symvers with the one it searched before, piece by piece (pieces start at the lines
whose CRC begins with `0x0`), then line by line within the pieces that differ, and parses only the
lines that differ: every other symbol keeps the answer found for the kernel before (it searches
the text whole instead where that costs less: many lines changed, few symbols asked for). Here each
kernel's copy has %(percent).0f %% of its lines with another CRC and %(added)d new export per 100 lines, at
random places chosen anew for each kernel (`drifted()` in `benchmarks/run.py`), so two kernels differ
in about twice that share. The changed lines are of symbols no module of the tree imports or
exports, and no module imports the new exports: what the facts say of each kernel is what they say
on the copies' grid of the same shape, which the benchmark checks. (The real Debian 6.1 ABIs 53 and 54 have `Module.symvers`
that differ in 31 %% of their lines.)'''

SIGNED = '''**The signed root** (`root-signed`) is the root with every check on that a host under Secure Boot
has: its 300 dkms builds are signed as dkms signs them (the kernel package's own signature taken off
first, then the kernel's `scripts/sign-file` with SHA-256 and an RSA-2048 key made by openssl, as dkms
makes `/var/lib/dkms/mok.key`), Secure Boot is on (the `SecureBoot` EFI variable under the root) with
that certificate in shim's MOK list (`MokListRT`) and at `/var/lib/dkms/mok.pub`. Every kernel then
enforces module signatures, and the fact module checks each module's signature as the kernel would:
the digest of the bytes it covers, then the RSA signature against the enrolled certificate. The
benchmark checks that every entry is covered and every module's signature trusted.'''


def _mib(value: float | None) -> str:
    return 'n/a' if value is None else '%.1f' % value


def _seconds(value: float) -> str:
    return '%.3f' % value if value < 10 else '%.1f' % value


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _cpu(measurement: dict[str, Any]) -> str:
    """Median user + system CPU seconds: what a load on the machine stretches less than wall time."""
    return _seconds(_median(measurement['cpu_seconds'])) if measurement['cpu_seconds'] else 'n/a'


def _verdict(met: bool) -> str:
    return 'met' if met else '**not met**'


def module_floor(tree: dict[str, Any]) -> float:
    """What an AnsibleModule that only returns the tree's facts costs (issue 14's Ansible floor)."""
    return _median(tree['floor_return']['seconds'])


def floor_through_ansible(tree: dict[str, Any], interpreter: dict[str, Any]) -> float:
    """The least a fact module costs on this tree: reading floor + AnsibleModule floor - one interpreter start."""
    return _median(tree['floor_reader']['seconds']) + module_floor(tree) - _median(interpreter['seconds'])


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


def _real_table(trees: list[dict[str, Any]], interpreter: dict[str, Any], per_entry: bool) -> list[str]:
    """Real-module trees with their floors; ``per_entry`` adds the cost per entry (the grid)."""
    entry_head, entry_align = ('ms per entry | ', '---:|') if per_entry else ('', '')
    rows = ['| tree | K x P:N | entries | weak links | module files | dkms_facts s (runs) | CPU s | %speak MiB '
            '| without kABI s | reading floor s | AnsibleModule floor s | through Ansible s | x AnsibleModule floor '
            '| x through Ansible | x reading floor |' % entry_head,
            '|---|---|---:|---:|---:|---:|---:|%s---:|---:|---:|---:|---:|---:|---:|---:|' % entry_align]
    for tree in trees:
        facts = _median(tree['facts']['seconds'])
        module = module_floor(tree)
        floor = floor_through_ansible(tree, interpreter)
        reader = _median(tree['floor_reader']['seconds'])
        rows.append('| %s | %s | %d | %d | %d | %s (%d) | %s | %s%s | %s | %s | %s | %s | %.2fx | %.2fx | %.1fx |' % (
            tree['name'], tree['shape'], tree['entries'], tree['weak_links'], tree['ko_files'], _seconds(facts),
            len(tree['facts']['seconds']), _cpu(tree['facts']),
            '%.2f | ' % (facts / tree['entries'] * 1000) if per_entry else '',
            _mib(tree['facts']['peak_rss_mib']), _seconds(_median(tree['facts_no_kabi']['seconds'])),
            _seconds(reader), _seconds(module), _seconds(floor), facts / module, facts / floor, facts / reader))
    return rows


def _goals(data: dict[str, Any]) -> list[str]:
    lines = []
    roots = [tree for tree in data['real_roots'] if tree['name'] == 'root']
    for root in roots:
        facts = _median(root['facts']['seconds'])
        module = module_floor(root)
        floor = floor_through_ansible(root, data['interpreter'])
        lines.append('- Root of real modules (%s: %d entries, %d weak links): at most %.0fx the Ansible floor, the '
                     'AnsibleModule floor: %.3f s against %.3f s, %.2fx, %s%s. Against the floor through Ansible '
                     '(%.3f s): %.2fx.' % (root['shape'], root['entries'], root['weak_links'], FLOOR_GOAL, facts,
                                           module, facts / module, _verdict(facts / module <= FLOOR_GOAL),
                                           _within(root['facts']['seconds'], root['floor_return']['seconds']),
                                           floor, facts / floor))
        no_kabi = _median(root['facts_no_kabi']['seconds'])
        lines.append('  What bounds it: with `kabi_check: false` (no `.ko` file or symvers read at all) the module takes '
                     '%.3f s, %.2fx the AnsibleModule floor: the walk of the dkms tree, the comparison of every '
                     'installed copy with its build (as `dkms status` does) and the facts of %d entries.'
                     % (no_kabi, no_kabi / module, root['entries']))
        lines += _instructions(root)
    for signed in (tree for tree in data['real_roots'] if tree['name'] == 'root-signed'):
        facts = _median(signed['facts']['seconds'])
        module = module_floor(signed)
        floor = floor_through_ansible(signed, data['interpreter'])
        lines.append('- For comparison, the root under Secure Boot with every module signed (every signature checked, '
                     'see Method): %.3f s against the AnsibleModule floor, %.3f s: %.2fx; against the floor through '
                     'Ansible (%.3f s, its reading floor hashing what each signature covers): %.2fx; peak %s MiB.'
                     % (facts, module, facts / module, floor, facts / floor, _mib(signed['facts']['peak_rss_mib'])))
        lines += _instructions(signed)
    target = next((size for size in data['real_sizes'] if size['shape'] == PER_ENTRY_SHAPE), None)
    fit = data.get('goal_fit')
    if target and fit:
        lines.append('- Per entry at most %.1f ms on the real grids up to %s (the slope of run time over entries): '
                     '%.3f ms (t = %.3f s + %.3f ms x entries over %s, R^2 = %.4f), %s. Run time over entries on '
                     '%s alone, the fixed cost included: %.2f ms.'
                     % (PER_ENTRY_GOAL_MS, PER_ENTRY_SHAPE, fit['ms_per_entry'], fit['intercept_s'],
                        fit['ms_per_entry'], ', '.join(fit['shapes']), fit['r2'],
                        _verdict(fit['ms_per_entry'] <= PER_ENTRY_GOAL_MS), PER_ENTRY_SHAPE,
                        _median(target['facts']['seconds']) / target['entries'] * 1000))
    for tree in data.get('real_drift', []):
        lines.append('- For comparison, the real %s grid with kernels that do not share one symvers (each its own, '
                     '%.0f %% of lines changed, see Method): %.2f ms per entry.'
                     % (tree['shape'], data['drift'] * 100, _median(tree['facts']['seconds']) / tree['entries'] * 1000))
    fit = data['real_fit']
    if fit:
        lines.append('- Linear growth on the real grid (%s): t = %.3f s + %.3f ms x entries, R^2 = %.4f%s.' % (
            ', '.join(size['shape'] for size in data['real_sizes']), fit['intercept_s'], fit['ms_per_entry'],
            fit['r2'], _marginal(data['real_sizes'])))
    for tree in ([target] if target else []) + roots:
        peak = tree['facts']['peak_rss_mib']
        if peak is not None:
            lines.append('- Peak memory at most %.0f MiB on %s %s: %.1f MiB, %s.'
                         % (MEMORY_GOAL_MIB, tree['name'], tree['shape'], peak, _verdict(peak <= MEMORY_GOAL_MIB)))
    target = next((size for size in data['sizes'] if size['shape'] == RATIO_SHAPE), None)
    if target and target['ratio']:
        lines.append('- %s (kbuild grid) at least %.0fx faster than `dkms status`: %.1fx, %s.' % (
            RATIO_SHAPE, RATIO_GOAL, target['ratio'], _verdict(target['ratio'] >= RATIO_GOAL)))
        if target['ratio'] < RATIO_GOAL:
            lines.append(_ratio_bound(target))
    fit = data['fit']
    if fit:
        lines.append('- Linear growth on the kbuild grid: t = %.3f s + %.3f ms x entries, R^2 = %.4f.'
                     % (fit['intercept_s'], fit['ms_per_entry'], fit['r2']))
    tasks = data['fleet'].get('tasks', {})
    setup = tasks.get('setup (gather_subset=min)')
    facts = tasks.get('dkms_facts')
    if setup and facts:
        lines.append('- Per host in a fleet run no more than `setup` with `gather_subset=min` (the goal of issue 4): '
                     '%.0f ms against %.0f ms, %s%s.' % (facts['per_host_ms'], setup['per_host_ms'],
                                                         _verdict(facts['per_host_ms'] <= setup['per_host_ms']),
                                                         _paired(facts['seconds'], setup['seconds'])))
    return lines


def _instructions(tree: dict[str, Any]) -> list[str]:
    """The tree's instruction counts (see Method), when they were counted."""
    counts = tree.get('instructions')
    if not counts:
        return []
    return ['  Instructions executed (callgrind, one run each; they do not vary with the machine\'s speed): '
            'dkms_facts %.0f M, the AnsibleModule floor %.0f M: %.2fx; the reading floor %.0f M.'
            % (counts['facts'] / 1e6, counts['floor_return'] / 1e6, counts['facts'] / counts['floor_return'],
               counts['floor_reader'] / 1e6)]


def _paired(mine: list[float], theirs: list[float]) -> str:
    """How many of the interleaved runs of two commands (run one after the other, so they met the
    same load) the first took no longer in: medians of a few runs each sit on the noise of the
    machine when they are close."""
    pairs = list(zip(mine, theirs))
    if len(pairs) < 2:
        return ''
    return '; no slower in %d of %d runs, each against the run beside it' % (
        sum(first <= second for first, second in pairs), len(pairs))


def _within(mine: list[float], floors: list[float]) -> str:
    """In how many of the interleaved runs the fact module took at most FLOOR_GOAL times the floor's
    run beside it, and the range of those ratios: how far from the goal the noise of the machine
    puts a ratio of medians."""
    ratios = [first / second for first, second in zip(mine, floors)]
    if len(ratios) < 2:
        return ''
    return '; at most %.0fx in %d of %d runs, each against the floor\'s run beside it (%.2fx to %.2fx)' % (
        FLOOR_GOAL, sum(ratio <= FLOOR_GOAL for ratio in ratios), len(ratios), min(ratios), max(ratios))


def _marginal(sizes: list[dict[str, Any]]) -> str:
    """The cost per entry between the two largest sizes, to hold against the fit's slope."""
    if len(sizes) < 3:
        return ''
    smaller, largest = sorted(sizes, key=lambda size: size['entries'])[-2:]
    step = (_median(largest['facts']['seconds']) - _median(smaller['facts']['seconds'])) \
        / (largest['entries'] - smaller['entries']) * 1000
    return '; from %s to %s: %.3f ms per added entry' % (smaller['shape'], largest['shape'], step)


def _ratio_bound(size: dict[str, Any]) -> str:
    """Where the time of the ratio's size goes, from its own timings."""
    facts = _median(size['facts']['seconds'])
    no_kabi = _median(size['facts_no_kabi']['seconds'])
    dkms = _median(size['dkms']['seconds'])
    budget = dkms / RATIO_GOAL
    return ('  What bounds it: with `kabi_check: false` (no `.ko` file or symvers read at all) the module takes '
            '%.3f s, %.1fx `dkms status`; that is Python, `ansible.module_utils.basic` and the walk of the tree. '
            '%.0fx would leave %.0f ms for the verdicts of %d weak links; they take %.0f ms (%.2f ms per link).'
            % (no_kabi, dkms / no_kabi, RATIO_GOAL, max(budget - no_kabi, 0) * 1000, size['weak_links'],
               (facts - no_kabi) * 1000, (facts - no_kabi) * 1000 / size['weak_links']))


def _fleet(fleet: dict[str, Any]) -> list[str]:
    if not fleet:
        return ['Not measured in this run.']
    intro = ('`ansible-playbook -f %d` over %d inventory hosts with `ansible_connection=local`, each with its own '
             'ROOT (a %s tree of %s modules), one task per playbook, no fact gathering; median of %d interleaved '
             'runs of the whole command, after an untimed first run that also asserts on each host that '
             'every entry of its facts is covered and verified. Per host: the median divided by the hosts. '
             'Each task compiles its '
             'module\'s Python on the target in every run, since Ansible ships it as sources in a zip '
             'archive: ansible-core\'s module_utils twice each (Python\'s zipimport compiles a source to '
             'name its file, then again to run it), the collection\'s once (`plugins/module_utils/_zip_import.py`).'
             % (fleet['forks'], fleet['hosts'], fleet['shape'], fleet['modules'], fleet['runs']))
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
    if modules['kind'] == 'debian':
        low, median, high = modules['pool_imports']
        return MODULES['debian'] % dict(modules, imports_min=low, imports_median=median, imports_max=high,
                                        large=modules['large']['name'], large_mib=modules['large']['mib'],
                                        large_imports=modules['large']['imports'])
    return MODULES['gcc']


def render_markdown(data: dict[str, Any], arguments: str) -> str:
    machine = data['machine']
    command = 'bash benchmarks/run.sh' + (' ' + arguments if arguments else '')
    out = [
        '# Performance of `kabi.dkms.dkms_facts`',
        '',
        'Generated on %s by `%s` (see `benchmarks/README.md`) in %.1f minutes; re-run it to refresh this page '
        'and the plot.' % (machine['date'], command, data['wall_minutes']),
        '',
        '## Machine',
        '',
        '| CPUs | CPU | RAM | OS | host kernel | module Python | ansible-core | pyelftools | dkms | load at start, end |',
        '|---|---|---|---|---|---|---|---|---|---|',
        '| %s | %s | %s GiB | %s | %s | %s | %s | %s | %s | %s, %s |' % (
            machine['cpus'], machine['cpu_model'], machine['ram_gib'], machine['os'], machine['host_kernel'],
            machine['python'], machine['ansible_core'], machine['pyelftools'], machine['dkms'],
            machine['load_start'], machine['load_end']),
        '',
        'Load: the machine\'s 1-minute load average (all its work) when the benchmark started and ended.',
        '',
        '## Goals (issue 14)',
        '',
    ]
    out += _goals(data)
    if data['real_roots']:
        out += ['', '## Real modules: the root of the whole pool, one large module', '',
                'K x P:N: K kernels, P packages, N native kernels with every package installed; the other '
                'kernels are covered only by weak links to them.', '']
        out += _real_table(data['real_roots'], data['interpreter'], per_entry=False)
    if data['real_sizes']:
        out += ['', '## Real modules: growth', '']
        out += _real_table(data['real_sizes'], data['interpreter'], per_entry=True)
    if data.get('real_drift'):
        out += ['', '## Real modules: kernels that do not share one symvers', '',
                DRIFT % {'percent': data['drift'] * 100, 'added': 1}, '']
        out += _real_table(data['real_drift'], data['interpreter'], per_entry=True)
    out += ['', '## The fact module against `dkms status`', '',
            'An entry is one (kernel, package) pair: K x P entries per tree. "without kABI" is the fact module '
            'with `kabi_check: false` (no ELF or symvers reading), same number of runs.', '']
    out += _size_table(data['sizes'])
    out += ['', '![Run time and cost per entry of dkms_facts, its floor and dkms status; the fleet cost per host]'
                '(performance.png)', '', '## Fleet cost', '']
    out += _fleet(data['fleet'])
    if data['fleet_large']:
        out += ['', 'With large hosts:', '']
        out += _fleet(data['fleet_large'])
    out += ['', '## Method', '', METHOD % {'budget': data['dkms_line_budget'], 'cpus': int(data['machine']['cpus'])}, '', _modules(data['modules'])]
    if data['real_modules']:
        out += ['', _modules(data['real_modules']), '',
                FLOORS % {'interpreter': _median(data['interpreter']['seconds'])}]
    if any(tree['name'] == 'root-signed' for tree in data['real_roots']):
        out += ['', SIGNED]
    if data['profile']:
        out += ['', '## Profile of the fact module on %s' % data['profile_shape'], '',
                '`python -m cProfile -o prof plugins/modules/dkms_facts.py args.json`, top 15 by cumulative time:',
                '', '```text', data['profile'], '```']
    return '\n'.join(out) + '\n'
