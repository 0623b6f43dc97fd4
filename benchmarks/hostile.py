# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each hostile item of issue 12 costs the fact gathering: wall time, peak RSS, first warning.

    PYTHONPATH=build .venv/core221/bin/python benchmarks/hostile.py [--before DIR] [--race-runs N]

Each case is the sound hello tree of tests/unit/plugins/module_utils/test_hostile_trees.py with one
hostile item, gathered once in a child process (tests/unit/gather_probe.py) under a memory cap and a
timeout, so a case that hangs or eats memory is reported as such instead of taking the machine.
``--before DIR`` also runs every case against another copy of the collection (a directory holding
``ansible_collections/kabi/dkms``), for a before/after table. Slow and memory-hungry by design: not
part of the unit stage.
"""

from __future__ import annotations

import argparse
import gzip
import lzma
import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

from ansible_collections.kabi.dkms.plugins.module_utils._efivars import EFI_GLOBAL_VARIABLE
from ansible_collections.kabi.dkms.plugins.module_utils._systemd_boot import LOADER_GUID
from ansible_collections.kabi.dkms.tests.unit.boot_fixtures import SYSTEMD_BOOT, unpacked
from ansible_collections.kabi.dkms.tests.unit.gather_probe import gather_during_swaps, gather_in_child
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import SHF_ALLOC, SHF_COMPRESSED, SHT_NOBITS, KoBuilder, patch_section
from ansible_collections.kabi.dkms.tests.unit.system_trees import SystemTree, hello_weak_linked

ABI = '6.1.0-47-amd64'
CLONE = ABI + '+clone'
MIB = 1024 ** 2
GIB = 1024 ** 3
COPY = '/lib/modules/%s/updates/dkms/hello.ko' % ABI
BUILD = '/var/lib/dkms/hello/1.0/%s/x86_64/module/hello.ko' % ABI
MEMORY_CAP = 1536 * MIB
TIMEOUT = 60


def sound_tree(top: Path, ko: KoBuilder) -> SystemTree:
    return hello_weak_linked(top / 'root', ko, ABI, CLONE)


def both_modules(system: SystemTree, data: bytes) -> None:
    for path in (BUILD, COPY):
        system.path(path).write_bytes(data)


def special_files(make: Callable[[Path], None]) -> Callable[[SystemTree], None]:
    def damage(system: SystemTree) -> None:
        for path in (BUILD, COPY):
            system.path(path).unlink()
            make(system.path(path))
    return damage


def nobits(section: str, size: int) -> Callable[[SystemTree], None]:
    def damage(system: SystemTree) -> None:
        image = system.ko.build_ko(system.root.parent / 'exports', 'hello', vermagic='%s SMP preempt mod_unload '
                                   'modversions ' % ABI, versions=system.kernel_crcs[ABI],
                                   exports=['hello_export']).read_bytes()
        both_modules(system, patch_section(image, section, type=SHT_NOBITS, size=size))
    return damage


def compressed_modinfo(system: SystemTree) -> None:
    packer = zlib.compressobj(9)
    deflated = b''.join(packer.compress(bytes(64 * MIB)) for dummy in range(16)) + packer.flush()
    chdr = (1).to_bytes(4, 'little') + bytes(4) + GIB.to_bytes(8, 'little') + (1).to_bytes(8, 'little')
    both_modules(system, patch_section(system.path(BUILD).read_bytes(), '.modinfo', append=chdr + deflated,
                                       flags=SHF_ALLOC | SHF_COMPRESSED))


def module_bomb(system: SystemTree) -> None:
    """A .ko.gz of zeros inflating to 1 GiB, the weak link pointed at it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b''.join(packer.compress(bytes(64 * MIB)) for dummy in range(16)) + packer.flush()
    system.path(BUILD + '.gz').write_bytes(bomb)
    link = system.path('/lib/modules/%s/weak-updates/hello.ko' % CLONE)
    link.unlink()
    link.with_name('hello.ko.gz').symlink_to(BUILD + '.gz')


def far_section_table(compressed: bool) -> Callable[[SystemTree], None]:
    """A module whose ELF header puts its section table at 250 MiB, the rest zeros: a sparse
    .ko, or a .ko.gz inflating to those 250 MiB."""
    def damage(system: SystemTree) -> None:
        header = bytearray(system.path(BUILD).read_bytes()[:64])
        header[0x28:0x30] = (250 * MIB).to_bytes(8, 'little')
        if not compressed:
            both_modules(system, bytes(header))
            for path in (BUILD, COPY):
                os.truncate(system.path(path), 256 * MIB - 4096)
            return
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        bomb = packer.compress(bytes(header)) + b''.join(packer.compress(bytes(MIB)) for dummy in range(255))
        system.path(BUILD + '.gz').write_bytes(bomb + packer.flush())
        os.unlink(system.path(BUILD))
        link = system.path('/lib/modules/%s/weak-updates/hello.ko' % CLONE)
        link.unlink()
        link.with_name('hello.ko.gz').symlink_to(BUILD + '.gz')
    return damage


def kmod_program(write: Callable[[Path], None]) -> Callable[[SystemTree], None]:
    """The weak link's module compressed with a CRC64 xz check, on a kernel that decompresses xz
    modules itself: the kmod program, which ``write`` makes, is read to tell whether it loads."""
    def damage(system: SystemTree) -> None:
        with system.path('/lib/modules/%s/build/.config' % CLONE).open('a') as config:
            config.write('CONFIG_MODULE_COMPRESS_XZ=y\nCONFIG_MODULE_DECOMPRESS=y\n')
        system.path(BUILD + '.xz').write_bytes(lzma.compress(system.path(BUILD).read_bytes(), check=lzma.CHECK_CRC64))
        link = system.path('/lib/modules/%s/weak-updates/hello.ko' % CLONE)
        link.unlink()
        link.with_name('hello.ko.xz').symlink_to(BUILD + '.xz')
        program = system.path('/usr/bin/kmod')
        program.parent.mkdir(parents=True, exist_ok=True)
        write(program)
    return damage


def near_matches(program: Path) -> None:
    """8 MiB of near matches of the version literal, 8 MiB of the features literal."""
    program.write_bytes(b'kmod version 111111.111111.111111.111111' * (8 * MIB // 40)
                        + (b'\0+XZ' + b' +A' * 40) * (8 * MIB // 124))


def sparse_program(program: Path) -> None:
    with open(program, 'wb') as handle:
        handle.truncate(2 * GIB)


def huge_versions(system: SystemTree) -> None:
    """A __versions section of 200 MiB of real bytes: 3.3 million imports, none real."""
    both_modules(system, patch_section(system.path(BUILD).read_bytes(), '__versions', append=bytes(200 * MIB)))


def many_exports(count: int) -> Callable[[SystemTree], None]:
    """A __ksymtab_strings section of ``count`` names the module claims to export (8 bytes each)."""
    def damage(system: SystemTree) -> None:
        names = b''.join(b'x%06d\0' % index for index in range(count))
        both_modules(system, patch_section(system.path(BUILD).read_bytes(), '__ksymtab_strings', append=names))
    return damage


def sparse(in_root: str, size: int = 2 * GIB) -> Callable[[SystemTree], None]:
    def damage(system: SystemTree) -> None:
        path = system.path(in_root)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, 'wb') as handle:
            handle.truncate(size)
    return damage


def newline_symvers(system: SystemTree) -> None:
    system.path('/lib/modules/%s/build/Module.symvers' % CLONE).unlink()
    system.path('/boot/symvers-%s.gz' % CLONE).write_bytes(gzip.compress(b'\n' * 64 * MIB, 9))


def nested(depth: int) -> Callable[[SystemTree], None]:
    def damage(system: SystemTree) -> None:
        fd = os.open(system.path('/lib/modules/%s/weak-updates' % CLONE), os.O_RDONLY | os.O_DIRECTORY)
        for dummy in range(depth):
            os.mkdir('d', dir_fd=fd)
            parent, fd = fd, os.open('d', os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(parent)
        os.close(fd)
    return damage


def many_links(count: int) -> Callable[[SystemTree], None]:
    def damage(system: SystemTree) -> None:
        weak = system.path('/lib/modules/%s/weak-updates' % CLONE)
        for index in range(count):
            os.symlink(COPY, weak / ('stray%d.ko' % index))
    return damage


def many_namesakes(count: int) -> Callable[[SystemTree], None]:
    """``count`` weak links named hello.ko, each in its own directory, all to the installed copy."""
    def damage(system: SystemTree) -> None:
        weak = system.path('/lib/modules/%s/weak-updates' % CLONE)
        for index in range(count):
            (weak / ('d%d' % index)).mkdir()
            os.symlink(COPY, weak / ('d%d' % index) / 'hello.ko')
    return damage


def many_grub_variables(system: SystemTree) -> None:
    """A 4 MiB grub.cfg that tests and sets 100,000 variables, and a BLS entry whose options use 8,000 of them."""
    names = ['v%d' % index for index in range(100000)]
    text = ''.join('if [ -z "${%s}" ]; then set %s=a; fi\n' % (name, name) for name in names)
    system.path('/boot/grub2').mkdir(parents=True, exist_ok=True)
    system.path('/boot/grub2/grub.cfg').write_text(text[:text.rindex('\n', 0, 4 * MIB - 8) + 1] + 'blscfg\n')
    entries = system.path('/boot/loader/entries')
    entries.mkdir(parents=True, exist_ok=True)
    options = ' '.join('$' + name for name in names[:8000])
    (entries / ('m-%s.conf' % CLONE)).write_text('linux /vmlinuz-%s\noptions %s\n' % (CLONE, options))


def many_kernels(bls: bool) -> Callable[[SystemTree], None]:
    """2,000 kernel directories and a 4 MiB grub.cfg: each kernel with a BLS entry that uses a
    variable grub.cfg sets (``bls``), else a menu entry of grub.cfg that boots it."""
    def damage(system: SystemTree) -> None:
        releases = ['6.1.0-%d-amd64' % (1000 + index) for index in range(2000)]
        entries = system.path('/boot/loader/entries')
        entries.mkdir(parents=True, exist_ok=True)
        for release in releases:
            system.path('/lib/modules/%s/kernel' % release).mkdir(parents=True)
            if bls:
                (entries / ('m-%s.conf' % release)).write_text('linux /vmlinuz-%s\noptions $kernelopts quiet\n' % release)
        menu = ''.join("menuentry '%s' {\n  linux /vmlinuz-%s root=/dev/sda1 ro $extra\n}\n" % (release, release)
                       for release in releases)
        filler = 'set kernelopts="root=/dev/sda1 ro"\nset extra=quiet\n' * 60000
        system.path('/boot/grub2').mkdir(parents=True, exist_ok=True)
        system.path('/boot/grub2/grub.cfg').write_text((filler + ('blscfg\n' if bls else menu))[-4 * MIB + 8:])
    return damage


def long_entry_names(system: SystemTree) -> None:
    """2,000 BLS entries whose 60 KiB titles, and the grubenv's saved_entry, differ only at their end."""
    prefix = 'x' * (60 * 1024)
    entries = system.path('/boot/loader/entries')
    entries.mkdir(parents=True, exist_ok=True)
    for index in range(2000):
        release = '6.1.0-%d-amd64' % (1000 + index)
        (entries / ('m-%s.conf' % release)).write_text('title %s%d\nlinux /vmlinuz-%s\n' % (prefix, index, release))
    system.path('/boot/grub2').mkdir(parents=True, exist_ok=True)
    system.path('/boot/grub2/grub.cfg').write_text('load_env\nset default="${saved_entry}"\nblscfg\n')
    system.path('/boot/grub2/grubenv').write_text('# GRUB Environment Block\nsaved_entry=%sy\n' % prefix)


def systemd_boot(system: SystemTree) -> None:
    """systemd-boot on the ESP with its EFI variables visible (Debian's loader, which
    scripts/bootstrap.sh unpacks)."""
    loader = unpacked(SYSTEMD_BOOT)
    if loader is None:
        raise SystemExit('hostile: no systemd-boot loader: run scripts/bootstrap.sh --for units')
    system.path('/boot/efi/EFI/systemd').mkdir(parents=True)
    system.path('/boot/efi/EFI/systemd/systemd-bootx64.efi').write_bytes(loader.read_bytes())
    efi_variable(system, 'LoaderInfo-' + LOADER_GUID, 'systemd-boot 252'.encode('utf-16-le'))


def efi_variable(system: SystemTree, name: str, data: bytes) -> None:
    path = system.path('/sys/firmware/efi/efivars/' + name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'\x07\0\0\0' + data)


def many_systemd_boot_entries(system: SystemTree) -> None:
    """1,024 entries on the ESP (the most it reads) and patterns of 4,096 characters that match none."""
    systemd_boot(system)
    entries = system.path('/boot/efi/loader/entries')
    entries.mkdir(parents=True)
    for index in range(1024):
        release = '6.1.0-%d-amd64' % (1000 + index)
        (entries / ('debian-%s.conf' % release)).write_text('sort-key debian\nversion %s\nlinux /k/%s\n' % (release, release))
        system.path('/boot/efi/k').mkdir(exist_ok=True)
        system.path('/boot/efi/k/' + release).write_text('image')
    pattern = '*a' * 2047 + '?'
    system.path('/boot/efi/loader/loader.conf').write_text('default %s\n' % pattern)
    for name in ('LoaderEntryDefault', 'LoaderEntryOneShot'):
        efi_variable(system, '%s-%s' % (name, LOADER_GUID), (pattern + '\0').encode('utf-16-le'))


def long_boot_order(system: SystemTree) -> None:
    """A grub.cfg beside systemd-boot, and a BootOrder of 32,000 entries whose Boot#### are damaged."""
    systemd_boot(system)
    system.path('/boot/grub').mkdir(parents=True, exist_ok=True)
    system.path('/boot/grub/grub.cfg').write_text("menuentry 'Debian' {\n  linux /vmlinuz-%s\n}\n" % ABI)
    efi_variable(system, 'BootOrder-' + EFI_GLOBAL_VARIABLE, struct.pack('<32000H', *range(32000)))
    for number in range(0, 32000, 50):
        efi_variable(system, 'Boot%04X-%s' % (number, EFI_GLOBAL_VARIABLE), b'\1\0\0\0\xff\xff' + b'x' * 64)


def hostile_conf(body: str) -> Callable[[SystemTree], None]:
    """hello's dkms.conf with ``body`` before its own lines."""
    def damage(system: SystemTree) -> None:
        conf = system.path('/usr/src/hello-1.0/dkms.conf')
        conf.write_text(body + conf.read_text())
    return damage


CASES: list[tuple[str, Callable[[SystemTree], None]]] = [
    ('clean tree', lambda system: None),
    ('installed copy and build are FIFOs', special_files(os.mkfifo)),
    ('installed copy and build are /dev/zero (c 1 5)',
     special_files(lambda path: os.mknod(path, 0o600 | 0o020000, os.makedev(1, 5)))),
    ('.modinfo SHT_NOBITS of 1 GiB', nobits('.modinfo', GIB)),
    ('__ksymtab_strings SHT_NOBITS of 128 MiB', nobits('__ksymtab_strings', 128 * MIB)),
    ('.modinfo SHF_COMPRESSED inflating to 1 GiB', compressed_modinfo),
    ('.ko.gz bomb (1 GiB of zeros)', module_bomb),
    ('ELF header with the section table at 250 MiB (sparse .ko)', far_section_table(False)),
    ('.ko.gz: ELF header with the section table at 250 MiB, then zeros', far_section_table(True)),
    ('__versions of 200 MiB', huge_versions),
    ('__ksymtab_strings of 131,000 exports (1,000 KiB)', many_exports(131000)),
    ('__ksymtab_strings of a million exports (7.6 MiB)', many_exports(1000000)),
    ('kmod program of 16 MiB of near matches, read for a CRC64 .ko.xz', kmod_program(near_matches)),
    ('kmod program of 2 GiB, sparse, read for a CRC64 .ko.xz', kmod_program(sparse_program)),
    ('2 GiB sparse Module.symvers', sparse('/lib/modules/%s/build/Module.symvers' % CLONE)),
    ('2 GiB sparse modules.order', sparse('/lib/modules/%s/modules.order' % CLONE)),
    ('2 GiB sparse framework.conf', sparse('/etc/dkms/framework.conf')),
    ('65 KB gzipped symvers of newlines', newline_symvers),
    ('1,200 nested directories in weak-updates', nested(1200)),
    ('3,000 nested directories in weak-updates', nested(3000)),
    ('100,000 weak links', many_links(100000)),
    ('20,000 weak links of one module name', many_namesakes(20000)),
    ('4 MiB grub.cfg of conditions, a BLS entry using 8,000 of its variables', many_grub_variables),
    ('2,000 kernels with a BLS entry each, 4 MiB grub.cfg', many_kernels(True)),
    ('2,000 kernels in a 4 MiB grub.cfg', many_kernels(False)),
    ('2,000 BLS entries with 60 KiB titles that saved_entry nearly names', long_entry_names),
    ('systemd-boot: 1,024 entries, default patterns of 4,096 characters', many_systemd_boot_entries),
    ('systemd-boot beside GRUB: BootOrder of 32,000 entries, damaged Boot####', long_boot_order),
    ('dkms.conf: an array of 32,000 elements (64 KB)', hostile_conf('MAKE=(' + 'a ' * 32000 + ')\n')),
    ('dkms.conf: command substitutions nested 1,000 deep', hostile_conf('X="' + '$(' * 1000 + ':' + ')' * 1000 + '"\n')),
    ('dkms.conf: 5,000 here-documents in command substitutions',
     hostile_conf("X=$(cat <<'E'\n)'\nE\n)\n" * 5000)),
    ('dkms.conf: a module record at index 999,999,999', hostile_conf('BUILT_MODULE_NAME[999999999]=x\n')),
]


def measure(root: Path, pythonpath: str | None) -> str:
    try:
        result = gather_in_child(root, timeout=TIMEOUT, memory_limit=MEMORY_CAP, pythonpath=pythonpath)
    except subprocess.TimeoutExpired:
        return '| hang (killed after %d s) | | |' % TIMEOUT
    except AssertionError as exc:
        last = str(exc).strip().splitlines()[-1][:80]
        return '| failed | | host fails: `%s` |' % last
    warnings = result['warnings']
    shown = (warnings[0][:90] + ('...' if len(warnings[0]) > 90 else '')) if warnings else '(none)'
    if len(warnings) > 1:
        shown += ' (+%d more)' % (len(warnings) - 1)
    return '| %.2f s | %d MiB | %s |' % (result['seconds'], result['peak_kib'] // 1024, shown.replace('|', '/'))


def race(top: Path, ko: KoBuilder, runs: int, pythonpath: str | None) -> str:
    """The weak link's module flips between itself and an absolute link to a host module."""
    system = sound_tree(top / 'race', ko)
    host = ko.build_ko(top / 'race-host', 'hello', vermagic='9.9.9-host SMP preempt mod_unload ',
                       versions={'module_layout': 1})
    result = gather_during_swaps(system.root, system.path(COPY), host, runs, pythonpath, timeout=30 * TIMEOUT)
    incompatible = '%s/hello/weak-incompatible' % CLONE in result['statuses']
    return '| %.1f s | %d MiB | %d paths opened outside root%s |' % (
        result['seconds'], result['peak_kib'] // 1024, len(result['outside']),
        ', the host module was read' if incompatible else '')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--before', help='another copy of the collection to compare with')
    parser.add_argument('--race-runs', type=int, default=1000, help='0 skips the race')
    parser.add_argument('--only', default='', help='only the cases whose label holds this text')
    args = parser.parse_args()
    ko = KoBuilder(Path(tempfile.gettempdir()) / 'kabi-hostile-bench-ko')
    versions = [('after', None)] + ([('before', args.before)] if args.before else [])
    print('| case | ' + ' | '.join('%s: wall | %s: peak RSS | %s: warning' % (name, name, name)
                                   for name, dummy in versions) + ' |')
    print('|---|' + '---|---|---|' * len(versions))
    for label, damage in CASES:
        if args.only not in label:
            continue
        top = Path(tempfile.mkdtemp(prefix='kabi-hostile-bench-'))
        try:
            system = sound_tree(top, ko)
            damage(system)
            cells = [measure(system.root, path)[1:] for name, path in versions]
            print('| %s |%s' % (label, '|'.join(cell[:-1] for cell in cells) + '|'), flush=True)
        finally:
            subprocess.run(['rm', '-rf', str(top)], check=True)
    if not args.race_runs:
        return
    top = Path(tempfile.mkdtemp(prefix='kabi-hostile-bench-'))
    try:
        cells = [race(top / name, ko, args.race_runs, path)[1:] for name, path in versions]
        print('| swap race, %d runs |%s' % (args.race_runs, '|'.join(cell[:-1] for cell in cells) + '|'))
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == '__main__':
    main()
