# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark kabi.dkms.dkms_facts against `dkms status`, and its per-host cost in a fleet run.

    bash benchmarks/run.sh [options]     the one command: sets up the venvs, then runs this file

Each grid size K x P is a system tree under a temporary ROOT: K kernels (the first half with every
package built and installed by dkms, the second half covered only by RHEL-style weak links to the
first half's installs, one same-kABI partner each) and P packages of two modules (the second imports
a symbol the first exports, so sibling verdicts are computed too). Where kernel headers are installed,
the modules are built once by kbuild against the newest of them and every kernel gets its own copy of
their real Module.symvers; without headers they are gcc-compiled ELF objects with a three-symbol
symvers (tests/unit/system_trees.py), and the output says which. Both tools are
timed as whole processes on the same tree: the fact module run directly with the module's Python,
and `dkms status` with the tree options (the dkms source links are relative, so dkms reads the
same tree). Results go to benchmarks/output/ and, unless --no-docs, to docs/performance.{md,png}.

The collection is imported through a symlink in the temporary directory, so the benchmark always
measures the working tree as it is. Nothing is written outside the temporary directory, the
output directory and docs/: Ansible's home and temp, matplotlib's config and Python's bytecode cache
are kept there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from performance_doc import render_markdown

if TYPE_CHECKING:
    from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder
    from ansible_collections.kabi.dkms.tests.unit.system_trees import SystemTree

REPO = Path(__file__).resolve().parent.parent
MODULE = Path('plugins/modules/dkms_facts.py')
VERSION = '1.0'
DEFAULT_GRID = '2x2,5x5,10x10,20x10,50x20'
# dkms status costs 0.11-0.19 s per line: spend about this many lines per grid size on repetitions.
DKMS_LINE_BUDGET = 250
# The whole line: a warning after the status (a diff between built and installed module) fails the check.
DKMS_STATUS_LINE = re.compile(r'^(?P<name>[^,/]+)[/,] ?(?P<version>[^,]+), (?P<kernel>[^,]+), '
                              r'(?P<arch>[^:]+): (?P<status>[\w-]+)$')


@dataclass(frozen=True)
class Shape:
    """K kernels x P packages; kernel i of the second half is the weak-linked partner of kernel i."""

    kernels: int
    packages: int

    @classmethod
    def parse(cls, text: str) -> Shape:
        kernels, packages = text.lower().split('x', 1)
        shape = cls(int(kernels), int(packages))
        if shape.kernels < 2 or shape.packages < 1:
            raise argparse.ArgumentTypeError('a shape needs at least 2 kernels and 1 package: %s' % text)
        return shape

    @property
    def label(self) -> str:
        return '%dx%d' % (self.kernels, self.packages)

    @property
    def entries(self) -> int:
        return self.kernels * self.packages

    @property
    def native(self) -> list[str]:
        return ['5.14.0-%d.el9.x86_64' % (100 + index) for index in range((self.kernels + 1) // 2)]

    @property
    def weak(self) -> list[tuple[str, str]]:
        """(weak-covered kernel, the native kernel of the same kABI whose installs it links to)."""
        return [(provider.replace('.el9', '.1.el9'), provider) for provider in self.native[:self.kernels // 2]]

    @property
    def package_names(self) -> list[str]:
        return ['pkg%02d' % index for index in range(self.packages)]


def parse_grid(text: str) -> list[Shape]:
    return [Shape.parse(item) for item in text.split(',')]


def modules_of(package: str) -> list[str]:
    return [package + '_core', package + '_client']


@dataclass
class Measurement:
    """Wall times of whole processes and the peak RSS of the largest process of any run (None: unknown)."""

    seconds: list[float]
    peak_rss_mib: float | None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class SizeResult:
    shape: str
    kernels: int
    packages: int
    entries: int
    ko_files: int
    weak_links: int
    weak_pairs: int
    dkms_lines: int
    facts: Measurement
    facts_no_kabi: Measurement
    dkms: Measurement | None = None

    @property
    def ratio(self) -> float | None:
        return self.dkms.median / self.facts.median if self.dkms else None


@dataclass
class Results:
    machine: dict[str, str]
    modules: dict[str, Any]
    dkms_line_budget: int = DKMS_LINE_BUDGET
    sizes: list[SizeResult] = field(default_factory=list)
    fit: dict[str, float] = field(default_factory=dict)
    fleet: dict[str, Any] = field(default_factory=dict)
    profile_shape: str = ''
    profile: str = ''


def make_collection_path(work: Path) -> Path:
    """A directory whose ansible_collections/kabi/dkms is this checkout (Python and Ansible import it)."""
    collections = work / 'collections'
    (collections / 'ansible_collections/kabi').mkdir(parents=True)
    (collections / 'ansible_collections/kabi/dkms').symlink_to(REPO, target_is_directory=True)
    return collections


def relative_source_link(system: SystemTree, package: str) -> None:
    """dkms follows var/lib/dkms/M/V/source on the host: point it inside the tree, relatively."""
    link = system.path('/var/lib/dkms/%s/%s/source' % (package, VERSION))
    link.unlink()
    link.symlink_to('../../../../../usr/src/%s-%s' % (package, VERSION))


# The lab's test package: the second module imports the first one's export and both call kernel
# functions, so __versions holds what real modules import (module_layout, _printk, kmalloc, kfree).
KBUILD_SOURCE = REPO / 'tests/lab/kabitest-1.0'
KBUILD_FILES = ('Makefile', 'kabitest_a.c', 'kabitest_b.c')
MODULES_ROOT = Path('/lib/modules')


def release_key(release: str) -> list[tuple[int, str]]:
    """Orders kernel releases numerically: 6.1.0-56-amd64 after 6.1.0-9-amd64."""
    return [(int(part), '') if part.isdigit() else (-1, part) for part in re.split(r'(\d+)', release) if part]


def newest_headers() -> str | None:
    """The newest release under /lib/modules whose build/ can build modules and has a Module.symvers."""
    releases = [build.parent.name for build in MODULES_ROOT.glob('*/build')
                if (build / 'Makefile').is_file() and (build / 'Module.symvers').is_file()]
    return max(releases, key=release_key) if releases else None


class ModuleFiles:
    """Where a tree's module files and symvers come from: one implementation per kind of module."""

    kind = ''

    def __init__(self, ko: KoBuilder) -> None:
        self.ko = ko  # SystemTree needs one even where this class writes the files itself

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def kernel(self, system: SystemTree, release: str, abi: str) -> None:
        """Kernel ``release`` of kABI ``abi``: image, in-tree module, build/include, its symvers."""
        raise NotImplementedError

    def build(self, system: SystemTree, package: str, release: str) -> None:
        """The package's dkms build for ``release``, installed into its updates/dkms."""
        raise NotImplementedError


class GccModules(ModuleFiles):
    """gcc-compiled ELF objects shaped like modules, with SystemTree's three-symbol symvers."""

    kind = 'gcc'

    def describe(self) -> dict[str, Any]:
        return {'kind': self.kind}

    def kernel(self, system: SystemTree, release: str, abi: str) -> None:
        system.kernel(release, abi=abi)

    def build(self, system: SystemTree, package: str, release: str) -> None:
        system.build(package, VERSION, release)


class KbuildModules(ModuleFiles):
    """Two modules built once by kbuild against installed headers, copied into every tree.

    Every kernel shares the headers' kABI: each gets its own copy of their real Module.symvers
    (as each RHEL kernel ships its own, so nothing lets the fact module share one parse) and
    the core module as its in-tree module, whose vermagic is the headers' own.
    """

    kind = 'kbuild'

    def __init__(self, ko: KoBuilder, work: Path, release: str) -> None:
        super().__init__(ko)
        self.release = release
        self.headers = MODULES_ROOT / release / 'build'
        self.directory = work / 'kbuild'
        self.directory.mkdir()
        for name in KBUILD_FILES:
            shutil.copyfile(KBUILD_SOURCE / name, self.directory / name)
        started = time.perf_counter()
        run_process(['make', '-j%d' % len(os.sched_getaffinity(0)), '-C', str(self.headers),
                     'M=%s' % self.directory, 'modules'], dict(os.environ), work / 'kbuild.log')
        self.build_seconds = round(time.perf_counter() - started, 2)
        self.core = self.directory / 'kabitest_a.ko'
        self.client = self.directory / 'kabitest_b.ko'
        self.symvers = self.headers / 'Module.symvers'

    def describe(self) -> dict[str, Any]:
        from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoReader
        from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS

        reader = KoReader(RootFS('/'))
        core, client = reader.read(str(self.core)), reader.read(str(self.client))
        return {'kind': self.kind, 'headers': self.release, 'build_s': self.build_seconds,
                'symvers_lines': len(self.symvers.read_text().splitlines()),
                'symvers_mib': round(self.symvers.stat().st_size / 1024 / 1024, 2),
                'vermagic': client.vermagic, 'imports': {'core': len(core.versions), 'client': len(client.versions)}}

    def kernel(self, system: SystemTree, release: str, abi: str) -> None:
        modules_dir = system.path('/lib/modules/%s' % release)
        (modules_dir / 'build/include').mkdir(parents=True)
        shutil.copyfile(self.symvers, modules_dir / 'build/Module.symvers')
        in_tree = 'kernel/drivers/misc/kabench_intree.ko'
        (modules_dir / in_tree).parent.mkdir(parents=True)
        shutil.copyfile(self.core, modules_dir / in_tree)
        (modules_dir / 'modules.order').write_text(in_tree + '\n')
        system.path('/boot').mkdir(exist_ok=True)
        system.path('/boot/vmlinuz-%s' % release).write_bytes(b'not a real kernel image\n')

    def build(self, system: SystemTree, package: str, release: str) -> None:
        # Renamed copies: both tools know a module by its file name (BUILT_MODULE_NAME), not .modinfo's.
        module_dir = system.path('/var/lib/dkms/%s/%s/%s/%s/module' % (package, VERSION, release, system.arch))
        module_dir.mkdir(parents=True)
        for name, built in zip(modules_of(package), (self.core, self.client)):
            shutil.copyfile(built, module_dir / (name + '.ko'))
        system.install(package, VERSION, release)


def module_files(choice: str, work: Path, ko: KoBuilder) -> ModuleFiles:
    """kbuild modules against the newest installed headers when there are any (or asked), else gcc objects."""
    release = newest_headers() if choice != 'gcc' else None
    if choice == 'kbuild' and release is None:
        raise RuntimeError('--modules kbuild: no %s/*/build with a Makefile and a Module.symvers' % MODULES_ROOT)
    return KbuildModules(ko, work, release) if release else GccModules(ko)


def build_tree(root: Path, shape: Shape, files: ModuleFiles) -> SystemTree:
    from ansible_collections.kabi.dkms.tests.unit.system_trees import SystemTree

    system = SystemTree(root, files.ko)
    for release in shape.native:
        files.kernel(system, release, release)
    for release, provider in shape.weak:
        files.kernel(system, release, provider)
    for package in shape.package_names:
        system.package(package, VERSION, modules_of(package))
        relative_source_link(system, package)
        for release in shape.native:
            files.build(system, package, release)
    for release, provider in shape.weak:
        system.weak_link_build(release, provider)
    return system


def count_files(root: Path) -> tuple[int, int]:
    """(regular .ko files, weak-updates links) under root."""
    files = links = 0
    for directory, _subdirs, names in os.walk(root):
        for name in names:
            if not name.endswith('.ko'):
                continue
            if os.path.islink(os.path.join(directory, name)):
                links += 1
            else:
                files += 1
    return files, links


# Peak memory comes from GNU time, which forks the command from its own small process: a child
# forked from this Python would inherit its RSS high-water mark into ru_maxrss (Linux keeps it
# across fork and exec), so every command would seem to need at least what the benchmark holds.
GNU_TIME = shutil.which('time', path='/usr/bin:/bin')


def run_process(argv: list[str], env: dict[str, str], stdout: Path, cwd: Path | None = None) -> tuple[float, int | None]:
    """Run argv to completion: (wall seconds, peak RSS in KiB of its largest process, or None without GNU time)."""
    stderr = stdout.with_suffix('.stderr')
    rss_file = stdout.with_suffix('.maxrss')
    command = [GNU_TIME, '-f', '%M', '-o', str(rss_file), *argv] if GNU_TIME else argv
    with stdout.open('wb') as out, stderr.open('wb') as err:
        start = time.perf_counter()
        returncode = subprocess.run(command, stdout=out, stderr=err, env=env, cwd=cwd, check=False).returncode
        elapsed = time.perf_counter() - start
    if returncode != 0:
        raise RuntimeError('%s exited %d:\n%s' % (' '.join(argv), returncode, stderr.read_text()[-3000:]))
    return elapsed, int(rss_file.read_text().split()[-1]) if GNU_TIME else None


def measure(argv: list[str], env: dict[str, str], stdout: Path, runs: int, cwd: Path | None = None) -> Measurement:
    seconds = []
    peaks = []
    for _run in range(runs):
        elapsed, rss = run_process(argv, env, stdout, cwd)
        seconds.append(round(elapsed, 4))
        if rss is not None:
            peaks.append(rss)
    return Measurement(seconds, round(max(peaks) / 1024, 1) if peaks else None)


def child_env(work: Path, collections: Path) -> dict[str, str]:
    """The environment of every measured process: bytecode cache, Ansible state and temp inside work.

    Python caches bytecode as it does for any installed code (ansible-core's own is in its venv),
    but under work, so the collection is compiled once, in the untimed first run, not on every run.
    """
    env = dict(os.environ)
    env.pop('PYTHONDONTWRITEBYTECODE', None)
    env.update({
        'PYTHONPATH': str(collections),
        'PYTHONPYCACHEPREFIX': str(work / 'pycache'),
        'LC_ALL': 'C.UTF-8',
        'ANSIBLE_CONFIG': str(work / 'ansible.cfg'),
        'ANSIBLE_HOME': str(work / 'ansible-home'),
        'ANSIBLE_LOCAL_TEMP': str(work / 'ansible-tmp'),
        'ANSIBLE_REMOTE_TMP': str(work / 'ansible-remote-tmp'),
        'ANSIBLE_COLLECTIONS_PATH': str(collections),
        'ANSIBLE_STDOUT_CALLBACK': 'default',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'ANSIBLE_NOCOLOR': '1',
    })
    (work / 'ansible.cfg').write_text('[defaults]\n')
    return env


def facts_argv(python: str, args_file: Path) -> list[str]:
    return [python, str(REPO / MODULE), str(args_file)]


def write_args(path: Path, root: Path, kabi_check: bool = True) -> Path:
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'root': str(root), 'kabi_check': kabi_check}}))
    return path


def check_facts(output: Path, shape: Shape) -> None:
    """Every entry is covered the way the tree was built, and every weak module has a kABI verdict."""
    facts = json.loads(output.read_text())['ansible_facts']['dkms']
    if facts['kabi_reader'] is None:
        raise RuntimeError('no kABI reader: the verdicts the benchmark is meant to time were not computed')
    expected = {(release, package): 'installed' for release in shape.native for package in shape.package_names}
    expected.update({(release, package): 'weak' for release, _provider in shape.weak
                     for package in shape.package_names})
    for (release, package), status in expected.items():
        entry = facts['kernels'][release]['packages'][package]
        if entry['status'] != status:
            raise RuntimeError('%s on %s is %s, expected %s' % (package, release, entry['status'], status))
        if status == 'weak' and not all(module['kabi'] and module['kabi']['compatible']
                                        for module in entry['modules'].values()):
            raise RuntimeError('%s on %s: a weak module lacks a compatible kABI verdict' % (package, release))


def expected_dkms_lines(shape: Shape) -> set[tuple[str, str, str, str]]:
    return {(package, VERSION, release, 'installed') for package in shape.package_names for release in shape.native}


def check_dkms(output: Path, shape: Shape) -> None:
    """dkms status saw the tree: one `installed` line per package and native kernel, nothing else."""
    lines = [line for line in output.read_text().splitlines() if line.strip()]
    seen = set()
    for line in lines:
        match = DKMS_STATUS_LINE.match(line)
        if not match:
            raise RuntimeError('unexpected dkms status line: %r' % line)
        seen.add((match['name'], match['version'], match['kernel'], match['status']))
    if seen != expected_dkms_lines(shape) or len(lines) != len(seen):
        raise RuntimeError('dkms status listed %d lines, not the %d expected' % (len(lines), len(expected_dkms_lines(shape))))


def dkms_argv(root: Path) -> list[str]:
    return ['dkms', 'status', '--dkmstree', str(root / 'var/lib/dkms'), '--sourcetree', str(root / 'usr/src'),
            '--installtree', str(root / 'lib/modules')]


def bench_size(shape: Shape, work: Path, files: ModuleFiles, python: str, env: dict[str, str], runs: int,
               with_dkms: bool) -> SizeResult:
    root = work / 'trees' / shape.label
    started = time.perf_counter()
    build_tree(root, shape, files)
    ko_files, weak_links = count_files(root)
    log('%s: tree built in %.1f s (%d .ko files, %d weak links)'
        % (shape.label, time.perf_counter() - started, ko_files, weak_links))
    args = write_args(work / ('args-%s.json' % shape.label), root)
    output = work / ('facts-%s.json' % shape.label)
    # The untimed first run checks the result and leaves the page cache as warm as the tree build did.
    run_process(facts_argv(python, args), env, output)
    check_facts(output, shape)
    facts = measure(facts_argv(python, args), env, output, runs)
    # The same run without kABI verdicts: what reading the modules' ELF sections and symvers costs.
    no_kabi = write_args(work / ('args-%s-no-kabi.json' % shape.label), root, kabi_check=False)
    facts_no_kabi = measure(facts_argv(python, no_kabi), env, work / 'facts-no-kabi.json', runs)
    log('%s: dkms_facts median %.3f s over %d runs, peak %s MiB; %.3f s with kabi_check=false'
        % (shape.label, facts.median, runs, facts.peak_rss_mib, facts_no_kabi.median))
    result = SizeResult(shape.label, shape.kernels, shape.packages, shape.entries, ko_files, weak_links,
                        len(shape.weak) * shape.packages, len(expected_dkms_lines(shape)), facts, facts_no_kabi)
    if with_dkms:
        dkms_runs = max(1, min(runs, DKMS_LINE_BUDGET // result.dkms_lines))
        dkms_out = work / ('dkms-%s.txt' % shape.label)
        result.dkms = measure(dkms_argv(root), env, dkms_out, dkms_runs)
        check_dkms(dkms_out, shape)
        log('%s: dkms status median %.3f s over %d runs (%d lines), ratio %.1f' % (
            shape.label, result.dkms.median, dkms_runs, result.dkms_lines, result.ratio or 0))
    return result


def linear_fit(sizes: list[SizeResult]) -> dict[str, float]:
    """Least squares t = a + b * entries over the fact-module medians, with R^2."""
    xs = [float(size.entries) for size in sizes]
    ys = [size.facts.median for size in sizes]
    if len(xs) < 2:
        return {}
    slope, intercept = statistics.linear_regression(xs, ys)
    mean = statistics.fmean(ys)
    total = sum((y - mean) ** 2 for y in ys)
    residual = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys))
    return {'intercept_s': round(intercept, 4), 'ms_per_entry': round(slope * 1000, 3),
            'r2': round(1 - residual / total, 4) if total else 1.0}


def profile(shape: Shape, work: Path, python: str, env: dict[str, str], top: int = 15) -> str:
    """cProfile of one fact-module run on shape's tree: the top functions by cumulative time."""
    stats_file = work / ('profile-%s.pstats' % shape.label)
    argv = [python, '-m', 'cProfile', '-o', str(stats_file), str(REPO / MODULE),
            str(work / ('args-%s.json' % shape.label))]
    run_process(argv, env, work / 'profile.out')
    text = work / 'profile.txt'
    with text.open('w') as stream:
        # strip_dirs: file names without this machine's paths.
        pstats.Stats(str(stats_file), stream=stream).strip_dirs().sort_stats('cumulative').print_stats(top)
    lines = text.read_text().splitlines()
    start = next(index for index, line in enumerate(lines) if 'ncalls' in line)
    return '\n'.join(line.rstrip() for line in lines[start:] if line.strip())


PLAYBOOK = '''- hosts: fleet
  gather_facts: false
  tasks:
    - %s
'''
FLEET_TASKS = {
    'ping': 'ansible.builtin.ping:',
    'setup (gather_subset=min)': 'ansible.builtin.setup:\n        gather_subset: [min]',
    'dkms_facts': "kabi.dkms.dkms_facts:\n        root: '{{ dkms_root }}'",
}


def bench_fleet(hosts: int, shape: Shape, forks: int, runs: int, work: Path, files: ModuleFiles, python: str,
                env: dict[str, str]) -> dict[str, Any]:
    """ansible-playbook over `hosts` local-connection hosts, each with its own tree of `shape`."""
    fleet = work / 'fleet'
    lines = ['[fleet]']
    for index in range(hosts):
        root = fleet / ('h%02d' % index)
        build_tree(root, shape, files)
        lines.append('h%02d dkms_root=%s' % (index, root))
    lines += ['[fleet:vars]', 'ansible_connection=local', 'ansible_python_interpreter=%s' % python]
    inventory = fleet / 'inventory.ini'
    inventory.write_text('\n'.join(lines) + '\n')
    playbook_command = str(Path(python).parent / 'ansible-playbook')
    result: dict[str, Any] = {'hosts': hosts, 'forks': forks, 'shape': shape.label, 'runs': runs, 'tasks': {}}
    for name, task in FLEET_TASKS.items():
        playbook = fleet / ('%s.yml' % name.split()[0])
        playbook.write_text(PLAYBOOK % task)
        argv = [playbook_command, '-i', str(inventory), '-f', str(forks), str(playbook)]
        output = fleet / ('%s.out' % name.split()[0])
        run_process(argv, env, output, cwd=work)
        check_fleet(output, hosts)
        timing = measure(argv, env, output, runs, cwd=work)
        result['tasks'][name] = {'seconds': timing.seconds, 'median_s': round(timing.median, 3),
                                 'per_host_ms': round(timing.median / hosts * 1000, 1),
                                 'peak_rss_mib': timing.peak_rss_mib}
        log('fleet %s: %.2f s for %d hosts (%.0f ms per host)'
            % (name, timing.median, hosts, timing.median / hosts * 1000))
    return result


def check_fleet(output: Path, hosts: int) -> None:
    """Every host of the play recap is ok, none failed or unreachable."""
    recap = {}
    for line in output.read_text().split('PLAY RECAP', 1)[-1].splitlines():
        host, sep, counts = line.partition(' : ')
        if sep:
            recap[host.strip()] = dict(item.split('=') for item in counts.split())
    bad = [host for host, counts in recap.items()
           if counts['failed'] != '0' or counts['unreachable'] != '0' or counts['ok'] == '0']
    if len(recap) != hosts or bad:
        raise RuntimeError('fleet run: %d hosts in the recap, failed: %s' % (len(recap), bad))


def command_output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'not available'


def machine(python: str) -> dict[str, str]:
    cpu = next((line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines()
                if line.startswith('model name')), platform.processor() or 'unknown')
    mem_kib = next(int(line.split()[1]) for line in Path('/proc/meminfo').read_text().splitlines()
                   if line.startswith('MemTotal:'))
    versions = command_output([python, '-c', 'import sys, ansible.release, elftools; print(sys.version.split()[0],'
                               ' ansible.release.__version__, elftools.__version__)']).split()
    return {
        'cpus': str(len(os.sched_getaffinity(0))),
        'cpu_model': cpu,
        'ram_gib': '%.1f' % (mem_kib / 1024 / 1024),
        'os': command_output(['sh', '-c', '. /etc/os-release && echo "$PRETTY_NAME"']),
        'host_kernel': platform.release(),
        'python': versions[0] if versions else 'unknown',
        'ansible_core': versions[1] if len(versions) > 1 else 'unknown',
        'pyelftools': versions[2] if len(versions) > 2 else 'unknown',
        'dkms': command_output(['dkms', '--version']),
        'date': time.strftime('%Y-%m-%d'),
    }


def log(message: str) -> None:
    print('benchmark: %s' % message, flush=True)


def render_plot(results_file: Path, png: Path, plot_python: str | None, work: Path) -> bool:
    if not plot_python:
        log('no --plot-python: skipping the plot')
        return False
    env = dict(os.environ, MPLCONFIGDIR=str(work / 'matplotlib'), PYTHONDONTWRITEBYTECODE='1')
    subprocess.run([plot_python, str(REPO / 'benchmarks/plot.py'), str(results_file), str(png)], check=True, env=env)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--grid', type=parse_grid, default=DEFAULT_GRID, help='K x P sizes, comma-separated (default %(default)s)')
    parser.add_argument('--runs', type=int, default=5, help='timed runs per size (dkms status: fewer on big trees)')
    parser.add_argument('--fleet-hosts', type=int, default=20, help='inventory hosts for the fleet run; 0 skips it')
    parser.add_argument('--fleet-shape', type=Shape.parse, default=Shape(4, 2), help='each fleet host\'s tree')
    parser.add_argument('--fleet-runs', type=int, default=3)
    parser.add_argument('--forks', type=int, default=5, help='ansible-playbook forks (Ansible\'s default: 5)')
    parser.add_argument('--modules', choices=('auto', 'kbuild', 'gcc'), default='auto',
                        help='kbuild against the newest installed kernel headers, or gcc-compiled ELF objects; '
                        'auto: kbuild when headers are installed (default)')
    parser.add_argument('--no-dkms', action='store_true', help='skip dkms status even when it is installed')
    parser.add_argument('--no-profile', action='store_true', help='skip the cProfile run on the largest size')
    parser.add_argument('--output', type=Path, default=REPO / 'benchmarks/output')
    parser.add_argument('--no-docs', action='store_true', help='leave docs/performance.{md,png} alone')
    parser.add_argument('--plot-python', help='a Python with matplotlib (benchmarks/run.sh makes one)')
    parser.add_argument('--keep', action='store_true', help='keep the temporary trees and print where')
    args = parser.parse_args()
    shapes: list[Shape] = args.grid
    with_dkms = not args.no_dkms and shutil.which('dkms') is not None
    if not with_dkms:
        log('dkms status is not measured (%s)' % ('--no-dkms' if args.no_dkms else 'dkms is not installed'))
    python = sys.executable
    work = Path(tempfile.mkdtemp(prefix='kabi-dkms-bench-'))
    try:
        collections = make_collection_path(work)
        sys.path.insert(0, str(collections))
        from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder

        files = module_files(args.modules, work, KoBuilder(work / 'ko-cache'))
        modules = files.describe()
        if files.kind == 'kbuild':
            log('modules: kbuild against the %s headers, built in %.1f s (vermagic %r, %s imports); each kernel '
                'gets a copy of their Module.symvers (%d lines, %.1f MiB)'
                % (modules['headers'], modules['build_s'], modules['vermagic'], modules['imports'],
                   modules['symvers_lines'], modules['symvers_mib']))
        else:
            log('modules: gcc-compiled ELF objects with a three-symbol symvers (no kernel headers installed, '
                'or --modules gcc)')
        env = child_env(work, collections)
        results = Results(machine(python), modules)
        for shape in shapes:
            results.sizes.append(bench_size(shape, work, files, python, env, args.runs, with_dkms))
        results.fit = linear_fit(results.sizes)
        if not args.no_profile:
            largest = max(shapes, key=lambda shape: shape.entries)
            results.profile_shape = largest.label
            results.profile = profile(largest, work, python, env)
        if args.fleet_hosts:
            results.fleet = bench_fleet(args.fleet_hosts, args.fleet_shape, args.forks, args.fleet_runs, work, files,
                                        python, env)
        publish(results, args, work)
    finally:
        if args.keep:
            log('trees kept in %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def user_arguments(argv: list[str]) -> list[str]:
    """The options as given to run.sh: without the --plot-python it adds (a path of this machine)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if not skip and arg != '--plot-python' and not arg.startswith('--plot-python='):
            kept.append(arg)
        skip = arg == '--plot-python'
    return kept


def publish(results: Results, args: argparse.Namespace, work: Path) -> None:
    args.output.mkdir(parents=True, exist_ok=True)
    results_file = args.output / 'results.json'
    data = asdict(results)
    for size, raw in zip(results.sizes, data['sizes']):
        raw['ratio'] = round(size.ratio, 1) if size.ratio else None
    results_file.write_text(json.dumps(data, indent=2) + '\n')
    markdown = render_markdown(data, ' '.join(user_arguments(sys.argv[1:])))
    (args.output / 'performance.md').write_text(markdown)
    plotted = render_plot(results_file, args.output / 'performance.png', args.plot_python, work)
    log('results: %s' % args.output)
    if not args.no_docs:
        docs = REPO / 'docs'
        (docs / 'performance.md').write_text(markdown)
        if plotted:
            shutil.copyfile(args.output / 'performance.png', docs / 'performance.png')
        log('updated docs/performance.md%s' % (' and docs/performance.png' if plotted else ''))


if __name__ == '__main__':
    sys.exit(main())
