# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real kernel-module-shaped ELF files, compiled by gcc, for tests.

A ``.ko`` is a relocatable ELF object; the sections a loader checks (``.modinfo``,
``__versions`` and the 6.14+ ``__version_ext_*`` pair) are written by the compiler from
C declarations shaped like the ones modpost generates, so readers see real ELF files.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import shutil
import struct
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._elftools_adapter import ElftoolsAdapter
from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoError, _unzstd_in_python

DEFAULT_VERMAGIC = '6.1.0-47-amd64 SMP preempt mod_unload modversions '
# sizeof(struct module) of Debian's 6.1 amd64 kernels: what each test module's struct module holds.
THIS_MODULE_SIZE = 896
# struct modversion_info is 64 bytes; the name takes what the unsigned long leaves.
VERSION_NAME_SIZE = {64: 56, 32: 60}


def c_string(text: str) -> str:
    """A C string literal holding ``text`` (UTF-8, octal escapes for anything unusual)."""
    out = []
    for byte in text.encode('utf-8'):
        char = chr(byte)
        if char in '"\\' or not 0x20 <= byte < 0x7f:
            out.append('\\%03o' % byte)
        else:
            out.append(char)
    return '"%s"' % ''.join(out)


def module_source(vermagic: str | None = DEFAULT_VERMAGIC, name: str | None = None,
                  versions: Mapping[str, int] | None = None, depends: Sequence[str] = (),
                  license: str | None = 'GPL', extra_modinfo: Sequence[str] = (),
                  ext_versions: Mapping[str, int] | None = None, elf_class: int = 64,
                  exports: Sequence[str] = (), namespaces: Mapping[str, str] | None = None,
                  export_labels: bool = True, this_module_size: int | None = THIS_MODULE_SIZE,
                  export_crcs: Mapping[str, int] | None = None, absolute_crcs: bool = False) -> str:
    """C source of a module with these .modinfo entries and symbol versions.

    ``versions`` None or empty leaves out ``__versions``; ``ext_versions`` None leaves out
    the extended pair. ``extra_modinfo`` entries are raw ``key=value`` strings. ``exports``
    go into ``__ksymtab_strings`` as EXPORT_SYMBOL writes them: the name, then its namespace
    (from ``namespaces``, else empty), labelled ``__kstrtab_NAME`` and ``__kstrtabns_NAME`` in the
    symbol table; ``export_labels=False`` leaves the labels out, as ``strip --strip-unneeded`` does.
    ``this_module_size``: the bytes of its struct module (.gnu.linkonce.this_module, as modpost
    makes it), None for none. ``export_crcs``: the CRCs of exports, labelled ``__crc_NAME`` in
    ``__kcrctab`` as modpost writes them since 5.19, or (``absolute_crcs``) absolute symbols as
    genksyms' linker scripts defined them before.
    """
    modinfo = [] if vermagic is None else ['vermagic=' + vermagic]
    if name is not None:
        modinfo.append('name=' + name)
    modinfo.append('depends=' + ','.join(depends))
    if license is not None:
        modinfo.append('license=' + license)
    modinfo.extend(extra_modinfo)
    lines = [
        # aligned(1) packs the strings back to back, as the kernel's __MODULE_INFO does.
        'static const char modinfo_%d[] __attribute__((used, section(".modinfo"), aligned(1))) = %s;'
        % (index, c_string(entry)) for index, entry in enumerate(modinfo)
    ]
    if this_module_size is not None:
        lines.append('static struct { char bytes[%d]; } __this_module __attribute__((used, '
                     'section(".gnu.linkonce.this_module"), aligned(64)));' % this_module_size)
    if versions:
        limit = VERSION_NAME_SIZE[elf_class]
        too_long = [symbol for symbol in versions if len(symbol.encode()) >= limit]
        if too_long:
            raise ValueError('symbol names longer than __versions allows: %s' % too_long)
        lines.append('struct modversion_info { unsigned long crc; char name[64 - sizeof(unsigned long)]; };')
        lines.append('static const struct modversion_info ____versions[]'
                     ' __attribute__((used, section("__versions"))) = {')
        lines.extend('  { 0x%08xUL, %s },' % (crc, c_string(symbol)) for symbol, crc in versions.items())
        lines.append('};')
    namespaces = namespaces or {}
    if exports and export_labels:
        for symbol in exports:
            lines.append('asm("\\t.section \\"__ksymtab_strings\\",\\"aMS\\",%%progbits,1\\n"'
                         ' "__kstrtab_%s:\\n\\t.asciz \\"%s\\"\\n"'
                         ' "__kstrtabns_%s:\\n\\t.asciz \\"%s\\"\\n\\t.previous\\n");'
                         % (symbol, symbol, symbol, namespaces.get(symbol, '')))
    elif exports:
        strings = ' '.join(c_string(symbol + '\0' + namespaces.get(symbol, '') + '\0') for symbol in exports)
        lines.append('static const char ____ksymtab_strings[] __attribute__((used, section("__ksymtab_strings"), '
                     'aligned(1))) = %s;' % strings)
    for symbol, crc in (export_crcs or {}).items():
        lines.append('asm("__crc_%s = 0x%08x\\n");' % (symbol, crc) if absolute_crcs else
                     'asm("\\t.section \\"__kcrctab\\",\\"a\\"\\n\\t.balign 4\\n__crc_%s:\\n\\t.long 0x%08x\\n'
                     '\\t.previous\\n");' % (symbol, crc))
    if ext_versions is not None:
        lines.append('static const unsigned int ____version_ext_crcs[]'
                     ' __attribute__((used, section("__version_ext_crcs"))) = {')
        lines.extend('  0x%08xU,' % crc for crc in ext_versions.values())
        lines.append('};')
        names = ' '.join(c_string(symbol + '\0') for symbol in ext_versions) or '""'
        lines.append('static const char ____version_ext_names[]'
                     ' __attribute__((used, section("__version_ext_names"), aligned(1))) = %s;' % names)
    return '\n'.join(lines) + '\n'


class KoBuilder:
    """Compiles C sources with gcc into ELF objects, caching outputs by content hash."""

    def __init__(self, cache_dir: Path, compiler: str = 'gcc') -> None:
        found = shutil.which(compiler)
        if found is None:
            pytest.skip('%s is needed to build ELF test modules' % compiler)
        self.compiler = found
        self.cache_dir = cache_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)

    def compile(self, directory: Path, filename: str, source: str, cflags: Sequence[str] = ()) -> Path:
        """``directory/filename``: the object gcc makes of ``source`` (``gcc -c``)."""
        key = hashlib.sha256('\0'.join([self.compiler, *cflags, source]).encode()).hexdigest()
        cached = self.cache_dir / (key + '.o')
        if not cached.exists():
            source_file = self.cache_dir / (key + '.c')
            source_file.write_text(source)
            partial = self.cache_dir / (key + '.tmp')
            result = subprocess.run([self.compiler, '-c', '-O0', *cflags, '-o', str(partial), str(source_file)],
                                    capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError('gcc failed on %s:\n%s' % (source_file, result.stderr))
            # Renamed into place so a parallel worker never sees half a file.
            partial.replace(cached)
        target = directory / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target)
        return target

    def build_ko(self, directory: Path, name: str, vermagic: str | None = DEFAULT_VERMAGIC,
                 versions: Mapping[str, int] | None = None, depends: Sequence[str] = (),
                 extra_modinfo: Sequence[str] = (), ext_versions: Mapping[str, int] | None = None,
                 license: str | None = 'GPL', elf_class: int = 64, exports: Sequence[str] = (),
                 namespaces: Mapping[str, str] | None = None, export_labels: bool = True,
                 this_module_size: int | None = None, export_crcs: Mapping[str, int] | None = None,
                 absolute_crcs: bool = False) -> Path:
        """``directory/NAME.ko``, a module named ``name`` (its ``name=`` entry too).

        ``elf_class=32`` compiles with ``-m32`` (skips the test when gcc cannot). Its struct module
        is THIS_MODULE_SIZE bytes (of 64-bit x86 Debian 6.1), unless ``this_module_size`` says otherwise.
        """
        source = module_source(vermagic, name, versions, depends, license, extra_modinfo, ext_versions, elf_class,
                               exports, namespaces, export_labels, this_module_size or THIS_MODULE_SIZE,
                               export_crcs, absolute_crcs)
        cflags = ('-m32',) if elf_class == 32 else ()
        try:
            return self.compile(directory, name + '.ko', source, cflags)
        except RuntimeError as exc:
            if elf_class == 32:
                pytest.skip('gcc cannot build 32-bit objects here: %s' % exc)
            raise


# kmod's tools print their version and their build's features as its tools/kmod.h does, from the
# build's PACKAGE, VERSION and KMOD_FEATURES (kmod 21 and later).
KMOD_SOURCE = '#include <stdio.h>\nint main(void) { puts(PACKAGE " version " VERSION); %s return 0; }\n'
DEBIAN_KMOD_FEATURES = '+ZSTD +XZ -ZLIB +LIBCRYPTO -EXPERIMENTAL'


def kmod_program(ko_builder: KoBuilder, root: Path, version: str, features: str | None = DEBIAN_KMOD_FEATURES,
                 path: str = 'usr/bin/kmod') -> Path:
    """``root/path``: an object that prints "kmod version ``version``" and, unless None, its
    ``features`` as kmod's tools do."""
    source = KMOD_SOURCE % ('' if features is None else 'puts(KMOD_FEATURES);')
    defines = ['-DPACKAGE="kmod"', '-DVERSION="%s"' % version] + \
        ([] if features is None else ['-DKMOD_FEATURES="%s"' % features])
    return ko_builder.compile(root, path, source, defines)


def gzip_file(path: Path, suffix: str = '.gz') -> Path:
    """A gzip-compressed copy of ``path`` named ``path + suffix``."""
    target = path.with_name(path.name + suffix)
    target.write_bytes(gzip.compress(path.read_bytes()))
    return target


def xz_file(path: Path, suffix: str = '.xz') -> Path:
    """An xz-compressed copy (CRC32 check, as kbuild's ``xz --check=crc32``)."""
    target = path.with_name(path.name + suffix)
    target.write_bytes(lzma.compress(path.read_bytes(), check=lzma.CHECK_CRC32))
    return target


def zstd_file(path: Path, suffix: str = '.zst') -> Path:
    """A zstd-compressed copy made by the ``zstd`` command; skips the test without it."""
    command = shutil.which('zstd')
    if command is None:
        pytest.skip('the zstd command is needed to make .ko.zst files')
    target = path.with_name(path.name + suffix)
    subprocess.run([command, '-q', '-f', '-o', str(target), str(path)], check=True)
    return target


COMPRESSORS = {'gz': gzip_file, 'xz': xz_file, 'zst': zstd_file}


def python_zstd() -> bool:
    """Whether a Python zstd library decompresses in process here (it refuses an empty input)."""
    try:
        return _unzstd_in_python(b'', 'probe') is not None
    except KoError:
        return True


SECTION_HEADER = struct.Struct('<IIQQQQIIQQ')  # Elf64_Shdr, little endian
SHT_NOBITS = 8
SHF_COMPRESSED = 0x800
SHF_ALLOC = 0x2


def patch_section(image: bytes, name: str, append: bytes = b'', **fields: int) -> bytes:
    """``image`` (a 64-bit little-endian ELF file) with section ``name``'s header fields changed.

    Fields are Elf64_Shdr names without the ``sh_`` prefix (type, flags, offset, size).
    ``append`` bytes go at the end of the file and the section is pointed at them.
    """
    data = bytearray(image)
    shoff, = struct.unpack_from('<Q', data, 0x28)
    shnum, shstrndx = struct.unpack_from('<HH', data, 0x3c)
    names_offset = SECTION_HEADER.unpack_from(data, shoff + shstrndx * SECTION_HEADER.size)[4]
    keys = ('name', 'type', 'flags', 'addr', 'offset', 'size', 'link', 'info', 'addralign', 'entsize')
    for index in range(shnum):
        at = shoff + index * SECTION_HEADER.size
        header = dict(zip(keys, SECTION_HEADER.unpack_from(data, at)))
        start = names_offset + header['name']
        if bytes(data[start:data.index(b'\0', start)]) != name.encode():
            continue
        if append:
            fields = dict(fields, offset=len(data), size=len(append))
        header.update(fields)
        SECTION_HEADER.pack_into(data, at, *(header[key] for key in keys))
        return bytes(data + append)
    raise KeyError(name)


def change_elftools_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter's own use of pyelftools' ELFStructs fails, as with a release that changed them;
    that release's ELFFile still works (breaking ELFStructs itself would break it too)."""
    def changed(*args: object) -> None:
        raise TypeError('ELFStructs changed')
    monkeypatch.setattr(ElftoolsAdapter, 'definitions', changed)


def hide_elffile(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyelftools' ELFFile cannot be imported, as pyelftools 0.33's on Python 3.9 (a SyntaxError there)."""
    monkeypatch.setitem(sys.modules, 'elftools.elf.elffile', None)   # importing it raises ImportError
