# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading kernel module files (``.ko``, ``.ko.gz``, ``.ko.xz``, ``.ko.zst``).

One concern only: what a module file says about itself (``.modinfo`` and its symbol
versions). Whether it loads on a kernel is decided elsewhere.

Two readers give the same result type: pyelftools where it works on the target, else
kmod's ``modinfo`` and ``modprobe --dump-modversions``. Neither executes the module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import io
import os
import re
import shutil
import struct
import sys
import tempfile
import zlib
from array import array
from collections import OrderedDict, namedtuple
from itertools import chain, repeat
from operator import add, itemgetter
from types import MappingProxyType

from ansible_collections.kabi.dkms.plugins.module_utils._commands import find_command, run_bounded
from ansible_collections.kabi.dkms.plugins.module_utils._elftools_adapter import ElftoolsUnusable, load_adapter
from ansible_collections.kabi.dkms.plugins.module_utils._module_signature import elf_length, read_module_signature
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import FileTooLarge, NotRegularFile, RootPathError, remembered

ELF_MAGIC = b'\x7fELF'
GZIP_MAGIC = b'\x1f\x8b'
XZ_MAGIC = b'\xfd7zXZ\x00'
ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
COMPRESSIONS = (('gzip', GZIP_MAGIC), ('xz', XZ_MAGIC), ('zstd', ZSTD_MAGIC))
# Gzip header flags FHCRC, FEXTRA and FCOMMENT: the kernel's gzip module decompression skips a
# file name (FNAME) after the fixed header, and nothing else.
GZIP_HEADER_EXTRAS = 0x02 | 0x04 | 0x10

# Guards against a corrupt file or a decompression bomb, before and after decompression: the
# largest real modules (amdgpu, a DKMS-built nvidia) are 20 to 100 MiB.
MAX_MODULE_BYTES = 256 * 1024 * 1024
# The end of a module file read at once: its signature, section table and section names.
TAIL_BYTES = 16 * 1024
# Its start read at once: the magic numbers of the compressions and the ELF header (64 bytes).
HEAD_BYTES = 64
# Decompressed output is produced and checked in pieces of this size.
INFLATE_CHUNK = 1024 * 1024
SHF_COMPRESSED = 0x800
# Drivers with many aliases have .modinfo sections of some 100 KiB; nothing needs more.
MODINFO_LIMIT = 1024 * 1024
# struct modversion_info: an unsigned long crc and a name, 64 bytes on 32 and 64 bits.
VERSION_RECORD_SIZE = 64
VERSION_RECORD = '%ds' % VERSION_RECORD_SIZE
ET_REL = 1
SHT_NULL = 0
SHT_SYMTAB = 2
SHT_NOBITS = 8
SHF_ALLOC = 0x2
# The size of a 64-bit ELF header, the larger of the two.
ELF_HEADER_MAX = 64
READERS = ('pyelftools', 'kmod')
# KoReader's ``elftools`` until it knows: pyelftools is loaded on first use.
LOAD_ELFTOOLS = object()
WANTED_SECTIONS = ('.modinfo', '__versions', '__version_ext_crcs', '__version_ext_names', '__ksymtab_strings')
# The module's struct module, which modpost makes as big as the kernel it builds against has it.
THIS_MODULE = '.gnu.linkonce.this_module'
# Real modules import at most a few thousand symbols and export fewer: a section far larger
# than that is damage, refused before it is read.
SECTION_LIMITS = {'__versions': 4 * 1024 * 1024, '__version_ext_crcs': 1024 * 1024,
                  '__version_ext_names': 8 * 1024 * 1024, '__ksymtab_strings': 1024 * 1024,
                  '.symtab': 64 * 1024 * 1024, '.strtab': 64 * 1024 * 1024}
STB_WEAK = 2
# What the names read from a symbol table may add up to: amdgpu's, every name of all its
# 20,000 symbols, are some 700 KiB.
SYMBOL_NAMES_LIMIT = 16 * 1024 * 1024
# Elf64_Sym and Elf32_Sym: (name, section index, value) of each symbol, the rest skipped.
_SYMBOL_FIELDS = {64: ('I2xHQ8x', (0, 1, 2)), 32: ('II6xH', (0, 2, 1))}
# Where st_info and st_shndx are in each of them.
_SYMBOL_INFO_AT = {64: 4, 32: 12}
_SYMBOL_SECTION_AT = {64: 6, 32: 14}
# st_info -> 1 for a weak symbol, else 0: weak ones found by one translate and find in C.
_WEAK_BINDINGS = bytes(int(info >> 4 == STB_WEAK) for info in range(256))
SHN_ABS = 0xfff1
# Where a module keeps the CRCs of its exports: the label __crc_NAME on a 32-bit value in one of
# these sections (5.19 on), or an absolute symbol __crc_NAME whose value is the CRC (before).
CRC_SECTIONS = ('__kcrctab', '__kcrctab_gpl')
# The labels EXPORT_SYMBOL puts on each export's name, and modpost on its CRC: the export's name follows.
EXPORT_LABEL, CRC_LABEL = b'__kstrtab_', b'__crc_'
# The .modinfo entries read, as (key, value): each starts after a NUL (one is put before the first).
_MODINFO_ENTRIES = re.compile('\0(name|vermagic|depends|license|import_ns)=([^\0]*)')


class KoError(Exception):
    """A module file that cannot be read: the message says which file and why."""


class KoNotRead(KoError):
    """Whether the loader takes the file, and what it exports, is not known: it could not be read
    through (an I/O error, more bytes than any module has, this target lacks a decompressor or
    its reader failed), or kernels differ on it: it may still load."""


class KoUnreadableHere(KoNotRead):
    """The file may be sound, but this target lacks what reading it takes (a decompressor, a reader)."""


class ModuleInfo:
    """What one module file says about itself."""

    __slots__ = ('name', 'vermagic', 'depends', 'license', 'import_ns', 'imports', 'crcs', 'has_versions_section',
                 'elf_class', 'machine', 'little_endian', 'exports', 'signature', 'symbol_table', 'symbol_crcs',
                 'this_module_size', 'compression', 'xz_check')

    def __init__(self, name=None, vermagic=None, depends=None, license=None, import_ns=None, versions=None,
                 has_versions_section=False, elf_class=None, machine=None, little_endian=None, exports=None,
                 signature=None):
        self.name = name
        self.vermagic = vermagic
        self.depends = list(depends or [])
        self.license = license
        # Symbol namespaces the module imports (MODULE_IMPORT_NS), one modinfo entry each.
        self.import_ns = list(import_ns or [])
        # ``versions``: (symbol, crc) pairs, crc an int of its low 32 bits, in file order, a pair
        # repeated kept once. Kept as two columns, the imported symbols and their CRCs, which the
        # loader compares with a kernel's exports as whole tuples. Each is taken by itemgetter in C
        # (zip(*versions) makes an iterator per pair); the names tell there is no repeat (real
        # modules have none) for less than the pairs would: a string keeps its hash.
        versions = versions or ()
        self.imports = tuple(map(itemgetter(0), versions))
        if len(set(self.imports)) < len(self.imports):
            versions = list(OrderedDict.fromkeys(versions))
            self.imports = tuple(map(itemgetter(0), versions))
        self.crcs = tuple(map(itemgetter(1), versions))
        # A __versions section: only it lets the loader skip the release in the vermagic check
        # (same_magic()); the 6.14+ extended sections alone do not.
        self.has_versions_section = has_versions_section
        self.elf_class = elf_class
        self.machine = machine
        self.little_endian = little_endian
        # Symbols the module exports (from __ksymtab_strings); None when the reader cannot tell.
        self.exports = exports
        # The appended signature (_module_signature.ModuleSignature), None when not read.
        self.signature = signature
        # ``symbol_table()``: the module's SymbolTable (None when the file cannot be read again),
        # read only when asked: by a module missing symbols, or exporting what others export.
        # None where nobody can tell. ``symbol_crcs()``: its ``crcs`` alone, read without the rest
        # while nothing asks for it (see export_crcs); None: taken from ``symbol_table()``.
        self.symbol_table = None
        self.symbol_crcs = None
        # Bytes of the struct module the module carries: sizeof(struct module) of the kernel it
        # was built against (None when not read).
        self.this_module_size = None
        # The format the file is compressed in ('gzip', 'xz', 'zstd'), None for a plain file; the
        # integrity check an xz-compressed file names in its stream header (0 none, 1 CRC32,
        # 4 CRC64, 10 SHA-256), None for a file that is not xz.
        self.compression = None
        self.xz_check = None

    def export_crcs(self):
        """The ``crcs`` of the module's SymbolTable (None when it cannot be read or tell), read only
        when asked: by a module importing what this one exports."""
        if self.symbol_crcs is not None:
            return self.symbol_crcs()
        symbol_table = self.symbol_table() if self.symbol_table is not None else None
        return None if symbol_table is None else symbol_table.crcs

    @property
    def versions(self):
        """The (symbol, crc) pairs of ``__versions``, in file order without repeats."""
        return list(zip(self.imports, self.crcs))

    def __repr__(self):
        return 'ModuleInfo(%s)' % ', '.join(
            '%s=%r' % (slot, getattr(self, slot)) for slot in self.__slots__)


class KoTooLarge(KoNotRead):
    """A module image larger than the limit it was read with."""


def _not_read(path, exc):
    """The KoError of a module file that could not be opened or read: a FIFO, a device or a
    directory is no module file the loader takes; anything else (an I/O error, a file larger than
    any module) leaves what it holds unknown."""
    error = KoError if isinstance(exc, NotRegularFile) else KoNotRead
    return error('%s: cannot read: %s' % (path, getattr(exc, 'strerror', None) or exc))


def _too_large(path, limit, what='larger'):
    return KoTooLarge('%s: %s than %d bytes, more than any real file of its kind' % (path, what, limit))


def _inflate(decompressor, errors, data, kind, path, limit, check_start=None):
    """Output of a zlib/lzma/zstd-style decompressor, made piece by piece.

    Stops as soon as the output passes ``limit`` bytes, or when ``check_start(first piece)``
    raises (a module whose first bytes are not an ELF header), so a bomb costs one piece or
    ``limit`` bytes, never its full size. Refuses corrupt and cut-off streams.
    """
    output = bytearray()
    pending = data
    try:
        while not decompressor.eof:
            piece = decompressor.decompress(pending, INFLATE_CHUNK)
            # zlib keeps unread input in unconsumed_tail; lzma and zstd keep it themselves.
            pending = getattr(decompressor, 'unconsumed_tail', b'')
            if check_start is not None and piece and not output:
                check_start(piece)
            output += piece
            if len(output) > limit:
                raise _too_large(path, limit, 'decompresses to more')
            if not piece and not pending and getattr(decompressor, 'needs_input', True):
                break
    except errors as exc:
        raise KoError('%s: cannot decompress %s data: %s' % (path, kind, exc))
    if not decompressor.eof:
        raise KoError('%s: cannot decompress %s data: the stream ends early' % (path, kind))
    rest = decompressor.unused_data + getattr(decompressor, 'unconsumed_tail', b'')
    if rest and not _read_alike(kind, rest):
        raise _trailing_data(path, kind, len(rest))
    # Not copied into bytes: a module near the limit would cost twice its size.
    return output


def _read_alike(kind, rest):
    """Whether bytes after the first stream leave every reader the same image: zlib's gzread
    (kmod's) passes over what does not start another gzip member, liblzma (concatenated, as kmod
    reads xz) over stream padding, NULs in fours; the kernel's own decompression reads neither."""
    if kind == 'gzip':
        return not rest.startswith(GZIP_MAGIC)
    return kind == 'xz' and len(rest) % 4 == 0 and not rest.strip(b'\0')


def _trailing_data(path, kind, count):
    """What follows the first compressed stream makes readers differ: the kernel's own
    decompression stops at its end, kmod's reads further streams (a real file has nothing there)."""
    return KoError('%s: %s bytes follow the end of its %s stream: the kernel\'s own decompression stops there, '
                   'kmod\'s may read on, so which image loads is not known'
                   % (path, count if count is not None else 'more', kind))


def _gunzip(data, path, limit, check_start):
    return _inflate(zlib.decompressobj(16 + zlib.MAX_WBITS), zlib.error, data, 'gzip', path, limit, check_start)


def _unxz(data, path, limit, check_start):
    try:
        import lzma
    except ImportError:
        raise KoUnreadableHere('%s: cannot decompress xz data: Python lacks the lzma module' % path)
    return _inflate(lzma.LZMADecompressor(), lzma.LZMAError, data, 'xz', path, limit, check_start)


def decompress(data, path, limit=MAX_MODULE_BYTES, check_start=None):
    """What is inside gzip or xz ``data`` (a bytearray), else ``data`` itself, told apart by magic bytes.

    At most ``limit`` bytes of output, made piece by piece (see _inflate); raises KoError
    for corrupt, cut-off or too large streams.
    """
    if data.startswith(GZIP_MAGIC):
        return _gunzip(data, path, limit, check_start)
    if data.startswith(XZ_MAGIC):
        return _unxz(data, path, limit, check_start)
    return data


def zstd_content_size(data):
    """The decompressed size the first zstd frame of ``data`` declares in its header (RFC 8878
    Frame_Content_Size), or None when it declares none or the header is cut off."""
    if len(data) < 5:
        return None
    descriptor = data[4]
    single_segment = bool(descriptor & 0x20)
    width = (int(single_segment), 2, 4, 8)[descriptor >> 6]
    start = 5 + (not single_segment) + (0, 1, 2, 4)[descriptor & 3]
    if not width or start + width > len(data):
        return None
    size = int.from_bytes(data[start:start + width], 'little')
    return size + 256 if width == 2 else size   # the two-byte form counts from 256


def _unzstd_in_python(data, path, limit=MAX_MODULE_BYTES, check_start=None):
    """Decompressed data through a Python zstd library, or None when there is none."""
    try:
        from compression import zstd  # Python 3.14+
    except ImportError:
        pass
    else:
        return _inflate(zstd.ZstdDecompressor(), zstd.ZstdError, data, 'zstd', path, limit, check_start)
    try:
        import zstandard
    except ImportError:
        return None
    output = bytearray()
    try:
        # Every frame, as the zstd command reads them: the caller compares with the first's size.
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
        while True:
            piece = reader.read(INFLATE_CHUNK)
            if not piece:
                break
            if check_start is not None and not output:
                check_start(piece)
            output += piece
            if len(output) > limit:
                raise _too_large(path, limit, 'decompresses to more')
    except zstandard.ZstdError as exc:
        raise KoError('%s: cannot decompress zstd data: %s' % (path, exc))
    if not output:
        # A cut-off frame reads as nothing here; partial output fails the ELF checks later.
        raise KoError('%s: cannot decompress zstd data: the stream ends early' % path)
    return output


_LAYOUT_FIELDS = ['elf_class', 'little_endian', 'shoff', 'shentsize', 'shnum', 'shstrndx']


class ElfLayout(namedtuple('ElfLayout', _LAYOUT_FIELDS)):
    """Where an ELF image keeps its section table, from its header."""

    __slots__ = ()

    @property
    def table_end(self):
        return self.shoff + self.shentsize * self.shnum

    @property
    def order(self):
        return '<' if self.little_endian else '>'


def _elf_layout(data, path):
    """The ElfLayout of the start of a relocatable ELF image; raises KoError for anything else."""
    if not data:
        raise KoError('%s: empty file' % path)
    if not data.startswith(ELF_MAGIC):
        raise KoError('%s: not an ELF file' % path)
    ident = data[4:6]
    if len(ident) < 2 or ident[0:1] not in (b'\x01', b'\x02') or ident[1:2] not in (b'\x01', b'\x02'):
        raise KoError('%s: truncated or unknown ELF identification' % path)
    elf_class = 64 if ident[0:1] == b'\x02' else 32
    little_endian = ident[1:2] == b'\x01'
    layout = ('<' if little_endian else '>') + ('HHIQQQIHHHHHH' if elf_class == 64 else 'HHIIIIIHHHHHH')
    header_end = 16 + struct.calcsize(layout)
    header = data[16:header_end]
    if len(header) < header_end - 16:
        raise KoError('%s: truncated ELF header (%d bytes)' % (path, len(data)))
    fields = struct.unpack(layout, header)
    e_type, e_shoff, e_shentsize, e_shnum, e_shstrndx = fields[0], fields[5], fields[10], fields[11], fields[12]
    if e_type != ET_REL:
        raise KoError('%s: ELF type %d, a kernel module is a relocatable object' % (path, e_type))
    if not e_shoff:
        raise KoError('%s: ELF file without section headers' % path)
    return ElfLayout(elf_class, little_endian, e_shoff, e_shentsize, e_shnum, e_shstrndx)


def _module_start_checker(path):
    """A check_start for decompressing a module: its first bytes must be an ELF header whose
    section table ends within MAX_MODULE_BYTES, else decompression stops there."""
    def check(head):
        if len(head) >= ELF_HEADER_MAX:
            table_end = _elf_layout(head, path).table_end
            if table_end > MAX_MODULE_BYTES:
                raise KoError('%s: its ELF header puts the section table at byte %d, past the %d bytes '
                              'a module may have' % (path, table_end, MAX_MODULE_BYTES))
    return check


def _elf_header(data, path):
    """The ElfLayout of a relocatable ELF image whose section table is complete and sane."""
    layout = _elf_layout(data, path)
    if layout.table_end > len(data):
        raise KoError('%s: truncated: section headers end at byte %d, the file has %d'
                      % (path, layout.table_end, len(data)))
    if layout.shnum == 0:
        # Extended numbering (65,280 sections or more): the kernel's loader reads e_shnum as it is.
        raise KoError('%s: no section count in the ELF header (extended section numbering)' % path)
    # The loader takes only entries of its own Elf_Shdr's size (elf_validity_check()).
    if layout.shentsize != _section_struct(layout).size or layout.shstrndx >= layout.shnum:
        raise KoError('%s: malformed ELF section table (entries of %d bytes, name table %d of %d)'
                      % (path, layout.shentsize, layout.shstrndx, layout.shnum))
    return layout


def _check_section_table(data, layout, path):
    """The loader's checks of the section headers (elf_validity_check(); setup_load_info() and
    rewrite_section_headers() before 6.0), else it refuses the module (ENOEXEC); raises KoError.
    Needs ``_elf_header``'s checks.

    Against the bytes it checks as ELF (a signature stripped first, see elf_length): the section
    table and every section with bytes in the file (any but SHT_NULL and SHT_NOBITS) lie within
    them; section 0 is empty; the section name table is not empty and ends with a NUL, and each
    loaded section's name starts within it; and there is one symbol table, which names another
    section as its strings.

    Returns the table's SectionColumns, which find_sections takes instead of unpacking it again.
    """
    length = elf_length(data)
    if layout.table_end > length:
        raise KoError('%s: its section table ends at byte %d, within its signature (its ELF image has %d bytes), which '
                      'the kernel\'s loader refuses' % (path, layout.table_end, length))
    entries = data[layout.shoff:layout.table_end]
    first = _section_struct(layout).unpack(entries[:layout.shentsize])
    if first[1] != SHT_NULL or first[3] or first[5]:
        raise KoError('%s: its section 0 is not empty (type %d, %d bytes at address %d), which the kernel\'s loader '
                      'refuses' % (path, first[1], first[5], first[3]))
    columns = _section_columns(layout, entries)
    names, kinds, flags, starts, sizes, links = columns
    table_size, table_end = sizes[layout.shstrndx], starts[layout.shstrndx] + sizes[layout.shstrndx]
    if not table_size or table_end > length or data[table_end - 1:table_end] != b'\0':
        raise KoError('%s: its section name table is empty, ends past its ELF image or lacks a final NUL, which the '
                      'kernel\'s loader refuses' % path)
    symbol_tables = kinds.count(SHT_SYMTAB)
    if not symbol_tables:
        raise KoError('%s: no symbol table (stripped?), which the kernel\'s loader refuses' % path)
    if symbol_tables > 1:
        raise KoNotRead('%s: %d symbol tables, which kernels since 6.4 refuse (older ones read the first): whether it '
                        'loads is not known' % (path, symbol_tables))
    symbols = kinds.index(SHT_SYMTAB)
    if not 0 < links[symbols] < len(kinds):
        raise KoError('%s: its symbol table (section %d) names section %d as its strings, of %d, which the '
                      'kernel\'s loader refuses' % (path, symbols, links[symbols], len(kinds)))
    # Each rule over every section by the standard library's C code, the column's largest value
    # (of any section, a bound of those the rule is about); sections are looked at one by one only
    # when it could be broken, to name one that breaks it.
    checked = (SHT_NULL, SHT_NOBITS)
    if max(map(add, starts, sizes)) > length:
        for index in range(1, len(kinds)):
            if starts[index] + sizes[index] > length and kinds[index] not in checked:
                raise KoError('%s: section %d ends at byte %d, past the end of its ELF image (%d bytes), which the '
                              'kernel\'s loader refuses' % (path, index, starts[index] + sizes[index], length))
    if max(names) >= table_size:
        for index in range(1, len(kinds)):
            if flags[index] & SHF_ALLOC and names[index] >= table_size and kinds[index] not in checked:
                raise KoError('%s: section %d is named from byte %d of a %d-byte name table, which the kernel\'s '
                              'loader refuses' % (path, index, names[index], table_size))
    return columns


class SectionColumns(namedtuple('SectionColumns', ['names', 'kinds', 'flags', 'starts', 'sizes', 'links'])):
    """A section table by columns: the sh_name, sh_type, sh_flags, sh_offset, sh_size and sh_link of
    every section, a list each."""

    __slots__ = ()


def _section_columns(layout, entries):
    """The SectionColumns of the section table ``entries`` (its bytes), the other fields skipped:
    the table is read as arrays of 32- and 64-bit words (in the host's byte order, swapped to the
    file's), and each column is every entry's word at one place, taken by a stride in C."""
    size = 64 if layout.elf_class == 64 else 40
    if len(entries) % size:
        raise struct.error('a section table of %d bytes, not whole entries of %d' % (len(entries), size))
    words = _in_order(array('I', entries), layout)
    if layout.elf_class == 32:
        return SectionColumns(*(words[at::10].tolist() for at in (0, 1, 2, 4, 5, 6)))
    quads = _in_order(array('Q', entries), layout)
    return SectionColumns(words[0::16].tolist(), words[1::16].tolist(), quads[1::8].tolist(), quads[3::8].tolist(),
                          quads[4::8].tolist(), words[10::16].tolist())


def _in_order(words, layout):
    """The array ``words`` read in ``layout``'s byte order."""
    if layout.little_endian != (sys.byteorder == 'little'):
        words.byteswap()
    return words


def _section_struct(layout):
    """Elf32_Shdr or Elf64_Shdr: name, type, flags, addr, offset, size, link, info, align, entsize."""
    return struct.Struct(layout.order + ('IIQQQQIIQQ' if layout.elf_class == 64 else 'IIIIIIIIII'))


def _section_header(data, layout, index):
    """(type, flags, offset, size) of section ``index``, read with the standard library."""
    entry = _section_struct(layout)
    at = layout.shoff + index * layout.shentsize
    fields = entry.unpack(data[at:at + entry.size])
    return fields[1], fields[2], fields[4], fields[5]


def find_sections(data, layout, names, path, loaded_only=True, unique=(), columns=None):
    """{name: section index} of those of ``names`` the image has: the first section of each
    name that is loaded (SHF_ALLOC), as the kernel's loader finds them (find_sec(): it ignores
    the others), or of any (``loaded_only=False``). Only the section table's columns (``columns``,
    its SectionColumns when the caller has them) and the name table are read, so no header is
    parsed that nobody asked for.

    Raises KoError when a name of ``unique`` is on more than one section, loaded or not: kernels
    since 6.4 refuse the file (find_any_unique_sec()), older ones take the first loaded one."""
    if columns is None:
        columns = _section_columns(layout, data[layout.shoff:layout.table_end])
    name_offsets, flags = columns.names, columns.flags
    start, size = columns.starts[layout.shstrndx], columns.sizes[layout.shstrndx]
    if columns.kinds[layout.shstrndx] == SHT_NOBITS or start + size > len(data):
        raise KoError('%s: the section name table ends past the end of the file' % path)
    table = bytes(data[start:start + size])
    # {name offset: the first section that counts and has it}, of the sections that count (not
    # section 0; the loaded ones), the later ones stored first. One comprehension costs less than
    # chaining the standard library's iterators (some 50 sections).
    first_section = {name_offsets[index]: index for index in range(len(flags) - 1, 0, -1)
                     if not loaded_only or flags[index] & SHF_ALLOC}
    found = {}
    for name in names:
        # Each place the name ends with its NUL, and so reads as the name, found by the
        # standard library's search instead of reading every section's name.
        wanted = name.encode('ascii') + b'\0'
        indices = []
        holders = 0
        at = table.find(wanted)
        while at >= 0:
            if at in first_section:
                indices.append(first_section[at])
            if name in unique:
                holders += name_offsets[1:].count(at)
            at = table.find(wanted, at + 1)
        if holders > 1:
            raise KoNotRead('%s: %d sections named %s, which kernels since 6.4 refuse (older ones read the first): '
                            'whether it loads is not known' % (path, holders, name))
        if indices:
            found[name] = min(indices)
    return found


def _check_unloaded_modinfo(found, data, layout, path, columns):
    """Refuse a .modinfo section that is there but not loaded (no SHF_ALLOC) when ``found`` (what
    find_sections found in the section table of SectionColumns ``columns``) has no loaded one: the
    kernels up to 6.x pass it over (find_sec()), later ones read it."""
    if '.modinfo' not in found and '.modinfo' in find_sections(data, layout, ['.modinfo'], path, loaded_only=False,
                                                               columns=columns):
        raise KoNotRead('%s: its .modinfo section is not loaded (no SHF_ALLOC): kernels differ on whether they read it'
                        % path)


def _check_section(name, sh_type, sh_flags, offset, size, file_size, path):
    """Refuse a section whose data would not come from the file's own bytes, before reading
    it: SHT_NOBITS (zeros of any claimed size) and SHF_COMPRESSED (inflated to any claimed
    size) are not what the kernel's loader reads either; nor is a section larger than any real
    module's of that name."""
    if sh_type in (SHT_NOBITS, 'SHT_NOBITS'):
        raise KoError('%s: section %s claims %d bytes but has none in the file (SHT_NOBITS)' % (path, name, size))
    if sh_flags & SHF_COMPRESSED:
        raise KoError('%s: section %s is compressed (SHF_COMPRESSED), which the kernel\'s loader does not read'
                      % (path, name))
    if offset + size > file_size:
        raise KoError('%s: truncated: section %s ends past the end of the file' % (path, name))
    if size > SECTION_LIMITS.get(name, size):
        raise KoNotRead('%s: section %s holds %d bytes, more than any real module\'s (%d)'
                        % (path, name, size, SECTION_LIMITS[name]))


def read_sections(data, layout, indices, path, header=_section_header):
    """{name: bytes} of the sections ``indices`` ({name: index}, as find_sections finds them) of a
    checked ELF image (see ``_elf_header``); .modinfo up to MODINFO_LIMIT bytes, as the readers use it.

    ``header(data, layout, index)`` gives a section's (type, flags, offset, size): the standard
    library's reading by default. Raises KoError for a section that cannot be read.
    """
    found = {}
    for name, index in indices.items():
        sh_type, sh_flags, offset, size = header(data, layout, index)
        _check_section(name, sh_type, sh_flags, offset, size, len(data), path)
        found[name] = bytes(data[offset:offset + (min(size, MODINFO_LIMIT) if name == '.modinfo' else size)])
    return found


class SymbolTable(namedtuple('SymbolTable', ['weak_undefined', 'exported', 'crcs'])):
    """What a module's .symtab tells that the sections read first do not: the names it leaves
    undefined and weak, which the loader lets stay unresolved, and the names it exports, from the
    ``__kstrtab_NAME`` label EXPORT_SYMBOL puts on each (None when stripped of them):
    ``__ksymtab_strings`` holds namespace names too, which only these labels tell apart.
    ``crcs``: {export: CRC} from the ``__crc_NAME`` labels, empty for a module built without
    CRCs, None when it has a CRC table whose labels are gone. DAMAGED_SYMBOL_TABLE, with None
    for all, is one that cannot be read as the loader would."""

    __slots__ = ()


# No CRC table: an immutable empty mapping, shared.
SymbolTable.__new__.__defaults__ = (MappingProxyType({}),)
DAMAGED_SYMBOL_TABLE = SymbolTable(None, None, None)
# A symbol table not read yet.
_UNREAD = object()


def _symbol_table_sections(data, path, columns):
    """(symbols, names): the bytes of the first SHT_SYMTAB section and of the string table its
    sh_link names, as the loader finds them (b'' without one), from the section table's
    SectionColumns ``columns``; raises KoError."""
    kinds, links = columns.kinds, columns.links
    for index in range(1, len(kinds)):
        if kinds[index] == SHT_SYMTAB:
            if not 0 < links[index] < len(kinds):
                raise KoError('%s: the symbol table names section %d as its strings, of %d' % (path, links[index], len(kinds)))
            found = []
            for name, at in (('.symtab', index), ('.strtab', links[index])):
                start, size = columns.starts[at], columns.sizes[at]
                _check_section(name, kinds[at], columns.flags[at], start, size, len(data), path)
                found.append(bytes(data[start:start + size]))
            return tuple(found)
    return b'', b''


def read_symbol_table(data, layout, path, exports=(), crcs_only=False):
    """The SymbolTable of a checked ELF image; raises KoError, also when the names it reads add up
    to more than SYMBOL_NAMES_LIMIT bytes (names that overlap count each time). Names found in
    ``exports`` are kept as the same objects (read once, a module's symbol table lives as long as it).
    ``crcs_only``: only the SymbolTable's ``crcs`` read and returned, the other names left unread
    (what another module's imports are checked against)."""
    columns = _section_columns(layout, data[layout.shoff:layout.table_end])
    symtab, strtab = _symbol_table_sections(data, path, columns)
    # The labels are symbols of __ksymtab_strings and of the CRC tables, or absolute: only their
    # names are read, and the weak undefined ones'.
    found = find_sections(data, layout, ('__ksymtab_strings',) + CRC_SECTIONS, path, columns=columns)
    strings_index = found.pop('__ksymtab_strings', None)
    crc_tables = dict((index, name) for name, index in found.items())
    crc_sections = set(crc_tables) | set([SHN_ABS])
    crc_sections.discard(strings_index)     # numbered SHN_ABS (65,522 sections or more), it holds export labels
    fields, (name_at, index, value) = _SYMBOL_FIELDS[layout.elf_class]
    entry = struct.Struct(layout.order + fields)
    weak_undefined, labelled = _symbols_to_name(symtab, layout, entry.size, crc_sections | set(
        [strings_index] if strings_index and not crcs_only else []))
    # In the file's order: of labels of one name, the last counts.
    crc_labelled = sorted(chain.from_iterable(labelled[section] for section in crc_sections))
    known = dict(zip(exports or (), exports or ()))
    budget = SYMBOL_NAMES_LIMIT
    named = []  # the names of each kind, past its label; None for a symbol without it
    kinds = ((weak_undefined, b''), (labelled.get(strings_index, ()), EXPORT_LABEL), (crc_labelled, CRC_LABEL))
    for entries, label in kinds[2:] if crcs_only else kinds:
        names, skip = [], len(label)
        symbols = list(map(entry.unpack_from, repeat(symtab), entries))
        for symbol in symbols:
            start = symbol[name_at]
            # Only the names of labels are read (a label has no NUL in it), and made text: the
            # others in these sections (__kstrtabns_NAME, section symbols) are a third of them.
            if strtab[start:start + skip] != label:
                names.append(None)
                continue
            end = strtab.find(b'\0', start, start + budget + 1)
            end = end if end >= 0 else min(len(strtab), start + budget + 1)
            if end > start:
                budget -= end - start
                if budget < 0:
                    raise KoNotRead('%s: the names of its symbols add up to more than %d bytes'
                                    % (path, SYMBOL_NAMES_LIMIT))
            name = _text(strtab[start + skip:end])
            names.append(known.get(name, name))
        named.append(names)
    crc_names = named[-1]
    crc_labels = dict(zip(crc_names, map(itemgetter(index, value), symbols)))     # the CRC labels' symbols, read last
    crc_labels.pop(None, None)
    crcs = _export_crcs(data, layout, crc_tables, crc_labels, path)
    if crcs_only:
        return crcs
    weak, export_names = named[:2]
    exported = set(export_names)
    exported.discard(None)
    return SymbolTable(set(weak), exported or None, crcs)


def _symbols_to_name(symtab, layout, size, sections):
    """(weak undefined, {section: in it}): offsets, in order, of the whole ``size``-byte entries of
    ``symtab`` that are weak and undefined, and of those in each of the ``sections`` (indices), found
    by searches in C over each field's column of bytes (an import, of which modules have thousands,
    is neither), so only what is found costs a step in Python."""
    end = len(symtab) - len(symtab) % size
    column = _SYMBOL_INFO_AT[layout.elf_class]
    low = _SYMBOL_SECTION_AT[layout.elf_class] + (0 if layout.little_endian else 1)
    high = low + 1 if layout.little_endian else low - 1
    lows, highs = symtab[low:end:size], symtab[high:end:size]
    weak_undefined = [entry * size for entry in _indices(symtab[column:end:size].translate(_WEAK_BINDINGS), 1)
                      if lows[entry] == 0 and highs[entry] == 0]
    found = {}
    for section in sections:
        found[section] = [entry * size for entry in _indices(lows, section & 0xff) if highs[entry] == section >> 8]
    return weak_undefined, found


def _indices(column, byte):
    """Where ``column`` (bytes) holds the value ``byte``."""
    found, at = [], column.find(byte)
    while at >= 0:
        found.append(at)
        at = column.find(byte, at + 1)
    return found


def _export_crcs(data, layout, crc_tables, labels, path):
    """{export: CRC} of the ``labels`` ({export: (section index, value)}) of __crc_NAME symbols:
    absolute, or the 32-bit value at a label in a CRC table (``crc_tables``: {index: name});
    None when the module has a CRC table but none of its labels."""
    if crc_tables and not labels:
        return None
    contents = dict((index, read_sections(data, layout, {name: index}, path)[name]) for index, name in crc_tables.items())
    word = struct.Struct(layout.order + 'I')
    crcs = {}
    for export, (section, at) in labels.items():
        if section == SHN_ABS:
            crcs[export] = at & 0xffffffff
        elif section in contents and at + word.size <= len(contents[section]):
            crcs[export] = word.unpack_from(contents[section], at)[0]
    return crcs


def exported_symbols(ksymtab_strings):
    """Symbols of a ``__ksymtab_strings`` section ("name\0namespace\0" per export)."""
    return sorted(set(_text(ksymtab_strings or b'').split('\0')) - set(['']))


def _modinfo_fields(entries):
    """name, vermagic, depends, license (first of each wins) and every import_ns from ``key=value``
    entries, NUL-separated text. The entries of these keys are found by one search of the standard
    library's: a driver's entries are hundreds, its aliases."""
    fields, import_ns = {}, []
    for key, value in _MODINFO_ENTRIES.findall('\0' + entries):
        if key == 'import_ns':
            import_ns.append(value)
        else:
            fields.setdefault(key, value)
    depends = fields.get('depends')
    return {
        'name': fields.get('name'),
        'vermagic': fields.get('vermagic'),
        'depends': [name for name in depends.split(',') if name] if depends else [],
        'license': fields.get('license'),
        'import_ns': import_ns,
    }


def _text(raw):
    return raw.decode('utf-8', 'replace')


def parse_versions(data, elf_class, little_endian, path, known=None):
    """(symbol, crc) pairs of a ``__versions`` section.

    ``known``: {(ELF class, little endian): {record: pair}} of records read before, filled
    here. Modules built against one kernel share most records: each is decoded once and
    its pair kept once.
    """
    if len(data) % VERSION_RECORD_SIZE:
        raise KoError('%s: __versions is %d bytes, not a multiple of %d'
                      % (path, len(data), VERSION_RECORD_SIZE))
    # One record's bytes mean another pair in another layout.
    decoded = {} if known is None else known.setdefault((elf_class, little_endian), {})
    # Cut, compared and looked up by the standard library's C code, not record by record in Python:
    # cut by one format of as many records as there are, which makes no tuple per record.
    records = struct.Struct(VERSION_RECORD * (len(data) // VERSION_RECORD_SIZE)).unpack(data)
    pairs = list(map(decoded.get, records))
    if None in pairs:
        # A record's CRC (an unsigned long) and its NUL-padded name, unpacked at once.
        fields = struct.Struct(('<' if little_endian else '>') + ('Q56s' if elf_class == 64 else 'I60s'))
        for index, record in enumerate(records):
            if pairs[index] is None:
                crc, name = fields.unpack(record)
                pairs[index] = decoded[record] = (_text(name.split(b'\0', 1)[0]), crc & 0xffffffff)
    return pairs


def parse_ext_versions(crcs, names, little_endian, path):
    """(symbol, crc) pairs of the 6.14+ ``__version_ext_crcs`` / ``__version_ext_names`` pair."""
    if len(crcs) % 4:
        raise KoError('%s: __version_ext_crcs is %d bytes, not a multiple of 4' % (path, len(crcs)))
    values = struct.unpack('%s%dI' % ('<' if little_endian else '>', len(crcs) // 4), crcs)
    symbols = names.rstrip(b'\0').split(b'\0') if names.rstrip(b'\0') else []
    if len(symbols) != len(values):
        raise KoError('%s: %d extended version CRCs but %d names'
                      % (path, len(values), len(symbols)))
    return [(_text(name), crc) for name, crc in zip(symbols, values)]


def _only(found, names):
    """The entries of ``found`` ({name: section index}) for ``names``."""
    return dict((name, found[name]) for name in names if name in found)


def _read_with_elftools(adapter, data, path, layout, known_records, found):
    try:
        machine, header = adapter.open(data, layout)
        sections = read_sections(data, layout, _only(found, WANTED_SECTIONS), path, header)
    except KoError:
        raise
    except ElftoolsUnusable as exc:
        raise KoUnreadableHere('%s: %s' % (path, exc))
    except Exception as exc:  # pylint: disable=broad-except
        # pyelftools reports malformed input as ELFError, struct.error, construct errors,
        # ValueError, IndexError...: all of them mean the file is damaged.
        raise KoNotRead('%s: malformed ELF file (%s: %s)' % (path, type(exc).__name__, exc))
    modinfo = sections.get('.modinfo', b'')
    versions = []
    if '__versions' in sections:
        versions = parse_versions(sections['__versions'], layout.elf_class, layout.little_endian, path,
                                  known_records)
    if '__version_ext_crcs' in sections:
        versions += parse_ext_versions(sections['__version_ext_crcs'],
                                       sections.get('__version_ext_names', b''), layout.little_endian, path)
    return ModuleInfo(
        versions=versions,
        has_versions_section='__versions' in sections,
        elf_class=layout.elf_class, machine=str(machine), little_endian=layout.little_endian,
        exports=exported_symbols(sections.get('__ksymtab_strings')),
        **_modinfo_fields(_text(modinfo)))


def _is_missing_section(stderr):
    # kmod reports an absent .modinfo or __versions section as ENOENT.
    return 'No such file or directory' in stderr


def _payload_digest(rootfs, path, request):
    """The digest ``request`` asks for, (hash name, size): of the first ``size`` bytes of the
    in-root file, read again; None when they cannot be read (the file is shorter now)."""
    name, size = request
    hasher = hashlib.new(name)
    try:
        with rootfs.open(path) as handle:
            while size:
                chunk = handle.read(min(size, INFLATE_CHUNK))
                if not chunk:
                    return None
                hasher.update(chunk)
                size -= len(chunk)
    except (OSError, RootPathError):
        return None
    return hasher.digest()


class _FileImage:
    """An open module file that reads only the bytes sliced from it (``image[start:end]``,
    ``len``, ``startswith``, ``endswith``, like the bytes of the whole file): the readers
    look at a few KiB of a module of many MiB. Larger than MAX_MODULE_BYTES is refused.

    Its first HEAD_BYTES and its last TAIL_BYTES are read at most once each, on the first slice
    within them: what a module starts with (the magic numbers of compressions, the ELF header)
    and what it ends with (its signature and trailer, its section table and the section name
    table before it) are looked at several times."""

    def __init__(self, fd, size, path):
        """``fd``: the file open for reading (the caller closes it), ``size`` its size then."""
        self._fd = fd
        self._size = size
        if self._size > MAX_MODULE_BYTES:
            raise FileTooLarge(path, MAX_MODULE_BYTES)
        self._tail_start = max(self._size - TAIL_BYTES, 0)
        self._tail = None
        self._head = None

    def __len__(self):
        return self._size

    def __getitem__(self, key):
        start, stop, dummy = key.indices(self._size)
        if stop <= start:
            return b''
        if start >= self._tail_start:
            if self._tail is None:
                self._tail = self._read(self._tail_start, self._size)
            # A file that shrank meanwhile has a shorter tail: what is missing reads as truncated.
            return self._tail[start - self._tail_start:stop - self._tail_start]
        if stop <= HEAD_BYTES:
            if self._head is None:
                self._head = self._read(0, HEAD_BYTES)
            return self._head[start:stop]
        return self._read(start, stop)

    def _read(self, start, stop):
        pieces = []
        while start < stop:
            piece = os.pread(self._fd, stop - start, start)
            if not piece:
                break  # the file shrank: what is missing reads as a truncated module
            pieces.append(piece)
            start += len(piece)
        return b''.join(pieces)

    def startswith(self, prefix):
        return self[:len(prefix)] == prefix

    def endswith(self, suffix):
        return len(suffix) <= self._size and self[self._size - len(suffix):] == suffix


class KoReader:
    """Reads module files inside a root with the best reader the target offers.

    ``runner(argv) -> (rc, stdout, stderr)`` runs commands (``modinfo``, ``modprobe``,
    ``zstd``) in the C locale, e.g. ``module.run_command`` with
    ``environ_update={'LC_ALL': 'C'}``; without a runner no command is used, so kmod is
    not a candidate. ``reader`` forces ``pyelftools`` or ``kmod``. ``elftools``: what
    ``load_adapter()`` gave the caller (None: pyelftools does not work here), so it is not
    loaded twice. ``warn(msg)`` hears of a symbol table that is damaged, read only when a
    verdict needs it (the other damage is a KoError of ``read``).
    """

    def __init__(self, rootfs, runner=None, reader=None, elftools=LOAD_ELFTOOLS, warn=None):
        if reader is not None and reader not in READERS:
            raise ValueError('reader must be one of %s, not %r' % (', '.join(READERS), reader))
        self.rootfs = rootfs
        self._warn = warn
        self._runner = runner
        self._forced = reader
        self._probed = False
        self._name = None
        self._elftools = elftools
        self._commands = {}
        self._cache = {}
        self._ahead = {}    # {path: ModuleInfo} read ahead of being asked for (see read_ahead)
        self._canonical = {}    # {path asked for: its resolved path}, with a snapshot
        self._records = {}   # {layout: {__versions record: (symbol, crc)}} of every module read
        self._signers = {}   # {signer fields: SignerId} of every signature read (see parse_pkcs7_signers)
        self._symbols = {}   # {symbol: the same symbol} of the modules kmod reads
        self._columns = {}   # {imports or CRCs tuple: the same tuple} of every module read
        self._exports = {}   # {exports as a tuple: the list of the first module exporting them}

    def _command(self, name):
        """Path of a command this reader can run, or None (also when it has no runner)."""
        if self._runner is None:
            return None
        return remembered(self._commands, name, find_command)

    @property
    def name(self):
        """``pyelftools``, ``kmod`` or None (no reader on this target); probed on first use."""
        if not self._probed:
            self._probed = True
            if self._elftools is LOAD_ELFTOOLS:
                self._elftools = load_adapter() if self._forced in (None, 'pyelftools') else None
            if self._forced:
                self._name = self._forced
            elif self._elftools is not None:
                self._name = 'pyelftools'
            elif self._command('modinfo') and self._command('modprobe'):
                self._name = 'kmod'
        return self._name

    def read(self, path):
        """ModuleInfo of the module file at in-root ``path``; raises KoError.

        Results (and errors) are cached per resolved in-root path, so every weak link to one
        build costs one read. Whatever goes wrong while reading one file, even an unexpected
        error or running out of memory, is a KoError about that file.
        """
        canonical = self._canonical.get(path)
        if canonical is None:
            try:
                canonical = self.rootfs.resolve(path)
            except (OSError, RootPathError) as exc:
                raise KoNotRead('%s: %s' % (path, exc))
            if self.rootfs.snapshot:
                self._canonical[path] = canonical   # a snapshot resolves a path alike every time
        return remembered(self._cache, canonical, lambda key: self._ahead.pop(path, None) or self._guarded(path, self._read),
                          KoError)

    def read_ahead(self, paths, stop=None):
        """Read the module files at in-root ``paths`` before they are asked for (while a worker reads
        the dkms tree or compares copies, see _compare_ahead), until ``stop()`` is true. What reads
        well serves a later ``read`` of that very path; what does not is read again when asked, so
        its error names the path asked for, as when nothing was read ahead. What was read ahead
        before is not read again."""
        for path in paths:
            if stop is not None and stop():
                return
            if path in self._ahead:
                continue
            try:
                self._ahead[path] = self._guarded(path, self._read)
            except KoError:
                pass

    def forget(self):
        """Let go of the modules read: each refers back to this reader (to read its file again), so
        while it keeps them, only the cyclic garbage collector could free either. Read again if asked."""
        self._cache.clear()
        self._ahead.clear()

    def _guarded(self, path, read):
        """``read(path)``, whatever goes wrong in it a KoError about the file."""
        try:
            return read(path)
        except KoError:
            raise
        except MemoryError:
            raise KoNotRead('%s: ran out of memory while reading it' % path)
        except Exception as exc:  # pylint: disable=broad-except
            raise KoNotRead('%s: unexpected error while reading it (%s: %s)' % (path, type(exc).__name__, exc))

    def _read(self, path):
        if self.name is None:
            raise KoUnreadableHere('%s: no module reader: install pyelftools, or kmod (modinfo, modprobe)' % path)
        try:
            fd, status = self.rootfs.open_descriptor(path)
        except (OSError, IOError, RootPathError) as exc:
            raise _not_read(path, exc)
        try:
            return self._read_image(_FileImage(fd, status.st_size, path), path)
        except (OSError, IOError) as exc:
            raise _not_read(path, exc)
        finally:
            os.close(fd)

    def _read_image(self, image, path):
        """ModuleInfo of the open module file ``image``: a plain one is read only where the
        readers look (its header, section table, the wanted sections, the signature trailer),
        a compressed one is decompressed whole, since its section table comes last."""
        data = self._uncompressed(image, path)
        layout = _elf_header(data, path)
        columns = _check_section_table(data, layout, path)
        found = find_sections(data, layout, WANTED_SECTIONS + (THIS_MODULE,), path, unique=('.modinfo', THIS_MODULE),
                              columns=columns)
        _check_unloaded_modinfo(found, data, layout, path, columns)
        if self.name == 'pyelftools':
            if self._elftools is None:
                raise KoUnreadableHere('%s: pyelftools is not usable on this Python' % path)
            info = _read_with_elftools(self._elftools, data, path, layout, self._records, found)
        else:
            # kmod reads sections the loader ignores (not SHF_ALLOC): it is asked only for those the loader reads.
            info = self._read_with_kmod(path, data[:], found)
            # Modules built against one kernel import the same symbols: each name kept once.
            info.imports = tuple(self._symbols.setdefault(symbol, symbol) for symbol in info.imports)
            info.elf_class = layout.elf_class
            info.little_endian = layout.little_endian
            info.has_versions_section = '__versions' in found
            strings = read_sections(data, layout, _only(found, ['__ksymtab_strings']), path)
            info.exports = exported_symbols(strings.get('__ksymtab_strings'))
        self._share_columns(info)
        # setup_load_info(), elf_validity_cache_index_mod() since 6.4: "No module found in object".
        struct_module = found.get(THIS_MODULE)
        if struct_module is None or columns.kinds[struct_module] == SHT_NOBITS:
            raise KoError('%s: no struct module (a loaded .gnu.linkonce.this_module section with bytes), which the '
                          'kernel\'s loader refuses' % path)
        info.this_module_size = columns.sizes[struct_module]
        if data is not image:   # decompressed; an xz file's stream flags follow the magic
            head = image[:len(XZ_MAGIC) + 2]
            info.compression = next(name for name, magic in COMPRESSIONS if head.startswith(magic))
            info.xz_check = head[-1] & 0x0f if head.startswith(XZ_MAGIC) and len(head) == len(XZ_MAGIC) + 2 else None
        # A plain file's signed bytes are read again only if a check needs their digest.
        reread = None
        if isinstance(data, _FileImage):
            digests = {}

            def reread(name):
                return remembered(digests, name, lambda key: _payload_digest(self.rootfs, path, key))
        info.signature = read_module_signature(data, self._signers, reread)
        tables = {}     # {crcs_only: the SymbolTable read so}
        exports = info.exports  # not ``info``, which would then refer to itself
        info.symbol_table = lambda: remembered(tables, False, lambda key: self._symbol_table(path, exports))
        info.symbol_crcs = lambda: self._symbol_crcs(path, exports, tables)
        return info

    def _share_columns(self, info):
        """Give ``info`` the imports, CRCs and exports of a module read before that has the same:
        the builds of one source for the kernels of one kABI stream import, check and export alike,
        and a host keeps one copy of them."""
        info.imports = self._columns.setdefault(info.imports, info.imports)
        info.crcs = self._columns.setdefault(info.crcs, info.crcs)
        if info.exports:
            info.exports = self._exports.setdefault(tuple(info.exports), info.exports)

    def image(self, path, limit=MAX_MODULE_BYTES):
        """The bytes the loader gets from the module file at in-root ``path``: decompressed when
        it is compressed; raises KoError (KoUnreadableHere: no zstd decompressor here,
        KoTooLarge: more than ``limit`` bytes, found out without making more)."""
        return self._guarded(path, lambda guarded: self._image(guarded, limit))

    def _image(self, path, limit):
        try:
            fd, status = self.rootfs.open_descriptor(path)
        except (OSError, IOError, RootPathError) as exc:
            raise _not_read(path, exc)
        try:
            data = self._uncompressed(_FileImage(fd, status.st_size, path), path, limit)
            if len(data) > limit:
                raise _too_large(path, limit)
            return data[:] if isinstance(data, _FileImage) else data
        finally:
            os.close(fd)

    def _symbol_crcs(self, path, exports, tables):
        """The ``crcs`` of the symbol table of ``path``: the whole table's when it was read, else read
        alone; ``tables``: {crcs_only: the SymbolTable read so} of the file."""
        table = tables.get(False, tables.get(True, _UNREAD))
        if table is _UNREAD:
            table = tables[True] = self._symbol_table(path, exports, crcs_only=True)
            if table is None or table is DAMAGED_SYMBOL_TABLE:
                tables[False] = table   # so would the whole table be: not read again, nor warned of twice
        return None if table is None else table.crcs

    def _symbol_table(self, path, exports, crcs_only=False):
        """read_symbol_table of the file read again (``exports``: the names its first read found):
        None when it cannot be, DAMAGED_SYMBOL_TABLE (warned) when it is not what the loader would read;
        ``crcs_only``: a SymbolTable of only its ``crcs``, the rest None."""
        try:
            fd, status = self.rootfs.open_descriptor(path)
            try:
                data = self._uncompressed(_FileImage(fd, status.st_size, path), path)
                table = read_symbol_table(data, _elf_header(data, path), path, exports, crcs_only)
                return SymbolTable(None, None, table) if crcs_only else table
            finally:
                os.close(fd)
        except (KoUnreadableHere, KoTooLarge):
            return None     # nothing wrong with it known: only changed since, or not readable here
        except KoError as exc:
            if self._warn is not None:
                self._warn(str(exc))
            return DAMAGED_SYMBOL_TABLE
        except (OSError, IOError, RootPathError, MemoryError, struct.error):
            return None

    def _uncompressed(self, image, path, limit=MAX_MODULE_BYTES):
        """The module's ELF image: ``image`` itself, or its bytes decompressed whole (up to ``limit``)."""
        if image[:len(XZ_MAGIC)].startswith((GZIP_MAGIC, XZ_MAGIC, ZSTD_MAGIC)):
            return self._decompress(image[:], path, limit)
        return image

    def _decompress(self, data, path, limit=MAX_MODULE_BYTES):
        """The ELF image inside ``data``, told apart by magic bytes rather than the file name."""
        if data.startswith(ZSTD_MAGIC):
            declared = zstd_content_size(data)
            if declared is None:
                # Nor could frames after it be told from it once decompressed (see below).
                raise KoNotRead('%s: its zstd frame does not tell its size, which kmod refuses (34 and later) and the '
                                'kernel\'s own decompression does not: whether it loads is not known' % path)
            if declared > limit:
                raise _too_large(path, limit, 'decompresses to more')   # as it says: nothing is decompressed
            plain = self._unzstd(data, path, limit)
            if len(plain) > declared:
                # More frames followed the first: the kernel reads only the first one.
                raise _trailing_data(path, 'zstd', None)
            return plain
        if data.startswith(GZIP_MAGIC) and data[3:4] and data[3] & GZIP_HEADER_EXTRAS:
            raise KoNotRead('%s: its gzip header has fields besides a file name (FEXTRA, FCOMMENT or FHCRC), which '
                            'kmod reads and the kernel\'s own decompression does not: whether it loads is not known'
                            % path)
        return decompress(data, path, limit, check_start=_module_start_checker(path))

    def _unzstd(self, data, path, limit=MAX_MODULE_BYTES):
        plain = _unzstd_in_python(data, path, limit, check_start=_module_start_checker(path))
        if plain is not None:
            return plain
        command = self._command('zstd')
        if command is None:
            raise KoUnreadableHere('%s: cannot decompress zstd data: neither the zstd command nor a Python '
                                   'zstd library (compression.zstd, zstandard) is available' % path)
        # The bytes already read go in through a pipe and come out through one, at most
        # MAX_MODULE_BYTES of them: zstd never opens a path itself, nor writes a file.
        rc, plain, err = run_bounded([command, '-d', '-q', '-c'], data, limit)
        if rc is None:
            raise _too_large(path, limit, 'decompresses to more')
        if rc != 0:
            raise KoNotRead('%s: cannot decompress zstd data: %s' % (path, err.strip() or 'zstd exit %d' % rc))
        return plain

    def _read_with_kmod(self, path, data, loaded):
        """ModuleInfo from kmod's modinfo and modprobe, of the sections in ``loaded`` ({name: index})."""
        modinfo, modprobe = self._command('modinfo'), self._command('modprobe')
        if not (modinfo and modprobe):
            raise KoUnreadableHere('%s: the kmod commands modinfo and modprobe are not available%s'
                                   % (path, '' if self._runner else ' (no command runner)'))
        # kmod takes a file only by a .ko* name, is often built without zlib (Debian), and
        # would follow the path's links itself: it gets the bytes already read, as a plain
        # ELF image in a private directory.
        workdir = tempfile.mkdtemp(prefix='kabi-ko-')
        target = os.path.join(workdir, 'module.ko')
        entries, dump = [], ''
        try:
            with open(target, 'wb') as handle:
                handle.write(data)
            if '.modinfo' in loaded:
                rc, out, err = self._runner([modinfo, '-0', target])
                if rc != 0 and not _is_missing_section(err):
                    raise KoNotRead('%s: modinfo failed: %s' % (path, err.strip() or 'exit %d' % rc))
                # The first entry is "filename:   PATH", added by modinfo itself.
                entries = [entry for entry in out[:MODINFO_LIMIT].split('\0') if not entry.startswith('filename:')]
            if '__versions' in loaded:
                rc, out, err = self._runner([modprobe, '--dump-modversions', target])
                if rc != 0 and not _is_missing_section(err):
                    raise KoNotRead('%s: modprobe --dump-modversions failed: %s' % (path, err.strip() or 'exit %d' % rc))
                dump = out if rc == 0 else ''
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        versions = []
        for line in dump.splitlines():
            crc, dummy, symbol = line.partition('\t')
            try:
                versions.append((symbol, int(crc, 16) & 0xffffffff))
            except ValueError:
                raise KoNotRead('%s: unexpected modprobe --dump-modversions line %r' % (path, line))
        return ModuleInfo(versions=versions, **_modinfo_fields('\0'.join(entries)))
