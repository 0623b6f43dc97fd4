# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""symvers reading and the vermagic a kernel's config implies, on real files."""

from __future__ import annotations

import gzip
import lzma
import tempfile
import zlib
from collections.abc import Callable, Mapping
from typing import Any
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils import _kabi
from ansible_collections.kabi.dkms.plugins.module_utils._kabi import (
    Export,
    SharedSymvers,
    Symvers,
    SymversError,
    _decodes_to,
    _search,
    parse_symvers,
    read_symvers,
    vermagic_from_config,
)
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import parse_kconfig
from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoReader, ModuleInfo
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder

RELEASE = '6.1.0-47-amd64'
VERMAGIC = RELEASE + ' SMP preempt mod_unload modversions '
EXPORTS = {'module_layout': 0x4B0A3F52, '_printk': 0x92997ED8, 'kfree': 0x037A0CBA}
SYMVERS = ''.join('0x%08x\t%s\tvmlinux\tEXPORT_SYMBOL\t\n' % (crc, symbol) for symbol, crc in EXPORTS.items())


def module(versions: dict[str, int] | None = None, vermagic: str | None = VERMAGIC,
           has_versions_section: bool | None = None, license: str | None = 'GPL',
           import_ns: list[str] | None = None) -> ModuleInfo:
    versions = EXPORTS if versions is None else versions
    return ModuleInfo(name='hello', vermagic=vermagic, versions=list(versions.items()),
                      has_versions_section=bool(versions) if has_versions_section is None else has_versions_section,
                      license=license, import_ns=import_ns)


def exported(crcs: Mapping[str, int]) -> dict[str, Export]:
    """A kernel's exports with these CRCs, none of them GPL-only or in a namespace."""
    return {symbol: Export(crc, False, None) for symbol, crc in crcs.items()}


def crcs_of(exports: Mapping[str, Export]) -> dict[str, int]:
    return {symbol: export.crc for symbol, export in exports.items()}


KERNEL = exported(EXPORTS)


def gzipped(data: bytes) -> bytes:
    """gzip's format of ``data`` with no timestamp, so its bytes name the same test each run
    (gzip.compress takes ``mtime`` only from Python 3.8 on; zlib writes a zero one)."""
    compressor = zlib.compressobj(wbits=31)
    return compressor.compress(data) + compressor.flush()


def put(root: Path, in_root: str, data: bytes) -> None:
    path = root / in_root.lstrip('/')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class TestParseSymvers:
    def test_what_exports_each_symbol(self) -> None:
        # The module column: vmlinux for the kernel image, an in-tree module's path otherwise, in
        # every layout a kernel wrote (5.4-5.8's namespace-first one and the oldest, without a kind).
        text = ('0x1\tbuilt_in\tvmlinux\tEXPORT_SYMBOL\t\n'
                '0x2\tin_module\tdrivers/net/ethernet/intel/igb/igb\tEXPORT_SYMBOL_GPL\t\n'
                '0x3\tnamespace_first\tCXL\tdrivers/cxl/core/cxl_core\tEXPORT_SYMBOL_GPL\n'
                '0x4\tno_kind\tdrivers/old/old\n')
        owners = {'built_in': 'vmlinux', 'in_module': 'drivers/net/ethernet/intel/igb/igb',
                  'namespace_first': 'drivers/cxl/core/cxl_core', 'no_kind': 'drivers/old/old'}
        assert {symbol: export.owner for symbol, export in parse_symvers(text).items()} == owners
        for symbol, owner in owners.items():
            assert Symvers(text).get(symbol).owner == owner, symbol
        assert {symbol: export.owner for symbol, export in SharedSymvers().select(text, set(owners)).items()} == owners

    def test_kernel_formats(self) -> None:
        text = ('0x4b0a3f52\tmodule_layout\tvmlinux\tEXPORT_SYMBOL\t\n'            # 5.4+: empty namespace
                '0x12345678\tusb_stor_probe\tdrivers/usb/storage/usb-storage\tEXPORT_SYMBOL_GPL\tUSB_STORAGE\n'
                '0x9abcdef0\told_style\tvmlinux\tEXPORT_SYMBOL\n'                  # before namespaces
                '0x00000001\tlinux_2_4\tvmlinux\n'
                '0xffffffff\tall_bits\tvmlinux\tEXPORT_SYMBOL\t\n')
        assert crcs_of(parse_symvers(text)) == {'module_layout': 0x4B0A3F52, 'usb_stor_probe': 0x12345678,
                                                'old_style': 0x9ABCDEF0, 'linux_2_4': 1, 'all_bits': 0xFFFFFFFF}

    def test_space_separated_and_crlf(self) -> None:
        assert crcs_of(parse_symvers('0x00000010 spaced vmlinux EXPORT_SYMBOL\r\n0x11\tshort\r\n')) == \
            {'spaced': 0x10, 'short': 0x11}

    def test_crc_is_truncated_to_32_bits(self) -> None:
        # 64-bit kernels before 4.x printed CRCs as 64-bit values on some architectures.
        assert crcs_of(parse_symvers('0xffffffff12345678\twide\tvmlinux\tEXPORT_SYMBOL\n')) == {'wide': 0x12345678}

    def test_malformed_lines_are_skipped(self) -> None:
        text = ('\n'
                'garbage\n'
                'nothex\tsym\tvmlinux\tEXPORT_SYMBOL\n'
                '\tempty_crc\tvmlinux\n'
                '0x1\n'
                '0x2\tkept\tvmlinux\tEXPORT_SYMBOL\n')
        assert crcs_of(parse_symvers(text)) == {'kept': 2}

    def test_later_line_wins(self) -> None:
        assert crcs_of(parse_symvers('0x1\tdup\tvmlinux\n0x2\tdup\tvmlinux\n')) == {'dup': 2}

    def test_empty(self) -> None:
        assert crcs_of(parse_symvers('')) == {}

    def test_many_lookups_switch_to_the_index_and_agree(self) -> None:
        # Past Symvers.INDEX_AFTER searches the lines are indexed: answers stay the same,
        # a symbol whose last line is malformed included.
        lines = ['0x%08x\tsym%d\tvmlinux\tEXPORT_SYMBOL\t' % (n, n) for n in range(200)]
        lines += ['nothex\tsym7\tvmlinux\tEXPORT_SYMBOL\t', '0x00000abc\tsym9\tvmlinux\tEXPORT_SYMBOL\t']
        text = '\n'.join(lines) + '\n'
        table = parse_symvers(text)
        symvers = Symvers(text)
        names = ['sym%d' % n for n in range(0, 400, 3)] + ['sym7', 'sym9', 'absent']
        assert len(names) > 2 * Symvers.INDEX_AFTER
        for name in names:
            assert symvers.get(name) == table.get(name), name
        assert (symvers['sym7'].crc, symvers['sym9'].crc) == (7, 0xABC)
        assert 'sym300' not in symvers
        assert dict(symvers) == table

    def test_export_kinds_and_namespaces(self) -> None:
        text = ('0x00000001\tgpl_only\tvmlinux\tEXPORT_SYMBOL_GPL\t\n'
                '0x00000002\tcxl_sym\tdrivers/cxl/core/cxl_core\tEXPORT_SYMBOL_GPL\tCXL\n'
                # 5.4 to 5.8 before the stable fix: namespace before the module.
                '0x00000003\tusb_sym\tUSB_STORAGE\tdrivers/usb/storage/usb-storage\tEXPORT_SYMBOL_GPL\n'
                '0x00000004\tplain\tvmlinux\tEXPORT_SYMBOL\n'
                '0x00000005\tunused\tvmlinux\tEXPORT_UNUSED_SYMBOL_GPL\n'
                '0x00000006\tancient\tvmlinux\n')
        expected = {'gpl_only': Export(1, True, None, 'vmlinux'), 'cxl_sym': Export(2, True, 'CXL', 'drivers/cxl/core/cxl_core'),
                    'usb_sym': Export(3, True, 'USB_STORAGE', 'drivers/usb/storage/usb-storage'),
                    'plain': Export(4, False, None, 'vmlinux'), 'unused': Export(5, True, None, 'vmlinux'),
                    'ancient': Export(6, False, None, 'vmlinux')}
        assert parse_symvers(text) == expected
        for symbol, export in expected.items():
            assert Symvers(text).get(symbol) == export, symbol


class TestReadSymvers:
    @pytest.mark.parametrize(('name', 'encode'), [
        ('/lib/modules/K/build/Module.symvers', lambda data: data),
        ('/boot/symvers-K.gz', gzip.compress),
        ('/lib/modules/K/symvers.xz', lambda data: lzma.compress(data, check=lzma.CHECK_CRC32)),
        # The content decides, not the name: RHEL keeps plain files named .gz on some images.
        ('/boot/symvers-K.gz', lambda data: data),
    ])
    def test_formats(self, tmp_path: Path, name: str, encode: Callable[[bytes], bytes]) -> None:
        put(tmp_path, name, encode(SYMVERS.encode()))
        assert crcs_of(read_symvers(RootFS(str(tmp_path)), name)) == EXPORTS

    def test_through_an_absolute_link_inside_the_root(self, tmp_path: Path) -> None:
        put(tmp_path, '/usr/src/linux-headers-K/Module.symvers', SYMVERS.encode())
        (tmp_path / 'lib/modules/K').mkdir(parents=True)
        (tmp_path / 'lib/modules/K/build').symlink_to('/usr/src/linux-headers-K')
        assert crcs_of(read_symvers(RootFS(str(tmp_path)), '/lib/modules/K/build/Module.symvers')) == EXPORTS

    def test_kernels_with_the_same_bytes_share_one_table(self, tmp_path: Path) -> None:
        # A gzipped copy decompresses to the same text: one Symvers and its answers; another text, another.
        put(tmp_path, '/a/Module.symvers', SYMVERS.encode())
        put(tmp_path, '/b/symvers.gz', gzip.compress(SYMVERS.encode()))
        put(tmp_path, '/c/Module.symvers', SYMVERS.replace('0x4b0a3f52', '0x00000001').encode())
        fs = RootFS(str(tmp_path))
        shared = SharedSymvers()
        first = read_symvers(fs, '/a/Module.symvers', shared)
        assert crcs_of(first.select({'kfree', 'absent'})) == {'kfree': EXPORTS['kfree']}
        assert read_symvers(fs, '/b/symvers.gz', shared) is first
        changed = read_symvers(fs, '/c/Module.symvers', shared)
        assert changed is not first
        assert crcs_of(changed) == dict(EXPORTS, module_layout=1)
        assert read_symvers(fs, '/a/Module.symvers') is not first   # not shared when not asked to
        # Bytes that decode with replacement characters are decoded again, to the same answers.
        put(tmp_path, '/d/Module.symvers', b'0x1\tsym\xff\tvmlinux\tEXPORT_SYMBOL\n\xc3\xa9')
        replaced = read_symvers(fs, '/d/Module.symvers', shared)
        again = read_symvers(fs, '/d/Module.symvers', shared)
        assert again is not replaced and crcs_of(again) == crcs_of(replaced) == {'sym\ufffd': 1}
        # Valid UTF-8 beyond ASCII compares in place.
        put(tmp_path, '/e/Module.symvers', SYMVERS.encode() + '0x2\tsymbole_\u00e9\tvmlinux\n'.encode())
        accented = read_symvers(fs, '/e/Module.symvers', shared)
        assert read_symvers(fs, '/e/Module.symvers', shared) is accented
        assert crcs_of(accented) == {**EXPORTS, 'symbole_\u00e9': 2}
        # Lines ended by CRLF are searched as newline lines; a copy is still told by the bytes read.
        put(tmp_path, '/f/Module.symvers', SYMVERS.replace('\n', '\r\n').encode())
        crlf = read_symvers(fs, '/f/Module.symvers', shared)
        assert read_symvers(fs, '/f/Module.symvers', shared) is crlf and crcs_of(crlf) == EXPORTS

    @given(st.text(alphabet='a\t\n\u00e9\u20ac\ufffd', max_size=20), st.binary(max_size=4), st.integers(1, 4))
    def test_bytes_are_compared_with_a_text_chunk_by_chunk(self, text: str, tail: bytes, chunk: int) -> None:
        data = text.encode()
        assert _decodes_to(data, text, chunk)
        other = data + tail
        assert _decodes_to(other, text, chunk) is (other.decode('utf-8', 'replace') == text and other == data)

    def test_a_selection_answers_alike_before_and_after_the_index_or_the_full_parse(self) -> None:
        # A space-separated line and a two-column one are seen by the text search too, so a
        # selection kept from before the text was indexed or parsed whole stays right.
        text = '0x1\tA\tvmlinux\tEXPORT_SYMBOL\n0x2 B vmlinux EXPORT_SYMBOL\n0x3\tC\n'
        for settle in (len, lambda symvers: [symvers.get('pad%d' % n) for n in range(Symvers.INDEX_AFTER + 1)]):
            symvers = Symvers(text)
            assert crcs_of(symvers.select({'B', 'C'})) == {'B': 2, 'C': 3}
            settle(symvers)
            assert crcs_of(symvers.select({'B', 'C'})) == {'B': 2, 'C': 3} == crcs_of(
                {'B': symvers.get('B'), 'C': symvers.get('C')})
        symvers = Symvers(text)
        for n in range(Symvers.INDEX_AFTER - 1):
            symvers.get('pad%d' % n)
        assert crcs_of(symvers.select({'B', 'C', 'D'})) == {'B': 2, 'C': 3}     # indexed on the way

    def test_a_selection_of_an_iterator_is_kept_for_its_symbols(self) -> None:
        symvers = Symvers(SYMVERS)
        assert crcs_of(symvers.select(iter(['kfree']))) == {'kfree': EXPORTS['kfree']}
        assert symvers.select(set()) == {}

    def test_a_selection_is_kept_for_the_same_symbols_not_the_same_set(self) -> None:
        # The caller's set may change in place after the call: the next answer follows it.
        symvers = Symvers(SYMVERS)
        wanted = {'kfree', 'absent'}
        assert crcs_of(symvers.select(wanted)) == {'kfree': EXPORTS['kfree']}
        assert symvers.select(frozenset(wanted)) is symvers.select(wanted)
        wanted.add('_printk')
        assert crcs_of(symvers.select(wanted)) == {'kfree': EXPORTS['kfree'], '_printk': EXPORTS['_printk']}

    def test_a_copy_of_the_last_text_larger_than_the_limit_is_refused(self, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        # Bytes that are not UTF-8 decode to U+FFFD, three bytes encoded: a file holding the last
        # text's encoding can be three times the size of the one it was read from, past the limit.
        first = SYMVERS.encode() + b'\xff' * 64
        limit = len(first)
        monkeypatch.setattr(_kabi, 'SYMVERS_LIMIT', limit)
        put(tmp_path, '/a/Module.symvers', first)
        put(tmp_path, '/b/Module.symvers', first.decode('utf-8', 'replace').encode())
        assert len((tmp_path / 'b/Module.symvers').read_bytes()) > limit
        fs = RootFS(str(tmp_path))
        shared = SharedSymvers()
        read_symvers(fs, '/a/Module.symvers', shared)
        with pytest.raises(SymversError, match='larger|limit|bytes'):
            read_symvers(fs, '/b/Module.symvers', shared)

    def test_non_utf8_bytes_are_replaced(self, tmp_path: Path) -> None:
        put(tmp_path, '/s', b'0x1\tsym\xff\tvmlinux\n')
        assert crcs_of(read_symvers(RootFS(str(tmp_path)), '/s')) == {'sym\ufffd': 1}

    @pytest.mark.parametrize('data', [
        b'\x1f\x8b' + b'not really gzip',
        gzipped(SYMVERS.encode())[:-12],
        b'\xfd7zXZ\x00' + b'not really xz',
        lzma.compress(SYMVERS.encode())[:40],
    ])
    def test_corrupt_compression(self, tmp_path: Path, data: bytes) -> None:
        put(tmp_path, '/boot/symvers-K.gz', data)
        with pytest.raises(SymversError, match='decompress'):
            read_symvers(RootFS(str(tmp_path)), '/boot/symvers-K.gz')

    def test_unreadable(self, tmp_path: Path) -> None:
        fs = RootFS(str(tmp_path))
        (tmp_path / 'dir').mkdir()
        (tmp_path / 'loop').symlink_to('/loop')
        host = tmp_path.parent / (tmp_path.name + '-host.symvers')
        host.write_text(SYMVERS)
        (tmp_path / 'leak').symlink_to(host)
        for path in ('/missing', '/dir', '/loop', '/leak'):
            with pytest.raises(SymversError, match='cannot read'):
                read_symvers(fs, path)


class TestVermagic:
    @pytest.mark.parametrize(('options', 'expected'), [
        ({'CONFIG_SMP': 'y', 'CONFIG_PREEMPT_BUILD': 'y', 'CONFIG_MODULE_UNLOAD': 'y', 'CONFIG_MODVERSIONS': 'y'},
         VERMAGIC),
        ({'CONFIG_SMP': 'y', 'CONFIG_PREEMPT': 'y', 'CONFIG_MODULE_UNLOAD': 'y'}, RELEASE + ' SMP preempt mod_unload '),
        ({'CONFIG_SMP': 'y', 'CONFIG_PREEMPT_RT': 'y', 'CONFIG_MODULE_UNLOAD': 'y', 'CONFIG_MODVERSIONS': 'y'},
         RELEASE + ' SMP preempt_rt mod_unload modversions '),
        # 6.12+: PREEMPT_RT combines with a preemption model, and vermagic.h asks PREEMPT_BUILD first.
        ({'CONFIG_SMP': 'y', 'CONFIG_PREEMPT_RT': 'y', 'CONFIG_PREEMPT_LAZY': 'y', 'CONFIG_PREEMPT_BUILD': 'y',
          'CONFIG_MODULE_UNLOAD': 'y', 'CONFIG_MODVERSIONS': 'y'}, VERMAGIC),
        ({'CONFIG_SMP': 'y', 'CONFIG_PREEMPT_VOLUNTARY': 'y', 'CONFIG_MODULE_UNLOAD': 'y',
          'CONFIG_MODVERSIONS': 'y'}, RELEASE + ' SMP mod_unload modversions '),
        ({'CONFIG_SMP': 'n', 'CONFIG_MODULE_UNLOAD': 'm'}, RELEASE + ' '),
        ({}, RELEASE + ' '),
    ])
    def test_from_x86_64_config(self, options: dict[str, str], expected: str) -> None:
        assert vermagic_from_config(RELEASE, dict(options, CONFIG_X86_64='y')) == expected

    @pytest.mark.parametrize('config', [
        None,
        {'CONFIG_ARM64': 'y', 'CONFIG_SMP': 'y'},
        {'CONFIG_X86_64': 'y', 'CONFIG_RANDSTRUCT': 'y'},
        {'CONFIG_X86_64': 'y', 'CONFIG_GCC_PLUGIN_RANDSTRUCT': 'y'},
    ])
    def test_not_derivable(self, config: dict[str, str] | None) -> None:
        assert vermagic_from_config(RELEASE, config) is None

    def test_matches_the_kernels_own_module(self, tmp_path: Path, ko_builder: KoBuilder) -> None:
        config = parse_kconfig('#\n# Automatically generated file; DO NOT EDIT.\n'
                               'CONFIG_X86_64=y\nCONFIG_SMP=y\nCONFIG_PREEMPT_BUILD=y\n'
                               'CONFIG_MODULE_UNLOAD=y\nCONFIG_MODVERSIONS=y\n# CONFIG_PREEMPT_RT is not set\n')
        derived = vermagic_from_config(RELEASE, config)
        ko_builder.build_ko(tmp_path, 'intree', vermagic=derived, versions={'module_layout': 1})
        info = KoReader(RootFS(str(tmp_path)), reader='pyelftools').read('/intree.ko')
        assert info.vermagic == derived == VERMAGIC


def searched_line_by_line(text: str, symbols: list[str]) -> tuple[dict[str, Export], set[str]]:
    """What ``_search`` answers, from the lines ``_exports_on`` reads one by one."""
    found: dict[str, Export] = {}
    ambiguous = set()
    for symbol, dummy, export in _kabi._exports_on(text.splitlines(), set(symbols)):
        if symbol in found:
            ambiguous.add(symbol)
        found[symbol] = export
    return found, ambiguous


SEARCHED = ['a', 'b', 'ab', 'a b', 'vmlinux', '']
# Lines as a kernel since 5.9 writes them: CRC, symbol, module, kind and namespace.
REAL_LINES = ['0x%08x\tsym%d\t%s\tEXPORT_SYMBOL%s\t%s' % (n * 2654435761 % 2 ** 32, n, 'drivers/m' if n % 2 else 'vmlinux',
                                                          '_GPL' if n % 3 == 0 else '', 'NS' if n % 5 == 0 else '')
              for n in range(600)]


class TestSearch:
    """``_search`` takes many lines at once through ``_tab_exports`` where it reads them as
    ``_exports_on`` does, and only there."""

    @settings(max_examples=500, deadline=None, derandomize=True)
    @given(st.lists(st.tuples(st.sampled_from(['0x1', '0xdeadbeef', '0x1ffffffff', '-0x1', ' 0x2', 'zz', '', '0x']),
                              st.sampled_from(['\t', ' ', '  ', '\t ']), st.sampled_from(SEARCHED + ['c']),
                              st.sampled_from(['', '\t', '\tvmlinux\tEXPORT_SYMBOL\t', '\tm\tEXPORT_SYMBOL_GPL\tNS',
                                               ' vmlinux EXPORT_SYMBOL', '\tNS\tm\tEXPORT_SYMBOL', '\tm\tEXPORT_SYMBOL\t\tx\ty']),
                              st.sampled_from(['\n', '\n', '\n\n', '\r\n', '\r', '\x0b', '\x1c', '\x85', '\u2028', ''])),
                    max_size=16),
           st.sampled_from([1, 3, 256]))
    def test_the_lines_taken_at_once_are_read_as_one_by_one(self, rows: list[tuple[str, ...]], lines_read: int) -> None:
        text = ''.join(''.join(row) for row in rows)
        lines = text.splitlines()
        taken = _kabi._tab_exports(lines, set(SEARCHED), _kabi._Meanings())
        one_by_one = [(symbol, export) for symbol, dummy, export in _kabi._exports_on(lines, set(SEARCHED))]
        if taken is not None:
            assert list(zip(*taken)) == one_by_one
            assert all(isinstance(export, Export) for export in taken[1])
        # Whichever way each group of lines is read, the last valid line counts and a symbol on
        # two counts as ambiguous, also across groups.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_kabi, '_LINES_READ', lines_read)
            searched = _search(text, SEARCHED)
        assert searched == searched_line_by_line(text, SEARCHED)
        assert all(any(key is symbol for symbol in SEARCHED) for key in searched[0])

    @pytest.mark.parametrize('line', [
        '0x2 a vmlinux EXPORT_SYMBOL',    # no tab: cut on whitespace, one by one
        '',                               # no tab either
        '0x2\ta',                         # asked for, with no third column
        'zz\ta\tvmlinux\tEXPORT_SYMBOL',   # asked for, its CRC not hex
    ])
    def test_lines_not_read_as_one_by_one_are_not_taken_at_once(self, line: str) -> None:
        lines = REAL_LINES[:5] + [line] + REAL_LINES[5:10]
        assert _kabi._tab_exports(lines, {'a', 'sym1'}, _kabi._Meanings()) is None
        assert _search('\n'.join(lines), {'a', 'sym1'}) == searched_line_by_line('\n'.join(lines), ['a', 'sym1'])

    @pytest.mark.parametrize('line', ['zz\tother\tvmlinux\tEXPORT_SYMBOL', '0x2\tother', '0x1ffffffff\ta\tm\tEXPORT_SYMBOL'])
    def test_lines_read_alike_are_taken_at_once(self, line: str) -> None:
        # Lines not asked for are not read further; a CRC past 32 bits is cut to them either way.
        lines = REAL_LINES[:5] + [line] + REAL_LINES[5:10]
        taken = _kabi._tab_exports(lines, {'a', 'sym1'}, _kabi._Meanings())
        assert taken is not None
        assert list(zip(*taken)) == [(symbol, export) for symbol, dummy, export in _kabi._exports_on(lines, {'a', 'sym1'})]

    def test_a_real_symvers_is_read_a_group_of_lines_at_a_time(self, monkeypatch: pytest.MonkeyPatch) -> None:
        text = '\n'.join(REAL_LINES) + '\n'
        expected = searched_line_by_line(text, ['sym%d' % n for n in range(0, 700, 2)])
        monkeypatch.setattr(_kabi, '_exports_on', None)
        assert _search(text, ['sym%d' % n for n in range(0, 700, 2)]) == expected

    def test_meanings_kept_are_bounded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(_kabi, '_DESCRIBED_KEPT', 3)
        text = ''.join('0x%x\tsym%d\tm%d\tEXPORT_SYMBOL\t\n' % (n, n, n) for n in range(50))
        meanings = _kabi._Meanings()
        taken = _kabi._tab_exports(text.splitlines(), {'sym%d' % n for n in range(50)}, meanings)
        assert taken is not None and len(meanings) == 3
        assert dict(zip(*taken)) == parse_symvers(text)


def test_parse_kconfig() -> None:
    text = ('CONFIG_A=y\nCONFIG_B=m\nCONFIG_S="quoted value"\n# CONFIG_C is not set\n'
            'CONFIG_EQ="a=b"\nNOT_CONFIG=1\n\nCONFIG_N=1234\n')
    assert parse_kconfig(text) == {'CONFIG_A': 'y', 'CONFIG_B': 'm', 'CONFIG_S': 'quoted value',
                                   'CONFIG_EQ': 'a=b', 'CONFIG_N': '1234'}


GZIP_MAGIC = b'\x1f\x8b'
XZ_MAGIC = b'\xfd7zXZ\x00'


class TestProperties:
    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(st.text())
    @example('0x\tx')
    @example('0x' + 'f' * 5000 + '\tbig')
    def test_parse_never_raises(self, text: str) -> None:
        for symbol, export in parse_symvers(text).items():
            assert isinstance(symbol, str) and 0 <= export.crc <= 0xFFFFFFFF

    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(st.one_of(st.binary(), st.binary().map(lambda data: GZIP_MAGIC + data),
                     st.binary().map(lambda data: XZ_MAGIC + data),
                     st.binary(max_size=64).map(lambda data: gzip.compress(data)[:len(data) % 30 + 10]),
                     st.binary(max_size=64).map(lambda data: lzma.compress(data)[:len(data) % 50 + 12])))
    def test_read_never_raises_anything_but_symvers_error(self, data: bytes) -> None:
        with tempfile.TemporaryDirectory() as top:
            put(Path(top), '/symvers', data)
            try:
                exports = read_symvers(RootFS(top), '/symvers')
            except SymversError:
                return
            assert all(isinstance(export.crc, int) for export in dict(exports).values())

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.lists(st.tuples(st.sampled_from(['0x1', '0xdeadbeef', '0xffffffff1', 'zz', '', '0x']),
                              st.sampled_from(['a', 'b', 'ab', 'vmlinux', 'a b', '']),
                              st.sampled_from(['vmlinux', 'a', 'drivers/x', ''])), max_size=12))
    def test_lookup_agrees_with_the_full_parse(self, rows: list[tuple[str, str, str]]) -> None:
        text = ''.join('%s\t%s\t%s\tEXPORT_SYMBOL\t\n' % row for row in rows)
        table = parse_symvers(text)
        for symbol in ('a', 'b', 'ab', 'vmlinux', 'a b', 'drivers/x', 'absent'):
            assert Symvers(text).get(symbol) == table.get(symbol), symbol

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.lists(st.tuples(st.sampled_from(['0x1', '0x2', 'zz', '']), st.sampled_from(['\t', ' ', '  ']),
                              st.sampled_from(['a', 'b', 'ab', 'a b', '']),
                              st.sampled_from(['', '\tvmlinux', ' vmlinux EXPORT_SYMBOL', '\tm\tEXPORT_SYMBOL_GPL\tNS',
                                               ' b\tm'])), max_size=12),
           st.sampled_from([0, 1, Symvers.FIND_LINES]))
    def test_searched_lines_are_cut_as_parsed(self, rows: list[tuple[str, str, str, str]], find_lines: int) -> None:
        # Few symbols are searched in the text: two columns, or whitespace instead of tabs, and
        # a symbol in more lines than the search looks at, answer as the full parse does.
        text = ''.join('%s%s%s%s\n' % row for row in rows)
        table = parse_symvers(text)
        for symbol in ('a', 'b', 'ab', 'a b', 'vmlinux', 'absent', ''):
            symvers = Symvers(text)
            symvers.FIND_LINES = find_lines
            assert symvers.get(symbol) == table.get(symbol), symbol

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.lists(st.sampled_from(['\t', '\n', '\r\n', ' ', '\x0b', '0x1', '0xff', 'zz', 'a', 'b', 'vmlinux',
                                     'EXPORT_SYMBOL_GPL', 'NS']), max_size=40).map(''.join))
    def test_the_index_agrees_with_the_full_parse(self, text: str) -> None:
        # Any text, mixed separators and line ends included, once the index answers.
        table = parse_symvers(text)
        symvers = Symvers(text)
        names = ['pad%d' % n for n in range(Symvers.INDEX_AFTER)] + ['a', 'b', 'vmlinux', 'zz', '0x1', 'NS', '']
        for name in names:
            assert symvers.get(name) == table.get(name), name

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.lists(st.tuples(st.sampled_from(['0x1', '0xdeadbeef', 'zz', '']), st.sampled_from(['a', 'b', 'a b', '']),
                              st.sampled_from(['EXPORT_SYMBOL', 'EXPORT_SYMBOL_GPL\tNS', 'x'])), max_size=12),
           st.booleans())
    def test_selecting_agrees_with_the_full_parse(self, rows: list[tuple[str, str, str]], many: bool) -> None:
        # Few symbols are looked up one by one, many through the index: both as the full parse.
        text = ''.join('%s\t%s\tvmlinux\t%s\n' % row for row in rows)
        table = parse_symvers(text)
        names = ['a', 'b', 'a b', 'absent'] + (['pad%d' % n for n in range(Symvers.INDEX_AFTER)] if many else [])
        assert Symvers(text).select(names) == {name: table[name] for name in names if name in table}
        # Kernels of one run share the pieces searched before: another kernel's text, then this one.
        shared = SharedSymvers()
        other = text.replace('0x1\t', '0x2\t') + '0x3\ta\tvmlinux\tEXPORT_SYMBOL\n'
        assert Symvers(other, shared).select(names) == Symvers(other).select(names)
        assert Symvers(text, shared).select(names) == {name: table[name] for name in names if name in table}

    def test_fewer_symbols_of_the_same_text_are_answered_without_a_search(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Modules judged again without some of them ask for fewer symbols: the text is not searched
        # again, then or for the next kernel of the same text.
        searches = []
        search = _kabi._search

        def counted(text: str, symbols: Mapping[str, str]) -> Any:
            searches.append(set(symbols))
            return search(text, symbols)
        monkeypatch.setattr(_kabi, '_search', counted)
        shared = SharedSymvers()
        every = {'kfree', 'module_layout', 'absent'}
        assert crcs_of(shared.select(SYMVERS, every)) == {'kfree': EXPORTS['kfree'], 'module_layout': EXPORTS['module_layout']}
        assert crcs_of(shared.select(SYMVERS, {'kfree', 'absent'})) == {'kfree': EXPORTS['kfree']}
        assert crcs_of(shared.select(SYMVERS, set())) == {}
        assert crcs_of(shared.select(SYMVERS, every)) == {'kfree': EXPORTS['kfree'], 'module_layout': EXPORTS['module_layout']}
        assert searches == [every]

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.lists(st.lists(st.sampled_from(['\t', '\n', '\r\n', '\n0x0', '0x0', '\n0x01\t', ' ', '\x0b', '0x1',
                                              'ff', 'zz', 'a', 'b', 'vmlinux', 'EXPORT_SYMBOL_GPL', 'NS']),
                             max_size=40).map(''.join), min_size=1, max_size=4),
           st.lists(st.sets(st.sampled_from(['a', 'b', 'ab', 'ff', '0x0', 'vmlinux', 'NS', ''])), min_size=1, max_size=4),
           st.sampled_from([0, 1, 3, 100000]))
    def test_kernels_sharing_lines_agree_with_the_full_parse(self, texts: list[str], wanted: list[set[str]],
                                                             lines_compared: int) -> None:
        # Kernel after kernel, with texts and symbols that change or repeat, cut anywhere.
        shared = SharedSymvers(lines_compared)
        answers = []
        for number, text in enumerate(texts + texts[:1] + [texts[-1] + '\n0x0f\ta\tm\tEXPORT_SYMBOL\n']):
            symbols = wanted[number % len(wanted)]
            answer = shared.select(text, symbols)
            assert answer == parse_symvers(text, symbols), (number, text)
            answers.append((answer, dict(answer)))
        # An answer handed out (an earlier kernel's table holds it) is not changed by the next kernels'.
        assert all(answer == kept for answer, kept in answers)

    @settings(max_examples=500, deadline=None, derandomize=True)
    @given(st.lists(st.lists(st.tuples(st.sampled_from([
        '0x1\ta\tm\tEXPORT_SYMBOL', '0x2\ta\tm\tEXPORT_SYMBOL', '0x1 a m EXPORT_SYMBOL', 'zz\ta\tm',
        '0x3\tb\tm\tEXPORT_SYMBOL_GPL\tNS', '0x3\tb\tn\tEXPORT_SYMBOL_GPL\tNS', '0x4\tc', 'c', '']),
        st.sampled_from(['\n', '\r\n', '\x0b'])), max_size=8), min_size=1, max_size=5),
        st.sampled_from([{'a'}, {'a', 'b'}, {'a', 'b', 'c'}, {'b', 'c', 'absent'}]))
    def test_lines_that_move_repeat_or_change_between_kernels(self, kernels: list[list[tuple[str, str]]],
                                                              symbols: set[str]) -> None:
        # Texts made of a few lines, so that most of one kernel's are the kernel before's: lines
        # removed, added, repeated, moved, two of one symbol in either order, malformed ones.
        shared = SharedSymvers()
        for number, rows in enumerate(kernels):
            text = ''.join(line + end for line, end in rows)
            assert shared.select(text, symbols) == parse_symvers(text, symbols), (number, text)

    def test_two_lines_of_a_symbol_in_the_other_order(self) -> None:
        # The same lines, so nothing differs but their order, which decides: the text is searched again.
        first, second = '0x1\ta\tm\tEXPORT_SYMBOL\n', '0x2\ta\tm\tEXPORT_SYMBOL\n'
        shared = SharedSymvers()
        assert shared.select(first + second, {'a'}) == {'a': Export(2, False, None, 'm')}
        assert shared.select(second + first, {'a'}) == {'a': Export(1, False, None, 'm')}

    def test_updates_of_one_kabi_stream_share_lines(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Lines that change, go and come from one kernel to the next: every answer the full parse's,
        # and each text after the first compared with the one before, never searched whole, while
        # the symbols asked for stay the same or fewer.
        searched = []
        monkeypatch.setattr(_kabi, '_search', lambda text, symbols: searched.append(text) or _search(text, symbols))
        lines = ['0x%08x\tsym%d\tvmlinux\tEXPORT_SYMBOL%s\t\n' % ((n * 2654435761) % 2 ** 32, n, '_GPL' * (n % 2))
                 for n in range(3000)]
        shared = SharedSymvers()
        wanted = set('sym%d' % n for n in range(0, 3000, 7)) | {'sym1', 'late', 'absent'}
        for update in range(4):
            changed = list(lines)
            for n in range(update, 3000, 97):
                changed[n] = changed[n].replace('\tvmlinux', '\tvmlinux_%d' % update).replace('0x', '0x0', 1)
            text = ''.join(changed[:100] + changed[150:] + ['0x0badcafe\tlate\tm\tEXPORT_SYMBOL\t\n'] * min(update, 1))
            assert shared.select(text, wanted) == parse_symvers(text, wanted)
            # The same set, changed in place: what was searched for it before is not trusted.
            wanted -= {'sym%d' % (7 * update)}
        assert len(searched) == 1
        # One symbol more than searched before, and the next text is searched whole.
        assert shared.select(text, wanted | {'sym2'}) == parse_symvers(text, wanted | {'sym2'})
        assert len(searched) == 2

    def test_answers_are_keyed_by_the_callers_strings(self) -> None:
        # One string object per symbol, the modules' own: none kept from the text.
        text = ''.join('0x0%07x\tsym%d\tvmlinux\tEXPORT_SYMBOL\t\n' % (n, n) for n in range(0, 3000, 7))
        shared = SharedSymvers()
        wanted = ''.join(['sym', '14'])
        for update in range(3):
            (symbol,) = shared.select(text + '0x1\tsym14\tlate\tEXPORT_SYMBOL\n' * min(update, 1), {wanted})
            assert symbol is wanted

    @pytest.mark.parametrize('bound, whole', [(4, False), (3, True)])
    def test_the_bound_on_lines_compared_is_exact(self, monkeypatch: pytest.MonkeyPatch, bound: int,
                                                  whole: bool) -> None:
        # A text of more different lines than the bound is searched whole, never held as a set of lines.
        searched = []
        monkeypatch.setattr(_kabi, '_search', lambda text, symbols: searched.append(text) or _search(text, symbols))
        monkeypatch.setattr(_kabi, '_worth_comparing', lambda *args: True)   # a text this small never is
        text = ''.join('0x%08x\tsym%d\tvmlinux\tEXPORT_SYMBOL\n' % (n, n) for n in range(4))
        other = text.replace('0x00000001', '0x00000007')
        shared = SharedSymvers(bound)
        for kernel in (text, other):
            assert shared.select(kernel, {'sym1', 'sym2'}) == parse_symvers(kernel, {'sym1', 'sym2'})
        assert searched == ([text, other] if whole else [text])

    def test_other_symbols_are_searched_whole(self) -> None:
        # What was found answers for the symbols last asked for: a kernel asked for others in
        # between is searched whole, and so is the next.
        text = ''.join('0x%08x\tsym%d\tvmlinux\tEXPORT_SYMBOL\t\n' % (n * 2654435761 % 2 ** 32, n) for n in range(3000))
        tiny = ''.join('0x0%07x\tsym%d\tvmlinux\tEXPORT_SYMBOL\t\n' % (n, n) for n in range(3000))
        shared = SharedSymvers()
        for kernel, symbols in ((text, {'sym1'}), (tiny, {'sym2', 'sym3'}), (text, {'sym2', 'sym3'})):
            assert shared.select(kernel, symbols) == parse_symvers(kernel, symbols)

    def test_a_line_repeated_in_two_pieces_of_the_next_text(self) -> None:
        # Texts are compared 256 KiB at a time: the symbol's line, once in the first text, comes
        # twice in the next, far apart, beside a line changed and one gone.
        filler = ''.join('0x%08x\tfill%d\tvmlinux\tEXPORT_SYMBOL\n' % (n, n) for n in range(12000))
        line = '0x00000001\ta\tm\tEXPORT_SYMBOL\n'
        first = filler + line + '0x00000002\tb\tm\tEXPORT_SYMBOL\n0x00000003\tc\tm\tEXPORT_SYMBOL\n' + filler
        later = line + filler + line + '0x00000004\tb\tm\tEXPORT_SYMBOL\n' + filler.replace('fill7\t', 'fill7x\t')
        assert len(later) > 2 * 256 * 1024
        shared = SharedSymvers()
        for text in (first, later, first):
            assert shared.select(text, {'a', 'b', 'c'}) == parse_symvers(text, {'a', 'b', 'c'})

    def test_a_line_twice_in_pieces_that_differ(self) -> None:
        # The symbol's line is in one piece of the first text, in two new pieces of the second;
        # the third keeps one of those and drops the other: the line is still there.
        line = '0x1\ta\tm\tEXPORT_SYMBOL\n'
        first = 'x\n0x0000009\tp\tm\tEXPORT_SYMBOL\n' + line
        second = 'x\n0x0000008\tq\tm\tEXPORT_SYMBOL\n' + line + '0x0000007\tr\tm\tEXPORT_SYMBOL\n' + line
        third = 'x\n0x0000008\tq\tm\tEXPORT_SYMBOL\n' + line + '0x0000006\ts\tm\tEXPORT_SYMBOL\n'
        shared = SharedSymvers()
        for text in (first, second, third):
            assert shared.select(text, {'a', 'p'}) == parse_symvers(text, {'a', 'p'}), text

    def test_a_first_piece_is_not_taken_for_a_piece_after_a_cut(self) -> None:
        # Without its "0x0" the piece after the cut reads as a line with no CRC, which is skipped.
        after_a_cut = 'junk\n0x0\ta\tm\tEXPORT_SYMBOL\n'
        first = '\ta\tm\tEXPORT_SYMBOL\n'
        for texts in ((first, after_a_cut, first), (after_a_cut, first, after_a_cut)):
            shared = SharedSymvers()
            for text in texts:
                assert shared.select(text, {'a'}) == parse_symvers(text, {'a'}), text

    def test_a_text_mostly_changed_is_searched_whole(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Every line has another CRC and few symbols are asked for: comparing would cost more.
        searched = []
        monkeypatch.setattr(_kabi, '_search', lambda text, symbols: searched.append(text) or _search(text, symbols))
        texts = [''.join('0x%08x\tsym%d\tvmlinux\tEXPORT_SYMBOL\n' % ((n * 7919 + update) % 2 ** 32, n)
                         for n in range(3000)) for update in range(3)]
        shared = SharedSymvers()
        for text in texts:
            assert shared.select(text, {'sym1', 'sym2'}) == parse_symvers(text, {'sym1', 'sym2'})
        assert searched == texts

    @pytest.mark.parametrize('end', ['\r', '\r\n', '\x0b', '\x0c', '\x1c', '\x1d', '\x1e', '\x85', '\u2028', '\u2029'])
    def test_lines_ended_otherwise_are_looked_up_as_parsed(self, end: str) -> None:
        # The text search cuts lines at "\n" alone: such a text is indexed instead.
        text = '0x1\ta\tm' + end + '0x2\tb\tm\n0x3\ta\tn' + end
        table = parse_symvers(text)
        for symbol in ('a', 'b'):
            assert Symvers(text).get(symbol) == table.get(symbol), symbol

    def test_a_symbol_inside_other_columns_is_searched_not_indexed(self) -> None:
        # "schedule" is in a hundred lines of a real symvers as a part of other symbols: only its
        # own line is cut, and the text is not indexed for it.
        text = ''.join('0x%08x\tschedule_%d\tvmlinux\tEXPORT_SYMBOL\t\n' % (n, n) for n in range(100))
        symvers = Symvers(text + '0x00000007\tschedule\tvmlinux\tEXPORT_SYMBOL\t\n')
        assert crcs_of({'schedule': symvers.get('schedule')}) == {'schedule': 7}
        assert symvers._index is None
        # Past FIND_OCCURRENCES the lines are indexed, with the same answer.
        symvers = Symvers(text * 50 + '0x7\tschedule\tm\n')
        assert crcs_of({'schedule': symvers.get('schedule')}) == {'schedule': 7} and symvers._index is not None

    def test_keys_that_are_not_text_are_not_exported(self) -> None:
        symvers = Symvers('0x1\tNone\tvmlinux\tEXPORT_SYMBOL\n0x2\t5\tm\tEXPORT_SYMBOL\n')
        assert symvers.get(None) is None and 5 not in symvers and symvers.get(b'5') is None

    def test_a_line_of_many_columns_is_cut_into_the_three_read(self) -> None:
        text = '0x1\tab\tm\tEXPORT_SYMBOL_GPL\tNS' + '\tx' * 100000 + '\n'
        assert Symvers(text).get('ab') == Export(1, True, 'NS', 'm') == parse_symvers(text)['ab']

    @pytest.mark.parametrize('end', ['\n', '\r', '\r\n', '\u2028'])
    def test_lines_are_cut_a_piece_at_a_time_whatever_ends_them(self, end: str) -> None:
        # A text without newlines is not split into all its lines at once either.
        text = ''.join('0x%x\tsym%d\tvmlinux%s' % (n, n, end) for n in range(2000))
        pieces = list(_kabi._line_pieces(text, 1024))
        assert len(pieces) > 20 and max(map(len, pieces)) < 60
        assert [line for piece in pieces for line in piece] == text.splitlines()

    def test_a_last_text_far_larger_than_the_next_is_not_compared(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Its lines would all have to be cut into strings: searching the small text costs less.
        compared = []
        monkeypatch.setattr(_kabi, '_changed_lines', lambda *args: compared.append(args) or None)
        tail = ''.join('0x%08x\tsym%d\tvmlinux\tEXPORT_SYMBOL\n' % (n, n) for n in range(100))
        shared = SharedSymvers()
        for text in ('ab\n' * 300000 + tail, 'x\n' + tail):
            assert shared.select(text, {'sym1', 'ab'}) == parse_symvers(text, {'sym1', 'ab'})
        assert not compared
