# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pyelftools adapter: the internals it uses are still there, and it answers as ELFFile does."""

from __future__ import annotations

from pathlib import Path

import pytest
from elftools.elf import structs

from ansible_collections.kabi.dkms.plugins.module_utils import _elftools_adapter
from ansible_collections.kabi.dkms.plugins.module_utils._elftools_adapter import (
    LAST_FIELD_READ, ElftoolsAdapter, ElftoolsUnusable, _leading_fields, load_adapter)
from ansible_collections.kabi.dkms.plugins.module_utils._ko import WANTED_SECTIONS, _elf_header, find_sections
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder, change_elftools_definitions, hide_elffile


@pytest.fixture(params=[64, 32])
def module_image(request: pytest.FixtureRequest, ko_builder: KoBuilder, tmp_path: Path) -> bytes:
    return ko_builder.build_ko(tmp_path, 'hello', elf_class=request.param, exports=['hello_export'],
                               versions={'module_layout': 1, '_printk': 2}).read_bytes()


def test_the_pyelftools_internals_it_uses() -> None:
    """When this fails, a pyelftools release changed ELFStructs: fix the adapter, whose fallback
    keeps the facts right meanwhile, only slower."""
    definitions = structs.ELFStructs(little_endian=True, elfclass=64)
    definitions.create_basic_structs()
    header = definitions.Elf_Ehdr
    assert header.sizeof() == 64
    definitions.create_advanced_structs('ET_REL', 'EM_X86_64', 'ELFOSABI_SYSV')
    assert definitions.Elf_Shdr.sizeof() == 64
    fields = definitions.Elf_Shdr.parse(bytes(64))
    assert {'sh_type', 'sh_flags', 'sh_offset', 'sh_size'} <= set(fields)
    # The adapter parses the fields up to sh_size, with a construct Struct of pyelftools' own.
    leading = _leading_fields(definitions.Elf_Shdr, LAST_FIELD_READ)
    names = ['sh_name', 'sh_type', 'sh_flags', 'sh_addr', 'sh_offset', 'sh_size']
    assert [field.name for field in leading.subcons] == names
    whole = definitions.Elf_Shdr.parse(bytes(range(64)))
    assert dict(leading.parse(bytes(range(leading.sizeof())))) == {name: whole[name] for name in names}


def answers(adapter: ElftoolsAdapter, image: bytes) -> tuple[object, dict[str, tuple[object, ...]]]:
    layout = _elf_header(image, '/m.ko')
    machine, section_header = adapter.open(image, layout)
    found = find_sections(image, layout, WANTED_SECTIONS, '/m.ko')
    return machine, {name: section_header(image, layout, index) for name, index in found.items()}


def test_shared_definitions_answer_as_elffile_does(module_image: bytes) -> None:
    adapter = ElftoolsAdapter()
    shared = answers(adapter, module_image)
    assert adapter.shared
    public = ElftoolsAdapter()
    public.shared = False
    assert shared == answers(public, module_image)
    assert set(shared[1]) == {'.modinfo', '__versions', '__ksymtab_strings'}
    assert shared[1]['__versions'][0] == 'SHT_PROGBITS'


def test_falls_back_to_the_public_api(module_image: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = answers(ElftoolsAdapter(), module_image)

    change_elftools_definitions(monkeypatch)
    adapter = ElftoolsAdapter()
    assert answers(adapter, module_image) == expected
    assert not adapter.shared


def test_falls_back_to_the_public_api_without_the_fields_it_reads(module_image: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """A release whose section header lacks the last field the adapter reads: ELFFile answers."""
    expected = answers(ElftoolsAdapter(), module_image)
    monkeypatch.setattr(_elftools_adapter, 'LAST_FIELD_READ', 'sh_renamed')
    adapter = ElftoolsAdapter()
    assert answers(adapter, module_image) == expected
    assert not adapter.shared


def test_pyelftools_is_used_where_its_definitions_build(module_image: bytes) -> None:
    adapter = load_adapter()
    assert adapter.shared and answers(adapter, module_image)[1]


def test_pyelftools_is_read_through_elffile_where_they_do_not(module_image: bytes,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    change_elftools_definitions(monkeypatch)
    adapter = load_adapter()
    assert not adapter.shared and answers(adapter, module_image)[1]


def test_pyelftools_is_not_used_where_neither_works(monkeypatch: pytest.MonkeyPatch) -> None:
    def unbuildable(*layout: object) -> None:
        # What pyelftools 0.33 does on Python 3.9: "unsupported operand type(s) for |".
        raise TypeError('cannot build the section types')
    monkeypatch.setattr(structs.ELFStructs, 'create_advanced_structs', unbuildable)
    hide_elffile(monkeypatch)
    assert load_adapter() is None


def test_a_fallback_that_cannot_import_elffile_says_so(module_image: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a malformed file: pyelftools is what cannot be used."""
    change_elftools_definitions(monkeypatch)
    hide_elffile(monkeypatch)
    with pytest.raises(ElftoolsUnusable, match='pyelftools cannot be imported'):
        answers(ElftoolsAdapter(), module_image)


def test_the_public_api_holds_one_image_at_a_time(module_image: bytes) -> None:
    """ELFFile sits in reference cycles: with the cyclic collector paused, the images it read
    would stay until the end of the run unless let go."""
    adapter = ElftoolsAdapter()
    adapter.shared = False
    layout = _elf_header(module_image, '/m.ko')
    first = adapter.open(module_image, layout)[1]
    assert answers(adapter, module_image)[1]
    with pytest.raises(ValueError):    # "I/O operation on closed file": its image is gone
        first(module_image, layout, 1)


def test_one_adapter_answers_for_every_kind_of_module(ko_builder: KoBuilder, tmp_path: Path) -> None:
    """What the adapter keeps of one module's header never answers for a module of another class."""
    adapter = ElftoolsAdapter()
    for elf_class in (64, 32, 64):
        image = ko_builder.build_ko(tmp_path / str(elf_class), 'hello', elf_class=elf_class,
                                    versions={'module_layout': 1}).read_bytes()
        public = ElftoolsAdapter()
        public.shared = False
        assert answers(adapter, image) == answers(public, image)
    assert adapter.shared
