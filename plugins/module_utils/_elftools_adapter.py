# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pyelftools, used the cheap way: its struct definitions made once, not once per file.

``ELFFile`` builds every struct definition again for each file it opens and, to find one
section by name, makes an object for every section of the file (some 60 in a module): for
the hundreds of modules of a large host that is most of the reading time. This adapter
parses with pyelftools' own definitions, kept per ELF class, byte order and machine, only
the ELF header and the section headers the caller asks for, each up to the last field read.

It relies on ``elftools.elf.structs.ELFStructs``, which pyelftools does not document.
tests/unit/plugins/module_utils/test_elftools_adapter.py fails loudly when a release
changes what is used here, and when the definitions cannot be built at run time the
adapter falls back to the public ``ELFFile`` API (slower, same answers). ``ELFFile`` is
imported only then: with the DWARF readers it brings, it costs a fact run on every host
three times what the struct definitions do. Should neither work, the files are reported
unreadable here, never damaged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io

# e_ident (16 bytes), e_type and e_machine (2 bytes each), the same in both ELF classes.
IDENT_TYPE_MACHINE = 20
# The last field of a section header that the answers need: those after it (link, info, alignment,
# entry size) are not parsed.
LAST_FIELD_READ = 'sh_size'


class ElftoolsUnusable(Exception):
    """pyelftools cannot be imported here."""


# The header fields that pick the section types' definitions, as pyelftools names them, of an
# x86_64 module: what the probe builds (the first x86_64 module then uses it).
PROBED_LAYOUT = ('ET_REL', 'EM_X86_64', 'ELFOSABI_SYSV')


def load_adapter():
    """An ElftoolsAdapter when pyelftools works here, else None.

    It works when its struct definitions build, those of the section types too (pyelftools
    0.33 imports on Python 3.9 but cannot build them there), or, failing that, when its public
    ``ELFFile`` imports, which the adapter then reads through.
    """
    adapter = ElftoolsAdapter()
    try:
        adapter.definitions((64, True) + PROBED_LAYOUT, PROBED_LAYOUT)
        return adapter
    except Exception:  # pylint: disable=broad-except
        adapter.shared = False
    try:
        _elffile()
    except ElftoolsUnusable:
        return None
    return adapter


def _leading_fields(definition, last):
    """A construct Struct of the fields of pyelftools' Struct ``definition`` up to ``last``: each field
    costs a parse in Python, and the header's last four are not needed."""
    from elftools.construct import Struct
    names = [field.name for field in definition.subcons]
    if last not in names:
        raise AttributeError('%s has no field %s' % (definition.name, last))
    return Struct(definition.name, *definition.subcons[:names.index(last) + 1])


def _elffile():
    """pyelftools' ELFFile class; raises ElftoolsUnusable when it cannot be imported."""
    try:
        from elftools.elf.elffile import ELFFile
    except Exception as exc:  # pylint: disable=broad-except
        # Not only ImportError: pyelftools 0.33's ELFFile raises SyntaxError on Python 3.9.
        raise ElftoolsUnusable('pyelftools cannot be imported (%s: %s)' % (type(exc).__name__, exc))
    return ELFFile


class ElftoolsAdapter:
    """Parses ELF headers and section headers with pyelftools."""

    def __init__(self):
        self._structs = {}   # (class, little endian[, type, machine, OS ABI]) -> ELFStructs
        self._opened = {}    # first IDENT_TYPE_MACHINE bytes -> (e_machine, Elf_Shdr, its size)
        self.shared = True   # False once the shared definitions proved unusable here
        self._public = None  # the ELFFile of the file the public API read last

    def open(self, data, layout):
        """``(e_machine, section_header)`` of one image (bytes or anything sliced like them)
        whose ElfLayout is ``layout``; ``section_header(data, layout, index)`` gives the
        section's (type, flags, offset, size), the type as pyelftools names it."""
        if self.shared:
            try:
                return self._open_shared(data, layout)
            except (ImportError, AttributeError, TypeError):
                self.shared = False
        return self._open_public(data)

    def definitions(self, key, advanced=None):
        """pyelftools' ELFStructs for ``key``: (ELF class, little endian), then for the section
        types also (type, machine, OS ABI) as ``advanced``; made once per key."""
        structs = self._structs.get(key)
        if structs is None:
            from elftools.elf.structs import ELFStructs
            structs = ELFStructs(little_endian=key[1], elfclass=key[0])
            structs.create_basic_structs()
            if advanced is not None:
                structs.create_advanced_structs(*advanced)
            self._structs[key] = structs
        return structs

    def _open_shared(self, data, layout):
        # The parts of the ELF header that pyelftools' answers depend on: identification
        # (class, byte order, OS ABI), type and machine. Modules of one host share them, so
        # each distinct one is parsed once.
        key = bytes(data[:IDENT_TYPE_MACHINE])
        opened = self._opened.get(key)
        if opened is None:
            basic = self.definitions((layout.elf_class, layout.little_endian))
            header = basic.Elf_Ehdr.parse(data[:basic.Elf_Ehdr.sizeof()])
            # The section types' names depend on the machine and OS ABI, as in ELFFile.
            advanced = (header['e_type'], header['e_machine'], header['e_ident']['EI_OSABI'])
            shdr = _leading_fields(self.definitions((layout.elf_class, layout.little_endian) + advanced, advanced).Elf_Shdr,
                                   LAST_FIELD_READ)
            opened = self._opened[key] = (header['e_machine'], shdr, shdr.sizeof())
        machine, shdr, size = opened

        def section_header(image, dummy, index):
            at = layout.shoff + index * layout.shentsize
            fields = shdr.parse(image[at:at + size])
            return fields['sh_type'], fields['sh_flags'], fields['sh_offset'], fields['sh_size']
        return machine, section_header

    def _open_public(self, data):
        if self._public is not None:
            # An ELFFile sits in reference cycles, which only the cyclic collector frees (and it
            # runs rarely while the facts are gathered): the image it read is let go when the
            # next file is opened, so no more than one is held.
            self._public.stream.close()
        elf = self._public = _elffile()(io.BytesIO(data[:]))

        def section_header(dummy, layout, index):
            fields = elf.get_section(index).header
            return fields['sh_type'], fields['sh_flags'], fields['sh_offset'], fields['sh_size']
        return elf['e_machine'], section_header
