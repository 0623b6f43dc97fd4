# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark kabi.dkms.dkms_facts against its floors and `dkms status`, and its per-host cost in fleet runs.

    bash benchmarks/run.sh [options]     the one command: sets up the venvs, then runs this file

Each size K x P is a system tree under a temporary ROOT: K kernels (the first N, half by default,
with every package built and installed by dkms, the others covered only by RHEL-style weak links to
one native kernel's installs each) and P packages. The kbuild grid's packages hold two modules built
once by kbuild against the newest installed headers (the second imports a symbol the first exports,
so sibling verdicts are computed too), each kernel a copy of the headers' real Module.symvers;
without headers they are gcc-compiled ELF objects with a three-symbol symvers
(tests/unit/system_trees.py). The real-module trees are made of in-tree modules of a Debian kernel
package that import hundreds of symbols each, fetched once into the cache with apt-get download.
Every tool is timed as a whole process on the same tree, in interleaved runs: the fact module run
directly with the module's Python, its two floors (floor_reader.py, floor_module.py), and
`dkms status` with the tree options (the dkms source links are relative, so dkms reads the same
tree). Results go to benchmarks/output/ and, unless --no-docs, to docs/performance.{md,png}.

The collection is imported through a symlink in the temporary directory, so the benchmark always
measures the working tree as it is. Nothing is written outside the temporary directory, the cache,
the output directory and docs/: Ansible's home and temp, matplotlib's config and Python's bytecode
cache are kept there.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import platform
import pstats
import random
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

from floor_reader import sections, signed_size
from performance_doc import PER_ENTRY_SHAPE, render_markdown
from profile_instructions import callgrind

if TYPE_CHECKING:
    from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder
    from ansible_collections.kabi.dkms.tests.unit.system_trees import SystemTree

REPO = Path(__file__).resolve().parent.parent
MODULE = Path('plugins/modules/dkms_facts.py')
VERSION = '1.0'
DEFAULT_GRID = '2x2,5x5,10x10,20x10,50x20'
DEFAULT_REAL_GRID = '10x10,20x20,30x30,40x40'
BIG_REAL_GRID = '50x50'
DEFAULT_REAL_ROOT = '7x300:1'
DEFAULT_LARGE_HOST = '10x20'
# The drifting tree: each kernel's own symvers differs in this share of its lines (see drifted()).
DEFAULT_DRIFT = 0.02
# The dkms a tree says it has when this machine has none to copy: Debian 12's.
FALLBACK_DKMS_VERSION = '3.0.10'
DEFAULT_DRIFT_SHAPE = '40x40'
# dkms status costs 0.11-0.19 s per line: spend about this many lines per grid size on repetitions.
DKMS_LINE_BUDGET = 250
# The whole line: a warning after the status (a diff between built and installed module) fails the check.
DKMS_STATUS_LINE = re.compile(r'^(?P<name>[^,/]+)[/,] ?(?P<version>[^,]+), (?P<kernel>[^,]+), '
                              r'(?P<arch>[^:]+): (?P<status>[\w-]+)$')


@dataclass(frozen=True)
class Shape:
    """K kernels x P packages: the first N kernels (half, rounded up, by default) have every package
    installed; weak-covered kernel i links to the installs of native kernel i mod N."""

    kernels: int
    packages: int
    natives: int | None = None

    @classmethod
    def parse(cls, text: str) -> Shape:
        """'KxP', or 'KxP:N' for N native kernels."""
        size, _sep, natives = text.lower().partition(':')
        kernels, packages = size.split('x', 1)
        shape = cls(int(kernels), int(packages), int(natives) if natives else None)
        if shape.kernels < 2 or shape.packages < 1 or not 1 <= shape.native_count < shape.kernels:
            raise argparse.ArgumentTypeError('a shape needs at least 2 kernels, 1 package and 1 to K-1 native '
                                             'kernels: %s' % text)
        return shape

    @property
    def label(self) -> str:
        return '%dx%d' % (self.kernels, self.packages) + (':%d' % self.natives if self.natives else '')

    @property
    def entries(self) -> int:
        return self.kernels * self.packages

    @property
    def native_count(self) -> int:
        return self.natives or (self.kernels + 1) // 2

    @property
    def native(self) -> list[str]:
        return ['5.14.0-%d.el9.x86_64' % (100 + index) for index in range(self.native_count)]

    @property
    def weak(self) -> list[tuple[str, str]]:
        """(weak-covered kernel, the native kernel of the same kABI whose installs it links to)."""
        count = self.native_count
        return [('5.14.0-%d.%d.el9.x86_64' % (100 + index % count, 1 + index // count), self.native[index % count])
                for index in range(self.kernels - count)]

    @property
    def package_names(self) -> list[str]:
        return ['pkg%03d' % index for index in range(self.packages)]


def parse_grid(text: str) -> list[Shape]:
    return [Shape.parse(item) for item in text.split(',')]


@dataclass
class Measurement:
    """Wall times of whole processes, the peak RSS of the largest process of any run (None: unknown),
    and the CPU time (user + system) of each run, which a load on the machine stretches less."""

    seconds: list[float]
    peak_rss_mib: float | None
    cpu_seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class TreeResult:
    """One tree: the fact module, its floors and dkms status, measured in interleaved runs."""

    name: str
    modules: str
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
    floor_reader: Measurement | None = None
    floor_return: Measurement | None = None
    dkms: Measurement | None = None
    profile: str = ''
    # {command: instructions it executed} (callgrind), of the roots' fact module and its floors.
    instructions: dict[str, int] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return self.dkms.median / self.facts.median if self.dkms else None


@dataclass
class Results:
    machine: dict[str, str]
    modules: dict[str, Any]
    real_modules: dict[str, Any] = field(default_factory=dict)
    dkms_line_budget: int = DKMS_LINE_BUDGET
    interpreter: Measurement | None = None
    sizes: list[TreeResult] = field(default_factory=list)
    real_sizes: list[TreeResult] = field(default_factory=list)
    real_roots: list[TreeResult] = field(default_factory=list)
    real_drift: list[TreeResult] = field(default_factory=list)
    drift: float = 0.0
    fit: dict[str, float] = field(default_factory=dict)
    real_fit: dict[str, float] = field(default_factory=dict)
    goal_fit: dict[str, Any] = field(default_factory=dict)
    fleet: dict[str, Any] = field(default_factory=dict)
    fleet_large: dict[str, Any] = field(default_factory=dict)
    profile_shape: str = ''
    profile: str = ''
    wall_minutes: float = 0.0


def make_collection_path(work: Path) -> Path:
    """A directory whose ansible_collections/kabi/dkms is this checkout (Python and Ansible import it)."""
    collections = work / 'collections'
    (collections / 'ansible_collections/kabi').mkdir(parents=True)
    (collections / 'ansible_collections/kabi/dkms').symlink_to(REPO, target_is_directory=True)
    return collections


def direct_run_env(env: dict[str, str], work: Path) -> dict[str, str]:
    """``env`` for the runs of the fact module and its floors outside Ansible: the module's packages
    laid out as Ansible's AnsiballZ lays them out on a target, each with an empty __init__.py (not
    as namespace packages, like the checkout's, whose every import walks their path: some 4 ms a
    run), the module and its module_utils linked from this checkout. Made once, under ``work``."""
    top = work / 'module-packages'
    if not top.exists():
        package = top
        for part in ('ansible_collections', 'kabi', 'dkms', 'plugins'):
            package = package / part
            package.mkdir(parents=True)
            (package / '__init__.py').touch()
        for kind in ('modules', 'module_utils'):
            (package / kind).mkdir()
            (package / kind / '__init__.py').touch()
            for source in sorted((REPO / 'plugins' / kind).glob('*.py')):
                (package / kind / source.name).symlink_to(source)
    return dict(env, PYTHONPATH=str(top))


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

    def modules_of(self, packages: list[str]) -> dict[str, list[str]]:
        """Each package's module names: a core and a client importing the core's export."""
        return {package: [package + '_core', package + '_client'] for package in packages}

    def build(self, system: SystemTree, package: str, release: str) -> None:
        """The package's dkms build for ``release``, installed into its updates/dkms."""
        raise NotImplementedError

    def finish(self, system: SystemTree) -> None:
        """What the tree needs once every package is built: by default a host that boots without EFI,
        so without Secure Boot, through GRUB, whose command line /etc/default/grub gives. Every check
        then concludes (no signature is enforced there), so every entry is verified, as on a real host."""
        system.bios_boot()

    def is_signed(self) -> bool:
        """Whether the builds are signed and the trees boot under Secure Boot."""
        return False


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
        real_kernel(system, release, self.symvers, self.core, 'kernel/drivers/misc/kabench_intree.ko')

    def build(self, system: SystemTree, package: str, release: str) -> None:
        real_build(system, package, release, [self.core, self.client])


def drifted(text: str, release: str, share: float, protected: frozenset[str]) -> str:
    """Kernel ``release``'s own copy of a symvers, as an update of one kABI stream would make it:
    ``share`` of its lines with another CRC and one new export per 100 lines, placed at random
    (seeded by the release), so two kernels differ in about twice that share. The lines changed
    are of symbols outside ``protected``, those the tree's modules import or export, and the new
    exports are imported by no module: the facts stay those of the plain copies, only the text
    differs.
    """
    chance = random.Random(release)
    lines = text.splitlines(keepends=True)
    free = [index for index, line in enumerate(lines) if line.split('\t', 2)[1] not in protected]
    for index in chance.sample(free, min(len(free), int(len(lines) * share))):
        crc, rest = lines[index].split('\t', 1)
        lines[index] = '0x%08x\t%s' % (chance.getrandbits(32), rest)
    for number in range(len(lines) // 100):
        lines.insert(chance.randrange(len(lines) + 1), '0x%08x\tkabench_new_%d\tvmlinux\tEXPORT_SYMBOL\t\n'
                     % (chance.getrandbits(32), number))
    return ''.join(lines)


def symbols_of(path: Path) -> set[str]:
    """The symbols a plain module file imports (``__versions``) or exports (``__ksymtab_strings``,
    namespace names included, which only protects more)."""
    found = sections(path.read_bytes(), (b'__versions', b'__ksymtab_strings'))
    versions = found.get(b'__versions', b'')
    names = [versions[at + 8:at + 64].split(b'\0', 1)[0] for at in range(0, len(versions), 64)]
    names += found.get(b'__ksymtab_strings', b'').split(b'\0')
    return set(name.decode() for name in names if name)


def real_kernel(system: SystemTree, release: str, symvers: Path, in_tree: Path, in_tree_path: str) -> None:
    """A kernel with a copy of a real Module.symvers and of the .config beside it (as in any installed
    headers: the fact module reads each kernel's config), build/include, and ``in_tree`` as its one module."""
    modules_dir = system.path('/lib/modules/%s' % release)
    (modules_dir / 'build/include').mkdir(parents=True)
    shutil.copyfile(symvers, modules_dir / 'build/Module.symvers')
    if (symvers.parent / '.config').is_file():
        shutil.copyfile(symvers.parent / '.config', modules_dir / 'build/.config')
    (modules_dir / in_tree_path).parent.mkdir(parents=True)
    shutil.copyfile(in_tree, modules_dir / in_tree_path)
    (modules_dir / 'modules.order').write_text(in_tree_path + '\n')
    system.path('/boot').mkdir(exist_ok=True)
    system.path('/boot/vmlinuz-%s' % release).write_bytes(b'not a real kernel image\n')


def real_build(system: SystemTree, package: str, release: str, built: list[Path]) -> None:
    """The package's build for ``release`` from real module files, one per module name, installed.

    The build directory holds hard links to them (a copy across file systems), named as the package
    names its modules: both tools know a module by its file name (BUILT_MODULE_NAME), not .modinfo's.
    SystemTree.install then copies them into updates/dkms, as dkms does.
    """
    module_dir = system.path('/var/lib/dkms/%s/%s/%s/%s/module' % (package, VERSION, release, system.arch))
    module_dir.mkdir(parents=True)
    for name, source in zip(system.modules[(package, VERSION)], built):
        target = module_dir / (name + ('.ko.xz' if source.name.endswith('.ko.xz') else '.ko'))
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
    system.install(package, VERSION, release)


DEBIAN_IMAGE = 'linux-image-6.1.0-%d-amd64-unsigned'
DEBIAN_HEADERS = 'linux-headers-6.1.0-%d-amd64'
# The real-module trees draw from the package's modules that import the most symbols.
DEBIAN_POOL = 300
LARGE_MODULE = 'amdgpu'


def offered_debian_abis() -> list[int]:
    """The N of every linux-image-6.1.0-N-amd64-unsigned apt-cache offers (empty without apt)."""
    try:
        listing = subprocess.run(['apt-cache', 'search', '--names-only', r'^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$'],
                                 capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return sorted(int(abi) for abi in re.findall(r'^linux-image-6\.1\.0-(\d+)-amd64-unsigned ', listing, re.M))


class DebianKernel:
    """One Debian 6.1 kernel's real modules and Module.symvers, fetched once into the cache.

    `apt-get download` (no root, no dpkg lock) fetches linux-image-6.1.0-N-amd64-unsigned and
    linux-headers-6.1.0-N-amd64, `dpkg-deb -x` unpacks them under CACHE/6.1.0-N-amd64; the
    number of imports (`__versions` entries) of every module is counted once and kept there.
    """

    def __init__(self, cache: Path, abi: int | None) -> None:
        if abi is None:
            offered = offered_debian_abis()
            cached = sorted(int(path.parent.name.split('-')[1]) for path in cache.glob('6.1.0-*-amd64/.complete'))
            if not offered and not cached:
                raise RuntimeError('no Debian kernel package: apt-cache offers no %s and %s holds none'
                                   % (DEBIAN_IMAGE % 0, cache))
            abi = max(offered or cached)
        self.release = '6.1.0-%d-amd64' % abi
        self.package = DEBIAN_IMAGE % abi
        self.directory = cache / self.release
        if not (self.directory / '.complete').is_file():
            self._fetch(cache, abi)
        self.modules_dir = self.directory / 'lib/modules' / self.release
        self.symvers = self.directory / 'usr/src' / ('linux-headers-%s' % self.release) / 'Module.symvers'
        self.catalog = self._catalog()

    def _fetch(self, cache: Path, abi: int) -> None:
        downloads = cache / 'debs'
        staging = cache / (self.release + '.partial')
        shutil.rmtree(staging, ignore_errors=True)
        downloads.mkdir(parents=True, exist_ok=True)
        names = [DEBIAN_IMAGE % abi, DEBIAN_HEADERS % abi]
        log('downloading %s into %s' % (' '.join(names), downloads))
        run_process(['apt-get', 'download', *names], dict(os.environ), cache / 'apt-get.log', cwd=downloads)
        for name in names:
            for deb in downloads.glob(name + '_*.deb'):
                run_process(['dpkg-deb', '-x', str(deb), str(staging)], dict(os.environ), cache / 'dpkg-deb.log')
                deb.unlink()
        (staging / '.complete').touch()
        staging.rename(self.directory)

    def _catalog(self) -> dict[str, tuple[int, int]]:
        """{path under kernel/: (imports, bytes)} of every module of the package, counted once."""
        catalog_file = self.directory / 'imports.json'
        if catalog_file.is_file():
            return {path: tuple(row) for path, row in json.loads(catalog_file.read_text()).items()}
        log('counting the imports of the %s modules (once)' % self.release)
        catalog = {}
        for path in sorted((self.modules_dir / 'kernel').rglob('*.ko')):
            data = path.read_bytes()
            catalog[str(path.relative_to(self.modules_dir / 'kernel'))] = (
                len(sections(data, (b'__versions',)).get(b'__versions', b'')) // 64, len(data))
        catalog_file.write_text(json.dumps(catalog))
        return catalog


class DebianModules(ModuleFiles):
    """Real in-tree modules of a Debian kernel package, made into one-module dkms packages.

    The pool: the DEBIAN_POOL modules that import the most symbols (the large module excluded);
    P packages take P modules spread evenly over it, so the average module is alike at every size.
    Every kernel gets a copy of the package's real Module.symvers and the package's smallest
    module outside the pool as its in-tree module (its vermagic). The dkms builds are hard links
    to the unpacked files, the installed copies real copies; with ``only`` every package holds
    that one module, ``compress='.xz'`` compressed as kbuild does (crc32 check, 1 MiB dictionary).
    """

    kind = 'debian'

    def __init__(self, ko: KoBuilder, kernel: DebianKernel, only: str | None = None, compress: str = '',
                 drift: float = 0.0, signer: ModuleSigner | None = None) -> None:
        super().__init__(ko)
        self.debian = kernel
        self.drift = drift
        self.signer = signer
        # Read once: every kernel's own copy is drifted from it.
        self.symvers_text = kernel.symvers.read_text() if drift else ''
        self.protected: frozenset[str] = frozenset()
        by_name: dict[str, tuple[str, int, int]] = {}
        for path, (imports, size) in sorted(kernel.catalog.items(), key=lambda item: (-item[1][0], item[0])):
            by_name.setdefault(Path(path).name[:-len('.ko')], (path, imports, size))
        self.pool = [name for name in by_name if name != LARGE_MODULE][:DEBIAN_POOL]
        self.files = {name: kernel.modules_dir / 'kernel' / row[0] for name, row in by_name.items()}
        self.imports = {name: row[1] for name, row in by_name.items()}
        outside = [name for name in by_name if name not in self.pool and name != LARGE_MODULE]
        self.in_tree = min(outside, key=lambda name: (by_name[name][2], name))
        self.only = only
        if compress:
            if only is None:
                raise ValueError('compress needs only: the one module every package holds')
            self.files[only] = self._xz(only)
        if drift:
            self.protected = frozenset().union(*(symbols_of(self.files[name]) for name in self.pool + [self.in_tree]))

    def _xz(self, name: str) -> Path:
        packed = self.debian.directory / ('%s.ko.xz' % name)
        if not packed.is_file():
            data = lzma.compress(self.files[name].read_bytes(), check=lzma.CHECK_CRC32,
                                 filters=[{'id': lzma.FILTER_LZMA2, 'preset': 6, 'dict_size': 1 << 20}])
            packed.with_suffix('.partial').write_bytes(data)
            packed.with_suffix('.partial').rename(packed)
        return packed

    def variant(self, only: str, compress: str = '') -> DebianModules:
        return DebianModules(self.ko, self.debian, only, compress)

    def drifting(self, drift: float) -> DebianModules:
        """The same modules, each kernel with its own symvers (see ``drifted``)."""
        return DebianModules(self.ko, self.debian, drift=drift)

    def signed(self, signer: ModuleSigner) -> DebianModules:
        """The same modules, every build signed by ``signer``, the trees booted under Secure Boot."""
        return DebianModules(self.ko, self.debian, signer=signer)

    def modules_of(self, packages: list[str]) -> dict[str, list[str]]:
        if self.only:
            return {package: [self.only] for package in packages}
        if len(packages) > len(self.pool):
            raise RuntimeError('%d packages, but the pool holds %d modules' % (len(packages), len(self.pool)))
        step = len(self.pool) / len(packages)
        return {package: [self.pool[int(index * step)]] for index, package in enumerate(packages)}

    def describe(self) -> dict[str, Any]:
        pool = [self.imports[name] for name in self.pool]
        sizes = [self.files[name].stat().st_size for name in self.pool]
        large = self.files[LARGE_MODULE]
        return {'kind': self.kind, 'release': self.debian.release, 'package': self.debian.package,
                'pool': len(self.pool),
                'pool_imports': [min(pool), int(statistics.median(pool)), max(pool)],
                'pool_mib': round(sum(sizes) / 1024 / 1024, 1), 'in_tree': self.in_tree,
                'symvers_lines': len(self.debian.symvers.read_text().splitlines()),
                'large': {'name': LARGE_MODULE, 'imports': self.imports[LARGE_MODULE],
                          'mib': round(large.stat().st_size / 1024 / 1024, 1)}}

    def kernel(self, system: SystemTree, release: str, abi: str) -> None:
        in_tree = self.files[self.in_tree]
        real_kernel(system, release, self.debian.symvers, in_tree,
                    'kernel/%s' % in_tree.relative_to(self.debian.modules_dir / 'kernel'))
        if self.drift:
            symvers = system.path('/lib/modules/%s/build/Module.symvers' % release)
            symvers.write_text(drifted(self.symvers_text, release, self.drift, self.protected))

    def build(self, system: SystemTree, package: str, release: str) -> None:
        built = [self.files[name] for name in system.modules[(package, VERSION)]]
        real_build(system, package, release, [self.signer.sign(path) for path in built] if self.signer else built)

    def finish(self, system: SystemTree) -> None:
        if self.signer:
            self.signer.boot(system)
        else:
            super().finish(system)

    def is_signed(self) -> bool:
        return self.signer is not None


class ModuleSigner:
    """dkms's module signing on a host that boots under Secure Boot: an RSA-2048 key pair made by
    openssl as dkms makes /var/lib/dkms/mok.key, every build signed by the kernel's scripts/sign-file
    with SHA-256 (Debian's CONFIG_MODULE_SIG_HASH), the certificate enrolled in shim's MOK list (the
    MokListRT EFI variable) and Secure Boot on: the kernel checks every module's signature, and so
    does the fact module."""

    def __init__(self, work: Path) -> None:
        from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import rsa_key

        self.directory = work / 'signed'
        self.directory.mkdir()
        self.key = rsa_key(self.directory)
        self.signed: dict[Path, Path] = {}

    @staticmethod
    def available() -> str | None:
        """Why modules cannot be signed here, or None."""
        from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import sign_file_path

        if shutil.which('openssl') is None:
            return 'no openssl command'
        if sign_file_path() is None:
            return 'no scripts/sign-file of a kernel (Debian: linux-kbuild-6.1)'
        return None

    def sign(self, module: Path) -> Path:
        """A signed copy of ``module``, made once per run."""
        from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import sign_module

        if module not in self.signed:
            # The kernel package's modules come signed by its build key: dkms signs what it built, unsigned.
            unsigned = self.directory / ('%s.unsigned' % module.name)
            data = module.read_bytes()
            unsigned.write_bytes(data[:signed_size(data)])     # [:None]: it was not signed
            self.signed[module] = sign_module(unsigned, self.key, self.directory / module.name)
            unsigned.unlink()
        return self.signed[module]

    def boot(self, system: SystemTree) -> None:
        """Secure Boot on, dkms's certificate in the MOK list and in the dkms tree, GRUB's command line."""
        from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import EfiRoot

        efi = EfiRoot(system.root)
        efi.secure_boot(True)
        efi.mok_list([self.key.der])
        system.path('/var/lib/dkms/mok.pub').write_bytes(self.key.der)
        system.path('/etc/default').mkdir(parents=True, exist_ok=True)
        system.path('/etc/default/grub').write_text('GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n')


def module_files(choice: str, work: Path, ko: KoBuilder) -> ModuleFiles:
    """kbuild modules against the newest installed headers when there are any (or asked), else gcc objects."""
    release = newest_headers() if choice != 'gcc' else None
    if choice == 'kbuild' and release is None:
        raise RuntimeError('--modules kbuild: no %s/*/build with a Makefile and a Module.symvers' % MODULES_ROOT)
    return KbuildModules(ko, work, release) if release else GccModules(ko)


def copy_from_host(system: SystemTree, program: str, in_root: str) -> bool:
    """This machine's ``program`` (from PATH) copied to ``in_root`` in the tree, its mode too; False
    when the machine has none."""
    host = shutil.which(program)
    if host is None:
        return False
    target = system.path(in_root)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(host, target)
    return True


def install_dkms(system: SystemTree) -> None:
    """The tree's /usr/sbin/dkms, as on any host whose modules dkms built: a copy of this machine's
    (the one `dkms status` runs), else a script that only tells its version. The fact module reads
    the version there; without it, it would read every dkms.conf as each dkms release would."""
    if not copy_from_host(system, 'dkms', '/usr/sbin/dkms'):
        system.dkms_script(FALLBACK_DKMS_VERSION)


def install_kmod(system: SystemTree) -> None:
    """The tree's /usr/bin/kmod, a copy of this machine's, as on any host: the fact module reads there
    which compressions the host's depmod and modprobe take (without it, whether a compressed module
    loads is not known)."""
    if not copy_from_host(system, 'kmod', '/usr/bin/kmod'):
        raise RuntimeError('no kmod on this machine to copy into the trees (dkms depends on it: apt-get install kmod)')


def build_tree(root: Path, shape: Shape, files: ModuleFiles) -> SystemTree:
    from ansible_collections.kabi.dkms.tests.unit.system_trees import SystemTree

    system = SystemTree(root, files.ko)
    install_dkms(system)
    install_kmod(system)
    modules = files.modules_of(shape.package_names)
    for release in shape.native:
        files.kernel(system, release, release)
    for release, provider in shape.weak:
        files.kernel(system, release, provider)
    for package in shape.package_names:
        system.package(package, VERSION, modules[package])
        relative_source_link(system, package)
        for release in shape.native:
            files.build(system, package, release)
    for release, provider in shape.weak:
        system.weak_link_build(release, provider)
    files.finish(system)
    return system


def count_files(root: Path) -> tuple[int, int]:
    """(regular .ko files, weak-updates links) under root."""
    files = links = 0
    for directory, _subdirs, names in os.walk(root):
        for name in names:
            if not name.endswith(('.ko', '.ko.xz')):
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


def run_process(argv: list[str], env: dict[str, str], stdout: Path, cwd: Path | None = None) \
        -> tuple[float, int | None, float | None]:
    """Run argv to completion: (wall seconds, peak RSS in KiB of its largest process, user + system CPU
    seconds of it and its children); the last two None without GNU time."""
    stderr = stdout.with_suffix('.stderr')
    usage_file = stdout.with_suffix('.usage')
    command = [GNU_TIME, '-f', '%M %U %S', '-o', str(usage_file), *argv] if GNU_TIME else argv
    with stdout.open('wb') as out, stderr.open('wb') as err:
        start = time.perf_counter()
        returncode = subprocess.run(command, stdout=out, stderr=err, env=env, cwd=cwd, check=False).returncode
        elapsed = time.perf_counter() - start
    if returncode != 0:
        raise RuntimeError('%s exited %d:\n%s' % (' '.join(argv), returncode, stderr.read_text()[-3000:]))
    if not GNU_TIME:
        return elapsed, None, None
    rss, user, system = usage_file.read_text().split()[-3:]
    return elapsed, int(rss), float(user) + float(system)


def measure(commands: dict[str, tuple[list[str], Path]], env: dict[str, str], runs: int,
            cwd: Path | None = None) -> dict[str, Measurement]:
    """{name: Measurement} of each (argv, stdout file), run in turn ``runs`` times: the runs interleave,
    so a load that comes and goes weighs on every command alike."""
    results = {name: Measurement([], None, []) for name in commands}
    for _run in range(runs):
        for name, (argv, stdout) in commands.items():
            elapsed, rss, cpu = run_process(argv, env, stdout, cwd)
            result = results[name]
            result.seconds.append(round(elapsed, 4))
            if rss is not None and cpu is not None:
                result.peak_rss_mib = max(result.peak_rss_mib or 0, round(rss / 1024, 1))
                result.cpu_seconds.append(round(cpu, 3))
    return results


VALGRIND = shutil.which('valgrind')


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
    return module_argv(python, REPO / MODULE, args_file)


def module_argv(python: str, module: Path, args_file: Path) -> list[str]:
    """A run of the module file ``module`` as AnsiballZ runs a module (see module_runner.py)."""
    return [python, str(MODULE_RUNNER), str(module), str(args_file)]


def write_args(path: Path, root: Path, kabi_check: bool = True) -> Path:
    path.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'root': str(root), 'kabi_check': kabi_check}}))
    return path


def check_facts(output: Path, shape: Shape, signed: bool = False) -> None:
    """Every entry is covered the way the tree was built and verified (every check concluded), and
    every weak module has a kABI verdict; ``signed``: every kernel enforces signatures and every
    module's signature is trusted."""
    facts = json.loads(output.read_text())['ansible_facts']['dkms']
    if facts['kabi_reader'] is None:
        raise RuntimeError('no kABI reader: the verdicts the benchmark is meant to time were not computed')
    if facts['summary']['unverified']:
        raise RuntimeError('%d entries are not verified: a check the benchmark is meant to time did not conclude'
                           % facts['summary']['unverified'])
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
        if signed and not (facts['kernels'][release]['module_signatures']['enforced'] and entry['covered']
                           and entry['modules']
                           and all(module['signature']['trusted'] for module in entry['modules'].values())):
            raise RuntimeError('%s on %s: a signature was not checked, or not trusted' % (package, release))


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


FLOOR_READER = REPO / 'benchmarks/floor_reader.py'
FLOOR_MODULE = REPO / 'benchmarks/floor_module.py'
MODULE_RUNNER = REPO / 'benchmarks/module_runner.py'


def check_floor_reader(output: Path, shape: Shape, root: Path, signed: bool = False) -> None:
    """The reading floor read each native kernel's installed module files, each kernel's own module and
    the symvers of every kernel: what the fact module reads for its verdicts; ``signed``: it hashed
    every installed module's signed bytes."""
    installed = sum(len(os.listdir(root / 'lib/modules' / native / 'updates/dkms')) for native in shape.native)
    expected = {'modules': shape.kernels + installed, 'symvers': shape.kernels, 'signed': installed if signed else 0}
    counts = json.loads(output.read_text())
    if {key: counts[key] for key in expected} != expected:
        raise RuntimeError('the reading floor read %s, expected %s' % (counts, expected))


def check_same_kernels(output: Path, reference: Path) -> None:
    """What ``output`` says of each kernel is what ``reference``, the facts of a tree of the same
    shape, says (the drifting tree's symvers differ only where no module looks)."""
    def kernels(path: Path) -> Any:
        return json.loads(path.read_text())['ansible_facts']['dkms']['kernels']
    if kernels(output) != kernels(reference):
        raise RuntimeError('%s says other things of its kernels than %s' % (output.name, reference.name))


def check_floor_return(floor_output: Path, facts_output: Path) -> None:
    """The Ansible floor printed the fact module's JSON (the invocation aside)."""
    floor, facts = json.loads(floor_output.read_text()), json.loads(facts_output.read_text())
    floor.pop('invocation', None)
    facts.pop('invocation', None)
    if floor != facts:
        raise RuntimeError('the Ansible floor did not return what dkms_facts returned')


def bench_tree(name: str, shape: Shape, work: Path, files: ModuleFiles, python: str, env: dict[str, str],
               runs: int, with_dkms: bool = False, with_floors: bool = False, profiled: bool = False,
               keep: bool = False, counted: bool = False) -> TreeResult:
    """Build the tree, check what both tools say about it, time them; the tree is removed unless ``keep``.
    ``counted``: also count the instructions of the fact module and its floors (with_floors), once each."""
    label = '%s-%s' % (name, shape.label.replace(':', 'n'))
    root = work / 'trees' / label
    module_env = direct_run_env(env, work)    # the Python runs'; dkms status keeps ``env``
    started = time.perf_counter()
    build_tree(root, shape, files)
    ko_files, weak_links = count_files(root)
    log('%s %s: tree built in %.1f s (%d module files, %d weak links)'
        % (name, shape.label, time.perf_counter() - started, ko_files, weak_links))
    args = write_args(work / ('args-%s.json' % label), root)
    output = work / ('facts-%s.json' % label)
    # The untimed first run checks the result and leaves the page cache as warm as the tree build did.
    run_process(facts_argv(python, args), module_env, output)
    check_facts(output, shape, files.is_signed())
    # Without kABI verdicts: what reading the modules' ELF sections and symvers costs.
    no_kabi = write_args(work / ('args-%s-no-kabi.json' % label), root, kabi_check=False)
    commands = {'facts': (facts_argv(python, args), output),
                'facts_no_kabi': (facts_argv(python, no_kabi), work / 'facts-no-kabi.json')}
    if with_floors:
        floor_args = work / ('args-%s-floor.json' % label)
        floor_args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {'result': str(output.with_suffix('.saved'))}}))
        shutil.copyfile(output, output.with_suffix('.saved'))
        commands['floor_reader'] = ([python, str(FLOOR_READER), str(root)] + ['--signatures'] * files.is_signed(),
                                    work / 'floor-reader.json')
        commands['floor_return'] = (module_argv(python, FLOOR_MODULE, floor_args), work / 'floor-return.json')
        for floor_argv, floor_output in (commands['floor_reader'], commands['floor_return']):
            run_process(floor_argv, module_env, floor_output)
        check_floor_reader(commands['floor_reader'][1], shape, root, files.is_signed())
        check_floor_return(commands['floor_return'][1], output)
    timed = measure(commands, module_env, runs)
    result = TreeResult(name, files.kind, shape.label, shape.kernels, shape.packages, shape.entries, ko_files,
                        weak_links, len(shape.weak) * shape.packages, len(expected_dkms_lines(shape)),
                        timed['facts'], timed['facts_no_kabi'], timed.get('floor_reader'), timed.get('floor_return'))
    log('%s %s: dkms_facts median %.3f s over %d runs, peak %s MiB; %.3f s with kabi_check=false%s'
        % (name, shape.label, result.facts.median, runs, result.facts.peak_rss_mib, result.facts_no_kabi.median,
           '; floors: reader %.3f s, AnsibleModule %.3f s' % (timed['floor_reader'].median, timed['floor_return'].median)
           if with_floors else ''))
    if counted and with_floors:
        for command in ('facts', 'floor_return', 'floor_reader'):
            argv, command_output = commands[command]
            result.instructions[command] = callgrind(argv, command_output, env=module_env)[0]
        counts = result.instructions
        log('%s %s: instructions: dkms_facts %.0f M, AnsibleModule floor %.0f M (%.2fx), reading floor %.0f M'
            % (name, shape.label, counts['facts'] / 1e6, counts['floor_return'] / 1e6,
               counts['facts'] / counts['floor_return'], counts['floor_reader'] / 1e6))
    if with_dkms:
        dkms_runs = max(1, min(runs, DKMS_LINE_BUDGET // result.dkms_lines))
        dkms_out = work / ('dkms-%s.txt' % label)
        result.dkms = measure({'dkms': (dkms_argv(root), dkms_out)}, env, dkms_runs)['dkms']
        check_dkms(dkms_out, shape)
        log('%s %s: dkms status median %.3f s over %d runs (%d lines), ratio %.1f' % (
            name, shape.label, result.dkms.median, dkms_runs, result.dkms_lines, result.ratio or 0))
    if profiled:
        result.profile = profile(args, work, python, module_env)
    if not keep:
        shutil.rmtree(root)
    return result


def linear_fit(sizes: list[TreeResult]) -> dict[str, float]:
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


def profile(args: Path, work: Path, python: str, env: dict[str, str], top: int = 15) -> str:
    """cProfile of one fact-module run with these arguments: the top functions by cumulative time."""
    stats_file = work / 'profile.pstats'
    argv = [python, '-m', 'cProfile', '-o', str(stats_file), str(REPO / MODULE), str(args)]
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
# What the untimed first run of a task also checks on each host, after it.
FLEET_CHECKS = {
    'dkms_facts': '''
    - ansible.builtin.assert:
        that: ansible_facts.dkms.summary.uncovered == 0 and ansible_facts.dkms.summary.unverified == 0
        quiet: true''',
}


def bench_fleet(name: str, hosts: int, shape: Shape, forks: int, runs: int, work: Path, files: ModuleFiles,
                python: str, env: dict[str, str], tasks: list[str]) -> dict[str, Any]:
    """ansible-playbook over `hosts` local-connection hosts, each with its own tree of `shape`, one
    playbook per task; the playbooks' runs interleave."""
    fleet = work / name
    lines = ['[fleet]']
    for index in range(hosts):
        root = fleet / ('h%02d' % index)
        build_tree(root, shape, files)
        lines.append('h%02d dkms_root=%s' % (index, root))
    lines += ['[fleet:vars]', 'ansible_connection=local', 'ansible_python_interpreter=%s' % python]
    inventory = fleet / 'inventory.ini'
    inventory.write_text('\n'.join(lines) + '\n')
    playbook_command = str(Path(python).parent / 'ansible-playbook')
    commands = {}
    for task in tasks:
        stem = task.split()[0]
        playbook, checked = fleet / ('%s.yml' % stem), fleet / ('%s-checked.yml' % stem)
        playbook.write_text(PLAYBOOK % FLEET_TASKS[task])
        checked.write_text(PLAYBOOK % (FLEET_TASKS[task] + FLEET_CHECKS.get(task, '')))
        argv = [playbook_command, '-i', str(inventory), '-f', str(forks)]
        commands[task] = (argv + [str(playbook)], fleet / ('%s.out' % stem))
        # Untimed, with the checks: every host ok, and its facts what its tree was built to give.
        run_process(argv + [str(checked)], env, commands[task][1], cwd=work)
        check_fleet(commands[task][1], hosts)
    result: dict[str, Any] = {'hosts': hosts, 'forks': forks, 'shape': shape.label, 'modules': files.kind,
                              'runs': runs, 'tasks': {}}
    for task, timing in measure(commands, env, runs, cwd=work).items():
        result['tasks'][task] = {'seconds': timing.seconds, 'median_s': round(timing.median, 3),
                                 'per_host_ms': round(timing.median / hosts * 1000, 1),
                                 'peak_rss_mib': timing.peak_rss_mib}
        log('%s %s: %.2f s for %d hosts (%.0f ms per host)'
            % (name, task, timing.median, hosts, timing.median / hosts * 1000))
    shutil.rmtree(fleet)
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
        'load_start': load_average(),
        'load_end': 'n/a',
    }


def load_average() -> str:
    return Path('/proc/loadavg').read_text().split()[0]


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
    parser.add_argument('--runs', type=int, default=7, help='timed runs per size (dkms status: fewer on big trees)')
    parser.add_argument('--root-runs', type=int, default=15,
                        help='timed runs of each root tree: a goal is its ratio to the floor, which the median of '
                             '7 runs on a small shared machine tells only to some 0.1x')
    parser.add_argument('--fleet-hosts', type=int, default=20, help='inventory hosts for the fleet run; 0 skips it')
    parser.add_argument('--fleet-shape', type=Shape.parse, default=Shape(4, 2), help='each fleet host\'s tree')
    parser.add_argument('--fleet-runs', type=int, default=5,
                        help='interleaved runs of each fleet playbook (a run of 20 hosts takes 5 to 10 s)')
    parser.add_argument('--forks', type=int, default=5, help='ansible-playbook forks (Ansible\'s default: 5)')
    parser.add_argument('--modules', choices=('auto', 'kbuild', 'gcc'), default='auto',
                        help='the grid\'s modules: kbuild against the newest installed kernel headers, or '
                        'gcc-compiled ELF objects; auto: kbuild when headers are installed (default)')
    real = parser.add_argument_group('real modules', 'trees of real in-tree modules of a Debian kernel package')
    real.add_argument('--no-real', action='store_true', help='skip every real-module tree (no download)')
    real.add_argument('--real-grid', type=parse_grid, default=DEFAULT_REAL_GRID,
                      help='K x P sizes with real modules (default %(default)s)')
    real.add_argument('--big', action='store_true', help='also %s, the linear growth check (about a '
                      'minute more)' % BIG_REAL_GRID)
    real.add_argument('--real-root', type=Shape.parse, default=Shape.parse(DEFAULT_REAL_ROOT),
                      help='the root of %d real modules as packages, KxP:N (default %s: built for 1 '
                      'kernel, weak-linked into 6)' % (DEBIAN_POOL, DEFAULT_REAL_ROOT))
    real.add_argument('--drift', type=float, default=DEFAULT_DRIFT,
                      help='share of lines in which each kernel\'s symvers of the drifting tree is its own; 0 skips '
                      'that tree (default %(default)s)')
    real.add_argument('--drift-shape', type=Shape.parse, default=Shape.parse(DEFAULT_DRIFT_SHAPE),
                      help='the drifting tree (default %s)' % DEFAULT_DRIFT_SHAPE)
    real.add_argument('--no-signed', action='store_true', help='skip the root with every module signed, booted '
                      'under Secure Boot')
    real.add_argument('--large-kernels', type=int, default=6,
                      help='kernels of the large-module trees, one native (default %(default)s)')
    real.add_argument('--fleet-large-hosts', type=int, default=10, help='hosts of the fleet run with large '
                      'real-module hosts; 0 skips it')
    real.add_argument('--fleet-large-shape', type=Shape.parse, default=Shape.parse(DEFAULT_LARGE_HOST),
                      help='each large host\'s tree (default %s)' % DEFAULT_LARGE_HOST)
    real.add_argument('--debian-abi', type=int, help='N of linux-image-6.1.0-N-amd64-unsigned (default: the '
                      'newest apt-cache offers, else the newest in the cache)')
    real.add_argument('--cache', type=Path, default=REPO / 'benchmarks/cache',
                      help='where the Debian packages are unpacked, once (default benchmarks/cache)')
    parser.add_argument('--no-dkms', action='store_true', help='skip dkms status even when it is installed')
    parser.add_argument('--no-profile', action='store_true', help='skip the cProfile run')
    parser.add_argument('--no-instructions', action='store_true',
                        help='skip counting the roots\' instructions with valgrind (about 3 minutes)')
    parser.add_argument('--output', type=Path, default=REPO / 'benchmarks/output')
    parser.add_argument('--no-docs', action='store_true', help='leave docs/performance.{md,png} alone')
    parser.add_argument('--plot-python', help='a Python with matplotlib (benchmarks/run.sh makes one)')
    parser.add_argument('--keep', action='store_true', help='keep the temporary trees and print where')
    args = parser.parse_args()
    began = time.perf_counter()
    with_dkms = not args.no_dkms and shutil.which('dkms') is not None
    if not with_dkms:
        log('dkms status is not measured (%s)' % ('--no-dkms' if args.no_dkms else 'dkms is not installed'))
    python = sys.executable
    work = Path(tempfile.mkdtemp(prefix='kabi-dkms-bench-'))
    try:
        collections = make_collection_path(work)
        sys.path.insert(0, str(collections))
        from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder

        ko = KoBuilder(work / 'ko-cache')
        files = module_files(args.modules, work, ko)
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
        for shape in args.grid:
            results.sizes.append(bench_tree('grid', shape, work, files, python, env, args.runs, with_dkms=with_dkms,
                                            keep=args.keep))
        results.fit = linear_fit(results.sizes)
        if not args.no_real:
            bench_real(args, results, work, DebianModules(ko, DebianKernel(args.cache, args.debian_abi)), python, env)
        if not args.no_profile:
            profiled = results.real_roots[0] if results.real_roots else max(results.sizes, key=lambda size: size.entries)
            results.profile_shape = '%s %s' % (profiled.name, profiled.shape)
            results.profile = profiled.profile
        if args.fleet_hosts:
            results.fleet = bench_fleet('fleet', args.fleet_hosts, args.fleet_shape, args.forks, args.fleet_runs,
                                        work, files, python, env, list(FLEET_TASKS))
        results.wall_minutes = round((time.perf_counter() - began) / 60, 1)
        results.machine['load_end'] = load_average()
        publish(results, args, work)
        log('done in %.1f minutes' % results.wall_minutes)
    finally:
        if args.keep:
            log('trees kept in %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def bench_real(args: argparse.Namespace, results: Results, work: Path, debian: DebianModules, python: str,
               env: dict[str, str]) -> None:
    """The real-module trees: the grid, the root of the whole pool, the large module plain and .ko.xz,
    the fleet of large hosts; each fact-module run next to its floors."""
    results.real_modules = debian.describe()
    log('real modules: %(pool)d modules of %(package)s importing %(pool_imports)s symbols (min, median, max), '
        '%(pool_mib).1f MiB; in-tree module %(in_tree)s' % results.real_modules)
    interpreter = work / 'interpreter.out'
    results.interpreter = measure({'python': ([python, '-c', ''], interpreter)}, env, args.runs)['python']
    grid = args.real_grid + ([Shape.parse(BIG_REAL_GRID)] if args.big else [])
    for shape in grid:
        results.real_sizes.append(bench_tree('real', shape, work, debian, python, env, args.runs, with_floors=True,
                                             keep=args.keep))
    results.real_fit = linear_fit(results.real_sizes)
    # Issue 14's cost per entry: the slope over the grids up to its 40x40.
    most = Shape.parse(PER_ENTRY_SHAPE).entries
    goal_sizes = [size for size in results.real_sizes if size.entries <= most]
    if len(goal_sizes) > 1:
        results.goal_fit = dict(linear_fit(goal_sizes), shapes=[size.shape for size in goal_sizes])
    if args.drift:
        results.drift = args.drift
        results.real_drift.append(bench_tree('real-drift', args.drift_shape, work, debian.drifting(args.drift), python,
                                             env, args.runs, with_floors=True, keep=args.keep))
        label = args.drift_shape.label.replace(':', 'n')
        if (work / ('facts-real-%s.json' % label)).is_file():
            check_same_kernels(work / ('facts-real-drift-%s.json' % label), work / ('facts-real-%s.json' % label))
    counted = not args.no_instructions and VALGRIND is not None
    if not counted:
        log('instructions are not counted: %s' % ('--no-instructions' if args.no_instructions else 'no valgrind'))
    results.real_roots.append(bench_tree('root', args.real_root, work, debian, python, env, args.root_runs,
                                         with_floors=True, profiled=not args.no_profile, keep=args.keep,
                                         counted=counted))
    unsigned = 'skipped (--no-signed)' if args.no_signed else ModuleSigner.available()
    if unsigned:
        log('the signed root is not measured: %s' % unsigned)
    else:
        results.real_roots.append(bench_tree('root-signed', args.real_root, work, debian.signed(ModuleSigner(work)),
                                             python, env, args.root_runs, with_floors=True, keep=args.keep,
                                             counted=counted))
    large = Shape(args.large_kernels, 1, 1)
    for compress in ('', '.xz'):
        results.real_roots.append(bench_tree(LARGE_MODULE + '.ko' + compress, large, work,
                                             debian.variant(LARGE_MODULE, compress), python, env, args.runs,
                                             with_floors=True, keep=args.keep))
    if args.fleet_large_hosts:
        results.fleet_large = bench_fleet('fleet-large', args.fleet_large_hosts, args.fleet_large_shape, args.forks,
                                          args.fleet_runs, work, debian, python, env, ['ping', 'dkms_facts'])


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
    for group in ('sizes', 'real_sizes', 'real_roots', 'real_drift'):
        for raw in data[group]:
            raw.pop('profile')
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
