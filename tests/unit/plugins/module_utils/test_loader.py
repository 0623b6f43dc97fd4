# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The loader's rules: per-symbol verdicts, vermagic, ELF identity, symbols from other modules
(siblings and other packages) to a fixed point, and the signature check."""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils import _loader
from ansible_collections.kabi.dkms.plugins.module_utils._kabi import Export, Symvers, read_symvers
from ansible_collections.kabi.dkms.plugins.module_utils._kmod_program import KmodProgram
from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoReader, ModuleInfo, SymbolTable
from ansible_collections.kabi.dkms.plugins.module_utils._loader import (
    DOUBT_ROUNDS, Decision, ExportTables, KernelABI, Verdict, judge, module_decompression, resolve, vermagic_suffix)
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import COMPRESSORS, KoBuilder, module_source

RELEASE = '6.1.0-47-amd64'
VERMAGIC = RELEASE + ' SMP preempt mod_unload modversions '
EXPORTS = {'module_layout': 0x4B0A3F52, '_printk': 0x92997ED8, 'kfree': 0x037A0CBA}
SYMVERS = ''.join('0x%08x\t%s\tvmlinux\tEXPORT_SYMBOL\t\n' % (crc, symbol) for symbol, crc in EXPORTS.items())


def module(versions: Mapping[str, int] | None = None, vermagic: str | None = VERMAGIC,
           has_versions_section: bool | None = None, license: str | None = 'GPL',
           import_ns: list[str] | None = None, exports: list[str] | None = None, machine: str = 'EM_X86_64',
           name: str = 'hello', labelled: bool = True) -> ModuleInfo:
    """A module; its symbol table labels its ``exports`` as exports unless ``labelled`` is False (stripped)."""
    versions = EXPORTS if versions is None else versions
    info = ModuleInfo(name=name, vermagic=vermagic, versions=list(versions.items()),
                      has_versions_section=bool(versions) if has_versions_section is None else has_versions_section,
                      license=license, import_ns=import_ns, exports=[] if exports is None else exports,
                      elf_class=64, machine=machine, little_endian=True)
    symbol_table = SymbolTable(set(), set(exports or ()) if labelled else None)
    info.symbol_table = lambda: symbol_table
    return info


def exported(crcs: Mapping[str, int]) -> dict[str, Export]:
    """A kernel's exports with these CRCs, none of them GPL-only or in a namespace."""
    return {symbol: Export(crc, False, None) for symbol, crc in crcs.items()}


# Kernel exports, GPL-only or in a namespace too, and symbols modules export: {symbol: its CRC}.
SHARED_SYMBOLS = dict(EXPORTS, gpl_sym=7, ns_sym=8, a=0x51, b=0x52)
SHARED_EXPORTS = dict(exported(EXPORTS), gpl_sym=Export(7, True, None), ns_sym=Export(8, False, 'NS'))


def kernel(exports: Mapping[str, Export] | None = None, vermagic: str | None = VERMAGIC,
           release: str | None = RELEASE, **options: Any) -> KernelABI:
    return KernelABI(release, exported(EXPORTS) if exports is None else exports, vermagic=vermagic, **options)


# Modules of modules_of: (name, proprietary, [(import, its CRC right)], exports, their CRCs right, import_ns,
# without __versions).
MODULE_SPECS = st.lists(st.tuples(st.sampled_from(['m', 'n', 'unsigned', 'driverloader']), st.booleans(),
                                  st.lists(st.tuples(st.sampled_from(sorted(SHARED_SYMBOLS)), st.booleans()), max_size=5),
                                  st.lists(st.sampled_from(['a', 'b', 'module_layout']), max_size=2, unique=True),
                                  st.booleans(), st.sampled_from([None, ['NS']]), st.booleans()), min_size=1, max_size=5)
# Kernels of decided_on: (release, preempt model, unread files, allow_missing_namespaces).
KERNEL_SPECS = st.lists(st.tuples(st.sampled_from([RELEASE, '5.4.0-1', None]), st.sampled_from(['preempt', 'preempt_rt']),
                                  st.booleans(), st.booleans()), min_size=2, max_size=5)


def modules_of(specs: list) -> dict[str, ModuleInfo]:
    """{key: ModuleInfo} of MODULE_SPECS, importing and exporting among SHARED_SYMBOLS."""
    modules = {}
    for index, (name, proprietary, imports, exports, right_crcs, import_ns, whole) in enumerate(specs):
        versions = dict(EXPORTS, **dict((symbol, SHARED_SYMBOLS[symbol] + (not right)) for symbol, right in imports))
        # A module without __versions has its whole vermagic compared: it loads on RELEASE alone.
        info = module(versions, license='Proprietary' if proprietary else 'GPL', import_ns=import_ns,
                      exports=exports, name=name, has_versions_section=not whole)
        table = SymbolTable(set(), set(exports), dict((symbol, SHARED_SYMBOLS.get(symbol, 0) + (not right_crcs))
                                                      for symbol in exports))
        info.symbol_table = lambda table=table: table
        modules['%d.ko' % index] = info
    return modules


def decided_on(spec: tuple, modules: dict[str, ModuleInfo], shared: ExportTables | None) -> dict:
    """{key: what its Decision tells} of resolve() on the kernel of a KERNEL_SPECS item, SHARED_EXPORTS its own."""
    release, preempt, unread, allow = spec
    abi = kernel(SHARED_EXPORTS, '%s SMP %s mod_unload modversions ' % (release, preempt), release,
                 signature_check=unsigned_refused, allow_missing_namespaces=allow)
    return dict((key, (decision.refusal, decision.certain, decision.kabi, decision.signature, decision.reason))
                for key, decision in resolve(abi, modules, shared, unread).items())


def unsigned_refused(info: ModuleInfo) -> tuple[dict[str, Any], str | None, bool]:
    """The signature check of a kernel that enforces signatures, where the module named unsigned is."""
    signed = info.name != 'unsigned'
    return ({'signed': signed}, None if signed else 'unsigned, and the kernel enforces signatures', True)


def decisions_on(release: str, own: ModuleInfo, *modules: ModuleInfo) -> dict[str, Decision]:
    """resolve() of ``modules`` by name on a kernel of ``release`` whose own module is ``own``."""
    return resolve(kernel(own=own, release=release, signature_check=signatures_known()),
                   dict((info.name, info) for info in modules))


def decisions_of_kmod(version: tuple[int, ...], features: dict[str, bool], decompresses: str | bool | None,
                      info: ModuleInfo) -> Decision:
    """The decision on ``info`` of a kernel that ``decompresses`` modules itself, under that kmod."""
    return resolve(kernel(decompresses=decompresses, kmod=KmodProgram(version, features),
                          signature_check=signatures_known()), {'m': info})['m']


class TestJudge:
    def test_compatible(self) -> None:
        verdict = judge(module(), kernel())
        assert verdict.compatible and verdict.certain
        assert verdict.as_fact() == {'compatible': True, 'missing': [], 'mismatched': [], 'namespaces': [], 'duplicates': [],
                                     'vermagic': True}

    def test_missing_and_mismatched_are_sorted_and_unique(self) -> None:
        info = module(dict(EXPORTS, zzz_gone=1, aaa_gone=2, kfree=EXPORTS['kfree'] ^ 1))
        info.imports += ('aaa_gone',)   # imported twice, with another CRC the second time
        info.crcs += (3,)
        assert judge(info, kernel()).as_fact() == {'compatible': False, 'missing': ['aaa_gone', 'zzz_gone'],
                                                   'mismatched': ['kfree'], 'namespaces': [], 'duplicates': [], 'vermagic': True}

    def test_module_layout(self) -> None:
        assert judge(module(), kernel(exported(dict(EXPORTS, module_layout=0xDEADBEEF)))).mismatched == \
            ['module_layout']
        without = {symbol: crc for symbol, crc in EXPORTS.items() if symbol != 'module_layout'}
        assert judge(module(), kernel(exported(without))).missing == ['module_layout']

    def test_symbols_other_modules_provide(self) -> None:
        info = module(dict(EXPORTS, hello_core_export=0x5151))
        assert judge(info, kernel()).missing == ['hello_core_export']
        assert judge(info, kernel(), frozenset(['hello_core_export'])).compatible
        # A kernel export of the same name is still checked by CRC: a module does not excuse it.
        assert judge(module(dict(EXPORTS, kfree=1)), kernel(), frozenset(['kfree'])).mismatched == ['kfree']
        # When some module's exports cannot be listed, an unfound symbol is unknown, not missing.
        unknown = judge(info, kernel(), unknown_providers=True)
        assert unknown.compatible and not unknown.certain and unknown.unresolved == ['hello_core_export']

    def test_symbols_of_in_tree_modules_modprobe_does_not_find(self) -> None:
        # find_symbol() looks in the kernel image and the modules loaded: an in-tree module
        # modprobe cannot load first exports nothing to the module.
        exports = dict(exported(EXPORTS), video_ioctl2=Export(0x5151, False, None, 'drivers/media/v4l2-core/videodev'))
        info = module(dict(EXPORTS, video_ioctl2=0x5151))
        for present, missing, unresolved in ((True, [], []), (False, ['video_ioctl2'], []),
                                             (None, [], ['video_ioctl2'])):
            verdict = judge(info, kernel(exports, module_present=lambda owner: present))
            assert (verdict.missing, verdict.unresolved) == (missing, unresolved), present
        # A DKMS module may provide it; the kernel image's exports are never asked about.
        assert judge(info, kernel(exports, module_present=lambda owner: False), frozenset(['video_ioctl2'])).compatible
        image = dict(exported(EXPORTS), kfree=Export(EXPORTS['kfree'], False, None, 'vmlinux'))
        assert judge(module(), kernel(image, module_present=lambda owner: False)).certain

    @pytest.mark.parametrize(('license', 'loads'), [
        ('GPL', True), ('GPL v2', True), ('Dual MIT/GPL', True), ('Dual BSD/GPL', True),
        ('NVIDIA', False), ('Proprietary', False), (None, False),
    ])
    def test_gpl_only_exports_need_a_gpl_compatible_license(self, license: str | None, loads: bool) -> None:
        exports = dict(exported(EXPORTS), kfree=Export(EXPORTS['kfree'], True, None))
        verdict = judge(module(license=license), kernel(exports))
        # The loader hides GPL-only symbols from such a module: "Unknown symbol kfree".
        assert (verdict.compatible, verdict.missing) == ((True, []) if loads else (False, ['kfree']))

    @pytest.mark.parametrize(('name', 'loads'), [('hello', True), ('lve', False), ('driverloader', False)])
    def test_modules_the_kernel_knows_to_misstate_their_license_are_proprietary(self, name: str,
                                                                                loads: bool) -> None:
        exports = dict(exported(EXPORTS), kfree=Export(EXPORTS['kfree'], True, None))
        assert judge(module(name=name), kernel(exports)).missing == ([] if loads else ['kfree'])

    def test_namespaced_exports_need_the_namespace_imported(self) -> None:
        exports = dict(exported(EXPORTS), kfree=Export(EXPORTS['kfree'], False, 'MEMORY'),
                       _printk=Export(EXPORTS['_printk'], False, 'module:kvm,kvm-*'))
        verdict = judge(module(), kernel(exports))
        assert verdict.as_fact() == {'compatible': False, 'missing': [], 'mismatched': [],
                                     'namespaces': ['MEMORY', 'module:kvm,kvm-*'], 'duplicates': [], 'vermagic': True}
        # A module namespace is granted by the module's name alone (6.16+), never by an import;
        # later kernels grant it to in-tree modules only, so for a DKMS build a match is unknown.
        imported = judge(module(import_ns=['OTHER', 'MEMORY', 'module:kvm,kvm-*']), kernel(exports))
        assert imported.namespaces == ['module:kvm,kvm-*']
        for name in ('kvm', 'kvm-amd', 'kvm_amd'):   # "-" and "_" alike in later kernels only
            matched = judge(module(import_ns=['MEMORY'], name=name), kernel(exports))
            assert (matched.compatible, matched.certain, matched.unresolved) == (True, False, ['_printk']), name
        assert judge(module(import_ns=['MEMORY'], name='kvmx'), kernel(exports)).namespaces == ['module:kvm,kvm-*']
        # A kernel built to allow missing namespace imports only warns; whether it lets a module
        # namespace through too depends on its version.
        allowing = judge(module(), kernel(exports, allow_missing_namespaces=True))
        assert (allowing.compatible, allowing.certain, allowing.unresolved) == (True, False, ['_printk'])
        assert judge(module(name='kvm'), kernel(exports, allow_missing_namespaces=True)).unresolved == ['_printk']
        # A changed CRC is reported as such, not as a namespace to import.
        changed = dict(exports, kfree=Export(1, False, 'MEMORY'))
        assert judge(module(), kernel(changed)).mismatched == ['kfree']
        assert judge(module(), kernel(changed)).namespaces == ['module:kvm,kvm-*']

    @pytest.mark.parametrize(('module_vermagic', 'kernel_vermagic', 'expected'), [
        (VERMAGIC, VERMAGIC, True),
        # With versions only what follows the release counts: a clone kernel accepts it.
        (VERMAGIC, RELEASE + '+clone SMP preempt mod_unload modversions ', True),
        (VERMAGIC, RELEASE + '+rt SMP preempt_rt mod_unload modversions ', False),
        (VERMAGIC, None, None),
        (None, VERMAGIC, False),
    ])
    def test_vermagic_with_versions(self, module_vermagic: str | None, kernel_vermagic: str | None,
                                    expected: bool | None) -> None:
        verdict = judge(module(vermagic=module_vermagic), kernel(vermagic=kernel_vermagic))
        assert verdict.vermagic is expected
        assert verdict.compatible is (expected is not False)
        assert verdict.certain is (expected is not None)

    @pytest.mark.parametrize(('kernel_vermagic', 'release', 'expected'), [
        (RELEASE + ' SMP mod_unload ', None, True),
        (RELEASE + '+clone SMP mod_unload ', None, False),
        (None, RELEASE, True),
        (None, RELEASE + '+clone', False),
        (None, None, None),
    ])
    def test_vermagic_without_versions(self, kernel_vermagic: str | None, release: str | None,
                                       expected: bool | None) -> None:
        info = module({}, vermagic=RELEASE + ' SMP mod_unload ')
        verdict = judge(info, kernel({}, kernel_vermagic, release))
        assert verdict.vermagic is expected
        assert verdict.missing == [] and verdict.mismatched == []

    def test_extended_versions_alone_keep_the_release_in_the_vermagic_check(self) -> None:
        # same_magic() skips the release only for a module with a __versions section.
        clone = RELEASE + '+clone SMP preempt mod_unload modversions '
        assert judge(module(has_versions_section=False), kernel(vermagic=clone)).vermagic is False
        assert judge(module(has_versions_section=False), kernel()).compatible

    @pytest.mark.parametrize('compressed', ['', 'xz'])
    def test_a_weak_reference_the_kernel_lacks_is_not_missing(self, tmp_path: Path, ko_builder: KoBuilder,
                                                              compressed: str) -> None:
        # simplify_symbols(): an undefined weak symbol the loader finds nothing for stays unresolved
        # (modpost still gave it a __versions entry); a strong one is "Unknown symbol".
        source = module_source(VERMAGIC, 'hooks', dict(EXPORTS, optional_hook=1, required_hook=2)) + (
            'extern void optional_hook(void) __attribute__((weak));\nextern void required_hook(void);\n'
            'void call(void) { if (optional_hook) optional_hook(); required_hook(); }\n')
        path = ko_builder.compile(tmp_path, 'hooks.ko', source)
        if compressed:
            path = COMPRESSORS[compressed](path)
        fs = RootFS(str(tmp_path))
        info = KoReader(fs, reader='pyelftools').read('/' + path.name)
        verdict = judge(info, kernel())
        assert (verdict.missing, verdict.certain) == (['required_hook'], True)
        assert judge(info, kernel(), frozenset(['required_hook'])).compatible
        # The symbol table is read again only for a module that misses symbols: a file gone by
        # then leaves them unknown.
        unread = KoReader(fs, reader='pyelftools').read('/' + path.name)
        path.unlink()
        verdict = judge(unread, kernel())
        assert (verdict.missing, verdict.unresolved, verdict.certain) == ([], ['optional_hook', 'required_hook'], False)

    def test_verdict(self) -> None:
        assert Verdict([], [], [], None).compatible
        assert not Verdict(['x'], [], [], True).compatible
        assert not Verdict([], ['x'], [], True).compatible
        assert not Verdict([], [], ['NS'], True).compatible
        assert not Verdict([], [], [], False).compatible

    def test_suffix(self) -> None:
        assert vermagic_suffix(VERMAGIC) == 'SMP preempt mod_unload modversions '
        assert vermagic_suffix(RELEASE) == ''
        assert vermagic_suffix(None) is None

    def test_real_module_against_real_symvers(self, tmp_path: Path, ko_builder: KoBuilder) -> None:
        modules = tmp_path / 'lib/modules' / RELEASE
        ko_builder.build_ko(modules / 'updates/dkms', 'hello', vermagic=VERMAGIC,
                            versions=dict(EXPORTS, hello_core_export=0x5151))
        (tmp_path / 'boot').mkdir()
        (tmp_path / 'boot/symvers.gz').write_bytes(gzip.compress(SYMVERS.encode()))
        broken = SYMVERS.replace('%08x' % EXPORTS['kfree'], '%08x' % (EXPORTS['kfree'] ^ 1))
        (tmp_path / 'boot/broken.symvers').write_text(broken)
        fs = RootFS(str(tmp_path))
        info = KoReader(fs, reader='pyelftools').read('/lib/modules/%s/updates/dkms/hello.ko' % RELEASE)
        good = judge(info, kernel(read_symvers(fs, '/boot/symvers.gz')), frozenset(['hello_core_export']))
        assert good.as_fact() == {'compatible': True, 'missing': [], 'mismatched': [], 'namespaces': [], 'duplicates': [],
                                  'vermagic': True}
        bad = judge(info, kernel(read_symvers(fs, '/boot/broken.symvers'),
                                 RELEASE + '+broken SMP preempt mod_unload modversions '))
        assert bad.as_fact() == {'compatible': False, 'missing': ['hello_core_export'],
                                 'mismatched': ['kfree'], 'namespaces': [], 'duplicates': [], 'vermagic': True}


def outcome(decisions: Mapping[str, Any]) -> dict[str, tuple[str | None, bool]]:
    return {key: (decision.refusal, decision.certain) for key, decision in decisions.items()}


def signatures_known(fact: dict[str, Any] | None = None) -> Any:
    """A signature check of a kernel that does not enforce signatures: nothing refused, known."""
    return lambda info: (fact, None, True)


class TestResolve:
    """Every module file that could load on one kernel, judged together."""

    def test_a_symbol_from_another_module_is_checked_by_that_modules_crc(self) -> None:
        # resolve_symbol() -> check_version() with the exporting module's own CRC.
        client = module(dict(EXPORTS, a=0x51), name='client')

        def decided(crcs: dict[str, int] | None, readable: bool = True) -> tuple[str | None, bool]:
            core = module(exports=['a'], name='core')
            table = SymbolTable(set(), {'a'}, crcs)
            core.symbol_table = (lambda: table) if readable else (lambda: None)
            decision = resolve(kernel(signature_check=signatures_known()), {'core': core, 'client': client})['client']
            return decision.refusal, decision.certain

        assert decided({'a': 0x51}) == (None, True)
        assert decided({}) == (None, True)      # built without CRCs: nothing to compare
        assert decided({'a': 0x52}) == ('incompatible', True)
        assert decided(None) == (None, False)   # a CRC table whose labels are gone
        assert decided({'a': 0x51}, readable=False) == (None, False)

    def test_providers_are_compared_by_the_crcs_they_all_export(self) -> None:
        # Two files of one module (in two packages) export a symbol the kernel lacks: an import passes
        # with the CRC both tell, fails with another; where they differ, whichever loads decides.
        def provider(name: str, crc: int) -> ModuleInfo:
            info = module(exports=['a'], name=name)
            table = SymbolTable(set(), {'a'}, {'a': crc})
            info.symbol_table = lambda: table
            return info

        def decided(client_crc: int, *crcs: int) -> tuple[str | None, bool]:
            modules = dict(('p%d' % index, provider('core', crc)) for index, crc in enumerate(crcs))
            modules['client'] = module(dict(EXPORTS, a=client_crc), name='client')
            return outcome(resolve(kernel(signature_check=signatures_known()), modules))['client']

        assert decided(0x51, 0x51, 0x51) == (None, True)
        assert decided(0x52, 0x51, 0x51) == ('incompatible', True)
        assert decided(0x51, 0x51, 0x52) == (None, False)
        # A client refused for another import is checked symbol by symbol: the same CRCs count.
        for client_crc, mismatched in ((0x51, ['kfree']), (0x52, ['a', 'kfree'])):
            modules = {'p0': provider('core', 0x51), 'p1': provider('core', 0x51),
                       'client': module(dict(EXPORTS, a=client_crc, kfree=1), name='client')}
            assert resolve(kernel(signature_check=signatures_known()), modules)['client'].kabi['mismatched'] == mismatched
        # A module is not its own provider, whatever CRC it tells.
        selfish = provider('selfish', 0x51)
        selfish.imports, selfish.crcs = selfish.imports + ('a',), selfish.crcs + (0x51,)
        decision = resolve(kernel(signature_check=signatures_known()), {'selfish': selfish})['selfish']
        assert (decision.refusal, decision.kabi['missing']) == ('incompatible', ['a'])

    def test_what_passed_by_the_providers_crcs_holds_only_for_the_same_providers(self) -> None:
        # Kernels that share a table share what passed by it; a client that passed by one
        # provider's CRC is judged again beside another provider, and where it is tainted.
        tables = ExportTables()
        client = module(dict(EXPORTS, a=0x51), name='client')

        def decided(crc: int, license: str = 'GPL', release: str = RELEASE) -> tuple[str | None, bool]:
            core = module(exports=['a'], name='core', license=license)
            table = SymbolTable(set(), {'a'}, {'a': crc})
            core.symbol_table = lambda: table
            check = signatures_known()
            return outcome(resolve(kernel(release=release, signature_check=check), {'core': core, 'client': client},
                                   tables))['client']

        assert decided(0x51) == (None, True)
        assert decided(0x52, release=RELEASE + '+1') == ('incompatible', True)
        assert decided(0x51, release=RELEASE + '+2') == (None, True)

    def test_what_passed_untainted_is_not_taken_where_the_taint_is_unknown(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Past TAINT_RECOUNTS a taint once possible stays unknown: a client judged beside a refused
        # proprietary file of its provider does not take over what it passed on a kernel without it.
        monkeypatch.setattr(_loader, 'TAINT_RECOUNTS', 0)
        gpl_kfree = dict(exported(EXPORTS), kfree=Export(EXPORTS['kfree'], True, None))
        lib = module(exports=['b'], name='lib')
        table = SymbolTable(set(), {'b'}, {'b': 0x51})
        lib.symbol_table = lambda: table
        evil = module(dict(EXPORTS, module_layout=1), exports=['b'], name='lib', license='Proprietary')
        evil.symbol_table = lambda: table
        client = module(dict(EXPORTS, b=0x51), name='client')

        def decided(modules: dict[str, ModuleInfo], tables: ExportTables, release: str) -> tuple[str | None, bool]:
            return outcome(resolve(kernel(gpl_kfree, release=release, signature_check=signatures_known()), modules,
                                   tables))['client']

        alone = decided({'lib': lib, 'evil': evil, 'client': client}, ExportTables(), RELEASE)
        assert alone == (None, False)
        shared = ExportTables()
        assert decided({'lib': lib, 'client': client}, shared, RELEASE) == (None, True)
        assert decided({'lib': lib, 'evil': evil, 'client': client}, shared, RELEASE + '+1') == alone

    def test_in_tree_modules_that_do_not_load_export_nothing(self) -> None:
        # An in-tree module exports to others only once loaded (from helper-85's review): not where
        # module_blacklist= names it, nor where a module judged here replaces it (its own CRC
        # counts), and one that may not be there may still contest an export.
        videodev = Export(0x5151, False, None, 'drivers/media/v4l2-core/videodev')
        exports = dict(exported(EXPORTS), video_ioctl2=videodev)
        client = module(dict(EXPORTS, video_ioctl2=0x5151), name='client')

        def decided(modules: dict[str, ModuleInfo], **options: Any) -> dict[str, tuple[str | None, bool]]:
            return outcome(resolve(kernel(exports, signature_check=signatures_known(), **options), modules))

        assert decided({'client': client}) == {'client': (None, True)}
        assert decided({'client': client}, module_blacklist=['videodev']) == {'client': ('incompatible', True)}
        # A DKMS videodev of its own build replaces it: its CRC is the one the client must match.
        rebuilt = module(exports=['video_ioctl2'], name='videodev')
        table = SymbolTable(set(), {'video_ioctl2'}, {'video_ioctl2': 0x5252})
        rebuilt.symbol_table = lambda: table
        assert decided({'client': client, 'videodev': rebuilt}) == {
            'client': ('incompatible', True), 'videodev': (None, True)}
        rebuilt_client = module(dict(EXPORTS, video_ioctl2=0x5252), name='client')
        assert decided({'client': rebuilt_client, 'videodev': rebuilt})['client'] == (None, True)
        # Kernels of one symvers that share the run's tables: each answers for its own command line.
        symvers = Symvers(''.join('0x%08x\t%s\t%s\tEXPORT_SYMBOL\n' % (export.crc, symbol, export.owner)
                                  for symbol, export in exports.items()))
        tables = ExportTables()
        for options, expected in (({}, (None, True)), ({'module_blacklist': ['videodev']}, ('incompatible', True)),
                                  ({}, (None, True)), ({'module_present': lambda owner: None}, (None, False)),
                                  ({'module_present': lambda owner: False}, ('incompatible', True))):
            abi = kernel(symvers, signature_check=signatures_known(), **options)
            assert outcome(resolve(abi, {'client': client}, tables)) == {'client': expected}, options
        # One that may not be there to load: what exports the same symbol may be refused.
        rival = module(exports=['video_ioctl2'], name='v4l2_compat')
        assert decided({'rival': rival}, module_present=lambda owner: None) == {'rival': (None, False)}
        assert decided({'rival': rival}, module_present=lambda owner: False) == {'rival': (None, True)}

    @pytest.mark.parametrize('restriction', ['gpl_only', 'namespace'])
    def test_a_replacement_may_restrict_its_exports_as_the_in_tree_module_did(self, restriction: str) -> None:
        # Only the replacement's CRCs are read: a GPL-only or namespaced in-tree export that a
        # client could not take, the replacement may restrict alike (from helper-86's review).
        export = Export(0x5151, restriction == 'gpl_only', 'VIDEODEV' if restriction == 'namespace' else None,
                        'drivers/media/v4l2-core/videodev')
        exports = dict(exported(EXPORTS), video_ioctl2=export)
        rebuilt = module(exports=['video_ioctl2'], name='videodev')
        table = SymbolTable(set(), {'video_ioctl2'}, {'video_ioctl2': 0x5151})
        rebuilt.symbol_table = lambda: table

        def decided(**client: Any) -> tuple[str | None, bool]:
            info = module(dict(EXPORTS, video_ioctl2=0x5151), name='client', **client)
            return outcome(resolve(kernel(exports, signature_check=signatures_known()),
                                   {'client': info, 'videodev': rebuilt}))['client']

        barred = {'license': 'Proprietary'} if restriction == 'gpl_only' else {}
        assert decided(**barred) == (None, False)
        allowed = {} if restriction == 'gpl_only' else {'import_ns': ['VIDEODEV']}
        assert decided(**allowed) == (None, True)

    def test_a_replacement_the_kernel_refuses_or_that_was_not_read_still_replaces(self) -> None:
        # modprobe takes the DKMS file of the name, whatever becomes of it: its in-tree namesake
        # never loads (from helper-86's review); a file not read may be one depmod leaves out.
        exports = dict(exported(EXPORTS), video_ioctl2=Export(0x5151, False, None, 'drivers/media/v4l2-core/videodev'))
        client = module(dict(EXPORTS, video_ioctl2=0x5151), name='client')
        rebuilt = module(exports=['video_ioctl2'], name='videodev')
        rebuilt.this_module_size = 999
        own = module(name='own')
        own.this_module_size = 1000
        on_6_8 = kernel(exports, release='6.8.0-1', own=own, signature_check=signatures_known())
        decisions = resolve(on_6_8, {'client': client, 'videodev': rebuilt})
        assert outcome(decisions) == {'client': ('incompatible', True), 'videodev': ('incompatible', True)}
        assert decisions['client'].kabi['missing'] == ['video_ioctl2']
        unread = resolve(kernel(exports, signature_check=signatures_known()), {'client': client}, unread=True,
                         unsure_names={'videodev'})
        assert outcome(unread) == {'client': (None, False)}
        assert outcome(resolve(kernel(exports, signature_check=signatures_known()), {'client': client}, unread=True,
                               unsure_names={'other'})) == {'client': (None, True)}
        # Compressed in a format the system's kmod may lack: its depmod may leave the file out (from helper-87).
        rebuilt = module(exports=['other'], name='videodev')
        rebuilt.compression = 'zstd'
        decisions = resolve(kernel(exports, signature_check=signatures_known()), {'client': client, 'videodev': rebuilt})
        assert outcome(decisions)['client'] == (None, False)

    def test_a_file_replaces_the_in_tree_module_of_its_file_name(self) -> None:
        # depmod indexes a file by its name, not by the name= the module gives itself (a module
        # dkms.conf's DEST_MODULE_NAME renames; from helper-87).
        exports = dict(exported(EXPORTS), video_ioctl2=Export(0x5151, False, None, 'drivers/media/v4l2-core/videodev'))
        client = module(dict(EXPORTS, video_ioctl2=0x5151), name='client')
        renamed = module(exports=['other'], name='videodev_backport')
        modules = {'client': client, 'renamed': renamed}
        assert outcome(resolve(kernel(exports, signature_check=signatures_known()), modules))['client'] == (None, True)
        decisions = resolve(kernel(exports, signature_check=signatures_known()), modules, file_names={'renamed': 'videodev'})
        assert outcome(decisions)['client'] == ('incompatible', True)
        assert decisions['client'].kabi['missing'] == ['video_ioctl2']

    def test_module_blacklist_on_the_command_line(self) -> None:
        # blacklisted(): the last module_blacklist= given, its names compared exactly; what takes
        # symbols from a refused module misses them.
        core = module(exports=['a'], name='core')
        client = module(dict(EXPORTS, a=0x51), name='client')

        def decided(values: list[str | None] | None, release: str = RELEASE) -> dict[str, tuple[str | None, bool]]:
            return outcome(resolve(kernel(release=release, signature_check=signatures_known(), module_blacklist=values),
                                   {'core': core, 'client': client}))

        assert decided(['core,other']) == {'core': ('rejected', True), 'client': ('rejected', True)}
        assert 'module_blacklist=core,other' in resolve(
            kernel(signature_check=signatures_known(), module_blacklist=['core,other']), {'core': core})['core'].reason
        for values in (['core', 'other'], ['cor', 'core-x'], ['core', None, ''], [None], [], None):
            assert decided(values) == {'core': (None, True), 'client': (None, True)}, values
        # Kernels before 4.8 may not have the parameter.
        assert decided(['core'], '4.4.0-21-generic') == {'core': ('rejected', False), 'client': ('rejected', False)}

    def test_a_chain_across_packages_falls_together(self) -> None:
        # core (package A) exports a; mid (package B) imports a and exports b; top (package C) imports b.
        core = module(dict(EXPORTS, kfree=1), exports=['a'], name='core')   # refused: kfree's CRC
        mid = module(dict(EXPORTS, a=7), exports=['b'], name='mid')
        top = module(dict(EXPORTS, b=8), name='top')
        decisions = resolve(kernel(signature_check=signatures_known()), {'core': core, 'mid': mid, 'top': top})
        assert outcome(decisions) == {'core': ('incompatible', True), 'mid': ('incompatible', True),
                                      'top': ('incompatible', True)}
        assert decisions['mid'].kabi['missing'] == ['a'] and decisions['top'].kabi['missing'] == ['b']
        assert decisions['core'].kabi['mismatched'] == ['kfree']
        assert 'missing symbols: b' in decisions['top'].reason

    def test_providers_of_other_packages_count_while_they_load(self) -> None:
        provider = module(exports=['oslec_create'], name='oslec')
        user = module(dict(EXPORTS, oslec_create=3), name='dahdi_echocan_oslec')
        check = signatures_known()
        assert outcome(resolve(kernel(signature_check=check), {'p': provider, 'u': user})) == \
            {'p': (None, True), 'u': (None, True)}
        # Without the provider on the kernel nothing exports oslec_*: the user never loads.
        alone = resolve(kernel(signature_check=check), {'u': user})
        assert outcome(alone) == {'u': ('incompatible', True)}
        assert alone['u'].kabi['missing'] == ['oslec_create']

    def test_a_file_that_could_not_be_read_may_export_what_is_missing(self) -> None:
        # oslec's file was not read (no decompressor here, say): it may load and export oslec_create.
        user = module(dict(EXPORTS, oslec_create=3), name='dahdi_echocan_oslec')
        decisions = resolve(kernel(signature_check=signatures_known()), {'u': user}, unread=True)
        assert outcome(decisions) == {'u': (None, False)}
        assert decisions['u'].kabi['missing'] == [] and 'oslec_create' in decisions['u'].reason

    def test_what_takes_symbols_from_a_module_not_surely_loaded_is_not_certain_down_the_chain(self) -> None:
        # a imports y, which only a file not read may export; b takes x from a, c takes z from b.
        a = module(dict(EXPORTS, y=1), exports=['x'], name='a')
        b = module(dict(EXPORTS, x=2), exports=['z'], name='b')
        c = module(dict(EXPORTS, z=3), name='c')
        other = module(name='other')
        decisions = resolve(kernel(signature_check=signatures_known()), {'a': a, 'b': b, 'c': c, 'o': other},
                            unread=True)
        assert outcome(decisions) == {'a': (None, False), 'b': (None, False), 'c': (None, False), 'o': (None, True)}
        assert decisions['c'].reason.startswith('loads only if modules that may not load do; without them: ')

    def test_a_chain_longer_than_the_rounds_followed_is_not_certain_beyond_them(self) -> None:
        names = ['m%d' % index for index in range(DOUBT_ROUNDS + 3)]
        chain = dict((name, module(dict(EXPORTS, **{'from_' + names[index - 1]: 1}) if index else dict(EXPORTS, y=1),
                                   exports=['from_' + name], name=name)) for index, name in enumerate(names))
        unlisted = module(dict(EXPORTS, y=1), name='unlisted')   # not known to load, its exports not known
        unlisted.exports = None
        chain.update(plain=module(name='plain'), unlisted=unlisted)
        decisions = resolve(kernel(signature_check=signatures_known()), chain, unread=True)
        assert set(outcome(dict((name, decisions[name]) for name in names)).values()) == {(None, False)}
        assert decisions[names[-1]].reason.startswith('may take symbols from modules that may not load')
        # What takes nothing from other modules is as certain as it was.
        assert outcome(decisions)['plain'] == (None, True)

    def test_missing_lists_do_not_depend_on_the_order_of_names(self) -> None:
        # tp_smapi's shape: hdaps and tp_smapi import thinkpad_ec's exports; thinkpad_ec is refused
        # (a CRC), so both miss its symbols, whichever name is judged first.
        core = module(dict(EXPORTS, kfree=1), exports=['ec_lock'], name='thinkpad_ec')
        users = [module(dict(EXPORTS, ec_lock=5, ec_read=6), name=name) for name in ('hdaps', 'tp_smapi')]
        expected = {'thinkpad_ec': ([], ['kfree']), 'hdaps': (['ec_lock', 'ec_read'], []),
                    'tp_smapi': (['ec_lock', 'ec_read'], [])}
        for keys in itertools.permutations(['a', 'b', 'c']):
            infos = dict(zip(keys, [core] + users))
            decisions = resolve(kernel(), infos)
            assert {infos[key].name: (decisions[key].kabi['missing'], decisions[key].kabi['mismatched'])
                    for key in keys} == expected

    @pytest.mark.parametrize('core_license', ['NVIDIA', 'GPL'])
    def test_a_module_taking_symbols_from_a_proprietary_one_loses_gpl_only_exports(self, core_license: str) -> None:
        # nvidia.ko's shape: a proprietary core, a GPL glue module importing its symbols and the
        # kernel's; the loader taints the glue proprietary (inherit_taint), in turn its users too.
        exports = dict(exported(EXPORTS), kfree=Export(EXPORTS['kfree'], True, None))   # GPL-only
        core = module({'module_layout': EXPORTS['module_layout']}, license=core_license, exports=['core_api'],
                      name='core')
        glue = module({'module_layout': EXPORTS['module_layout'], 'core_api': 1}, exports=['glue_api'], name='glue')
        user = module(dict(EXPORTS, glue_api=2), name='user')
        decisions = resolve(kernel(exports, signature_check=signatures_known()),
                            {'core': core, 'glue': glue, 'user': user})
        if core_license == 'GPL':
            assert outcome(decisions) == {'core': (None, True), 'glue': (None, True), 'user': (None, True)}
        else:
            assert outcome(decisions) == {'core': (None, True), 'glue': (None, True), 'user': ('incompatible', True)}
            assert decisions['user'].kabi['missing'] == ['kfree']

    def test_a_kernel_before_5_9_does_not_pass_the_taint_on(self) -> None:
        # inherit_taint() came with 5.9; a distribution kernel before it may carry it backported.
        exports = dict(exported(EXPORTS), kfree=Export(EXPORTS['kfree'], True, None))
        core = module({'module_layout': EXPORTS['module_layout']}, license='NVIDIA', exports=['core_api'],
                      name='core')
        user = module(dict(EXPORTS, core_api=1), name='user')
        decisions = resolve(kernel(exports, release='4.18.0-553.el8_10.x86_64', signature_check=signatures_known()),
                            {'core': core, 'user': user})
        assert outcome(decisions) == {'core': (None, True), 'user': (None, False)}
        assert 'kfree' in decisions['user'].reason

    def test_a_symbol_exported_by_a_proprietary_and_a_gpl_module_leaves_gpl_only_imports_unknown(self) -> None:
        exports = dict(exported(EXPORTS), kfree=Export(EXPORTS['kfree'], True, None))
        closed = module({'module_layout': EXPORTS['module_layout']}, license='Proprietary', exports=['api'],
                        name='closed')
        opened = module({'module_layout': EXPORTS['module_layout']}, exports=['api'], name='open')
        user = module(dict(EXPORTS, api=1), name='user')
        decisions = resolve(kernel(exports, signature_check=signatures_known()),
                            {'closed': closed, 'open': opened, 'user': user})
        assert outcome(decisions)['user'] == (None, False)
        assert 'kfree' in decisions['user'].reason

    def test_exports_that_cannot_be_listed_leave_the_verdict_unknown(self) -> None:
        unlisted = module(exports=None, name='core')
        unlisted.exports = None
        user = module(dict(EXPORTS, core_export=1), name='user')
        decisions = resolve(kernel(signature_check=signatures_known()), {'core': unlisted, 'user': user})
        assert outcome(decisions) == {'core': (None, True), 'user': (None, False)}
        assert 'core_export' in decisions['user'].reason

    @pytest.mark.parametrize('refused', [0, 1, 2, 3])
    def test_unlisted_exports_leave_a_symbol_unresolved_until_none_of_them_loads(self, refused: int) -> None:
        """Modules whose exports are not known, ``refused`` of three refused for a CRC: a symbol
        no module lists stays unresolved while one besides its importer loads, and is missing
        once none does, whatever the order of refusals."""
        unlisted = {}
        for index in range(3):
            crcs = dict(EXPORTS, kfree=EXPORTS['kfree'] + 1) if index < refused else EXPORTS
            unlisted['core%d' % index] = module(crcs, name='core%d' % index)
            unlisted['core%d' % index].exports = None
        user = module(dict(EXPORTS, core_export=1), name='user')
        decisions = resolve(kernel(signature_check=signatures_known()), dict(unlisted, user=user))
        verdict = decisions['user'].kabi
        if refused == 3:
            assert (decisions['user'].refusal, decisions['user'].certain) == ('incompatible', True)
            assert verdict['missing'] == ['core_export']
        else:
            assert (decisions['user'].refusal, decisions['user'].certain) == (None, False)
            assert verdict['missing'] == [] and 'core_export' in decisions['user'].reason
        assert [decisions[key].refusal for key in sorted(unlisted)] == ['incompatible'] * refused + [None] * (3 - refused)

    def test_foreign_elf_is_broken(self) -> None:
        own = module(name='intree')
        arm = module(machine='EM_AARCH64')
        decisions = resolve(kernel(own=own), {'arm': arm})
        assert outcome(decisions) == {'arm': ('broken', True)}
        assert 'machine EM_AARCH64' in decisions['arm'].reason

    def test_a_struct_module_of_another_size_is_refused(self) -> None:
        """Built against another configuration of the kernel: refused since 6.4; older kernels
        load it and read its fields where they are not, so it is refused, not certainly, and
        what needs it loads as far as the loader goes, not certainly either."""
        own, same, other = module(name='intree'), module(name='same'), module(exports=['x'], name='other')
        user = module(dict(EXPORTS, x=1), name='user')
        own.this_module_size = same.this_module_size = user.this_module_size = 1280
        other.this_module_size = 1344
        reason = ('its struct module (.gnu.linkonce.this_module) is 1344 bytes, the kernel\'s 1280: it was built '
                  'against another configuration of the kernel')
        for release, expected in (('6.4.0-1-amd64', {'same': (None, True), 'other': ('incompatible', True),
                                                     'user': ('incompatible', True)}),
                                  ('6.12.9', {'same': (None, True), 'other': ('incompatible', True),
                                              'user': ('incompatible', True)}),
                                  (RELEASE, {'same': (None, True), 'other': ('incompatible', False),
                                             'user': (None, False)}),
                                  ('custom', {'same': (None, True), 'other': ('incompatible', False),
                                              'user': (None, False)})):
            decisions = resolve(kernel(own=own, release=release, signature_check=signatures_known()),
                                {'same': same, 'other': other, 'user': user})
            assert outcome(decisions) == expected, release
            assert decisions['other'].reason == reason
        # Since 6.4, what needs it misses its exports for sure.
        assert decisions_on('6.4.0', own, other, user)['user'].kabi['missing'] == ['x']
        # Not judged on this where the module's size is not known.
        saved, other.this_module_size = other.this_module_size, None
        assert outcome(resolve(kernel(own=own, release='6.4.0', signature_check=signatures_known()),
                               {'other': other}))['other'] == (None, True)
        other.this_module_size = saved

    def test_a_doubt_reaches_what_needs_the_module_where_a_file_was_not_read(self) -> None:
        own, other = module(name='intree'), module(exports=['x'], name='other')
        user = module(dict(EXPORTS, x=1), name='user')
        own.this_module_size = user.this_module_size = 1280
        other.this_module_size = 1344
        decisions = resolve(kernel(own=own, signature_check=signatures_known()), {'other': other, 'user': user},
                            unread=True)
        assert outcome(decisions) == {'other': ('incompatible', False), 'user': (None, False)}
        assert decisions['user'].reason.startswith('loads only if modules that may not load do; without them: ')

    def test_a_doubt_spread_on_one_kernel_stays_its_own(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Kernels that share the tables and judge the same files alike take the decisions made on
        the kernel before: what one of them doubts (the size of its struct module, and so what
        needs the module, past the rounds judged again) is not doubted on the next."""
        monkeypatch.setattr(_loader, 'DOUBT_ROUNDS', 0)
        mine, user = module(exports=['x']), module(dict(EXPORTS, x=1), name='user')
        mine.this_module_size = 1280
        sized = module(name='intree')
        sized.this_module_size = 1280
        tables = ExportTables()
        modules = {'m': mine, 'user': user}
        doubted = resolve(kernel(own=module(name='intree'), release='6.4.0', signature_check=signatures_known()),
                          modules, tables)
        assert outcome(doubted) == {'m': (None, False), 'user': (None, False)}
        sure = resolve(kernel(own=sized, release='6.5.0', signature_check=signatures_known()), modules, tables)
        assert outcome(sure) == {'m': (None, True), 'user': (None, True)}
        assert outcome(doubted) == {'m': (None, False), 'user': (None, False)}

    def test_the_kernels_struct_module_unknown(self) -> None:
        """Since 6.4 the loader checks the size: without one of the kernel's own modules to tell
        it, a module is not known to load; older kernels do not check it."""
        mine, user = module(exports=['x']), module(dict(EXPORTS, x=1), name='user')
        mine.this_module_size = 1280
        for own in (None, module(name='intree')):     # none read; one read, without a size
            for release, certain in (('6.4.0', False), (RELEASE, True)):
                decisions = resolve(kernel(own=own, release=release, signature_check=signatures_known()),
                                    {'m': mine, 'user': user})
                assert (decisions['m'].refusal, decisions['m'].certain) == (None, certain)
                if not certain:
                    assert decisions['m'].reason.startswith('the size of the kernel\'s struct module is not known')
                # What needs it is not known to load either, and says why.
                assert (decisions['user'].refusal, decisions['user'].certain) == (None, certain)
                if not certain:
                    assert decisions['user'].reason == \
                        'loads only if modules that may not load do; without them: missing symbols: x'

    def test_what_else_refuses_a_struct_module_of_another_size(self) -> None:
        """The loader's own order: the signature check first; before 6.4 the module_layout CRC,
        which a struct module of another layout changes, refuses it for sure."""
        own, other = module(name='intree'), module(dict(EXPORTS, module_layout=1), name='other')
        own.this_module_size, other.this_module_size = 1280, 1344
        decision = resolve(kernel(own=own, signature_check=signatures_known()), {'other': other})['other']
        assert (decision.refusal, decision.certain) == ('incompatible', True)
        assert decision.kabi['mismatched'] == ['module_layout']

        def unsigned_refused(info: ModuleInfo) -> tuple[dict[str, Any], str | None, bool]:
            return {'signed': False}, 'unsigned, and the kernel enforces signatures', True
        decision = resolve(kernel(own=own, release='6.6.0', signature_check=unsigned_refused), {'other': other})['other']
        assert (decision.refusal, decision.certain, decision.reason) == \
            ('rejected', True, 'unsigned, and the kernel enforces signatures')

    def test_a_module_that_may_load_wrong_contests_its_exports(self) -> None:
        """Before 6.4 a module of another struct module still loads, and what exports the same
        symbol is not known to load after it."""
        own, wrong, rival = module(name='intree'), module(exports=['x'], name='wrong'), module(exports=['x'], name='rival')
        own.this_module_size = rival.this_module_size = 1280
        wrong.this_module_size = 1344
        decisions = resolve(kernel(own=own, signature_check=signatures_known()), {'wrong': wrong, 'rival': rival})
        assert outcome(decisions) == {'wrong': ('incompatible', False), 'rival': (None, False)}

    def test_an_xz_check_the_kernel_does_not_take(self) -> None:
        """A kernel that decompresses xz modules itself takes CRC32 or no check: kmod 31 and later
        hand it the file, older ones built with xz decompress it themselves; certain where the kmod is known."""
        crc64, crc32, user = module(exports=['x'], name='crc64'), module(name='crc32'), module(dict(EXPORTS, x=1))
        crc64.xz_check, crc32.xz_check = 4, 1
        crc64.compression = crc32.compression = 'xz'
        with_xz, untold = {'ZSTD': True, 'XZ': True}, {}
        loads, unknown = (None, True), (None, False)
        # crc64, crc32 (unknown where nothing tells whether kmod decompresses xz), what needs crc64
        for decompresses, kmod, expected in (
                ('xz', None, (('broken', False), unknown, unknown)),
                ('xz', KmodProgram((31,), with_xz), (('broken', True), loads, ('incompatible', True))),
                ('xz', KmodProgram((34, 2), with_xz), (('broken', True), loads, ('incompatible', True))),
                ('xz', KmodProgram((30,), with_xz), (loads, loads, loads)),
                # An older kmod decompresses it only if it was built with xz, which one before 21 does not tell;
                # it never hands the file to the kernel.
                ('xz', KmodProgram((20,), untold), (unknown, unknown, unknown)),
                # Where the kernel's config is not known, most kernels do not decompress modules themselves.
                (None, None, (unknown, unknown, unknown)),
                (None, KmodProgram((34,), with_xz), (unknown, loads, unknown)),
                (None, KmodProgram((30,), with_xz), (loads, loads, loads)),
                (False, KmodProgram((34,), with_xz), (loads, loads, loads)),
                (False, None, (unknown, unknown, unknown)),
                ('zstd', KmodProgram((34,), with_xz), (loads, loads, loads))):
            decisions = resolve(kernel(decompresses=decompresses, kmod=kmod, signature_check=signatures_known()),
                                {'crc64': crc64, 'crc32': crc32, 'user': user})
            # What needs crc64 loads only as far as it does.
            assert tuple(outcome(decisions)[key] for key in ('crc64', 'crc32', 'user')) == expected, \
                (decompresses, kmod and kmod.version)
        lacks = 'compressed with xz and a CRC64 check, which the kernel\'s own xz decoder lacks'
        reasons = [resolve(kernel(signature_check=signatures_known(), **arguments), {'crc64': crc64})['crc64'].reason
                   for arguments in ({'decompresses': None, 'kmod': KmodProgram((34,), with_xz)}, {'decompresses': 'xz'},
                                     {'decompresses': 'xz', 'kmod': KmodProgram((34, 2), with_xz)}, {})]
        assert reasons == [
            lacks + ', and whether the kernel decompresses modules itself is not known',
            lacks + ': kmod 31 and later hand the file to the kernel, which refuses it; older ones decompress it, '
            'and which kmod loads modules here is not known',
            lacks + ': kmod 34.2 hands the file to the kernel, which refuses it',
            'compressed with xz, and which formats the system\'s kmod decompresses is not known']
        # The kernel decompresses the file before anything else: the refusal comes first.
        foreign = module(name='crc64')
        foreign.xz_check, foreign.compression, foreign.elf_class = 4, 'xz', 32
        decision = resolve(kernel(decompresses='xz', kmod=KmodProgram((31,), with_xz), own=module(name='intree'),
                                  signature_check=signatures_known()), {'crc64': foreign})['crc64']
        assert (decision.refusal, decision.certain, decision.reason) == ('broken', True, lacks + (
            ': kmod 31 hands the file to the kernel, which refuses it'))

    def test_a_format_kmod_was_built_without(self) -> None:
        """A kmod built without a format leaves such a file out of modules.dep (its depmod indexes
        only the suffixes it knows), whatever the kernel decompresses: nothing loads it."""
        gzipped, user = module(exports=['x'], name='gzipped'), module(dict(EXPORTS, x=1), name='user')
        gzipped.compression = 'gzip'
        debian_12 = {'ZSTD': True, 'XZ': True, 'ZLIB': False, 'LIBCRYPTO': True, 'EXPERIMENTAL': False}
        refused, loads, unknown = (('broken', True), ('incompatible', True)), ((None, True),) * 2, ((None, False),) * 2
        for version, features, decompresses, expected in (
                ((30,), debian_12, 'gzip', refused), ((30,), debian_12, False, refused),
                ((34,), debian_12, 'gzip', refused), ((34,), debian_12, None, refused),
                ((34,), dict(debian_12, ZLIB=True), False, loads), ((34,), dict(debian_12, ZLIB=True), 'gzip', loads),
                # A format a build does not name is one it does not know; kmod before 21 names none.
                ((25,), {'XZ': True, 'LIBCRYPTO': True}, False, refused), ((20,), {}, False, unknown)):
            decisions = resolve(kernel(decompresses=decompresses, kmod=KmodProgram(version, features),
                                       signature_check=signatures_known()), {'gzipped': gzipped, 'user': user})
            assert (outcome(decisions)['gzipped'], outcome(decisions)['user']) == expected, (version, decompresses)
        assert decisions_of_kmod((30,), debian_12, False, gzipped).reason == \
            'compressed with gzip, which kmod 30 was built without: its depmod leaves the file out of modules.dep, ' \
            'so neither modprobe nor udev finds it'
        assert decisions_of_kmod((20,), {}, False, gzipped).reason == \
            'compressed with gzip, and which formats the system\'s kmod decompresses is not known'
        # A plain file is decompressed by nobody.
        assert outcome(resolve(kernel(kmod=KmodProgram((30,), debian_12), signature_check=signatures_known()),
                               {'plain': module()})) == {'plain': (None, True)}

    def test_the_format_a_kernel_decompresses_modules_in(self) -> None:
        assert module_decompression(None) is None
        assert module_decompression({'CONFIG_MODULE_COMPRESS_XZ': 'y'}) is False
        assert module_decompression({'CONFIG_MODULE_DECOMPRESS': 'y', 'CONFIG_MODULE_COMPRESS_XZ': 'y'}) == 'xz'
        assert module_decompression({'CONFIG_MODULE_DECOMPRESS': 'y', 'CONFIG_MODULE_COMPRESS_ZSTD': 'y'}) == 'zstd'
        assert module_decompression({'CONFIG_MODULE_DECOMPRESS': 'y'}) is False

    def test_no_symvers_is_unknown_and_a_damaged_one_is_never_coverage(self) -> None:
        assert outcome(resolve(KernelABI(RELEASE), {'m': module()})) == {'m': (None, False)}
        assert outcome(resolve(KernelABI(RELEASE, exports_damaged=True), {'m': module()})) == \
            {'m': ('broken', False)}

    def test_signature_refusal(self) -> None:
        provider = module(exports=['x'], name='unsigned')
        user = module(dict(EXPORTS, x=1), name='signed')
        decisions = resolve(kernel(signature_check=unsigned_refused), {'p': provider, 'u': user})
        # The refused module exports nothing to the others: its user is refused with it, for the
        # same cause, while kABI alone would let both load.
        assert outcome(decisions) == {'p': ('rejected', True), 'u': ('rejected', True)}
        assert decisions['p'].signature == {'signed': False}
        assert decisions['p'].kabi['compatible'] is True and decisions['u'].kabi['compatible'] is True
        assert decisions['u'].reason == 'needs x from modules the kernel refuses (their signature, or module_blacklist=)'

    @pytest.mark.parametrize('certain', [True, False])
    def test_a_user_of_a_refused_module_is_refused_as_surely(self, certain: bool) -> None:
        # A damaged signature: counted as refused, not known to be.
        def damaged_refused(info: ModuleInfo) -> tuple[dict[str, Any], str | None, bool]:
            damaged = info.name == 'damaged'
            return {'signed': True}, 'its signature is damaged' if damaged else None, certain or not damaged
        provider = module(exports=['x'], name='damaged')
        user = module(dict(EXPORTS, x=1), name='signed')
        other = module(name='other')
        decisions = resolve(kernel(signature_check=damaged_refused), {'p': provider, 'u': user, 'o': other})
        assert outcome(decisions) == {'p': ('rejected', certain), 'u': ('rejected', certain), 'o': (None, True)}

    def test_a_user_of_a_refused_module_may_take_its_symbols_from_a_file_not_read(self) -> None:
        provider = module(exports=['x'], name='unsigned')
        user = module(dict(EXPORTS, x=1), name='signed')
        decisions = resolve(kernel(signature_check=unsigned_refused), {'p': provider, 'u': user}, unread=True)
        assert outcome(decisions) == {'p': ('rejected', True), 'u': (None, False)}
        assert 'x' in decisions['u'].reason

    def test_unknown_signature_policy_is_not_certain(self) -> None:
        decisions = resolve(kernel(), {'m': module()})
        assert outcome(decisions) == {'m': (None, False)}
        assert 'signature' in decisions['m'].reason


class TestExportsTheKernelHasAlready:
    """verify_exported_symbols(): a module may not export what the kernel image, or a module
    already loaded, exports."""

    @staticmethod
    def kernel_with(owners: Mapping[str, str]) -> KernelABI:
        exports = exported(EXPORTS)
        exports.update((symbol, Export(0x77, False, None, owner)) for symbol, owner in owners.items())
        return kernel(exports, signature_check=signatures_known())

    def test_an_export_of_the_kernel_image_refuses_the_module(self) -> None:
        # A backport layer on a kernel that gained the function it backports.
        compat = module(exports=['netdev_tx_sent_queue', 'compat_only'], name='mlx_compat')
        decisions = resolve(self.kernel_with({'netdev_tx_sent_queue': 'vmlinux'}), {'compat': compat})
        assert outcome(decisions) == {'compat': ('incompatible', True)}
        assert decisions['compat'].kabi['duplicates'] == ['netdev_tx_sent_queue']
        assert decisions['compat'].kabi['compatible'] is False
        assert 'exports symbols the kernel exports already: netdev_tx_sent_queue' in decisions['compat'].reason

    def test_what_it_exported_is_then_missing_for_its_importers(self) -> None:
        compat = module(exports=['netdev_tx_sent_queue', 'compat_only'], name='mlx_compat')
        user = module(dict(EXPORTS, compat_only=5), name='mlx5_core')
        decisions = resolve(self.kernel_with({'netdev_tx_sent_queue': 'vmlinux'}), {'c': compat, 'u': user})
        assert outcome(decisions) == {'c': ('incompatible', True), 'u': ('incompatible', True)}
        assert decisions['u'].kabi['missing'] == ['compat_only']

    @pytest.mark.parametrize('owner', ['drivers/net/ethernet/intel/igb/igb', 'drivers/x/igb', 'igb'])
    def test_the_in_tree_module_it_replaces_is_no_conflict(self, owner: str) -> None:
        # Module.symvers lists the in-tree igb's exports; the DKMS igb replaces that module.
        igb = module(exports=['igb_export'], name='igb')
        assert outcome(resolve(self.kernel_with({'igb_export': owner}), {'igb': igb})) == {'igb': (None, True)}

    def test_dashes_and_underscores_name_one_module(self) -> None:
        storage = module(exports=['usb_stor_probe'], name='usb_storage')
        decisions = resolve(self.kernel_with({'usb_stor_probe': 'drivers/usb/storage/usb-storage'}), {'m': storage})
        assert outcome(decisions) == {'m': (None, True)}

    def test_an_export_of_an_in_tree_module_of_another_name_is_unverified(self) -> None:
        # rtl_pci exporting what the in-tree rtlwifi exports: whichever loads second is refused.
        rtl_pci = module(exports=['rtl_pci_disconnect'], name='rtl_pci')
        decisions = resolve(self.kernel_with({'rtl_pci_disconnect': 'drivers/net/wireless/realtek/rtlwifi/rtlwifi'}),
                            {'m': rtl_pci})
        assert outcome(decisions) == {'m': (None, False)}
        assert decisions['m'].kabi['duplicates'] == [] and decisions['m'].kabi['compatible'] is True
        assert 'an in-tree module, or one judged on this kernel, of another name' in decisions['m'].reason and 'rtl_pci_disconnect' in decisions['m'].reason

    def test_an_in_tree_module_another_module_here_replaces_is_no_conflict(self) -> None:
        # One stack replacing two in-tree modules: the in-tree mlx5_core exports what the stack's
        # mlx_compat exports, but the stack's own mlx5_core loads in its place.
        kernel_abi = self.kernel_with({'shared_helper': 'drivers/net/ethernet/mellanox/mlx5/core/mlx5_core'})
        compat = module(exports=['shared_helper'], name='mlx_compat')
        core = module(name='mlx5_core')
        assert outcome(resolve(kernel_abi, {'c': compat, 'm': core})) == {'c': (None, True), 'm': (None, True)}
        # The same table on a kernel without the stack's mlx5_core: the verdict is not taken over.
        tables = ExportTables()
        assert outcome(resolve(kernel_abi, {'c': compat, 'm': core}, tables)) == {'c': (None, True), 'm': (None, True)}
        assert outcome(resolve(kernel_abi, {'c': compat}, tables)) == {'c': (None, False)}

    def test_a_module_exporting_what_the_in_tree_module_it_imports_from_exports_is_refused(self) -> None:
        # rtl_pci imports from the in-tree rtlwifi, so modprobe loads rtlwifi first: "rtl_pci: exports
        # duplicate symbol rtl_pci_disconnect (owned by rtlwifi)", every time.
        owner = 'drivers/net/wireless/realtek/rtlwifi/rtlwifi'
        rtl_pci = module(dict(EXPORTS, rtl_ops_core=0x77), exports=['rtl_pci_disconnect'], name='rtl_pci')
        decisions = resolve(self.kernel_with({'rtl_pci_disconnect': owner, 'rtl_ops_core': owner}), {'m': rtl_pci})
        assert outcome(decisions) == {'m': ('incompatible', True)}
        assert decisions['m'].kabi['duplicates'] == ['rtl_pci_disconnect']

    def test_a_namespace_name_is_no_export(self) -> None:
        # __ksymtab_strings holds "compat_fn\0NETFS_COMPAT\0": only the symbol table's __kstrtab_
        # labels tell the name from the namespace.
        info = module(exports=['compat_fn', 'NETFS_COMPAT'], name='nsmod')
        info.symbol_table = lambda: SymbolTable(set(), {'compat_fn'})
        assert outcome(resolve(self.kernel_with({'NETFS_COMPAT': 'vmlinux'}), {'m': info})) == {'m': (None, True)}

    def test_a_stripped_module_cannot_tell_its_exports_from_namespaces(self) -> None:
        stripped = module(exports=['netdev_tx_sent_queue'], name='mlx_compat', labelled=False)
        decisions = resolve(self.kernel_with({'netdev_tx_sent_queue': 'vmlinux'}), {'m': stripped})
        assert outcome(decisions) == {'m': (None, False)}
        assert 'netdev_tx_sent_queue' in decisions['m'].reason and 'namespace names' in decisions['m'].reason

    def test_two_modules_of_other_names_exporting_one_symbol(self) -> None:
        # Two packages bundling one compat layer: find_symbol() searches every live module, so
        # whichever loads second is refused.
        first = module(exports=['backport_shared_fn'], name='compat')
        second = module(exports=['backport_shared_fn'], name='mlx_compat')
        decisions = resolve(self.kernel_with({}), {'a': first, 'b': second})
        assert outcome(decisions) == {'a': (None, False), 'b': (None, False)}
        assert 'backport_shared_fn' in decisions['a'].reason
        # One refused: the other loads for sure. Two files of one name are one module (one loads).
        refused = module(dict(EXPORTS, kfree=1), exports=['backport_shared_fn'], name='compat')
        assert outcome(resolve(self.kernel_with({}), {'a': refused, 'b': second})) == \
            {'a': ('incompatible', True), 'b': (None, True)}
        again = module(exports=['backport_shared_fn'], name='mlx_compat')
        assert outcome(resolve(self.kernel_with({}), {'b': second, 'c': again})) == {'b': (None, True), 'c': (None, True)}
        # A namespace both name is no shared export.
        one, other = module(exports=['a', 'NS'], name='one'), module(exports=['b', 'NS'], name='other')
        one.symbol_table = lambda: SymbolTable(set(), {'a'})
        other.symbol_table = lambda: SymbolTable(set(), {'b'})
        assert outcome(resolve(self.kernel_with({}), {'1': one, '2': other})) == {'1': (None, True), '2': (None, True)}

    def test_exports_the_kernel_lacks_or_nobody_listed(self) -> None:
        assert outcome(resolve(self.kernel_with({}), {'m': module(exports=['own_api'])})) == {'m': (None, True)}
        assert outcome(resolve(self.kernel_with({}), {'m': module(exports=None)})) == {'m': (None, True)}
        # A symvers line without a module column says nothing about who exports it.
        assert outcome(resolve(kernel(dict(exported(EXPORTS), own_api=Export(1, False, None)),
                                      signature_check=signatures_known()),
                               {'m': module(exports=['own_api'])})) == {'m': (None, True)}

    def test_judge_looks_the_exports_up_itself(self) -> None:
        verdict = judge(module(exports=['own_api']), self.kernel_with({'own_api': 'vmlinux'}))
        assert verdict.duplicates == ['own_api'] and not verdict.compatible and verdict.certain


class TestExportTables:
    """Kernels whose exports of the imported symbols are the same share one table, and the
    checks modules passed on it; anything else that differs is judged afresh."""

    def test_a_kernel_exporting_the_same_takes_over_the_table(self) -> None:
        tables = ExportTables()
        symbols = set(EXPORTS)
        first = tables.table(kernel(), symbols)
        # Another kernel of the same kABI stream: its own release and vermagic, the same exports.
        assert tables.table(kernel(release=RELEASE + '+1', vermagic=None), set(EXPORTS)) is first
        changed = tables.table(kernel(exported(dict(EXPORTS, kfree=1))), symbols)
        assert changed is not first and changed.crcs['kfree'] == 1
        # The same exports asked for more symbols: one is absent, to be looked for in modules.
        wider = tables.table(kernel(exported(dict(EXPORTS, kfree=1))), symbols | {'extra'})
        assert wider is not changed and wider.absent == {'extra'}

    def test_a_table_is_taken_over_only_for_the_same_imports(self) -> None:
        # Its CRCs are those of the imports it was made for: another kernel's modules, asking for
        # the same symbols, may import what these export (from helper-87).
        exports = dict(exported(EXPORTS), foo_sym=Export(0x1111, False, None, 'drivers/x/foo'),
                       bar_sym=Export(0x2222, False, None, 'vmlinux'))
        tables = ExportTables()
        first = module(dict(EXPORTS, foo_sym=0x1111), name='first', exports=['bar_sym'])
        second = module(dict(EXPORTS, bar_sym=0x2222), name='second', exports=['foo_sym'])
        resolve(kernel(exports, signature_check=signatures_known()), {'first': first}, tables)
        shared = resolve(kernel(exports, signature_check=signatures_known()), {'second': second}, tables)
        alone = resolve(kernel(exports, signature_check=signatures_known()), {'second': second})
        assert outcome(shared) == outcome(alone) == {'second': (None, False)}
        assert shared['second'].kabi['missing'] == []

    def test_what_modules_import_is_worked_out_once_for_the_same_modules(self) -> None:
        tables = ExportTables()
        modules = [module(exports=['a']), module({'kfree': EXPORTS['kfree'], 'other': 5}, exports=None, name='n')]
        symbols = tables.looked_up_by(tuple(modules))
        assert symbols == (set(EXPORTS) | {'other'}, set(EXPORTS) | {'other', 'a'})
        assert tables.looked_up_by(tuple(modules)) is symbols   # the same files, asked again
        # Other files that look alike are other modules.
        assert tables.looked_up_by((module(exports=['a']), module({'kfree': EXPORTS['kfree']}, name='n'))) == \
            (set(EXPORTS), set(EXPORTS) | {'a'})
        assert tables.looked_up_by(tuple(modules)) is not symbols

    def test_exports_are_looked_up_but_never_absent(self) -> None:
        # What modules export is asked of the kernel for the duplicate check; only an import the
        # kernel lacks is left for other modules to provide.
        table = ExportTables().table(kernel(), frozenset(['kfree', 'gone']), frozenset(['kfree', 'gone', '_printk', 'own_api']))
        assert set(table.exports) == {'kfree', '_printk'} and table.absent == {'gone'}
        # Only imports are compared: an export's CRC, GPL flag or namespace is nobody's to check.
        assert set(table.crcs) == {'kfree'}

    @pytest.mark.parametrize('imports', [None, frozenset(['g', 'p', 'gone_g', 'replaced_g', 'replaced_p'])])
    def test_the_gpl_only_imports_are_those_loaded_or_restricted_alike(self, imports: frozenset | None) -> None:
        # Made when first asked: GPL-only imports of the kernel's but those gone, and those a replacement
        # may restrict; an export that is not imported is nobody's to check.
        exports = {'g': Export(1, True, None), 'p': Export(2, False, 'NS'), 'gone_g': Export(3, True, None),
                   'replaced_g': Export(4, True, None), 'replaced_p': Export(5, False, None),
                   'not_imported_g': Export(6, True, None)}
        restricted = {'replaced_g': exports['replaced_g'], 'replaced_p': exports['replaced_p']}
        table = _loader.ExportTable(exports, frozenset(), False, imports, restricted=restricted,
                                    gone=frozenset(['gone_g', 'replaced_g', 'replaced_p']))
        expected = {'g', 'replaced_g'} | ({'not_imported_g'} if imports is None else set())
        assert table.gpl_only == expected and table.gpl_only is table.gpl_only
        assert table.namespaces == {'p': 'NS'}

    @pytest.mark.parametrize('change', ['crc', 'gpl_only', 'namespace', 'allow_missing_namespaces', 'gone',
                                        'vermagic', 'nothing'])
    def test_what_a_module_passed_holds_only_where_the_table_is_the_same(self, change: str) -> None:
        tables = ExportTables()
        infos = {'m': module(license='Proprietary'), 'n': module(dict(EXPORTS, n_only=4), exports=['x'], name='n')}
        before = dict(exported(EXPORTS), kfree=Export(EXPORTS['kfree'], False, 'MEMORY'))
        options = {'allow_missing_namespaces': True}
        assert outcome(resolve(kernel(before, **options), infos, tables))['m'] == (None, False)
        after = dict(before)
        if change == 'crc':
            after['_printk'] = Export(1, False, None)
        elif change == 'gpl_only':
            after['_printk'] = Export(EXPORTS['_printk'], True, None)
        elif change == 'namespace':
            after['_printk'] = Export(EXPORTS['_printk'], False, 'OTHER')
        elif change == 'allow_missing_namespaces':
            options = {}
        elif change == 'gone':
            del after['_printk']
        vermagic = VERMAGIC.replace('preempt', 'preempt_rt') if change == 'vermagic' else VERMAGIC
        shared = resolve(kernel(after, vermagic, **options), infos, tables)
        fresh = resolve(kernel(after, vermagic, **options), infos)
        assert {key: (d.refusal, d.certain, d.kabi, d.reason) for key, d in shared.items()} == \
            {key: (d.refusal, d.certain, d.kabi, d.reason) for key, d in fresh.items()}
        # Namespaces are not enforced on either kernel unless the change says so.
        assert (shared['m'].refusal is None) is (change in ('namespace', 'nothing'))

    def test_a_verdict_kept_for_the_offer_holds_only_for_the_same_taint_providers_and_vermagic(self) -> None:
        # A client that does not pass (a namespace it does not import) is judged once for the kernels
        # that share the table and its providers' offer: not where its taint (a proprietary provider:
        # before 5.9 it may not be passed on), an unread file or the vermagic check tells otherwise.
        exports = dict(exported(EXPORTS), gpl_sym=Export(7, True, None), ns_sym=Export(8, False, 'NS'))
        core = module(exports=['a'], name='core', license='Proprietary')
        table = SymbolTable(set(), {'a'}, {'a': 0x51})
        core.symbol_table = lambda: table
        client = module(dict(EXPORTS, a=0x51, gpl_sym=7, ns_sym=8, z=9), name='client')
        modules = {'core': core, 'client': client}
        tables = ExportTables()
        seen = []
        for release, suffix, unread in ((RELEASE, 'SMP preempt', False), ('5.4.0-1', 'SMP preempt', False),
                                        (RELEASE, 'SMP preempt', True), (RELEASE, 'SMP preempt_rt', False),
                                        (RELEASE, 'SMP preempt', False)):
            def decided(shared: ExportTables | None) -> tuple:
                abi = kernel(exports, '%s %s mod_unload modversions ' % (release, suffix), release,
                             signature_check=signatures_known())
                decision = resolve(abi, modules, shared, unread)['client']
                return decision.refusal, decision.certain, decision.kabi, decision.reason

            seen.append(decided(tables))
            assert seen[-1] == decided(None), (release, suffix, unread)
        assert len(set(map(repr, seen))) == 4 and seen[-1] == seen[0]

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(MODULE_SPECS, KERNEL_SPECS)
    def test_kernels_sharing_tables_judge_as_each_alone(self, specs: list, kernels: list) -> None:
        # What kernels share through ExportTables (a table, modules that passed, offers and the
        # verdicts they keep) leaves each kernel's decisions those it makes with nothing shared.
        modules = modules_of(specs)
        tables = ExportTables()
        for spec in kernels:
            assert decided_on(spec, modules, tables) == decided_on(spec, modules, None)

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(MODULE_SPECS, KERNEL_SPECS)
    def test_the_quick_way_judges_as_symbol_by_symbol(self, specs: list, kernels: list) -> None:
        # Imports compared at once with ExportTable.quick_crcs (the kernel's CRCs, the offer's, a
        # namespace's mark) pass or not as the checks of each symbol would have them.
        modules = modules_of(specs)
        quick, alone = ExportTables(), ExportTables()
        for spec in kernels:
            expected = decided_on(spec, modules, quick)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(_loader.ExportTable, 'quick_crcs', lambda table, offer: {})
                assert decided_on(spec, modules, alone) == expected

    def test_what_provides_a_symbol_is_kept_for_the_next_kernel_as_made(self) -> None:
        # Kernels that share a table take over who provides what; one that refuses the provider
        # (its whole vermagic, without __versions, names another release) changes only its own.
        core = module(exports=['a'], name='core', has_versions_section=False)
        table = SymbolTable(set(), {'a'}, {'a': 0x51})
        core.symbol_table = lambda: table
        modules = {'core': core, 'client': module(dict(EXPORTS, a=0x51), name='client')}
        tables = ExportTables()
        for release, expected in ((RELEASE, None), (RELEASE + '+1', 'incompatible'), (RELEASE, None)):
            abi = kernel(vermagic=VERMAGIC.replace(RELEASE, release), release=release, signature_check=signatures_known())
            decisions = resolve(abi, modules, tables)
            assert (decisions['core'].refusal, decisions['client'].refusal) == (expected, expected), release
            assert decisions['client'].kabi['missing'] == ([] if expected is None else ['a'])
        # The same files under other keys (the paths of another kernel's files): providers of their own.
        swapped = {'client': modules['core'], 'core': modules['client']}
        abi = kernel(signature_check=signatures_known())
        assert outcome(resolve(abi, swapped, tables)) == outcome(resolve(abi, swapped)) == {
            'client': (None, True), 'core': (None, True)}

    def test_a_resolution_is_kept_for_the_next_kernel_that_checks_the_modules_alike(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Another release of one vermagic suffix resolves as the last kernel did, for modules with
        # __versions; not a kernel on the other side of 5.9 (taints), nor one of another suffix, nor
        # another release where a module's whole vermagic is compared.
        core = module(exports=['a'], name='core', license='Proprietary')
        table = SymbolTable(set(), {'a'}, {'a': 0x51})
        core.symbol_table = lambda: table
        exports = dict(exported(EXPORTS), kfree=Export(EXPORTS['kfree'], True, None))
        runs = []
        run = _loader._SymbolResolution.run
        monkeypatch.setattr(_loader._SymbolResolution, 'run', lambda resolution: runs.append(1) or run(resolution))
        for whole, kernels in ((False, [(RELEASE, 'SMP preempt', True), ('6.1.0-48-amd64', 'SMP preempt', False),
                                        ('5.4.0-1', 'SMP preempt', True), ('5.4.0-2', 'SMP preempt', False),
                                        ('5.4.0-2', 'SMP preempt_rt', True)]),
                               (True, [(RELEASE, 'SMP preempt', True), ('6.1.0-48-amd64', 'SMP preempt', True),
                                       ('6.1.0-48-amd64', 'SMP preempt', False)])):
            modules = {'core': core, 'client': module(dict(EXPORTS, a=0x51), name='client', has_versions_section=not whole)}
            tables = ExportTables()
            for release, suffix, made in kernels:
                abi = kernel(exports, '%s %s mod_unload modversions ' % (release, suffix), release,
                             signature_check=signatures_known())
                runs.clear()
                decided = resolve(abi, modules, tables)
                assert bool(runs) is made, (whole, release, suffix)
                alone = resolve(abi, modules)
                assert {key: (d.refusal, d.certain, d.kabi, d.reason) for key, d in decided.items()} == \
                    {key: (d.refusal, d.certain, d.kabi, d.reason) for key, d in alone.items()}


def test_one_file_under_two_paths_is_contested_under_both() -> None:
    # KoReader caches by resolved path: two paths of one kernel that reach one file (a link)
    # give one ModuleInfo, and each path contests what module b exports too (before, only one
    # of them was told, which one by set order).
    a = module(exports=['d'], name='a')
    b = module(exports=['d'], name='b')
    decisions = resolve(kernel(signature_check=signatures_known()), {'x/a.ko': a, 'y/a.ko': a, 'b.ko': b})
    assert (decisions['x/a.ko'].certain, decisions['x/a.ko'].reason) == \
        (decisions['y/a.ko'].certain, decisions['y/a.ko'].reason)
    assert decisions['x/a.ko'].certain is False and 'd' in decisions['x/a.ko'].reason
