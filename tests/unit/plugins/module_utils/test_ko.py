# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The .ko reader on real gcc-built ELF modules, through pyelftools and through kmod."""

from __future__ import annotations

import gzip
import lzma
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils import _ko
from ansible_collections.kabi.dkms.plugins.module_utils._commands import SBIN_DIRS, find_command
from ansible_collections.kabi.dkms.plugins.module_utils._elftools_adapter import load_adapter
from ansible_collections.kabi.dkms.plugins.module_utils._ko import (
    KoError, KoNotRead, KoReader, KoTooLarge, KoUnreadableHere, ModuleInfo, parse_ext_versions, parse_versions)
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import (
    COMPRESSORS, DEFAULT_VERMAGIC, THIS_MODULE_SIZE, KoBuilder, change_elftools_definitions, hide_elffile, patch_section,
    module_source, python_zstd)
from ansible_collections.kabi.dkms.tests.unit.module_runner import run_command
from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import rsa_key, sign_module

HAS_KMOD = bool(find_command('modinfo') and find_command('modprobe'))
READERS = [
    'pyelftools',
    pytest.param('kmod', marks=pytest.mark.skipif(not HAS_KMOD, reason='kmod (modinfo, modprobe) is not installed')),
]
VERSIONS = {'module_layout': 0x4B0A3F52, '_printk': 0x92997ED8, 'kfree': 0x037A0CBA, 'high_bit': 0xFFFFFFFF}

if TYPE_CHECKING:  # named in annotations only: Python 3.6 cannot subscript these at run time
    Runner = Callable[[list[str]], tuple[int, str, str]]


class RecordingRunner:
    """The real runner, remembering every argv it ran."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(argv)
        return run_command(argv)

    def ran(self, command: str) -> int:
        return sum(1 for argv in self.calls if os.path.basename(argv[0]) == command)


@pytest.fixture(params=READERS)
def reader_name(request: pytest.FixtureRequest) -> str:
    return request.param


def read(root: Path, path: str, reader: str, runner: Runner = run_command) -> ModuleInfo:
    return KoReader(RootFS(str(root)), runner=runner, reader=reader).read(path)


def assert_hello(info: ModuleInfo, reader: str) -> None:
    assert info.name == 'hello'
    assert info.vermagic == DEFAULT_VERMAGIC
    assert info.depends == ['dep_a', 'dep_b']
    assert info.license == 'GPL'
    assert info.versions == list(VERSIONS.items())
    assert info.has_versions_section is True
    assert info.elf_class == 64
    assert info.little_endian is True
    assert info.machine == ('EM_X86_64' if reader == 'pyelftools' else None)
    assert info.this_module_size == THIS_MODULE_SIZE


@pytest.fixture
def hello(ko_builder: KoBuilder, tmp_path: Path) -> Path:
    return ko_builder.build_ko(tmp_path / 'lib/modules/6.1.0-47-amd64/updates/dkms', 'hello',
                               versions=VERSIONS, depends=['dep_a', 'dep_b'])


HELLO = '/lib/modules/6.1.0-47-amd64/updates/dkms/hello.ko'


def test_reads_plain_module(hello: Path, tmp_path: Path, reader_name: str) -> None:
    assert_hello(read(tmp_path, HELLO, reader_name), reader_name)


@pytest.mark.parametrize('compression', sorted(COMPRESSORS))
def test_reads_compressed_module(hello: Path, tmp_path: Path, reader_name: str, compression: str) -> None:
    assert read(tmp_path, HELLO, reader_name).compression is None
    COMPRESSORS[compression](hello)
    hello.unlink()
    info = read(tmp_path, HELLO + '.' + compression, reader_name)
    assert_hello(info, reader_name)
    # Told by its magic, as kmod tells it.
    assert info.compression == {'gz': 'gzip', 'xz': 'xz', 'zst': 'zstd'}[compression]


def test_the_xz_check_it_names(hello: Path, tmp_path: Path, reader_name: str) -> None:
    """The integrity check of an xz stream (the kernel's own xz decoder takes CRC32 or none)."""
    plain = hello.read_bytes()
    assert read(tmp_path, HELLO, reader_name).xz_check is None
    for check, expected in ((lzma.CHECK_CRC32, 1), (lzma.CHECK_CRC64, 4), (lzma.CHECK_SHA256, 10),
                            (lzma.CHECK_NONE, 0)):
        hello.with_name('hello.ko.xz').write_bytes(lzma.compress(plain, check=check))
        assert read(tmp_path, HELLO + '.xz', reader_name).xz_check == expected
    COMPRESSORS['gz'](hello)
    assert read(tmp_path, HELLO + '.gz', reader_name).xz_check is None


@pytest.mark.parametrize('compression', ['gz', 'xz'])
def test_the_image_the_loader_gets(hello: Path, tmp_path: Path, compression: str) -> None:
    plain = hello.read_bytes()
    COMPRESSORS[compression](hello)
    reader = KoReader(RootFS(str(tmp_path)))
    for path in (HELLO, HELLO + '.' + compression):
        assert reader.image(path) == plain
        # Asked for no more than some bytes, it stops once the image is larger.
        with pytest.raises(KoTooLarge):
            reader.image(path, limit=len(plain) - 1)
    with pytest.raises(KoError, match='cannot read'):
        reader.image(HELLO + '.missing')


@pytest.mark.parametrize('compression', sorted(COMPRESSORS))
def test_sniffs_content_not_name(hello: Path, tmp_path: Path, reader_name: str, compression: str) -> None:
    # A compressed file named .ko, and a plain one named as if compressed.
    COMPRESSORS[compression](hello).rename(hello.with_name('packed.ko'))
    hello.rename(hello.with_name('plain.ko.' + compression))
    directory = os.path.dirname(HELLO)
    assert_hello(read(tmp_path, directory + '/packed.ko', reader_name), reader_name)
    assert_hello(read(tmp_path, directory + '/plain.ko.' + compression, reader_name), reader_name)


@pytest.mark.parametrize('compression', sorted(COMPRESSORS))
@pytest.mark.parametrize('tail', ['another stream', 'garbage', 'padding'])
def test_bytes_after_the_first_stream(hello: Path, tmp_path: Path, reader_name: str, compression: str,
                                      tail: str) -> None:
    """The kernel's own decompression stops at the end of the first stream and kmod's reads on:
    where what follows makes the image the loader gets unknown, the file is damage, never read as
    the first stream alone. What every reader passes over is read: after gzip, anything that does
    not start another member; after xz, stream padding (NULs in fours)."""
    packed = COMPRESSORS[compression](hello)
    first = packed.read_bytes()
    packed.write_bytes(first + {'another stream': first, 'garbage': b'\x01garbage', 'padding': b'\0' * 8}[tail])
    if tail == 'garbage' and compression == 'gz' or tail == 'padding' and compression in ('gz', 'xz'):
        assert_hello(read(tmp_path, HELLO + '.' + compression, reader_name), reader_name)
    else:
        # The zstd command reads every frame, and fails on what is not one.
        expected = 'follow the end of its' if tail == 'another stream' or compression != 'zst' else 'zstd'
        with pytest.raises(KoError, match='^%s: .*%s' % (HELLO + '.' + compression, expected)):
            read(tmp_path, HELLO + '.' + compression, reader_name)
    if compression == 'xz':
        packed.write_bytes(first + b'\0' * 6)  # not padding: liblzma refuses it
        with pytest.raises(KoError, match='6 bytes follow the end of its xz stream'):
            read(tmp_path, HELLO + '.' + compression, reader_name)
    # The stream alone is read.
    packed.write_bytes(first)
    assert_hello(read(tmp_path, HELLO + '.' + compression, reader_name), reader_name)


def test_a_zstd_frame_that_does_not_tell_its_size(hello: Path, tmp_path: Path, reader_name: str) -> None:
    """zstd compressing a pipe writes no size: kmod 34 refuses such a frame, the kernel reads it,
    and what follows it (another frame) could not be told from it once decompressed."""
    command = find_command('zstd')
    if command is None:
        pytest.skip('the zstd command is not installed')
    with hello.open('rb') as stdin:
        piped = subprocess.run([command, '-q', '-c'], check=True, stdin=stdin, stdout=subprocess.PIPE).stdout
    packed = hello.with_name('hello.ko.zst')
    for content in (piped, piped + COMPRESSORS['zst'](hello).read_bytes()):
        packed.write_bytes(content)
        with pytest.raises(KoError, match='its zstd frame does not tell its size, which kmod refuses'):
            read(tmp_path, HELLO + '.zst', reader_name)


@pytest.mark.parametrize('flag', [0x02, 0x04, 0x10])
def test_gzip_header_the_kernel_cannot_skip(hello: Path, tmp_path: Path, reader_name: str, flag: int) -> None:
    """A gzip header with a comment, extra field or header CRC: kmod reads it, the kernel's
    module decompression (it skips a file name only) does not."""
    fields = {0x02: b'\x00\x00', 0x04: b'\x03\x00abc', 0x10: b'made by hand\x00'}[flag]
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    plain = hello.read_bytes()
    body = deflate.compress(plain) + deflate.flush()
    header = b'\x1f\x8b\x08' + bytes([flag]) + b'\x00' * 4 + b'\x00\x03' + fields
    if flag == 0x02:    # the CRC16 of the header before it, as gzip defines it
        header = header[:10] + struct.pack('<H', zlib.crc32(header[:10]) & 0xffff)
    packed = tmp_path / 'lib/modules/6.1.0-47-amd64/updates/dkms/hello.ko.gz'
    packed.write_bytes(header + body + struct.pack('<II', zlib.crc32(plain), len(plain)))
    # A sound stream: Python's own gzip reads it whole.
    assert gzip.decompress(packed.read_bytes()) == plain
    with pytest.raises(KoError, match='fields besides a file name'):
        read(tmp_path, HELLO + '.gz', reader_name)


@pytest.mark.parametrize('size', [0, 100, 255, 256, 300, 65791, 65792, 70000, 5 * 1024 * 1024])
def test_zstd_content_size_as_the_command_writes_it(tmp_path: Path, size: int) -> None:
    """The first frame's declared size, from the headers the real zstd writes (each width of
    the field); none when zstd compressed a pipe and could not know it."""
    command = find_command('zstd')
    if command is None:
        pytest.skip('the zstd command is not installed')
    source = tmp_path / 'data'
    source.write_bytes(os.urandom(size // 2) + b'\0' * (size - size // 2))
    packed = subprocess.run([command, '-q', '-c', str(source)], check=True, stdout=subprocess.PIPE).stdout
    assert _ko.zstd_content_size(packed) == size
    assert _ko.zstd_content_size(packed + packed) == size
    assert _ko.zstd_content_size(packed[:5]) is None
    with source.open('rb') as stdin:
        piped = subprocess.run([command, '-q', '-c'], check=True, stdin=stdin, stdout=subprocess.PIPE).stdout
    # (An empty input tells its size even through a pipe.)
    assert _ko.zstd_content_size(piped) == (None if size else 0)


@pytest.fixture
def zstd_command_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A zstd on PATH that logs its arguments, then runs the real one; TMPDIR an empty directory.

    Returns the log. Skips when a Python zstd library would decompress in process instead.
    """
    if python_zstd():
        pytest.skip('a Python zstd library decompresses in process here')
    real = find_command('zstd')
    if real is None:
        pytest.skip('the zstd command is not installed')
    bin_dir, log = tmp_path / 'bin', tmp_path / 'zstd.log'
    bin_dir.mkdir()
    (bin_dir / 'zstd').write_text('#!/bin/sh\necho "$@" >>%s\nexec %s "$@"\n' % (log, real))
    os.chmod(bin_dir / 'zstd', 0o755)
    monkeypatch.setenv('PATH', '%s:%s' % (bin_dir, os.environ['PATH']))
    (tmp_path / 'tmp').mkdir()
    monkeypatch.setenv('TMPDIR', str(tmp_path / 'tmp'))
    return log


def test_zstd_through_the_command(hello: Path, tmp_path: Path, zstd_command_only: Path) -> None:
    COMPRESSORS['zst'](hello)
    assert_hello(read(tmp_path, HELLO + '.zst', 'pyelftools'), 'pyelftools')
    # Bytes in and out through pipes: zstd opens no path of the root and writes no file.
    assert zstd_command_only.read_text().splitlines()[-1] == '-d -q -c'
    assert list((tmp_path / 'tmp').iterdir()) == []


def test_zstd_command_bomb_stops_at_the_limit(tmp_path: Path, zstd_command_only: Path) -> None:
    """A valid ELF header, then zeros far past the module limit: refused for the size its frame
    declares, or, where it declares less, zstd is stopped; no file written either way."""
    bomb = tmp_path / 'bomb.ko.zst'
    header = b'\x7fELF\x02\x01\x01' + b'\x00' * 9 + struct.pack('<HHIQQQIHHHHHH', 1, 62, 1, 0, 0, 64, 0, 64, 0, 0, 64, 1, 0)
    size = _ko.MAX_MODULE_BYTES + 1024 * 1024
    zeros = b'\x00' * (1024 * 1024)
    with open(bomb, 'wb') as out:
        packer = subprocess.Popen(['zstd', '-q', '-c', '--stream-size=%d' % (len(header) + size)],
                                  stdin=subprocess.PIPE, stdout=out)
        assert packer.stdin is not None
        packer.stdin.write(header)
        for dummy in range(size // len(zeros)):
            packer.stdin.write(zeros)
        packer.stdin.close()
        assert packer.wait() == 0
    assert bomb.stat().st_size < 64 * 1024
    ran = zstd_command_only.read_text()     # the compression above
    with pytest.raises(KoError, match='decompresses to more than %d bytes' % _ko.MAX_MODULE_BYTES):
        read(tmp_path, '/bomb.ko.zst', 'pyelftools')
    assert zstd_command_only.read_text() == ran     # refused for what it declares: zstd never ran
    # A frame that declares less than it holds: zstd is stopped at the limit.
    data = bytearray(bomb.read_bytes())
    # Its descriptor: a 4-byte size after the window byte.
    assert _ko.zstd_content_size(data) == len(header) + size and (data[4] >> 6, data[4] & 0x23) == (2, 0)
    data[6:10] = struct.pack('<I', 1024)
    bomb.write_bytes(bytes(data))
    with pytest.raises(KoError, match='decompresses to more than %d bytes|cannot decompress zstd data' % _ko.MAX_MODULE_BYTES):
        read(tmp_path, '/bomb.ko.zst', 'pyelftools')
    assert list((tmp_path / 'tmp').iterdir()) == []


def test_zstd_without_any_decompressor(hello: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zst = COMPRESSORS['zst'](hello)
    if python_zstd() or any(
            find_command('zstd', path) for path in SBIN_DIRS):
        pytest.skip('zstd support that an empty PATH does not hide is present')
    monkeypatch.setenv('PATH', str(tmp_path / 'empty'))
    with pytest.raises(KoError, match='neither the zstd command nor a Python zstd library'):
        read(tmp_path, HELLO + '.zst', 'pyelftools')


def test_extended_versions(ko_builder: KoBuilder, tmp_path: Path) -> None:
    long_name = 'a_symbol_name_longer_than_the_fifty_six_bytes_of_struct_modversion_info'
    ext = {'_printk': VERSIONS['_printk'], long_name: 0x1234ABCD}
    ko_builder.build_ko(tmp_path, 'both', versions={'_printk': VERSIONS['_printk']}, ext_versions=ext)
    ko_builder.build_ko(tmp_path, 'extonly', ext_versions=ext)
    ko_builder.build_ko(tmp_path, 'extempty', ext_versions={})
    both = read(tmp_path, '/both.ko', 'pyelftools')
    assert both.versions == [('_printk', VERSIONS['_printk']), (long_name, 0x1234ABCD)]
    extonly = read(tmp_path, '/extonly.ko', 'pyelftools')
    # Without __versions the loader compares the whole vermagic, release included.
    assert (both.has_versions_section, extonly.has_versions_section, extonly.versions) == \
        (True, False, list(ext.items()))
    extempty = read(tmp_path, '/extempty.ko', 'pyelftools')
    assert (extempty.has_versions_section, extempty.versions) == (False, [])


def test_module_without_versions_or_modinfo(ko_builder: KoBuilder, tmp_path: Path, reader_name: str) -> None:
    ko_builder.build_ko(tmp_path, 'plain', vermagic='6.1.0-47-amd64 SMP preempt mod_unload ')
    ko_builder.compile(tmp_path, 'bare.ko', module_source(vermagic=None, license=None))
    plain = read(tmp_path, '/plain.ko', reader_name)
    assert (plain.has_versions_section, plain.versions, plain.depends) == (False, [], [])
    assert plain.vermagic == '6.1.0-47-amd64 SMP preempt mod_unload '
    bare = read(tmp_path, '/bare.ko', reader_name)
    assert (bare.name, bare.vermagic, bare.license, bare.depends, bare.has_versions_section) == (None, None, None, [], False)


def test_every_imported_namespace_is_read(ko_builder: KoBuilder, tmp_path: Path, reader_name: str) -> None:
    ko_builder.build_ko(tmp_path, 'cxlish', extra_modinfo=['import_ns=CXL', 'import_ns=USB_STORAGE'])
    assert read(tmp_path, '/cxlish.ko', reader_name).import_ns == ['CXL', 'USB_STORAGE']


@pytest.mark.parametrize('absolute', [False, True])
def test_the_crcs_a_module_exports_its_symbols_with(ko_builder: KoBuilder, tmp_path: Path, reader_name: str,
                                                    absolute: bool) -> None:
    # check_version() compares an import with the exporting module's own CRC: labelled __crc_NAME
    # in __kcrctab since 5.19, an absolute __crc_NAME before.
    ko_builder.build_ko(tmp_path, 'core', exports=['core_fn', 'core_data'],
                        export_crcs={'core_fn': 0x8928CCD5, 'core_data': 0xC2B12F26}, absolute_crcs=absolute)
    crcs = read(tmp_path, '/core.ko', reader_name).symbol_table().crcs
    assert crcs == {'core_fn': 0x8928CCD5, 'core_data': 0xC2B12F26}
    # Built without CRCs: none to compare.
    ko_builder.build_ko(tmp_path / 'plain', 'core', exports=['core_fn'])
    assert read(tmp_path / 'plain', '/core.ko', reader_name).symbol_table().crcs == {}


def test_the_crcs_are_read_without_the_rest_of_the_symbol_table(ko_builder: KoBuilder, tmp_path: Path) -> None:
    """A module importing another's exports asks only for its CRCs: read alone, they are the whole
    table's; a damage they show is the whole table's, warned of once, and the file not read again."""
    ko_builder.build_ko(tmp_path, 'core', exports=['core_fn'], export_crcs={'core_fn': 0x8928CCD5})
    info = read(tmp_path, '/core.ko', 'pyelftools')
    assert info.export_crcs() == {'core_fn': 0x8928CCD5}
    assert info.symbol_table() == _ko.SymbolTable(set(), {'core_fn'}, {'core_fn': 0x8928CCD5})
    assert info.export_crcs() == {'core_fn': 0x8928CCD5}
    image = (tmp_path / 'core.ko').read_bytes()
    (tmp_path / 'core.ko').write_bytes(patch_section(image, '__kcrctab', type=8))    # SHT_NOBITS
    warnings: list[str] = []
    damaged = KoReader(RootFS(str(tmp_path)), reader='pyelftools', warn=warnings.append).read('/core.ko')
    assert damaged.export_crcs() is None
    (tmp_path / 'core.ko').write_bytes(image)   # not read again: what was read stands
    assert damaged.symbol_table() is _ko.DAMAGED_SYMBOL_TABLE
    assert len(warnings) == 1 and 'section __kcrctab claims' in warnings[0]


def test_labels_count_by_their_section_and_of_one_name_the_last(ko_builder: KoBuilder, tmp_path: Path) -> None:
    # A __crc_ label in __ksymtab_strings or a __kstrtab_ one that is absolute labels nothing; of
    # two CRC labels of one name, in the CRC table and absolute, the later in the file counts.
    image = ko_builder.build_ko(tmp_path, 'core', exports=['a_fn'], export_crcs={'a_fn': 0x1111}).read_bytes()
    layout = _ko._elf_header(image, 'core.ko')
    found = _ko.find_sections(image, layout, ('__ksymtab_strings', '__kcrctab'), 'core.ko')
    labels = [('__crc_a_fn', found['__kcrctab'], 0), ('__crc_a_fn', 0xfff1, 0x2222), ('__kstrtab_b_fn', 0xfff1, 0),
              ('__crc_c_fn', found['__ksymtab_strings'], 0), ('__kstrtab_a_fn', found['__ksymtab_strings'], 0),
              ('__kstrtabns_a_fn', found['__ksymtab_strings'], 0)]
    strings = b'\0' + b''.join(name.encode() + b'\0' for name, section, value in labels)
    symbols = b''.join(struct.pack('<IBBHQQ', strings.index(b'\0' + name.encode() + b'\0') + 1, 0x10, 0, section, value, 0)
                       for name, section, value in labels)
    data = patch_section(patch_section(image, '.symtab', append=symbols), '.strtab', append=strings)
    assert _ko.read_symbol_table(data, layout, 'core.ko') == _ko.SymbolTable(set(), {'a_fn'}, {'a_fn': 0x2222})
    reordered = patch_section(image, '.symtab', append=symbols[24:48] + symbols[:24] + symbols[48:])
    assert _ko.read_symbol_table(patch_section(reordered, '.strtab', append=strings), layout, 'core.ko').crcs == \
        {'a_fn': 0x1111}


@pytest.mark.parametrize('compression', ['', 'xz'])
def test_the_symbol_table_tells_exports_from_namespace_names(ko_builder: KoBuilder, tmp_path: Path, reader_name: str,
                                                             compression: str) -> None:
    # __ksymtab_strings holds each export's name and its namespace ("compat_fn\0NETFS\0other_fn\0\0");
    # the __kstrtab_NAME labels say which are names, and weak undefined symbols come with them.
    ko = ko_builder.build_ko(tmp_path, 'nsmod', exports=['compat_fn', 'other_fn'], namespaces={'compat_fn': 'NETFS'})
    if compression:
        COMPRESSORS[compression](ko)
    info = read(tmp_path, '/nsmod.ko' + ('.' + compression if compression else ''), reader_name)
    assert info.exports == ['NETFS', 'compat_fn', 'other_fn']
    assert info.symbol_table() == _ko.SymbolTable(set(), {'compat_fn', 'other_fn'}, {})
    # Stripped of its local symbols (strip --strip-unneeded): nothing tells them apart.
    ko_builder.build_ko(tmp_path / 'stripped', 'nsmod', exports=['compat_fn'], namespaces={'compat_fn': 'NETFS'},
                        export_labels=False)
    assert read(tmp_path / 'stripped', '/nsmod.ko', reader_name).symbol_table().exported is None


def test_first_modinfo_entry_wins(ko_builder: KoBuilder, tmp_path: Path, reader_name: str) -> None:
    ko_builder.build_ko(tmp_path, 'dual', license='GPL', extra_modinfo=['license=Proprietary', 'alias=pci:v*',
                                                                        'vermagic=second', 'unicode=été'])
    info = read(tmp_path, '/dual.ko', reader_name)
    assert (info.license, info.vermagic, info.name) == ('GPL', DEFAULT_VERMAGIC, 'dual')


def test_32_bit_module(ko_builder: KoBuilder, tmp_path: Path, reader_name: str) -> None:
    versions = {'module_layout': 0x89ABCDEF, 'printk': 0x01020304}
    ko_builder.build_ko(tmp_path, 'small', versions=versions, elf_class=32)
    info = read(tmp_path, '/small.ko', reader_name)
    assert (info.elf_class, info.little_endian, info.versions) == (32, True, list(versions.items()))
    if reader_name == 'pyelftools':
        assert info.machine == 'EM_386'


@pytest.mark.parametrize('elf_class', [32, 64])
@pytest.mark.parametrize('little_endian', [True, False])
def test_parse_versions_layouts(elf_class: int, little_endian: bool) -> None:
    # Big-endian targets cannot be compiled here; the record layout is checked directly.
    order = '<' if little_endian else '>'
    crc_format, name_size = ('Q', 56) if elf_class == 64 else ('I', 60)
    # Old kernels sign-extended CRCs into the unsigned long: only the low 32 bits count.
    crc = 0xFFFFFFFF89ABCDEF if elf_class == 64 else 0x89ABCDEF
    record = struct.pack(order + crc_format, crc) + b'sym'.ljust(name_size, b'\0')
    assert parse_versions(record * 2, elf_class, little_endian, '/m.ko') == [('sym', 0x89ABCDEF)] * 2
    crcs = struct.pack(order + '2I', 1, 2)
    assert parse_ext_versions(crcs, b'a\0b\0', little_endian, '/m.ko') == [('a', 1), ('b', 2)]


def _modinfo_fields_entry_by_entry(entries: list[str]) -> dict[str, object]:
    """_modinfo_fields as it read each entry in turn, before it searched the text for the keys."""
    fields: dict[str, str] = {}
    import_ns = []
    for entry in entries:
        key, sep, value = entry.partition('=')
        if sep and key == 'import_ns':
            import_ns.append(value)
        elif sep and key not in fields:
            fields[key] = value
    depends = fields.get('depends')
    return {'name': fields.get('name'), 'vermagic': fields.get('vermagic'), 'license': fields.get('license'),
            'depends': [name for name in depends.split(',') if name] if depends else [], 'import_ns': import_ns}


@settings(max_examples=500, deadline=None)
@given(entries=st.lists(st.tuples(st.sampled_from(['name', 'vermagic', 'depends', 'license', 'import_ns', 'alias', 'xname',
                                                   'name ', 'import_nsx', '', '=name']),
                                  st.sampled_from(['', '=']), st.text(st.sampled_from('a=,\ufffd\n')))
                        .map(''.join), max_size=8))
def test_modinfo_fields_as_read_entry_by_entry(entries: list[str]) -> None:
    """The fields found by searching the text for each key are those read entry by entry."""
    assert _ko._modinfo_fields('\0'.join(entries)) == _modinfo_fields_entry_by_entry(entries)


@given(versions=st.lists(st.tuples(st.sampled_from(['a', 'b', 'c']), st.integers(1, 3)), max_size=8))
def test_module_info_keeps_each_pair_once_in_file_order(versions: list[tuple[str, int]]) -> None:
    """A pair repeated is kept once, where it first is; a name repeated with another CRC is another pair."""
    info = ModuleInfo(versions=versions)
    kept = list(dict.fromkeys(versions))
    assert info.versions == kept
    assert (info.imports, info.crcs) == (tuple(name for name, crc in kept), tuple(crc for name, crc in kept))


def test_parse_versions_keeps_layouts_apart_in_one_cache() -> None:
    """One record's bytes read as a 64-bit and as a 32-bit record: each layout decodes its own
    pair, though one reader's cache of known records serves both."""
    record = struct.pack('<Q', 0x1234) + b'symbol'.ljust(56, b'\0')
    known: dict[tuple[int, bool], dict[bytes, tuple[str, int]]] = {}
    assert parse_versions(record, 64, True, '/m64.ko', known) == [('symbol', 0x1234)]
    assert parse_versions(record, 32, True, '/m32.ko', known) == [('', 0x1234)]
    assert parse_versions(record, 64, True, '/again.ko', known) == [('symbol', 0x1234)]


def test_mismatched_ext_versions() -> None:
    with pytest.raises(KoError, match='2 extended version CRCs but 1 names'):
        parse_ext_versions(struct.pack('<2I', 1, 2), b'a\0', True, '/m.ko')
    with pytest.raises(KoError, match='not a multiple of 4'):
        parse_ext_versions(b'\0' * 6, b'a\0', True, '/m.ko')


def test_odd_length_versions_section(ko_builder: KoBuilder, tmp_path: Path, reader_name: str) -> None:
    ko_builder.compile(tmp_path, 'odd.ko', 'static const char v[63] __attribute__((used, section("__versions")))'
                                           ' = "x";\nstatic const char m[] __attribute__((used,'
                                           ' section(".modinfo"))) = "vermagic=1 ";\n')
    with pytest.raises(KoError, match='/odd.ko: .*(__versions is 63 bytes|Invalid argument)'):
        read(tmp_path, '/odd.ko', reader_name)


@pytest.mark.parametrize('content, message', [
    (b'', 'empty file'),
    (b'hello world\n', 'not an ELF file'),
    (b'\x7fELF', 'truncated or unknown ELF identification'),
    (b'\x7fELF\x02\x01\x01' + b'\0' * 20, 'truncated ELF header'),
    (b'\x1f\x8b\x08\x00garbage', 'cannot decompress gzip data'),
    (b'\xfd7zXZ\x00garbage', 'cannot decompress xz data'),
    (b'\x28\xb5\x2f\xfdgarbage', 'cannot decompress zstd data'),
])
def test_unreadable_content(tmp_path: Path, reader_name: str, content: bytes, message: str) -> None:
    (tmp_path / 'bad.ko').write_bytes(content)
    with pytest.raises(KoError, match='^/bad.ko: ' + message):
        read(tmp_path, '/bad.ko', reader_name)


def test_truncated_module(hello: Path, tmp_path: Path, reader_name: str) -> None:
    data = hello.read_bytes()
    for size in (len(data) - 1, len(data) // 2, 100):
        hello.write_bytes(data[:size])
        with pytest.raises(KoError, match='truncated'):
            read(tmp_path, HELLO, reader_name)


def test_not_a_relocatable_object(tmp_path: Path, reader_name: str) -> None:
    # A shared object or executable is ELF, but never a kernel module.
    (tmp_path / 'python.ko').write_bytes(Path(os.path.realpath(sys.executable)).read_bytes())
    with pytest.raises(KoError, match='a kernel module is a relocatable object'):
        read(tmp_path, '/python.ko', reader_name)


def test_missing_and_directory(tmp_path: Path, reader_name: str) -> None:
    (tmp_path / 'dir.ko').mkdir()
    for path in ('/missing.ko', '/dir.ko'):
        with pytest.raises(KoError, match='^%s: cannot read' % path):
            read(tmp_path, path, reader_name)


def test_cache_reads_one_build_once(hello: Path, tmp_path: Path, reader_name: str) -> None:
    # Two weak-updates links of two kernels, absolute as weak-modules makes them: they
    # resolve inside the root, to one file, read once.
    for kernel in ('6.1.0-47-amd64+a', '6.1.0-47-amd64+b'):
        weak = tmp_path / 'lib/modules' / kernel / 'weak-updates'
        weak.mkdir(parents=True)
        (weak / 'hello.ko').symlink_to(HELLO)
    runner = RecordingRunner()
    reader = KoReader(RootFS(str(tmp_path)), runner=runner, reader=reader_name)
    first = reader.read('/lib/modules/6.1.0-47-amd64+a/weak-updates/hello.ko')
    hello.write_bytes(b'changed after the first read')
    assert reader.read('/lib/modules/6.1.0-47-amd64+b/weak-updates/hello.ko') is first
    assert_hello(first, reader_name)
    assert runner.ran('modinfo') == (1 if reader_name == 'kmod' else 0)


def test_builds_that_import_and_export_alike_share_one_copy(ko_builder: KoBuilder, tmp_path: Path,
                                                            reader_name: str) -> None:
    # One source built for two kernels of one kABI stream: two files (their vermagic differs),
    # whose imports, CRCs and exports a host keeps once. A third build differs in one CRC.
    exports = ['core_fn', 'core_data']
    for kernel in ('6.1.0-47-amd64', '6.1.0-48-amd64'):
        ko_builder.build_ko(tmp_path / kernel, 'core', versions=VERSIONS, exports=exports,
                            vermagic='%s SMP preempt mod_unload modversions ' % kernel)
    ko_builder.build_ko(tmp_path / 'other', 'core', versions={**VERSIONS, 'kfree': 1}, exports=exports)
    reader = KoReader(RootFS(str(tmp_path)), runner=run_command, reader=reader_name)
    first, second, other = (reader.read('/%s/core.ko' % kernel) for kernel in ('6.1.0-47-amd64', '6.1.0-48-amd64', 'other'))
    assert first.vermagic != second.vermagic
    assert first.imports is second.imports and first.crcs is second.crcs and first.exports is second.exports
    assert second.versions == list(VERSIONS.items()) and second.exports == sorted(exports)
    assert other.imports is first.imports and other.crcs is not first.crcs
    assert other.versions == list({**VERSIONS, 'kfree': 1}.items()) and other.exports is first.exports


def test_errors_are_cached(tmp_path: Path) -> None:
    bad = tmp_path / 'bad.ko'
    bad.write_bytes(b'junk')
    reader = KoReader(RootFS(str(tmp_path)), reader='pyelftools')
    with pytest.raises(KoError) as first:
        reader.read('/bad.ko')
    bad.unlink()
    with pytest.raises(KoError) as second:
        reader.read('/bad.ko')
    assert second.value is first.value


def test_a_module_read_ahead_is_not_read_again_when_asked_by_that_path(hello: Path, tmp_path: Path) -> None:
    reader = KoReader(RootFS(str(tmp_path)), reader='pyelftools')
    reader.read_ahead([HELLO])
    hello.write_bytes(b'changed after it was read ahead')
    assert_hello(reader.read(HELLO), 'pyelftools')


def test_a_module_read_ahead_is_read_again_when_asked_through_another_path(hello: Path, tmp_path: Path) -> None:
    # So what is wrong with it names the path asked for, as it would had nothing been read ahead.
    (tmp_path / 'link.ko').symlink_to(HELLO)
    reader = KoReader(RootFS(str(tmp_path)), reader='pyelftools')
    reader.read_ahead([HELLO])
    hello.write_bytes(b'junk')
    with pytest.raises(KoError, match='^/link.ko: '):
        reader.read('/link.ko')


def test_what_could_not_be_read_ahead_is_read_again_when_asked(hello: Path, tmp_path: Path) -> None:
    reader = KoReader(RootFS(str(tmp_path)), reader='pyelftools')
    (tmp_path / 'late.ko').write_bytes(b'junk')
    reader.read_ahead(['/late.ko', '/missing.ko'])
    (tmp_path / 'late.ko').write_bytes(hello.read_bytes())
    assert_hello(reader.read('/late.ko'), 'pyelftools')
    with pytest.raises(KoError, match='^/missing.ko: cannot read'):
        reader.read('/missing.ko')


def test_read_ahead_stops_when_told(hello: Path, tmp_path: Path) -> None:
    (tmp_path / 'second.ko').write_bytes(hello.read_bytes())
    reader = KoReader(RootFS(str(tmp_path)), reader='pyelftools')
    asked: list[int] = []
    reader.read_ahead([HELLO, '/second.ko'], stop=lambda: bool(asked.append(1)) or len(asked) > 1)
    hello.write_bytes(b'junk')
    (tmp_path / 'second.ko').write_bytes(b'junk')
    assert len(asked) == 2
    assert_hello(reader.read(HELLO), 'pyelftools')     # read ahead
    with pytest.raises(KoError, match='^/second.ko: '):
        reader.read('/second.ko')                       # not read ahead: read when asked


def test_what_was_read_ahead_is_not_read_ahead_again(hello: Path, tmp_path: Path) -> None:
    reader = KoReader(RootFS(str(tmp_path)), reader='pyelftools')
    reader.read_ahead([HELLO])
    hello.write_bytes(b'junk')
    reader.read_ahead([HELLO])
    assert_hello(reader.read(HELLO), 'pyelftools')


def test_forget_lets_go_of_what_was_read_ahead(hello: Path, tmp_path: Path) -> None:
    reader = KoReader(RootFS(str(tmp_path)), reader='pyelftools')
    reader.read_ahead([HELLO])
    reader.forget()
    hello.write_bytes(b'junk')
    with pytest.raises(KoError, match='^%s: ' % HELLO):
        reader.read(HELLO)


def test_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / 'loop.ko').symlink_to('/loop.ko')
    with pytest.raises(KoError, match='^/loop.ko: too many levels of symbolic links'):
        read(tmp_path, '/loop.ko', 'pyelftools')


def test_reader_choice(tmp_path: Path) -> None:
    rootfs = RootFS(str(tmp_path))
    assert KoReader(rootfs).name == 'pyelftools'
    assert KoReader(rootfs, reader='kmod').name == 'kmod'
    with pytest.raises(ValueError, match='reader must be one of'):
        KoReader(rootfs, reader='readelf')


def test_an_adapter_the_caller_loaded_is_not_loaded_again(hello: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = load_adapter()

    def loaded_twice() -> None:
        raise AssertionError('pyelftools loaded again')
    monkeypatch.setattr(_ko, 'load_adapter', loaded_twice)
    rootfs = RootFS(str(tmp_path))
    reader = KoReader(rootfs, elftools=adapter)
    assert reader.name == 'pyelftools' and reader.read(HELLO).name == 'hello'
    # None: the caller found pyelftools unusable, so kmod is the choice (none without a runner).
    assert KoReader(rootfs, elftools=None).name is None
    assert KoReader(rootfs, elftools=None, runner=run_command).name == ('kmod' if HAS_KMOD else None)


def test_kmod_needs_a_runner(hello: Path, tmp_path: Path) -> None:
    with pytest.raises(KoError, match='not available \\(no command runner\\)'):
        KoReader(RootFS(str(tmp_path)), reader='kmod').read(HELLO)


def collection_parent() -> str:
    # .../ansible_collections/kabi/dkms/plugins/module_utils/_ko.py -> the dir above ansible_collections
    return str(Path(os.path.abspath(_ko.__file__)).parents[5])


def fresh_python(code: str, *argv: str, first: Sequence[str] = (), flags: Sequence[str] = (),
                 cwd: Path | None = None) -> str:
    """What ``code`` prints in a new interpreter that imports the collection (``first``: directories
    searched before it): what this process imported does not count there."""
    return subprocess.run([sys.executable, *flags, '-c', code, *argv], capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join([*first, collection_parent()])),
                          cwd=cwd).stdout


@pytest.mark.skipif(not HAS_KMOD, reason='kmod (modinfo, modprobe) is not installed')
@pytest.mark.parametrize('broken_elftools', [False, True])
def test_falls_back_to_kmod_without_pyelftools(tmp_path: Path, broken_elftools: bool) -> None:
    """Without site-packages pyelftools is absent; a broken install must not break the probe either."""
    if broken_elftools:
        # Struct definitions that cannot be built (a release that changed them), and an ELFFile
        # that cannot be imported (pyelftools 0.33 on Python 3.9: a SyntaxError).
        (tmp_path / 'elftools/elf').mkdir(parents=True)
        for init in ('elftools/__init__.py', 'elftools/elf/__init__.py'):
            (tmp_path / init).write_text('')
        (tmp_path / 'elftools/elf/structs.py').write_text('class ELFStructs:\n    pass\n')
        (tmp_path / 'elftools/elf/elffile.py').write_text('def broken(:\n')
    code = ('from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoReader\n'
            'from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS\n'
            'import sys\n'
            'with_runner = KoReader(RootFS("/"), runner=lambda argv: (1, "", "not run"))\n'
            'print(with_runner.name, KoReader(RootFS("/")).name, "elftools" in sys.modules and not %r)\n'
            % broken_elftools)
    printed = fresh_python(code, first=[str(tmp_path)] if broken_elftools else [], flags=['-S'], cwd=tmp_path)
    # Without a runner no command can run, so kmod is not a reader either.
    assert printed.split() == ['kmod', 'None', 'False']


def test_reading_modules_imports_only_the_struct_definitions(hello: Path, tmp_path: Path) -> None:
    """ELFFile and its DWARF readers cost every fact run; the adapter needs neither."""
    code = ('import sys\n'
            'from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoReader\n'
            'from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS\n'
            'reader = KoReader(RootFS(sys.argv[1]))\n'
            'print(reader.name, reader.read(%r).name, "elftools.elf.elffile" in sys.modules)\n' % HELLO)
    assert fresh_python(code, str(tmp_path)).split() == ['pyelftools', 'hello', 'False']


def test_a_pyelftools_that_stops_working_leaves_files_unjudged(hello: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Not reported damaged: what cannot be used is pyelftools, not the file."""
    reader = KoReader(RootFS(str(tmp_path)))
    assert reader.name == 'pyelftools'
    change_elftools_definitions(monkeypatch)
    hide_elffile(monkeypatch)
    with pytest.raises(KoUnreadableHere, match='pyelftools cannot be imported'):
        reader.read(HELLO)


def test_importing_costs_no_pyelftools() -> None:
    code = ('import sys\n'
            'import ansible_collections.kabi.dkms.plugins.module_utils._ko\n'
            'print("elftools" in sys.modules)\n')
    assert fresh_python(code).strip() == 'False'


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_modules_raise_only_koerror(hello: Path, data: st.DataObject) -> None:
    """Any damage to a real module either still reads or raises KoError, never anything else."""
    original = hello.read_bytes()
    damaged = bytearray(original)
    for _damage in range(data.draw(st.integers(1, 8))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    damaged = damaged[:data.draw(st.integers(0, len(damaged)))]
    with tempfile.TemporaryDirectory() as root:
        Path(root, 'm.ko').write_bytes(bytes(damaged))
        try:
            info = read(Path(root), '/m.ko', 'pyelftools')
        except KoError:
            return
    assert isinstance(info, ModuleInfo)


def test_first_section_of_a_name_counts(ko_builder: KoBuilder, tmp_path: Path) -> None:
    """Two __versions sections: the kernel's loader uses the first (find_sec), so do the readers."""
    first = ko_builder.build_ko(tmp_path, 'first', versions={'module_layout': 1}).read_bytes()
    data = bytearray(first)
    shoff, = struct.unpack_from('<Q', data, 0x28)
    shnum, shstrndx = struct.unpack_from('<HH', data, 0x3c)
    names = struct.unpack_from('<Q', data, shoff + shstrndx * 64 + 0x18)[0]
    name_of = {struct.unpack_from('<I', data, shoff + index * 64)[0]: index for index in range(shnum)}
    versions = next(at for at, index in name_of.items() if data[names + at:names + at + 11] == b'__versions\0')
    # A later section (the last one) renamed __versions, pointing at other bytes.
    last = shoff + (shnum - 1) * 64
    if struct.unpack_from('<I', data, last)[0] == versions:
        pytest.skip('the last section is __versions already')
    struct.pack_into('<I', data, last, versions)
    (tmp_path / 'twice.ko').write_bytes(bytes(data))
    assert read(tmp_path, '/twice.ko', 'pyelftools').versions == [('module_layout', 1)]


def test_any_section_past_the_end_of_the_file_is_refused(ko_builder: KoBuilder, tmp_path: Path,
                                                         reader_name: str) -> None:
    """The loader checks every section with bytes in the file, not only those the readers read."""
    image = ko_builder.build_ko(tmp_path, 'cut', versions={'module_layout': 1}).read_bytes()
    (tmp_path / 'cut.ko').write_bytes(patch_section(image, '.text', size=2 ** 40))
    with pytest.raises(KoError, match=r'section \d+ ends at byte \d{13}, past the end of its ELF image'):
        read(tmp_path, '/cut.ko', reader_name)
    # Zeros the loader makes (SHT_NOBITS) have no bytes in the file: any size is theirs.
    (tmp_path / 'bss.ko').write_bytes(patch_section(image, '.bss', size=2 ** 40))
    assert read(tmp_path, '/bss.ko', reader_name).versions == [('module_layout', 1)]


def test_a_name_table_without_bytes_is_refused(ko_builder: KoBuilder, tmp_path: Path, reader_name: str) -> None:
    """SHT_NOBITS section names: the name table the loader reads is zeros, not the file's bytes."""
    image = ko_builder.build_ko(tmp_path, 'names', versions={'module_layout': 1}).read_bytes()
    (tmp_path / 'names.ko').write_bytes(patch_section(image, '.shstrtab', type=8))
    with pytest.raises(KoError, match='^/names.ko: the section name table ends past the end of the file$'):
        read(tmp_path, '/names.ko', reader_name)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_sections_are_found_as_their_names_read(hello: Path, data: st.DataObject) -> None:
    """find_sections, in the columns _check_section_table unpacked or in the table itself, against
    the sections' names read one by one: sections renamed (to a wanted name, the end of one, or
    next to one) and loaded or not."""
    image = hello.read_bytes()
    layout = _ko._elf_header(image, 'm.ko')
    columns = _ko._check_section_table(image, layout, 'm.ko')
    table = image[columns.starts[layout.shstrndx]:columns.starts[layout.shstrndx] + columns.sizes[layout.shstrndx]]
    names = _ko.WANTED_SECTIONS + (_ko.THIS_MODULE,)
    unique = ('.modinfo', _ko.THIS_MODULE)
    offsets = sorted(set(at + shift for name in names + ('.text', '.data') for at in [table.find(name.encode() + b'\0')]
                         if at >= 0 for shift in (-1, 0, 1, 2)))
    for _damage in range(data.draw(st.integers(1, 6))):
        index = data.draw(st.integers(1, layout.shnum - 1))
        if index != layout.shstrndx:
            image = patch_header(patch_header(image, index, 'name', data.draw(st.sampled_from(offsets))),
                                 index, 'flags', data.draw(st.sampled_from([0, 2])))
    columns = _ko._section_columns(layout, image[layout.shoff:layout.table_end])
    named = [table[at:table.index(b'\0', at)].decode() for at in columns.names]
    for loaded_only in (True, False):
        counted = [index for index in range(1, layout.shnum) if columns.flags[index] & 2 or not loaded_only]
        expected = dict((name, min(index for index in counted if named[index] == name)) for name in names
                        if name in (named[index] for index in counted))
        for name in unique:
            if named[1:].count(name) > 1:
                expected = 'm.ko: %d sections named %s, which kernels since 6.4 refuse (older ones read the first): ' \
                    'whether it loads is not known' % (named[1:].count(name), name)
                break
        for given_columns in (columns, None):
            try:
                found = _ko.find_sections(image, layout, names, 'm.ko', loaded_only, unique, given_columns)
            except KoError as exc:
                found = str(exc)
            assert found == expected


@settings(max_examples=200, deadline=None)
@given(size=st.sampled_from([0, 1, _ko.HEAD_BYTES - 1, _ko.HEAD_BYTES, 100, _ko.TAIL_BYTES - 1, _ko.TAIL_BYTES,
                             _ko.TAIL_BYTES + 1, _ko.TAIL_BYTES + _ko.HEAD_BYTES, 3 * _ko.TAIL_BYTES]),
       start=st.integers(-4 * _ko.TAIL_BYTES, 4 * _ko.TAIL_BYTES),
       stop=st.integers(-4 * _ko.TAIL_BYTES, 4 * _ko.TAIL_BYTES))
def test_a_file_image_slices_as_its_bytes(size: int, start: int, stop: int) -> None:
    """Slices of an open file, its start and end read once, are the slices of its bytes."""
    content = bytes(range(256)) * (size // 256) + bytes(size % 256)
    with tempfile.TemporaryFile() as handle:
        handle.write(content)
        handle.flush()
        image = _ko._FileImage(handle.fileno(), len(content), 'file')
        assert len(image) == len(content)
        assert image[start:stop] == content[start:stop]
        assert image[start:] == content[start:]
        assert image.endswith(content[-28:]) and image.startswith(content[:4])


def section_index(image: bytes, name: str) -> int:
    """The index of the section called ``name`` in a 64-bit little-endian ELF image."""
    shoff, = struct.unpack_from('<Q', image, 0x28)
    shnum, shstrndx = struct.unpack_from('<HH', image, 0x3c)
    names = struct.unpack_from('<Q', image, shoff + shstrndx * 64 + 0x18)[0]
    for index in range(shnum):
        start = names + struct.unpack_from('<I', image, shoff + index * 64)[0]
        if image[start:image.index(b'\0', start)] == name.encode():
            return index
    raise KeyError(name)


def patch_header(image: bytes, index: int, field: str, value: int) -> bytes:
    """``image`` with one Elf64_Shdr field of section ``index`` set (name, type, flags, addr, offset, size, link)."""
    data = bytearray(image)
    shoff, = struct.unpack_from('<Q', data, 0x28)
    offset, form = {'name': (0, '<I'), 'type': (4, '<I'), 'flags': (8, '<Q'), 'addr': (16, '<Q'), 'offset': (24, '<Q'),
                    'size': (32, '<Q'), 'link': (40, '<I')}[field]
    struct.pack_into(form, data, shoff + index * 64 + offset, value)
    return bytes(data)


@pytest.mark.parametrize('damage, message', [
    (lambda image: patch_header(image, 0, 'type', 1), 'section 0 is not empty .type 1'),
    (lambda image: patch_header(image, 0, 'addr', 4096), 'section 0 is not empty .type 0, 0 bytes at address 4096'),
    (lambda image: patch_section(image, '.shstrtab', size=0), 'section name table is empty'),
    (lambda image: patch_section(image, '.shstrtab', append=b'.text\0.shstrtab'), 'lacks a final NUL'),
    (lambda image: patch_header(image, section_index(image, '.symtab'), 'link', 0),
     r'symbol table .section \d+. names section 0 as its strings'),
    (lambda image: patch_header(image, section_index(image, '.symtab'), 'link', 999),
     r'names section 999 as its strings, of \d+'),
    (lambda image: patch_header(image, section_index(image, '.text'), 'name', 10 ** 6),
     r'section \d+ is named from byte 1000000 of a \d+-byte name table'),
])
def test_section_table_as_the_loader_checks_it(ko_builder: KoBuilder, tmp_path: Path, reader_name: str,
                                               damage: Callable[[bytes], bytes], message: str) -> None:
    """elf_validity_check(): each of these makes every kernel since 5.x refuse the module (ENOEXEC),
    whatever the sections the readers read hold."""
    image = ko_builder.build_ko(tmp_path, 'damaged', versions={'module_layout': 1}).read_bytes()
    (tmp_path / 'damaged.ko').write_bytes(damage(image))
    with pytest.raises(KoError, match='^/damaged.ko: .*%s.*which the kernel.s loader refuses' % message) as raised:
        read(tmp_path, '/damaged.ko', reader_name)
    assert not isinstance(raised.value, KoNotRead)     # refused for sure: what needs its exports misses them


@pytest.mark.parametrize('elf_class', [64, 32])
@pytest.mark.parametrize('little_endian', [True, False])
def test_the_section_columns_are_the_fields_of_each_entry(elf_class: int, little_endian: bool) -> None:
    """Taken by strides of the table read as words, in either byte order: the fields struct unpacks."""
    order = '<' if little_endian else '>'
    codes = 'IIQQQQIIQQ' if elf_class == 64 else 'IIIIIIIIII'
    entry = struct.Struct(order + codes)
    # Every byte of a field told apart, those of the 64-bit fields' high halves too.
    fields = [tuple((number * 7919 + field * 104729 + (field << 28)) % 2 ** 32 + ((number + 1) << 40 if code == 'Q' else 0)
                    for field, code in enumerate(codes)) for number in range(5)]
    table = b''.join(entry.pack(*values) for values in fields)
    layout = _ko.ElfLayout(elf_class, little_endian, 0, entry.size, len(fields), 0)
    assert _ko._section_columns(layout, table) == tuple(
        [values[field] for values in fields] for field in (0, 1, 2, 4, 5, 6))
    with pytest.raises(struct.error):
        _ko._section_columns(layout, table[:-4])


def _rules_before(columns: _ko.SectionColumns, length: int, table_size: int) -> str:
    """The last two rules of _check_section_table as it checked them before it took the largest value of
    each column first: the error of the first section that breaks one, or ''."""
    names, kinds, flags, starts, sizes, links = columns
    for index in range(1, len(kinds)):
        if length < starts[index] + sizes[index] and kinds[index] not in (0, 8):
            return 'm.ko: section %d ends at byte %d, past the end of its ELF image (%d bytes), which the kernel\'s ' \
                'loader refuses' % (index, starts[index] + sizes[index], length)
    for index in range(1, len(kinds)):
        if flags[index] & 2 and names[index] >= table_size and kinds[index] not in (0, 8):
            return 'm.ko: section %d is named from byte %d of a %d-byte name table, which the kernel\'s loader ' \
                'refuses' % (index, names[index], table_size)
    return ''


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_sections_past_the_image_or_the_name_table_as_before(hello: Path, data: st.DataObject) -> None:
    """Sections whose bytes or names reach the end of the image or name table, or just past it: refused as before."""
    image = hello.read_bytes()
    layout = _ko._elf_header(image, 'm.ko')
    spared = (0, layout.shstrndx, section_index(image, '.symtab'))
    table_size = _ko._check_section_table(image, layout, 'm.ko').sizes[layout.shstrndx]
    for _damage in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.sampled_from([index for index in range(layout.shnum) if index not in spared]))
        end = len(image) + data.draw(st.integers(-2, 2))
        size = data.draw(st.integers(0, end))
        for field, value in (('type', data.draw(st.sampled_from([0, 1, 8]))), ('flags', data.draw(st.sampled_from([0, 2, 6]))),
                             ('name', table_size + data.draw(st.integers(-2, 2))), ('offset', end - size), ('size', size)):
            image = patch_header(image, index, field, value)
    columns = _ko._section_columns(layout, image[layout.shoff:layout.table_end])
    try:
        _ko._check_section_table(image, layout, 'm.ko')
        refused = ''
    except KoError as exc:
        refused = str(exc)
    assert refused == _rules_before(columns, len(image), table_size)


@pytest.mark.parametrize('name', ['.modinfo', '.gnu.linkonce.this_module', '.symtab'])
def test_a_section_kernels_since_6_4_want_once(ko_builder: KoBuilder, tmp_path: Path, reader_name: str,
                                               name: str) -> None:
    """A second section of that name (or type, for the symbol table): refused since 6.4, the first
    one read before. Loaded or not, it counts."""
    image = ko_builder.build_ko(tmp_path, 'twice', versions={'module_layout': 1}).read_bytes()
    original = section_index(image, name)
    shoff, = struct.unpack_from('<Q', image, 0x28)
    name_offset, = struct.unpack_from('<I', image, shoff + original * 64)
    other = section_index(image, '.comment')     # neither loaded nor read by anyone
    if name == '.symtab':
        twice = patch_header(image, other, 'type', 2)   # SHT_SYMTAB
    else:
        twice = patch_header(image, other, 'name', name_offset)
    (tmp_path / 'twice.ko').write_bytes(twice)
    expected = '2 symbol tables' if name == '.symtab' else '2 sections named %s' % name
    # Older kernels may load it: what it exports is not known to be missing.
    with pytest.raises(KoNotRead, match='^/twice.ko: %s, which kernels since 6.4 refuse .older ones read the first.'
                       % expected):
        read(tmp_path, '/twice.ko', reader_name)


def test_a_section_name_outside_the_table_counts_only_when_loaded(ko_builder: KoBuilder, tmp_path: Path) -> None:
    image = ko_builder.build_ko(tmp_path, 'names', versions={'module_layout': 1}).read_bytes()
    unloaded = section_index(image, '.symtab')  # no SHF_ALLOC: the loader never names it
    (tmp_path / 'names.ko').write_bytes(patch_header(image, unloaded, 'name', 10 ** 6))
    assert read(tmp_path, '/names.ko', 'pyelftools').versions == [('module_layout', 1)]


def test_sections_end_before_the_signature(ko_builder: KoBuilder, tmp_path: Path, reader_name: str) -> None:
    """A kernel that checks signatures strips a sound signature before it checks the sections
    (module_sig_check() runs first): one that reaches into the signature is refused there."""
    plain = ko_builder.build_ko(tmp_path, 'plain', versions={'module_layout': 1})
    signed = sign_module(plain, rsa_key(tmp_path), tmp_path / 'signed.ko').read_bytes()
    assert read(tmp_path, '/signed.ko', reader_name).signature.state == 'signed'
    # The section name table made to end with the file: in it, and past the ELF image.
    table = section_index(signed, '.shstrtab')
    shoff, = struct.unpack_from('<Q', signed, 0x28)
    start, = struct.unpack_from('<Q', signed, shoff + table * 64 + 0x18)
    (tmp_path / 'into.ko').write_bytes(patch_section(signed, '.shstrtab', size=len(signed) - start))
    with pytest.raises(KoError, match='section name table is empty, ends past its ELF image'):
        read(tmp_path, '/into.ko', reader_name)
    # So is any other section, and the section table itself.
    text = struct.unpack_from('<Q', signed, shoff + section_index(signed, '.text') * 64 + 0x18)[0]
    (tmp_path / 'text.ko').write_bytes(patch_section(signed, '.text', size=len(signed) - text - 1))
    with pytest.raises(KoError, match=r'section \d+ ends at byte %d, past the end of its ELF image' % (len(signed) - 1)):
        read(tmp_path, '/text.ko', reader_name)
    # The section table moved to end 8 bytes into the signature (its bytes are the same wherever it is).
    elf_image = len(plain.read_bytes())
    table_size = struct.unpack_from('<H', signed, 0x3c)[0] * 64
    data = bytearray(signed)
    data[elf_image + 8 - table_size:elf_image + 8] = signed[shoff:shoff + table_size]
    struct.pack_into('<Q', data, 0x28, elf_image + 8 - table_size)
    (tmp_path / 'table.ko').write_bytes(bytes(data))
    with pytest.raises(KoError, match='its section table ends at byte %d, within its signature' % (elf_image + 8)):
        read(tmp_path, '/table.ko', reader_name)


def test_the_struct_module_it_carries(ko_builder: KoBuilder, tmp_path: Path, reader_name: str) -> None:
    """The size of .gnu.linkonce.this_module, as the loader finds it (loaded, with bytes); without
    one, every kernel refuses the file ("No module found in object"): an object file, not a module."""
    ko_builder.build_ko(tmp_path, 'bigger', versions={'module_layout': 1}, this_module_size=1344)
    assert read(tmp_path, '/bigger.ko', reader_name).this_module_size == 1344
    ko_builder.compile(tmp_path, 'none.ko', module_source(versions={'module_layout': 1}, this_module_size=None))
    ko_builder.compile(tmp_path, 'object.ko', 'int value = 1;\n')
    image = (tmp_path / 'bigger.ko').read_bytes()
    for name, fields in (('unloaded', {'flags': 0}), ('zeros', {'type': 8})):     # no SHF_ALLOC; SHT_NOBITS
        (tmp_path / (name + '.ko')).write_bytes(patch_section(image, '.gnu.linkonce.this_module', **fields))
    for name in ('none', 'object', 'unloaded', 'zeros'):
        with pytest.raises(KoError, match='^/%s.ko: no struct module .* which the kernel.s loader refuses' % name):
            read(tmp_path, '/%s.ko' % name, reader_name)


def test_a_module_without_a_symbol_table_is_refused(ko_builder: KoBuilder, tmp_path: Path, reader_name: str) -> None:
    image = ko_builder.build_ko(tmp_path, 'stripped', versions={'module_layout': 1}).read_bytes()
    (tmp_path / 'stripped.ko').write_bytes(patch_section(image, '.symtab', type=1))     # SHT_PROGBITS
    with pytest.raises(KoError, match='no symbol table .stripped.., which the kernel.s loader refuses'):
        read(tmp_path, '/stripped.ko', reader_name)


def test_section_headers_of_another_size_are_refused(ko_builder: KoBuilder, tmp_path: Path) -> None:
    data = bytearray(ko_builder.build_ko(tmp_path, 'wide', versions={'module_layout': 1}).read_bytes())
    struct.pack_into('<HH', data, 0x3a, 128, struct.unpack_from('<H', data, 0x3c)[0] // 2)
    (tmp_path / 'wide.ko').write_bytes(bytes(data))
    with pytest.raises(KoError, match='malformed ELF section table .entries of 128 bytes'):
        read(tmp_path, '/wide.ko', 'pyelftools')


@pytest.mark.parametrize('section', ['__versions', '.modinfo'])
def test_a_section_the_loader_does_not_load_is_not_read(ko_builder: KoBuilder, tmp_path: Path, reader_name: str,
                                                        section: str) -> None:
    """find_sec() passes over a section without SHF_ALLOC: the loader sees no such __versions."""
    image = ko_builder.build_ko(tmp_path, 'unloaded', versions={'module_layout': 1}).read_bytes()
    (tmp_path / 'unloaded.ko').write_bytes(patch_section(image, section, flags=0))
    if section == '__versions':
        info = read(tmp_path, '/unloaded.ko', reader_name)
        assert (info.has_versions_section, info.versions, info.vermagic) == (False, [], DEFAULT_VERMAGIC)
    else:
        # Kernels up to 6.x pass it over, later ones read it: no verdict holds for all.
        with pytest.raises(KoError, match='its .modinfo section is not loaded .no SHF_ALLOC.: kernels differ'):
            read(tmp_path, '/unloaded.ko', reader_name)


def test_symbol_names_are_bounded(ko_builder: KoBuilder, tmp_path: Path) -> None:
    """Weak undefined symbols all named from one long string without a NUL: their names would
    add up to the string's length times their number."""
    image = ko_builder.build_ko(tmp_path, 'names', versions={'module_layout': 1}).read_bytes()
    weak_undefined = b''.join(struct.pack('<IBBHQQ', offset, 0x20, 0, 0, 0, 0) for offset in range(9))
    strings = b'A' * (2 * 1024 * 1024)
    data = patch_section(patch_section(image, '.symtab', append=weak_undefined), '.strtab', append=strings)
    (tmp_path / 'names.ko').write_bytes(data)
    layout = _ko._elf_header(data, 'names.ko')
    (tmp_path / 'few.ko').write_bytes(patch_section(patch_section(image, '.symtab', append=weak_undefined[:24 * 2]),
                                                    '.strtab', append=b'weak_one\0'))
    assert read(tmp_path, '/few.ko', 'pyelftools').symbol_table().weak_undefined == {'weak_one', 'eak_one'}
    with pytest.raises(KoError, match='the names of its symbols add up to more than %d bytes' % _ko.SYMBOL_NAMES_LIMIT):
        _ko.read_symbol_table(data, layout, 'names.ko')


def test_only_the_names_of_labels_count_against_the_bound(ko_builder: KoBuilder, tmp_path: Path) -> None:
    """Symbols of __ksymtab_strings that are not __kstrtab_NAME labels (its __kstrtabns_NAME ones)
    are passed over unread: names of 2 MiB each, more than SYMBOL_NAMES_LIMIT in all, refuse nothing."""
    image = ko_builder.build_ko(tmp_path, 'labels', versions={'module_layout': 1}, exports=['an_export']).read_bytes()
    layout = _ko._elf_header(image, 'labels.ko')
    strings_index = _ko.find_sections(image, layout, ('__ksymtab_strings',), 'labels.ko')['__ksymtab_strings']
    long_name = 2 * 1024 * 1024
    symbols = b''.join(struct.pack('<IBBHQQ', offset, 0x10, 0, strings_index, 0, 0) for offset in range(9))
    symbols += struct.pack('<IBBHQQ', long_name + 1, 0x10, 0, strings_index, 0, 0)
    data = patch_section(patch_section(image, '.symtab', append=symbols), '.strtab',
                         append=b'A' * long_name + b'\0__kstrtab_an_export\0')
    assert _ko.read_symbol_table(data, layout, 'labels.ko').exported == {'an_export'}


@pytest.mark.parametrize('elf_class', [64, 32])
def test_the_symbols_read_are_found_by_section_whatever_its_number(ko_builder: KoBuilder, tmp_path: Path,
                                                                   elf_class: int) -> None:
    """Labels are found by their section's index, two bytes of each symbol: with more than 256
    sections, labels of other sections share the low byte of the CRC table's index and are passed
    over, as are weak symbols that are defined; each field's byte order is the file's."""
    padding = ['asm("\\t.section \\".pad%d\\",\\"a\\"\\npad%d:\\n\\t.byte 0\\n\\t.previous\\n");' % (number, number)
               for number in range(300)]
    padding += ['extern void maybe_there(void) __attribute__((weak));',
                'void __attribute__((weak)) overridable(void) { }',
                'void calls(void) { if (maybe_there) maybe_there(); }']
    source = '\n'.join(padding) + '\n' + module_source(name='many', elf_class=elf_class, exports=['many_fn'],
                                                       export_crcs={'many_fn': 0x1234ABCD})
    try:
        ko = ko_builder.compile(tmp_path, 'many.ko', source, ('-m32',) if elf_class == 32 else ())
    except RuntimeError as exc:
        pytest.skip('gcc cannot build %d-bit objects here: %s' % (elf_class, exc))
    data = ko.read_bytes()
    layout = _ko._elf_header(data, 'many.ko')
    assert _ko.find_sections(data, layout, ('__kcrctab',), 'many.ko')['__kcrctab'] > 300
    assert _ko.read_symbol_table(data, layout, 'many.ko') == _ko.SymbolTable({'maybe_there'}, {'many_fn'},
                                                                             {'many_fn': 0x1234ABCD})


@pytest.mark.parametrize('little_endian', [True, False])
def test_symbols_are_found_in_either_byte_order(little_endian: bool) -> None:
    """Big-endian Elf64_Sym entries (s390x, ppc64): the section index's high byte comes first."""
    order = '<' if little_endian else '>'
    entries = [(0, 0x12, 0x0105), (0, 0x12, 0x0005), (0, 0x20, 0), (0, 0x22, 0x0003), (0, 0x12, 0xfff1),
               (0, 0x10, 0)]
    symtab = b''.join(struct.pack(order + 'IBBHQQ', name, info, 0, section, 0, 0) for name, info, section in entries)
    layout = _ko.ElfLayout(64, little_endian, 0, 64, 0, 0)
    assert _ko._symbols_to_name(symtab + b'\0' * 7, layout, 24, {0x0105, 0x0003, 0xfff1}) == (
        [48], {0x0105: [0], 0x0003: [72], 0xfff1: [96]})


def test_the_symbol_table_is_found_as_the_loader_finds_it(ko_builder: KoBuilder, tmp_path: Path) -> None:
    """By its type, and its strings by its sh_link, whatever the sections are named."""
    image = ko_builder.build_ko(tmp_path, 'renamed', exports=['an_export']).read_bytes()
    # The string table renamed (to the name of another section): found by the link all the same.
    renamed = bytearray(image)
    at = renamed.index(b'.strtab\0')
    renamed[at:at + 8] = b'.strtaX\0'
    (tmp_path / 'renamed.ko').write_bytes(bytes(renamed))
    assert read(tmp_path, '/renamed.ko', 'pyelftools').symbol_table().exported == {'an_export'}


def test_a_section_larger_than_any_real_one_is_refused(ko_builder: KoBuilder, tmp_path: Path) -> None:
    image = ko_builder.build_ko(tmp_path, 'big', versions={'module_layout': 1}).read_bytes()
    huge = bytes(_ko.SECTION_LIMITS['__versions'] + 64)
    (tmp_path / 'big.ko').write_bytes(patch_section(image, '__versions', append=huge))
    with pytest.raises(KoError, match='section __versions holds %d bytes, more than any real module' % len(huge)):
        read(tmp_path, '/big.ko', 'pyelftools')


def test_a_plain_module_is_read_where_the_readers_look(ko_builder: KoBuilder, tmp_path: Path) -> None:
    """A sparse 200 MiB module whose sections are at its start: reading it costs what the
    readers look at, not the file's size (a whole read would take 200 MiB)."""
    image = ko_builder.build_ko(tmp_path, 'sparse', versions={'module_layout': 1}).read_bytes()
    with (tmp_path / 'sparse.ko').open('wb') as handle:
        handle.write(image)
        handle.truncate(200 * 1024 * 1024)
    # VmHWM, not ru_maxrss: the latter is inherited from pytest's own peak across fork and exec.
    code = ('import sys\n'
            'from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoReader\n'
            'from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS\n'
            'info = KoReader(RootFS(sys.argv[1])).read("/sparse.ko")\n'
            'peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]\n'
            'print(info.versions, int(peak) // 1024)\n')
    versions, peak_mib = fresh_python(code, str(tmp_path)).rsplit(' ', 1)
    assert versions == "[('module_layout', 1)]"
    assert int(peak_mib) < 100


def test_huge_section_counts_leave_no_memory_behind(tmp_path: Path) -> None:
    """Files of ~65,000 zeroed sections (4 MiB each), each count different: each is refused for
    its name table, and reading them keeps next to nothing, as d9421de did. A struct format made
    per section count (5fee01e) is compiled and kept by the struct module's cache (up to 100
    formats): ~14 MiB a file here, some 1.4 GiB for a tree of 100 such files."""
    for index in range(8):
        shnum = 65000 - index
        header = (b'\x7fELF\x02\x01\x01' + b'\x00' * 9
                  + struct.pack('<HHIQQQIHHHHHH', 1, 62, 1, 0, 0, 64, 0, 64, 0, 0, 64, shnum, 1))
        (tmp_path / ('f%d.ko' % index)).write_bytes(header + bytes(64 * shnum))
    code = ('import sys\n'
            'from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoReader, KoError\n'
            'from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS\n'
            'def rss():\n'
            '    return int([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmRSS:")][0])\n'
            'reader = KoReader(RootFS(sys.argv[1]))\n'
            'messages = []\n'
            'try:\n'
            '    reader.read("/f0.ko")\n'
            'except KoError as exc:\n'
            '    messages.append(str(exc))\n'
            'before = rss()\n'
            'for index in range(1, 8):\n'
            '    try:\n'
            '        reader.read("/f%d.ko" % index)\n'
            '    except KoError as exc:\n'
            '        messages.append(str(exc))\n'
            'print(len(messages), sum("section name table is empty" in m for m in messages), (rss() - before) // 1024)\n')
    refused, for_names, kept_mib = map(int, fresh_python(code, str(tmp_path)).split())
    assert (refused, for_names) == (8, 8)
    assert kept_mib < 20


@pytest.mark.parametrize('snapshot', [True, False])
def test_a_path_is_resolved_again_unless_the_root_is_a_snapshot(ko_builder: KoBuilder, tmp_path: Path,
                                                                snapshot: bool) -> None:
    """A link read twice: a snapshot of the tree resolves it once (its answers never change), a
    live tree follows the link where it points by then."""
    for name in ('first', 'second'):
        ko_builder.build_ko(tmp_path, name)
    (tmp_path / 'link.ko').symlink_to('first.ko')
    reader = KoReader(RootFS(str(tmp_path), snapshot=snapshot), reader='pyelftools')
    assert reader.read('/link.ko').name == 'first'
    (tmp_path / 'link.ko').unlink()
    (tmp_path / 'link.ko').symlink_to('second.ko')
    assert reader.read('/link.ko').name == ('first' if snapshot else 'second')
