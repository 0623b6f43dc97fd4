# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Broken and hostile trees: every case returns facts, warns once per bad item, never covers.

Each test builds a sound system (hello 1.0 installed for ABI, weak-linked on ABI+clone),
damages one thing, and checks the exact facts the contract asks for.
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
import pickle
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._compare_ahead import MIN_PAIRS, usable_cpus
from ansible_collections.kabi.dkms.plugins.module_utils._coverage import READ_AHEAD_MIN, gather_facts
from ansible_collections.kabi.dkms.plugins.module_utils._ko import SECTION_LIMITS, SYMBOL_NAMES_LIMIT
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.gather_probe import gather_during_swaps, gather_in_child
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import SHF_ALLOC, SHF_COMPRESSED, SHT_NOBITS, KoBuilder, patch_section
from ansible_collections.kabi.dkms.tests.unit.system_trees import SystemTree, hello_weak_linked

ABI = '6.1.0-47-amd64'
CLONE = ABI + '+clone'
NOBODY = 65534
GIB = 1024 ** 3
MIB = 1024 ** 2
# What a hostile item may cost above the same tree without it (issue 12's budget).
MEMORY_BUDGET_KIB = 100 * 1024
HELLO_BUILD = '/var/lib/dkms/hello/1.0/%s/x86_64/module/hello.ko' % ABI
HELLO_COPY = '/lib/modules/%s/updates/dkms/hello.ko' % ABI


def gather(root: Path) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    facts = gather_facts(RootFS(str(root)), warnings.append)
    json.dumps(facts)  # what the module prints must serialize
    return facts, warnings


@pytest.fixture
def system(ko_builder: KoBuilder) -> Iterator[SystemTree]:
    # World-traversable, so the unprivileged cases can read what they should.
    top = Path(tempfile.mkdtemp(prefix='kabi-hostile-'))
    os.chmod(top, 0o755)
    yield hello_weak_linked(top / 'root', ko_builder, ABI, CLONE)
    shutil.rmtree(top)


def clone_hello(facts: dict[str, Any]) -> dict[str, Any]:
    return facts['kernels'][CLONE]['packages']['hello']


def replace_weak_target(system: SystemTree, data: bytes) -> None:
    """Make the build the clone's weak link points at hold ``data`` (dkms copy and installed copy)."""
    for path in ('/var/lib/dkms/hello/1.0/%s/x86_64/module/hello.ko' % ABI,
                 '/lib/modules/%s/updates/dkms/hello.ko' % ABI):
        system.path(path).write_bytes(data)


def test_sound_tree_is_covered(system: SystemTree) -> None:
    facts, warnings = gather(system.root)
    assert clone_hello(facts)['status'] == 'weak' and warnings == []


@pytest.mark.parametrize('data, reason', [
    (b'', 'empty file'),
    (b'MZ\x90\x00 not an elf at all', 'not an ELF file'),
    (b'\x7fELF\x02\x01\x01' + b'\x00' * 20, 'truncated'),
])
def test_bad_module_files_are_broken(system: SystemTree, data: bytes, reason: str) -> None:
    replace_weak_target(system, data)
    facts, warnings = gather(system.root)
    assert clone_hello(facts)['status'] == 'broken'
    assert not facts['kernels'][CLONE]['covered']
    assert len(warnings) == 1 and reason in warnings[0]


def test_truncated_real_module(system: SystemTree) -> None:
    real = system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI).read_bytes()
    replace_weak_target(system, real[:len(real) // 2])
    facts, warnings = gather(system.root)
    assert clone_hello(facts)['status'] == 'broken' and len(warnings) == 1


def test_module_for_another_machine(system: SystemTree) -> None:
    real = bytearray(system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI).read_bytes())
    real[18:20] = (183).to_bytes(2, 'little')  # e_machine = EM_AARCH64
    replace_weak_target(system, bytes(real))
    facts, warnings = gather(system.root)
    assert clone_hello(facts)['status'] == 'broken'
    assert len(warnings) == 1 and 'machine EM_AARCH64' in warnings[0]


def test_module_of_other_byte_order(system: SystemTree) -> None:
    real = bytearray(system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI).read_bytes())
    real[5] = 2  # EI_DATA = big endian: every header field now reads differently
    replace_weak_target(system, bytes(real))
    facts, warnings = gather(system.root)
    assert clone_hello(facts)['status'] == 'broken' and len(warnings) == 1


def test_versions_of_odd_length(system: SystemTree, ko_builder: KoBuilder) -> None:
    odd = ko_builder.compile(system.root / 'opt', 'odd.ko', 'static const char v[63] '
                             '__attribute__((used, section("__versions"))) = "x";\n'
                             'static const char m[] __attribute__((used, section(".modinfo"))) = '
                             '"vermagic=%s SMP preempt mod_unload modversions ";\n' % ABI)
    replace_weak_target(system, odd.read_bytes())
    facts, warnings = gather(system.root)
    assert clone_hello(facts)['status'] == 'broken'
    assert len(warnings) == 1 and 'not a multiple of 64' in warnings[0]


def test_huge_modinfo_still_reads(system: SystemTree, ko_builder: KoBuilder) -> None:
    big = ko_builder.build_ko(system.root / 'opt', 'hello', vermagic='%s SMP preempt mod_unload modversions ' % ABI,
                              versions=system.kernel_crcs[ABI], extra_modinfo=['junk=' + 'x' * 3_000_000])
    replace_weak_target(system, big.read_bytes())
    facts, warnings = gather(system.root)
    # The vermagic sits before the junk, so the capped read still finds it.
    assert clone_hello(facts)['status'] == 'weak' and warnings == []


@pytest.mark.parametrize('make_link, problem', [
    (lambda link: link.symlink_to('/lib/modules/%s/updates/dkms/gone.ko' % ABI), 'dangling'),
    (lambda link: link.symlink_to('hello.ko'), 'too many levels of symbolic links'),
    (lambda link: link.symlink_to('/lib/modules/%s/updates' % ABI), 'not a regular file'),
])
def test_bad_links_are_broken(system: SystemTree, make_link: Callable[[Path], None], problem: str) -> None:
    link = system.path('/lib/modules/%s/weak-updates/hello.ko' % CLONE)
    link.unlink()
    make_link(link)
    facts, warnings = gather(system.root)
    assert clone_hello(facts)['status'] == 'broken'
    assert len(warnings) == 1 and problem in warnings[0]


def test_link_out_of_root_reads_inside_root(system: SystemTree) -> None:
    """An absolute link to a host file resolves under root, where nothing is: broken."""
    host_module = system.root.parent / 'host-hello.ko'
    shutil.copyfile(system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI), host_module)
    link = system.path('/lib/modules/%s/weak-updates/hello.ko' % CLONE)
    link.unlink()
    link.symlink_to('../../../../../host-hello.ko')
    facts, warnings = gather(system.root)
    module = clone_hello(facts)['modules']['hello']
    assert clone_hello(facts)['status'] == 'broken'
    assert module['target'] == '/host-hello.ko'
    assert len(warnings) == 1 and 'dangling' in warnings[0]


def test_hostile_dkms_conf_is_never_executed(system: SystemTree) -> None:
    canary = system.root.parent / 'CANARY'
    conf = ('\ufeffPACKAGE_NAME="hello"\r\nPACKAGE_VERSION=1.0\r\n'
            'BUILT_MODULE_NAME[0]="$(touch %s)hello"\r\n'
            'AUTOINSTALL=`touch %s; echo yes`\r\n'
            'pwn() { touch %s; }\r\npwn\r\n'
            'DEST_MODULE_LOCATION[0]="/updates/dkms"\r\n' % (canary, canary, canary))
    system.path('/usr/src/hello-1.0/dkms.conf').write_text(conf, encoding='utf-8')
    facts, warnings = gather(system.root)
    assert not canary.exists()
    assert facts['packages']['hello']['autoinstall'] is None
    # The built tree is authoritative for module names even when dkms.conf is not static.
    assert facts['packages']['hello']['modules'] == ['hello']
    assert clone_hello(facts)['status'] == 'weak' and warnings == []


def test_dangling_source_link_is_a_broken_version(system: SystemTree) -> None:
    shutil.rmtree(system.path('/usr/src/hello-1.0'))
    facts, warnings = gather(system.root)
    assert facts['packages']['hello']['broken_versions'] == ['1.0']
    assert facts['packages']['hello']['autoinstall'] is None
    # What was built and installed before still serves its kernels.
    assert facts['kernels'][ABI]['packages']['hello']['status'] == 'installed'


def test_half_finished_build_is_not_built(system: SystemTree) -> None:
    """dkms killed mid-build: a kernel directory with a log and an empty module/."""
    system.kernel('6.1.0-50-amd64')
    build = system.path('/var/lib/dkms/hello/1.0/6.1.0-50-amd64/x86_64')
    (build / 'module').mkdir(parents=True)
    (build / 'log').mkdir()
    (build / 'log/make.log').write_text('make: *** [Makefile:5: all] Terminated\n')
    facts, warnings = gather(system.root)
    assert facts['kernels']['6.1.0-50-amd64']['packages']['hello']['status'] == 'missing'
    assert facts['uncovered'] == [{'kernel': '6.1.0-50-amd64', 'package': 'hello', 'version': '1.0',
                                   'status': 'missing', 'headers': True}]


def test_install_link_to_unfinished_build_is_broken(system: SystemTree) -> None:
    shutil.rmtree(system.path('/var/lib/dkms/hello/1.0/%s/x86_64/module' % ABI))
    facts, warnings = gather(system.root)
    assert facts['kernels'][ABI]['packages']['hello']['status'] == 'broken'


def test_odd_kernel_names(system: SystemTree) -> None:
    for release in ('6.1.0-47-amd64 copy', '6.1.0-47-amd64+ünïcode'):
        system.kernel(release, abi=ABI)
        system.weak_link_build(release, ABI)
    facts, warnings = gather(system.root)
    assert facts['kernels']['6.1.0-47-amd64+ünïcode']['packages']['hello']['status'] == 'weak'
    # The loader compares vermagic after the first space; a release with a space shifts it,
    # so the kernel itself would refuse the module.
    spaced = facts['kernels']['6.1.0-47-amd64 copy']['packages']['hello']
    assert spaced['status'] == 'weak-incompatible' and spaced['modules']['hello']['kabi']['vermagic'] is False
    assert warnings == []


def test_thousands_of_leftover_kernels(system: SystemTree) -> None:
    for number in range(2000):
        leftover = system.path('/lib/modules/5.10.0-%d-amd64' % number)
        (leftover / 'weak-updates').mkdir(parents=True)
        (leftover / 'modules.dep').write_text('')
    facts, warnings = gather(system.root)
    assert facts['summary'] == {'kernels': 2, 'covered': 2, 'uncovered': 0, 'packages': 1, 'unverified': 2}
    assert sum(1 for kernel in facts['kernels'].values() if kernel['stale']) == 2000
    assert facts['uncovered'] == [] and warnings == []


def _gather_as_nobody(root: Path) -> tuple[dict[str, Any], list[str]]:
    """gather() in a child process that dropped root, the result passed back by pipe."""
    # Once it is nobody the child cannot import anything where the interpreter or the venv sit
    # in a directory only root can read (/root, a clone under `mktemp -d`): load pyelftools,
    # which the reader imports lazily, before dropping root.
    pytest.importorskip('elftools.elf.elffile')
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        status = 0
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            result = gather(root)
            with os.fdopen(write_end, 'wb') as out:
                pickle.dump(result, out)
        except BaseException:  # noqa: B036 - the child must never return into pytest
            status = 1
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, 'rb') as pipe:
        data = pipe.read()
    status = os.waitpid(pid, 0)[1]
    assert status == 0, 'the unprivileged child failed'
    return pickle.loads(data)


def open_to_everyone(system: SystemTree) -> None:
    for path in system.root.rglob('*'):
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(system.root, 0o755)


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root to create files nobody can read')
def test_unreadable_files_and_directories(system: SystemTree) -> None:
    open_to_everyone(system)
    os.chmod(system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI), 0o600)
    os.chmod(system.path('/var/lib/dkms/hello/1.0/%s/x86_64/module/hello.ko' % ABI), 0o600)
    system.kernel('6.1.0-50-amd64')
    os.chmod(system.path('/lib/modules/6.1.0-50-amd64'), 0o700)
    facts, warnings = _gather_as_nobody(system.root)
    assert clone_hello(facts)['status'] == 'broken'
    assert facts['kernels'][ABI]['packages']['hello']['status'] != 'weak'
    assert any('Permission denied' in warning for warning in warnings)
    assert not facts['kernels'][CLONE]['covered']


# Hostile items, each gathered in a child process: the facts, one warning naming the item,
# the peak memory against the same tree without the item, and nothing opened outside root.

@pytest.fixture
def clean_peak_kib(system: SystemTree) -> int:
    result = gather_in_child(system.root)
    assert result['warnings'] == [] and result['outside'] == []
    return int(result['peak_kib'])


def gather_hostile(system: SystemTree, clean_peak_kib: int) -> tuple[dict[str, Any], list[str]]:
    result = gather_in_child(system.root)
    assert result['outside'] == []
    assert result['peak_kib'] - clean_peak_kib < MEMORY_BUDGET_KIB, result['peak_kib']
    return result['facts'], result['warnings']


def assert_not_covered(facts: dict[str, Any], *releases: str) -> None:
    for release in releases:
        assert facts['kernels'][release]['packages']['hello']['status'] == 'broken'
        assert not facts['kernels'][release]['covered']


def replace_with_special_files(system: SystemTree, make: Callable[[Path], None]) -> None:
    for path in (HELLO_BUILD, HELLO_COPY):
        system.path(path).unlink()
        make(system.path(path))


def test_fifos_are_never_opened(system: SystemTree, clean_peak_kib: int) -> None:
    """The installed copy and its dkms build are FIFOs without a writer: comparing them must not wait."""
    replace_with_special_files(system, os.mkfifo)
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert_not_covered(facts, ABI, CLONE)
    assert sorted(warnings) == [
        'cannot compare %s with %s: not a regular file (a FIFO), never read' % (HELLO_COPY, HELLO_BUILD),
        'weak link /lib/modules/%s/weak-updates/hello.ko -> %s: not a regular file' % (CLONE, HELLO_COPY)]


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root to make device nodes')
def test_devices_are_never_read(system: SystemTree, clean_peak_kib: int) -> None:
    """Two /dev/zero nodes (c 1 5) would compare equal forever."""
    replace_with_special_files(system, lambda path: os.mknod(path, 0o600 | 0o020000, os.makedev(1, 5)))
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert_not_covered(facts, ABI, CLONE)
    assert sorted(warnings)[0] == ('cannot compare %s with %s: not a regular file (a character device), never read'
                                   % (HELLO_COPY, HELLO_BUILD))
    assert len(warnings) == 2


def hello_with_exports(system: SystemTree) -> bytes:
    """The hello module, exporting a symbol (so it has __ksymtab_strings)."""
    return system.ko.build_ko(system.root.parent / 'exports', 'hello', vermagic='%s SMP preempt mod_unload modversions ' % ABI,
                              versions=system.kernel_crcs[ABI], exports=['hello_export']).read_bytes()


@pytest.mark.parametrize('section, size', [('.modinfo', GIB), ('__ksymtab_strings', 128 * MIB)])
def test_nobits_sections_claiming_any_size(system: SystemTree, clean_peak_kib: int, section: str, size: int) -> None:
    replace_weak_target(system, patch_section(hello_with_exports(system), section, type=SHT_NOBITS, size=size))
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert clone_hello(facts)['status'] == 'broken'
    assert warnings == ['%s: section %s claims %d bytes but has none in the file (SHT_NOBITS)'
                        % (HELLO_COPY, section, size)]


def test_an_export_list_longer_than_any_real_modules(system: SystemTree, clean_peak_kib: int) -> None:
    # Real __ksymtab_strings hold a few KiB (drm.ko's, 964 names: 12 KiB); every export is looked up in
    # each kernel's symvers, so a file claiming a million is refused, not searched for.
    limit = SECTION_LIMITS['__ksymtab_strings']
    names = b''.join(b'x%06d\0' % index for index in range(limit // 8 + 1))
    replace_weak_target(system, patch_section(hello_with_exports(system), '__ksymtab_strings', append=names))
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert clone_hello(facts)['status'] == 'broken'
    assert warnings == ["%s: section __ksymtab_strings holds %d bytes, more than any real module's (%d)"
                        % (HELLO_COPY, len(names), limit)]


@pytest.mark.parametrize('damaged', [False, True])
def test_a_damaged_symbol_table_never_makes_coverage(system: SystemTree, clean_peak_kib: int, damaged: bool) -> None:
    """A symbol the kernels do not export, which the symbol table would have to call weak: its
    weak undefined symbols all named from one 2 MiB string without a NUL (their names would add
    up to 18 MiB, and to terabytes in a file of the section limits)."""
    image = system.ko.build_ko(system.root.parent / 'gone', 'hello', vermagic='%s SMP preempt mod_unload modversions ' % ABI,
                               versions=dict(system.kernel_crcs[ABI], gone_symbol=1)).read_bytes()
    if damaged:
        weak_undefined = b''.join(struct.pack('<IBBHQQ', offset, 0x20, 0, 0, 0, 0) for offset in range(9))
        image = patch_section(patch_section(image, '.symtab', append=weak_undefined), '.strtab', append=b'A' * 2 * MIB)
    replace_weak_target(system, image)
    facts, warnings = gather_hostile(system, clean_peak_kib)
    hello = clone_hello(facts)
    assert (hello['status'], hello['covered'], hello['verified']) == ('weak-incompatible', False, not damaged)
    assert hello['modules']['hello']['kabi']['missing'] == ['gone_symbol']
    assert warnings == (['%s: the names of its symbols add up to more than %d bytes' % (HELLO_COPY, SYMBOL_NAMES_LIMIT)]
                        if damaged else [])


def test_compressed_modinfo_inflating_to_a_gibibyte(system: SystemTree, clean_peak_kib: int) -> None:
    """A real SHF_COMPRESSED .modinfo: an Elf64_Chdr claiming 1 GiB, then zlib data of zeros."""
    inflate = zlib.compressobj()
    deflated = b''.join(inflate.compress(bytes(MIB)) for dummy in range(64)) + inflate.flush()
    chdr = (1).to_bytes(4, 'little') + bytes(4) + GIB.to_bytes(8, 'little') + (1).to_bytes(8, 'little')
    image = system.path(HELLO_BUILD).read_bytes()
    replace_weak_target(system, patch_section(image, '.modinfo', append=chdr + deflated, flags=SHF_ALLOC | SHF_COMPRESSED))
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert clone_hello(facts)['status'] == 'broken'
    assert len(warnings) == 1 and "section .modinfo is compressed (SHF_COMPRESSED)" in warnings[0]


@pytest.mark.parametrize('suffix, compress', [('.gz', gzip.compress), ('.xz', lzma.compress)])
def test_module_bombs_stop_at_their_first_piece(system: SystemTree, clean_peak_kib: int, suffix: str,
                                                compress: Callable[[bytes], bytes]) -> None:
    """Zeros that inflate past the module limit: the first piece is no ELF header, so that is all it costs."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31) if suffix == '.gz' else lzma.LZMACompressor()
    bomb = b''.join(packer.compress(bytes(16 * MIB)) for dummy in range(20)) + packer.flush()
    link = system.path('/lib/modules/%s/weak-updates/hello.ko' % CLONE)
    link.unlink()
    system.path(HELLO_BUILD + suffix).write_bytes(bomb)
    os.unlink(system.path(HELLO_BUILD))
    link.with_name('hello.ko' + suffix).symlink_to(HELLO_BUILD + suffix)
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert clone_hello(facts)['status'] == 'broken'
    # Read for the weak link, and decompressed to be compared with the installed copy.
    not_elf = '%s: not an ELF file' % (HELLO_BUILD + suffix)
    assert warnings == ['cannot compare %s with %s: %s' % (HELLO_COPY, HELLO_BUILD + suffix, not_elf), not_elf]


@pytest.mark.skipif(usable_cpus() < 2, reason='modules are read ahead only beside a worker, on a second CPU')
def test_module_bombs_of_no_package_are_not_read_ahead(system: SystemTree, clean_peak_kib: int) -> None:
    """While the worker reads the dkms tree (many packages), the module reads ahead the module files
    out of tree, among them bombs no package owns (an ELF header, then 192 MiB of zeros): never
    decompressed, as the join never reads them."""
    header = bytearray(system.path(HELLO_BUILD).read_bytes()[:64])
    header[0x28:0x30] = (200 * MIB).to_bytes(8, 'little')
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(bytes(header)) + b''.join(packer.compress(bytes(16 * MIB)) for dummy in range(12)) + packer.flush()
    vendor = system.path('/lib/modules/%s/updates/vendor' % ABI)
    vendor.mkdir(parents=True)
    for number in range(READ_AHEAD_MIN):
        (vendor / ('bomb%02d.ko.gz' % number)).write_bytes(bomb)
        (vendor / ('plain%02d.ko' % number)).write_bytes(b'\x7fELF of no package')
    for number in range(MIN_PAIRS):
        system.path('/var/lib/dkms/empty%02d' % number).mkdir()     # packages with nothing registered
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert clone_hello(facts)['status'] == 'weak' and warnings == []


@pytest.mark.skipif(usable_cpus() < 2, reason='modules are read ahead only beside a worker, on a second CPU')
def test_compressed_files_of_a_modules_name_are_not_read_ahead(system: SystemTree, clean_peak_kib: int) -> None:
    """Files of a dkms module's name, compressed as its build is, in extra/ besides the copy dkms
    installed: compared with the build (by a worker: there are many), never read by the join,
    which finds the copy first; two are bombs (an ELF header, then 192 MiB of zeros)."""
    system.package('gz', '1.0', ['gz'])
    built = system.build('gz', '1.0', ABI, compress='.gz')
    header = bytearray(gzip.decompress(built[0].read_bytes())[:64])
    header[0x28:0x30] = (200 * MIB).to_bytes(8, 'little')
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(bytes(header)) + b''.join(packer.compress(bytes(16 * MIB)) for dummy in range(12)) + packer.flush()
    for number in range(MIN_PAIRS):
        stale = system.path('/lib/modules/%s/extra/stale%02d/gz.ko.gz' % (ABI, number))
        stale.parent.mkdir(parents=True)
        stale.write_bytes(bomb if number < 2 else gzip.compress(b'\x7fELF stale %d' % number))
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert facts['kernels'][ABI]['packages']['gz']['status'] == 'installed' and warnings == []


def sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'wb') as handle:
        handle.truncate(size)


@pytest.mark.parametrize('in_root', ['/lib/modules/%s/build/Module.symvers' % CLONE,
                                     '/lib/modules/%s/modules.order' % CLONE,
                                     '/etc/dkms/framework.conf'])
def test_two_gib_sparse_files_are_refused_by_size(system: SystemTree, clean_peak_kib: int, in_root: str) -> None:
    sparse(system.path(in_root), 2 * GIB)
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert [warning for warning in warnings if in_root in warning] == [
        'cannot read %s: larger than %d bytes, the limit for this kind of file'
        % (in_root, {'Module.symvers': 8 * MIB, 'modules.order': 4 * MIB, 'framework.conf': MIB}[in_root.rsplit('/', 1)[1]])]
    if in_root.endswith('Module.symvers'):
        # Nothing to judge against: no verdict, never a guessed one.
        assert clone_hello(facts)['modules']['hello']['kabi'] is None
    else:
        assert clone_hello(facts)['status'] == 'weak'


def test_gzipped_newlines_symvers(system: SystemTree, clean_peak_kib: int) -> None:
    """65 KB of gzip that inflates to 64 MiB of newlines: refused at the symvers limit, no verdict."""
    symvers = system.path('/lib/modules/%s/build/Module.symvers' % CLONE)
    symvers.unlink()
    system.path('/boot/symvers-%s.gz' % CLONE).write_bytes(gzip.compress(b'\n' * 64 * MIB, 9))
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert warnings == ['/boot/symvers-%s.gz: decompresses to more than %d bytes, more than any real file of its '
                        'kind' % (CLONE, 8 * MIB)]
    # Damaged evidence is never coverage: no verdict, not covered, not verified.
    assert (clone_hello(facts)['status'], clone_hello(facts)['verified']) == ('broken', False)
    assert clone_hello(facts)['modules']['hello']['kabi'] is None


def test_symvers_without_exports(system: SystemTree, clean_peak_kib: int) -> None:
    system.path('/lib/modules/%s/build/Module.symvers' % CLONE).write_bytes(b'\n' * 4 * MIB)
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert warnings == ['/lib/modules/%s/build/Module.symvers: not a symvers file, no line exports a symbol' % CLONE]
    assert clone_hello(facts)['modules']['hello']['kabi'] is None


def test_thousands_of_nested_directories(system: SystemTree, clean_peak_kib: int) -> None:
    # Deeper than PATH_MAX: made one directory at a time relative to its parent.
    fd = os.open(system.path('/lib/modules/%s/weak-updates' % CLONE), os.O_RDONLY | os.O_DIRECTORY)
    for dummy in range(3000):
        os.mkdir('d', dir_fd=fd)
        parent, fd = fd, os.open('d', os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(parent)
    os.close(fd)
    try:
        facts, warnings = gather_hostile(system, clean_peak_kib)
    finally:
        # Python's rmtree recurses once per level; rm does not.
        subprocess.run(['rm', '-rf', str(system.path('/lib/modules/%s/weak-updates/d' % CLONE))], check=True)
    assert clone_hello(facts)['status'] == 'weak'
    assert len(warnings) == 1 and warnings[0].endswith('more than 128 directories deep')


def test_a_hundred_thousand_weak_links(system: SystemTree, clean_peak_kib: int) -> None:
    """Issue 12's case, within the memory budget: one listing and one link read per entry, each
    link resolved from the directories already seen."""
    weak = os.open(system.path('/lib/modules/%s/weak-updates' % CLONE), os.O_RDONLY | os.O_DIRECTORY)
    try:
        for index in range(100000):
            os.symlink(HELLO_COPY, 'stray%d.ko' % index, dir_fd=weak)
    finally:
        os.close(weak)
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert clone_hello(facts)['status'] == 'weak'
    assert warnings == ['/lib/modules/%s/weak-updates holds 100001 module files, more than any kernel has modules '
                        '(20000); all are read, which takes time' % CLONE]


def test_names_that_are_not_utf8(system: SystemTree, clean_peak_kib: int) -> None:
    root = os.fsencode(str(system.root))
    os.makedirs(root + b'/var/lib/dkms/bad\xff/1.0')
    os.makedirs(root + b'/var/lib/dkms/hello/1.\xfe')
    os.symlink(HELLO_COPY, root + os.fsencode('/lib/modules/%s/weak-updates/' % CLONE) + b'x\xfd.ko')
    facts, warnings = gather_hostile(system, clean_peak_kib)
    assert sorted(facts['packages']) == ['hello'] and facts['packages']['hello']['versions'] == ['1.0']
    assert len(warnings) == 3 and all('not valid UTF-8' in warning for warning in warnings)


def test_dkms_tree_that_cannot_be_one(system: SystemTree) -> None:
    system.path('/etc/dkms').mkdir(parents=True)
    system.path('/etc/dkms/framework.conf').write_text('dkms_tree="/"\n')
    facts, warnings = gather(system.root)
    assert sorted(facts['packages']) == ['hello']
    assert warnings == ['dkms_tree=/ in /etc/dkms/framework.conf cannot be a dkms tree; using /var/lib/dkms']


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root to make a directory nobody can read')
def test_unreadable_etc_dkms(system: SystemTree) -> None:
    open_to_everyone(system)
    system.path('/etc/dkms').mkdir(parents=True)
    system.path('/etc/dkms/framework.conf').write_text('dkms_tree="/srv/dkms"\n')
    os.chmod(system.path('/etc/dkms'), 0o700)
    facts, warnings = _gather_as_nobody(system.root)
    assert warnings == ["cannot read /etc/dkms: [Errno 13] Permission denied: 'dkms'; dkms's default locations are used"]
    assert clone_hello(facts)['status'] == 'weak'


def test_memory_error_in_one_item_is_a_warning(system: SystemTree) -> None:
    """An ELF header claiming its section table near the module limit, then zeros: under a memory
    limit smaller than the image the read runs out of memory, and only that item says so."""
    header = bytearray(system.path(HELLO_BUILD).read_bytes()[:64])
    header[0x28:0x30] = (200 * MIB).to_bytes(8, 'little')
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(bytes(header)) + b''.join(packer.compress(bytes(16 * MIB)) for dummy in range(14))
    link = system.path('/lib/modules/%s/weak-updates/hello.ko' % CLONE)
    link.unlink()
    system.path(HELLO_BUILD + '.gz').write_bytes(bomb + packer.flush())
    os.unlink(system.path(HELLO_BUILD))
    link.with_name('hello.ko.gz').symlink_to(HELLO_BUILD + '.gz')
    result = gather_in_child(system.root, memory_limit=200 * MIB)
    assert clone_hello(result['facts'])['status'] == 'broken'
    # The installed copy is compared with no more of the build than its own size: they differ.
    assert result['warnings'] == ['%s.gz: ran out of memory while reading it' % HELLO_BUILD]


def test_swapping_a_module_for_a_link_to_a_host_file(system: SystemTree, ko_builder: KoBuilder) -> None:
    """While facts are gathered over and over, the module the weak link reaches flips between
    itself and an absolute link to a host module built for another kernel (atomic renames):
    no run opens anything outside root, and none reads that module."""
    host = ko_builder.build_ko(system.root.parent / 'host', 'hello', vermagic='9.9.9-host SMP preempt mod_unload ',
                               versions={'module_layout': 1})
    result = gather_during_swaps(system.root, system.path(HELLO_COPY), host, runs=100)
    assert result['outside'] == []
    # Inside root the link dangles (broken) or the module is itself (weak); the host's module would
    # be weak-incompatible.
    assert '%s/hello/weak-incompatible' % CLONE not in result['statuses']
    assert '%s/hello/weak' % CLONE in result['statuses']
