# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coverage join on whole systems built from real files and gcc-compiled modules."""

from __future__ import annotations

import errno
import gc
import lzma
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils import _compare_ahead, _coverage, _rootfs
from ansible_collections.kabi.dkms.plugins.module_utils._coverage import COLLECTOR_THRESHOLD, gather_facts
from ansible_collections.kabi.dkms.plugins.module_utils._commands import find_command
from ansible_collections.kabi.dkms.plugins.module_utils._compare_ahead import usable_cpus
from ansible_collections.kabi.dkms.plugins.module_utils._ko import MAX_MODULE_BYTES
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.gather_probe import no_child_left
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import (
    THIS_MODULE_SIZE, KoBuilder, gzip_file, kmod_program, python_zstd, xz_file, zstd_file)
from ansible_collections.kabi.dkms.tests.unit.module_runner import run_command
from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import EfiRoot, rsa_key, sign_module
from ansible_collections.kabi.dkms.tests.unit.system_trees import (
    BASE_SYMBOLS, VERMAGIC_SUFFIX, SystemTree, abi_crcs, build_demo, dkms_conf)

ABI = '6.1.0-47-amd64'
VERMAGIC = '%s SMP preempt mod_unload modversions ' % ABI


class Run:
    """Facts of one gather plus the warnings it gave."""

    def __init__(self, root: Path, **options: Any) -> None:
        self.warnings: list[str] = []
        self.facts = gather_facts(RootFS(str(root)), self.warnings.append, **options)

    def package(self, kernel: str, package: str = 'hello') -> dict[str, Any]:
        return self.facts['kernels'][kernel]['packages'][package]

    def status(self, kernel: str, package: str = 'hello') -> str:
        return self.package(kernel, package)['status']


@pytest.fixture
def system(tmp_path: Path, ko_builder: KoBuilder) -> SystemTree:
    return SystemTree(tmp_path / 'root', ko_builder)


@pytest.fixture
def demo(tmp_path: Path, ko_builder: KoBuilder) -> Path:
    build_demo(tmp_path / 'root', ko_builder)
    return tmp_path / 'root'


def hello_and_a_clone(system: SystemTree) -> str:
    """A BIOS machine where hello 1.0 is built and installed for ABI, and a clone kernel of its kABI."""
    clone = ABI + '+clone'
    system.bios_boot()
    system.kernel(ABI)
    system.kernel(clone, abi=ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    return clone


def test_demo_tree_has_every_status(demo: Path) -> None:
    run = Run(demo)
    facts = run.facts
    assert facts['kabi_reader'] == 'pyelftools'
    assert run.status(ABI) == 'installed'
    assert run.status(ABI + '+clone') == 'weak'
    assert run.status(ABI + '+broken') == 'weak-incompatible'
    assert run.status('6.1.0-50-amd64') == 'missing'
    assert run.status(ABI, 'gpu') == 'excluded'
    assert run.package(ABI + '+clone')['provider_kernel'] == ABI
    assert facts['uncovered'] == [
        {'kernel': ABI + '+broken', 'package': 'hello', 'version': '1.0', 'status': 'weak-incompatible',
         'headers': True},
        {'kernel': '6.1.0-50-amd64', 'package': 'hello', 'version': '1.0', 'status': 'missing', 'headers': True},
    ]
    assert facts['summary'] == {'kernels': 4, 'covered': 2, 'uncovered': 2, 'packages': 2, 'unverified': 0}
    assert facts['kernels'][ABI]['module_signatures']['enforced'] is False
    assert facts['default_kernel'] == '6.1.0-50-amd64' and facts['default_kernel_source'] == 'newest'
    assert facts['running_kernel'] is None
    assert run.warnings == []


@pytest.mark.skipif(usable_cpus() < 2, reason='a worker is forked only with a second CPU')
@pytest.mark.parametrize('tree_read_by', ['worker', 'module'])
def test_copies_compared_by_a_worker_give_the_facts_of_comparing_in_process(system: SystemTree,
                                                                            monkeypatch: pytest.MonkeyPatch,
                                                                            tree_read_by: str) -> None:
    # Copies that are their builds, one that differs, one that cannot be compared (a FIFO):
    # compared ahead by the worker and the parent, and by the parent alone. The dkms tree read by
    # the worker, while the parent reads ahead every plain module file out of tree, no dkms
    # package's among them (a damaged one); or by the parent, which then reads the copies ahead.
    system.kernel(ABI)
    for number in range(6):
        system.package('hello%d' % number, '1.0', ['hello%d' % number])
        system.build('hello%d' % number, '1.0', ABI)
    copies = system.path('/lib/modules/%s/updates/dkms' % ABI)
    (copies / 'hello1.ko').write_bytes(b'\x7fELF replaced by hand')
    (copies / 'hello2.ko').unlink()
    os.mkfifo(copies / 'hello2.ko')
    system.path('/lib/modules/%s/extra' % ABI).mkdir()
    system.path('/lib/modules/%s/extra/vendor.ko' % ABI).write_bytes(b'\x7fELF of no dkms package')
    monkeypatch.setattr(_compare_ahead, 'usable_cpus', lambda: 1)
    alone = Run(system.root)
    monkeypatch.setattr(_compare_ahead, 'usable_cpus', lambda: 2)
    monkeypatch.setattr(_compare_ahead, 'MIN_PAIRS', 1)
    monkeypatch.setattr(_coverage, 'READ_AHEAD_MIN', 1 if tree_read_by == 'worker' else 100)
    started, handed = [], []
    start, take_handover = _compare_ahead.CompareAhead.start, _compare_ahead.CompareAhead.take_handover
    monkeypatch.setattr(_compare_ahead.CompareAhead, 'start',
                        lambda self, prepare, expected: started.append(start(self, prepare, expected)) or started[-1])
    monkeypatch.setattr(_compare_ahead.CompareAhead, 'take_handover',
                        lambda self: handed.append(take_handover(self)) or handed[-1])
    helped = Run(system.root)
    assert started == [True]
    assert bool(handed[0][0]) is (tree_read_by == 'worker')     # the dkms tree it read, or nothing
    assert (helped.facts, helped.warnings) == (alone.facts, alone.warnings)
    assert [alone.status(ABI, 'hello%d' % number) for number in range(4)] == ['installed', 'broken', 'broken', 'installed']
    assert any('hello2.ko' in warning and 'FIFO' in warning for warning in alone.warnings)


def framework_and_script_warnings(system: SystemTree) -> SystemTree:
    """Two kernels of one kABI, four packages (a copy replaced by hand), a module of no package in
    extra/, framework.conf lines read_locations warns of and a dkms script read_packages warns of."""
    system.kernel(ABI)
    system.kernel(ABI + '+clone', abi=ABI)
    for number in range(4):
        system.package('hello%d' % number, '1.0', ['hello%d' % number])
        system.build('hello%d' % number, '1.0', ABI)
    system.weak_link_build(ABI + '+clone', ABI)
    system.path('/lib/modules/%s/updates/dkms/hello1.ko' % ABI).write_bytes(b'\x7fELF replaced by hand')
    system.path('/lib/modules/%s/extra' % ABI).mkdir()
    system.path('/lib/modules/%s/extra/vendor.ko' % ABI).write_bytes(b'\x7fELF of no dkms package')
    system.path('/etc/dkms/framework.conf.d').mkdir(parents=True)
    system.path('/etc/dkms/framework.conf').write_text('source_tree=$(pwd)\ninstall_tree=`pwd`\n')
    system.path('/etc/dkms/framework.conf.d/x.conf').write_text('dkms_tree=relative\n')
    system.path('/usr/sbin').mkdir(parents=True)
    system.path('/usr/sbin/dkms').write_text('#!/bin/sh\necho no version here\n')
    return system


@pytest.mark.skipif(usable_cpus() < 2, reason='a worker is forked only with a second CPU')
@pytest.mark.parametrize('handed_over', ['the tree', 'nothing: too large', 'nothing: the worker died'])
def test_a_tree_read_by_the_worker_gives_the_facts_and_warnings_of_one_cpu(system: SystemTree, monkeypatch: pytest.MonkeyPatch,
                                                                           handed_over: str) -> None:
    framework_and_script_warnings(system)
    monkeypatch.setattr(_compare_ahead, 'usable_cpus', lambda: 1)
    alone = Run(system.root)
    assert any('not static' in warning for warning in alone.warnings)
    assert any('does not say which dkms version' in warning for warning in alone.warnings)
    monkeypatch.setattr(_compare_ahead, 'usable_cpus', lambda: 2)
    monkeypatch.setattr(_compare_ahead, 'MIN_PAIRS', 1)
    monkeypatch.setattr(_coverage, 'READ_AHEAD_MIN', 1)
    if handed_over == 'nothing: too large':
        monkeypatch.setattr(_compare_ahead, 'HANDOVER_LIMIT', 64)
    elif handed_over == 'nothing: the worker died':
        monkeypatch.setattr(_coverage, 'dumps_tree', lambda *args: os._exit(3))     # only the worker dumps the tree
    seen: list[tuple[str, bool]] = []
    start, take_handover = _compare_ahead.CompareAhead.start, _compare_ahead.CompareAhead.take_handover
    monkeypatch.setattr(_compare_ahead.CompareAhead, 'start',
                        lambda self, prepare, expected: seen.append(('start', start(self, prepare, expected))) or seen[-1][1])
    monkeypatch.setattr(_compare_ahead.CompareAhead, 'take_handover',
                        lambda self: seen.append(('handed over', take_handover(self) is not None)) or None)
    compared_here: list[tuple[str, str]] = []
    same_content = _rootfs.RootFS.same_content
    monkeypatch.setattr(_rootfs.RootFS, 'same_content',
                        lambda self, first, second: compared_here.append((first, second)) or same_content(self, first, second))
    helped = Run(system.root)
    assert (helped.facts, helped.warnings) == (alone.facts, alone.warnings)
    if handed_over == 'the tree':
        assert seen[:2] == [('start', True), ('handed over', True)]
    else:   # nothing handed over: not started again, every pair compared here
        assert seen == [('start', True), ('handed over', False), ('start', False), ('handed over', False)]
        assert len(compared_here) >= 4
    assert no_child_left()


@pytest.mark.skipif(usable_cpus() < 2, reason='a worker is forked only with a second CPU')
def test_a_worker_compares_copies_installed_outside_updates_and_extra(system: SystemTree,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # DEST_MODULE_LOCATION=/kernel/drivers/misc: no module file out of tree to read ahead while a
    # worker would read the dkms tree, so the module reads it; the worker still compares the copies.
    system.kernel(ABI)
    modules = ['m%02d' % number for number in range(_compare_ahead.MIN_PAIRS)]
    system.package('many', '1.0', modules, conf=dkms_conf('many', '1.0', modules).replace('/updates/dkms', '/kernel/drivers/misc'))
    build = system.path('/var/lib/dkms/many/1.0/%s/x86_64/module' % ABI)
    build.mkdir(parents=True)
    copies = system.path('/lib/modules/%s/kernel/drivers/misc' % ABI)
    for module in modules:
        (build / (module + '.ko')).write_bytes(b'\x7fELF as dkms built ' + module.encode())
        (copies / (module + '.ko')).write_bytes(b'\x7fELF as dkms built ' + module.encode())
    system.path('/var/lib/dkms/many/kernel-%s-x86_64' % ABI).symlink_to('1.0/%s/x86_64' % ABI)
    started = []
    start = _compare_ahead.CompareAhead.start
    monkeypatch.setattr(_compare_ahead.CompareAhead, 'start',
                        lambda self, prepare, expected: started.append((expected, start(self, prepare, expected))) or started[-1][1])
    run = Run(system.root)
    assert started == [(len(modules), True)]
    # Each copy found the same as its build, so installed by dkms (and no module: broken).
    facts = run.package(ABI, 'many')['modules']
    assert sorted(facts) == modules
    assert all(fact['path'] == '/lib/modules/%s/kernel/drivers/misc/%s.ko' % (ABI, name) and fact['status'] == 'broken'
               for name, fact in facts.items())


def test_weak_verdicts_name_the_broken_symbol(demo: Path) -> None:
    run = Run(demo)
    modules = run.package(ABI + '+broken')['modules']
    assert modules['hello']['kabi'] == {'compatible': False, 'missing': [], 'mismatched': ['kfree'],
                                        'namespaces': [], 'duplicates': [], 'vermagic': True}
    # hello_ext needs hello's export; hello does not load, so neither does hello_ext.
    assert modules['hello_ext']['kabi']['missing'] == ['hello_export']
    clone = run.package(ABI + '+clone')['modules']['hello_ext']
    assert clone == {'status': 'weak',
                     'kabi': {'compatible': True, 'missing': [], 'mismatched': [], 'namespaces': [], 'duplicates': [], 'vermagic': True},
                     'path': '/lib/modules/%s+clone/weak-updates/hello_ext.ko' % ABI,
                     'target': '/lib/modules/%s/updates/dkms/hello_ext.ko' % ABI, 'shadowed_by': None,
                     'signature': {'signed': False, 'signer': None, 'key_id': None, 'trusted': False},
                     'reason': None}


def test_a_kernel_of_another_configuration_refuses_the_build(system: SystemTree) -> None:
    """Same kABI, another struct module (a kernel built with other options): since 6.4 the loader
    refuses a module whose struct module has another size; before, it is not known to."""
    hello_and_a_clone(system)
    for release in ('6.6.0-1-amd64', ABI + '+other'):
        system.kernel(release, abi=ABI, this_module_size=1344)
        system.weak_link_build(release, ABI)
    run = Run(system.root)
    for release, verified in (('6.6.0-1-amd64', True), (ABI + '+other', False)):
        entry = run.package(release)
        assert (entry['status'], entry['covered'], entry['verified']) == ('weak-incompatible', False, verified)
        assert entry['modules']['hello']['reason'] == (
            'its struct module (.gnu.linkonce.this_module) is %d bytes, the kernel\'s 1344: it was built against '
            'another configuration of the kernel' % THIS_MODULE_SIZE)
    assert run.package(ABI)['status'] == 'installed'


def test_an_xz_check_the_kernels_own_decoder_lacks(system: SystemTree) -> None:
    """dkms before 3.0.13 compressed with `xz -f` (a CRC64 check); a kernel that decompresses xz
    modules itself takes CRC32 only, and is handed the file by kmod 31 and later."""
    system.bios_boot()
    system.kernel(ABI)
    with system.path('/lib/modules/%s/build/.config' % ABI).open('a') as config:
        config.write('CONFIG_MODULE_COMPRESS_XZ=y\nCONFIG_MODULE_DECOMPRESS=y\n')
    system.package('hello', '1.0', ['hello'])
    for built in system.build('hello', '1.0', ABI, install=False):
        built.with_name(built.name + '.xz').write_bytes(lzma.compress(built.read_bytes(), check=lzma.CHECK_CRC64))
        built.unlink()
    system.install('hello', '1.0', ABI)
    # Which kmod loads it, read from its program: none here.
    entry = Run(system.root).package(ABI)
    assert (entry['status'], entry['covered'], entry['verified']) == ('broken', False, False)
    # Nor which formats its depmod indexes.
    assert 'compressed with xz and a CRC64 check' in entry['modules']['hello']['reason']
    assert 'whether depmod indexes' in entry['modules']['hello']['reason']
    assert entry['modules']['hello']['path'].endswith('/updates/dkms/hello.ko.xz')
    for version, features, expected in (('34.2', '+XZ', ('broken', False, True)), ('30', '+XZ', ('installed', True, True)),
                                        ('30', '-XZ', ('broken', False, True))):
        kmod_program(system.ko, system.root, version, features)
        entry = Run(system.root).package(ABI)
        assert (entry['status'], entry['covered'], entry['verified']) == expected, (version, features)
        if expected[0] == 'installed':
            assert entry['modules']['hello']['reason'] is None


def test_kabi_check_false_trusts_the_links(demo: Path) -> None:
    run = Run(demo, kabi_check=False)
    assert run.status(ABI + '+broken') == 'weak'
    assert all(m['kabi'] is None for m in run.package(ABI + '+broken')['modules'].values())


@pytest.mark.skipif(not (find_command('modinfo') and find_command('modprobe')), reason='kmod is not installed')
def test_kmod_reader_gives_the_same_verdicts(demo: Path) -> None:
    with_elftools = Run(demo).facts
    with_kmod = Run(demo, reader='kmod', runner=run_command).facts
    assert with_kmod['kabi_reader'] == 'kmod'
    assert with_kmod['kernels'] == with_elftools['kernels']


def test_packages_facts(demo: Path) -> None:
    facts = Run(demo).facts
    assert facts['packages']['hello'] == {
        'versions': ['1.0'], 'newest': '1.0', 'autoinstall': True, 'modules': ['hello', 'hello_ext'],
        'broken_versions': [], 'build_depends': [], 'no_weak_modules': False, 'obsolete_by': None,
        'build_exclusive': {'kernel': None, 'arch': None, 'kernel_min': None, 'kernel_max': None, 'config': None},
        'dkms_conf': {'path': '/usr/src/hello-1.0/dkms.conf', 'dkms_version': '3.4.3', 'valid': True, 'errors': []},
        'failed_builds': []}


def test_built_but_not_installed(system: SystemTree) -> None:
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI, install=False)
    run = Run(system.root)
    assert run.status(ABI) == 'built'
    assert run.facts['uncovered'][0]['status'] == 'built'


def test_installed_file_deleted_is_broken(system: SystemTree) -> None:
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello', 'hello_ext'])
    system.build('hello', '1.0', ABI)
    system.path('/lib/modules/%s/updates/dkms/hello_ext.ko' % ABI).unlink()
    run = Run(system.root)
    assert run.status(ABI) == 'broken'
    assert run.package(ABI)['modules']['hello_ext']['status'] == 'broken'
    assert not run.facts['kernels'][ABI]['covered']


def test_a_build_without_every_declared_module_is_not_coverage(system: SystemTree) -> None:
    # dkms.conf declares hello and hello_ext; the build made hello only. dkms counts the build
    # unfinished ("added"; 3.1.8+: "Built modules are missing"), and hello_ext loads nowhere.
    system.kernel(ABI)
    system.kernel(ABI + '+clone', abi=ABI)
    system.package('hello', '1.0', ['hello'], conf=dkms_conf('hello', '1.0', ['hello', 'hello_ext']))
    system.build('hello', '1.0', ABI)
    system.weak_link_build(ABI + '+clone', ABI)
    run = Run(system.root)
    assert (run.status(ABI), run.package(ABI)['modules']['hello_ext']['status']) == ('broken', 'broken')
    assert run.package(ABI)['modules']['hello']['status'] == 'installed'
    clone = run.package(ABI + '+clone')
    assert (clone['status'], clone['modules']['hello_ext']['status']) == ('broken', 'missing')
    assert 'declared in dkms.conf' in clone['modules']['hello_ext']['reason']
    assert not run.facts['kernels'][ABI]['covered'] and not run.facts['kernels'][ABI + '+clone']['covered']


def test_what_a_build_lacks_is_worked_out_once_for_every_kernel_that_asks(
        system: SystemTree, monkeypatch: pytest.MonkeyPatch) -> None:
    # The build's kernel and the two that link its modules hear one answer, worked out once.
    system.kernel(ABI)
    clones = [ABI + '+clone', ABI + '+clone2']
    for clone in clones:
        system.kernel(clone, abi=ABI)
    system.package('hello', '1.0', ['hello'], conf=dkms_conf('hello', '1.0', ['hello', 'hello_ext']))
    system.build('hello', '1.0', ABI)
    for clone in clones:
        system.weak_link_build(clone, ABI)
    asked: list[tuple[str, str, str]] = []
    unbuilt = _coverage._unbuilt

    def counted(version: Any, build: Any, kernel_config: Any) -> Any:
        asked.append((version.name, version.version, build.kernel))
        return unbuilt(version, build, kernel_config)
    monkeypatch.setattr(_coverage, '_unbuilt', counted)
    run = Run(system.root)
    assert asked == [('hello', '1.0', ABI)]
    assert run.package(ABI)['modules']['hello_ext']['status'] == 'broken'
    for clone in clones:
        assert (run.status(clone), run.package(clone)['modules']['hello_ext']['status']) == ('broken', 'missing')


def test_a_build_whose_declared_modules_are_not_known_is_not_verified(system: SystemTree) -> None:
    # Whether dkms builds hello_ext rests on what a command prints when dkms reads dkms.conf.
    system.bios_boot(cmdline='quiet')   # signatures are not enforced: that much is known
    system.kernel(ABI)
    system.kernel(ABI + '+clone', abi=ABI)
    conf = dkms_conf('hello', '1.0', ['hello'], 'if [ "$(cat /etc/hello-ext)" = yes ]; then\n'
                     '  BUILT_MODULE_NAME[1]=hello_ext; DEST_MODULE_LOCATION[1]=/updates/dkms\nfi\n')
    system.package('hello', '1.0', ['hello'], conf=conf)
    # Another ABI: the weak link to the build does not load there, whatever dkms.conf declares.
    system.kernel('6.1.0-50-amd64')
    system.build('hello', '1.0', ABI)
    system.weak_link_build(ABI + '+clone', ABI)
    system.weak_link_build('6.1.0-50-amd64', ABI)
    run = Run(system.root)
    for kernel, status in ((ABI, 'installed'), (ABI + '+clone', 'weak')):
        entry = run.package(kernel)
        assert (entry['status'], entry['covered'], entry['verified'], sorted(entry['modules'])) == (
            status, True, False, ['hello'])
        assert 'which modules dkms.conf has dkms build for the kernel is not known' in entry['modules']['hello']['reason']
    entry = run.package('6.1.0-50-amd64')
    assert (entry['status'], entry['covered'], entry['verified']) == ('weak-incompatible', False, True)
    assert 'not known' not in entry['modules']['hello']['reason']


def test_a_module_its_own_build_exclusive_rules_leave_out_is_not_expected(system: SystemTree) -> None:
    # dkms 3.3+ builds each module whose own BUILD_EXCLUSIVE_*[i] the kernel passes.
    system.dkms_script('3.4.3')
    system.kernel(ABI)
    conf = dkms_conf('hello', '1.0', ['hello', 'hello_ext'], 'BUILD_EXCLUSIVE_KERNEL[1]="^5\\."\n')
    system.package('hello', '1.0', ['hello'], conf=conf)
    system.build('hello', '1.0', ABI)
    run = Run(system.root)
    assert (run.status(ABI), sorted(run.package(ABI)['modules'])) == ('installed', ['hello'])
    system.dkms_script('3.2.2')     # before 3.3 the rule of element 1 is no module's own
    assert Run(system.root).status(ABI) == 'broken'


def test_installed_file_that_differs_is_broken(system: SystemTree) -> None:
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI).write_bytes(b'\x7fELF replaced by hand')
    assert Run(system.root).status(ABI) == 'broken'


@pytest.mark.parametrize('same', [True, False])
def test_a_copy_compressed_otherwise_than_the_build_is_compared_decompressed(system: SystemTree, ko_builder: KoBuilder,
                                                                             same: bool) -> None:
    # dkms installs the build's own file under its own name: a .ko.xz beside a .ko build was made
    # by something else, and is the build only if it decompresses to it.
    clone = hello_and_a_clone(system)
    kmod_program(system.ko, system.root, '30')    # built with xz
    copy = system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI)
    if not same:
        other = ko_builder.build_ko(copy.parent.parent, 'hello', vermagic=VERMAGIC, versions=dict(system.kernel_crcs[ABI]),
                                    extra_modinfo=['version=0.9'])
        shutil.move(str(other), str(copy))
    xz_file(copy)
    copy.unlink()
    system.weak_link(clone, ABI, 'hello.ko.xz')
    run = Run(system.root)
    assert (run.status(ABI), run.package(ABI)['verified']) == (('installed', True) if same else ('broken', True))
    assert run.package(ABI)['modules']['hello']['path'] == '/lib/modules/%s/updates/dkms/hello.ko.xz' % ABI
    # The clone loads the copy through its weak link: the build only if the copy is.
    assert (run.status(clone), run.package(clone)['verified']) == (('weak', True) if same else ('broken', True))
    assert run.package(clone)['modules']['hello']['reason'] == (None if same else
                                                                'points at a copy that differs from the dkms build')
    assert run.warnings == []


@pytest.mark.parametrize(('location', 'other', 'override', 'expected'), [
    # kmod's default search is "updates built-in": updates/ before extra/ (RHEL's dkms installs there).
    ('/extra', 'updates/hello.ko', None, ('broken', True, 'missing', 'updates/hello.ko')),
    # A depmod.d override names the other file.
    ('/updates/dkms', 'extra/hello.ko', 'override hello * extra', ('broken', True, 'missing', 'extra/hello.ko')),
    # Two files of one rank: which one depmod indexes depends on the order it reads directories.
    ('/updates/dkms', 'updates/hello.ko', None, ('installed', False, 'installed', None)),
    ('/updates/dkms', 'extra/hello.ko', None, ('installed', True, 'installed', None)),
])
def test_an_installed_copy_another_file_of_its_name_shadows(system: SystemTree, ko_builder: KoBuilder, location: str,
                                                            other: str, override: str | None, expected: tuple) -> None:
    system.bios_boot()
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'], conf=dkms_conf('hello', '1.0', ['hello']).replace('/updates/dkms', location))
    system.build('hello', '1.0', ABI)
    if location != '/updates/dkms':
        copy = system.path('/lib/modules/%s%s/hello.ko' % (ABI, location))
        copy.parent.mkdir(parents=True)
        system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI).rename(copy)
    modules = system.path('/lib/modules/%s' % ABI)
    built = ko_builder.build_ko(modules / 'vendor', 'hello', vermagic='%s SMP preempt mod_unload modversions ' % ABI,
                                versions=dict(system.kernel_crcs[ABI]), extra_modinfo=['version=0.5'])
    (modules / other).parent.mkdir(parents=True, exist_ok=True)
    built.rename(modules / other)
    if override:
        system.path('/etc/depmod.d').mkdir(parents=True)
        system.path('/etc/depmod.d/hello.conf').write_text(override + '\n')
    run = Run(system.root)
    hello = run.package(ABI)['modules']['hello']
    shadow = '/lib/modules/%s/%s' % (ABI, expected[3]) if expected[3] else None
    assert (run.status(ABI), run.package(ABI)['verified'], hello['status'], hello['shadowed_by']) == expected[:3] + (shadow,)
    assert run.warnings == []


@pytest.mark.parametrize('last', ['alpha', 'beta'])
def test_two_packages_of_one_module_name(system: SystemTree, ko_builder: KoBuilder, last: str) -> None:
    # Both install hello.ko into updates/dkms: the one installed last is there, and a weak link to
    # it is that package's, whichever order the packages are judged in.
    first = 'beta' if last == 'alpha' else 'alpha'
    clone = ABI + '+clone'
    system.bios_boot()
    system.kernel(ABI)
    system.kernel(clone, abi=ABI)
    for name in ('alpha', 'beta'):
        system.package(name, '1.0', ['hello'])
    system.build(first, '1.0', ABI)
    module_dir = system.path('/var/lib/dkms/%s/1.0/%s/x86_64/module' % (last, ABI))
    module_dir.mkdir(parents=True)
    ko_builder.build_ko(module_dir, 'hello', vermagic=VERMAGIC, versions=dict(system.kernel_crcs[ABI]),
                        extra_modinfo=['version=2.0'])
    system.install(last, '1.0', ABI)
    system.weak_link(clone, ABI, 'hello.ko')
    run = Run(system.root)
    assert (run.status(ABI, last), run.status(ABI, first)) == ('installed', 'broken')
    assert (run.status(clone, last), run.status(clone, first)) == ('weak', 'missing')
    assert run.package(clone, first)['verified'] and run.package(clone, last)['verified']


def test_what_depmod_never_indexes_shadows_nothing(system: SystemTree, ko_builder: KoBuilder) -> None:
    # RHEL's search order puts updates/ first, but a link there that dangles is skipped.
    system.bios_boot()
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'], conf=dkms_conf('hello', '1.0', ['hello']).replace('/updates/dkms', '/extra'))
    system.build('hello', '1.0', ABI)
    extra = system.path('/lib/modules/%s/extra' % ABI)
    extra.mkdir()
    system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI).rename(extra / 'hello.ko')
    system.path('/lib/modules/%s/updates/hello.ko' % ABI).symlink_to('/lib/modules/%s/updates-old/hello.ko' % ABI)
    system.path('/etc/depmod.d').mkdir(parents=True)
    system.path('/etc/depmod.d/dist.conf').write_text('search updates extra built-in weak-updates\n')
    run = Run(system.root)
    assert (run.status(ABI), run.package(ABI)['verified']) == ('installed', True)
    # A directory named build or source depmod skips at any depth, whatever depmod.d says.
    skipped = system.path('/lib/modules/%s/extra/source' % ABI)
    skipped.mkdir()
    (extra / 'hello.ko').rename(skipped / 'hello.ko')
    system.package('hello', '1.0', ['hello'], conf=dkms_conf('hello', '1.0', ['hello']).replace('/updates/dkms',
                                                                                                '/extra/source'))
    run = Run(system.root)
    assert (run.status(ABI), run.package(ABI)['modules']['hello']['reason']) == (
        'broken', 'depmod skips source, so modprobe never loads it')


def vendor_module_weak_linked(system: SystemTree, ko_builder: KoBuilder, clone: str) -> None:
    """A kmod package's extra/vendor/hello.ko on ABI, weak-linked into ``clone`` as weak-modules links it."""
    vendor = system.path('/lib/modules/%s/extra/vendor' % ABI)
    vendor.mkdir(parents=True)
    ko_builder.build_ko(vendor, 'hello', vermagic=VERMAGIC, versions=dict(system.kernel_crcs[ABI]),
                        extra_modinfo=['version=vendor'])
    link = system.path('/lib/modules/%s/weak-updates/vendor/hello.ko' % clone)
    link.parent.mkdir(parents=True)
    link.symlink_to('/lib/modules/%s/extra/vendor/hello.ko' % ABI)


def test_a_vendor_file_of_the_name_is_not_the_packages(system: SystemTree, ko_builder: KoBuilder) -> None:
    # dkms's copy is gone; a kmod package's extra/vendor/hello.ko, weak-linked into the clone, is
    # not where dkms installs, so the clone has nothing of the dkms package.
    clone = hello_and_a_clone(system)
    system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI).unlink()
    vendor_module_weak_linked(system, ko_builder, clone)
    run = Run(system.root)
    assert (run.status(clone), run.package(clone)['verified']) == ('missing', True)


def test_a_copy_this_target_cannot_decompress(system: SystemTree) -> None:
    if python_zstd():
        pytest.skip('a Python zstd library decompresses here')
    system.bios_boot()
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    copy = system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI)
    zstd_file(copy)
    copy.unlink()
    run = Run(system.root)      # no command runner: no zstd command either
    hello = run.package(ABI)
    assert (hello['status'], hello['covered'], hello['verified']) == ('installed', True, False)
    assert hello['modules']['hello']['reason'].startswith('compressed otherwise than the dkms build')


def zstd_build_installed_plain(system: SystemTree) -> None:
    """hello's build as .ko.zst, its installed copy decompressed: only a zstd decompressor tells them alike."""
    if python_zstd():
        pytest.skip('a Python zstd library decompresses here')
    module = system.path('/var/lib/dkms/hello/1.0/%s/x86_64/module/hello.ko' % ABI)
    zstd_file(module)
    module.unlink()


def test_a_copy_this_target_cannot_compare_is_no_sure_provider(system: SystemTree, ko_builder: KoBuilder) -> None:
    # The clone's weak link loads the copy, which this target cannot tell from the build.
    clone = hello_and_a_clone(system)
    zstd_build_installed_plain(system)
    system.weak_link(clone, ABI, 'hello.ko')
    run = Run(system.root)
    assert (run.status(ABI), run.package(ABI)['covered'], run.package(ABI)['verified']) == ('installed', True, False)
    assert (run.status(clone), run.package(clone)['covered'], run.package(clone)['verified']) == ('weak', True, False)


def test_a_stale_file_elsewhere_is_not_the_copy(system: SystemTree, ko_builder: KoBuilder) -> None:
    # An old hello.ko in extra/ (walked before updates/) is neither the copy nor what shadows it.
    hello_and_a_clone(system)
    zstd_build_installed_plain(system)
    extra = system.path('/lib/modules/%s/extra' % ABI)
    extra.mkdir()
    ko_builder.build_ko(extra, 'hello', vermagic=VERMAGIC, versions=dict(system.kernel_crcs[ABI]), extra_modinfo=['version=old'])
    hello = Run(system.root).package(ABI)
    assert (hello['status'], hello['covered'], hello['modules']['hello']['path']) == (
        'installed', True, '/lib/modules/%s/updates/dkms/hello.ko' % ABI)


def test_two_weak_links_of_one_name(system: SystemTree, ko_builder: KoBuilder) -> None:
    # Both rank as weak-updates: which one depmod indexes depends on the order it reads them.
    clone = hello_and_a_clone(system)
    system.weak_link(clone, ABI, 'hello.ko')
    vendor_module_weak_linked(system, ko_builder, clone)
    run = Run(system.root)
    assert (run.status(clone), run.package(clone)['verified']) == ('weak', False)
    assert 'depends on the order' in run.package(clone)['modules']['hello']['reason']


@pytest.mark.parametrize('name', ['hello.old.ko', 'hello.ko.xz'])
def test_files_depmod_indexes_under_the_name(system: SystemTree, ko_builder: KoBuilder, name: str) -> None:
    # kmod names a file by what precedes its first dot; an in-tree file listed without its suffix
    # is that module too. Beside the copy, in one directory: a tie depmod's reading order decides.
    conf = dkms_conf('hello', '1.0', ['hello']).replace('/updates/dkms', '/kernel/drivers/misc')
    system.bios_boot()
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'], conf=conf)
    system.build('hello', '1.0', ABI)
    misc = system.path('/lib/modules/%s/kernel/drivers/misc' % ABI)
    misc.mkdir(parents=True, exist_ok=True)
    system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI).rename(misc / 'hello.ko')
    other = ko_builder.build_ko(system.path('/lib/modules/%s/updates' % ABI), 'hello', vermagic=VERMAGIC,
                                versions=dict(system.kernel_crcs[ABI]), extra_modinfo=['version=old'])
    if name == 'hello.old.ko':
        other.rename(other.with_name(name))    # depmod's search puts updates/ first: it loads that one
        expected = ('broken', True)
    else:
        xz_file(other).rename(misc / name)
        other.unlink()
        with open(system.path('/lib/modules/%s/modules.order' % ABI), 'a') as order:
            order.write('kernel/drivers/misc/hello.ko\n')
        expected = ('installed', False)
    run = Run(system.root)
    assert (run.status(ABI), run.package(ABI)['verified']) == expected


def test_install_in_dest_module_location(system: SystemTree) -> None:
    # Where dkms has no override for the distribution (Gentoo, Alpine, Amazon Linux 2 with an
    # older dkms) it installs into DEST_MODULE_LOCATION, NVIDIA's being /kernel/drivers/video.
    conf = dkms_conf('hello', '1.0', ['hello']).replace('/updates/dkms', '/kernel/drivers/video')
    system.kernel(ABI)
    system.kernel('6.1.0-50-amd64')
    system.package('hello', '1.0', ['hello'], conf=conf)
    for release in (ABI, '6.1.0-50-amd64'):
        system.build('hello', '1.0', release)
        updates = system.path('/lib/modules/%s/updates/dkms/hello.ko' % release)
        video = system.path('/lib/modules/%s/kernel/drivers/video/hello.ko' % release)
        video.parent.mkdir(parents=True)
        updates.rename(video)
    # On the second kernel the copy went to another driver directory than dkms.conf names.
    other = system.path('/lib/modules/6.1.0-50-amd64/kernel/drivers/gpu/hello.ko')
    other.parent.mkdir(parents=True)
    system.path('/lib/modules/6.1.0-50-amd64/kernel/drivers/video/hello.ko').rename(other)
    run = Run(system.root)
    assert run.status(ABI) == 'installed'
    assert run.package(ABI)['modules']['hello']['path'] == '/lib/modules/%s/kernel/drivers/video/hello.ko' % ABI
    assert run.status('6.1.0-50-amd64') == 'broken'
    assert run.facts['uncovered'] == [{'kernel': '6.1.0-50-amd64', 'package': 'hello', 'version': '1.0',
                                       'status': 'broken', 'headers': True}]
    assert run.warnings == []


def test_weak_link_to_a_symbol_moved_into_a_namespace(system: SystemTree) -> None:
    # The clone exports kfree with the same CRC but in a namespace the module does not import.
    system.kernel(ABI)
    clone = ABI + '+clone'
    system.kernel(clone, abi=ABI)
    symvers = system.path('/lib/modules/%s/build/Module.symvers' % clone)
    symvers.write_text(symvers.read_text().replace('\tkfree\tvmlinux\tEXPORT_SYMBOL\t\n', '\tkfree\tvmlinux\tEXPORT_SYMBOL\tMEMORY\n'))
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    system.weak_link_build(clone, ABI)
    run = Run(system.root)
    assert run.status(clone) == 'weak-incompatible'
    assert run.package(clone)['modules']['hello']['kabi']['namespaces'] == ['MEMORY']
    # A kernel built to allow missing namespace imports only warns, so the module loads.
    system.path('/lib/modules/%s/build/.config' % clone).write_text(
        'CONFIG_X86_64=y\nCONFIG_MODULE_ALLOW_MISSING_NAMESPACE_IMPORTS=y\n')
    run = Run(system.root)
    assert run.status(clone) == 'weak'
    assert run.package(clone)['modules']['hello']['kabi']['namespaces'] == []


def test_weak_link_to_a_module_exporting_what_the_kernel_gained(system: SystemTree) -> None:
    # The clone's kernel image exports hello_export itself (a function upstream took over): the
    # loader refuses the weak-linked hello for exporting it again; on its own kernel it loads.
    system.kernel(ABI)
    clone = ABI + '+clone'
    system.kernel(clone, abi=ABI)
    symvers = system.path('/lib/modules/%s/build/Module.symvers' % clone)
    symvers.write_text(symvers.read_text() + '0x00005151\thello_export\tvmlinux\tEXPORT_SYMBOL\t\n')
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    system.weak_link_build(clone, ABI)
    run = Run(system.root)
    assert run.status(ABI) == 'installed' and run.package(ABI)['modules']['hello']['kabi']['duplicates'] == []
    assert run.status(clone) == 'weak-incompatible'
    hello = run.package(clone)['modules']['hello']
    assert hello['kabi']['duplicates'] == ['hello_export'] and hello['kabi']['compatible'] is False
    assert 'exports symbols the kernel exports already: hello_export' in hello['reason']
    # Exported by an in-tree module of another name instead: refused only if that one loads first.
    symvers.write_text(symvers.read_text().replace('\thello_export\tvmlinux\t', '\thello_export\tdrivers/misc/other\t'))
    run = Run(system.root)
    assert run.status(clone) == 'weak' and run.package(clone)['verified'] is False
    assert 'an in-tree module, or one judged on this kernel' in run.package(clone)['modules']['hello']['reason']


def test_dangling_weak_link_is_broken(system: SystemTree) -> None:
    system.kernel(ABI)
    system.kernel('6.1.0-50-amd64')
    system.package('hello', '1.0', ['hello'])
    system.weak_link('6.1.0-50-amd64', ABI, 'hello.ko')
    run = Run(system.root)
    assert run.status('6.1.0-50-amd64') == 'broken'
    assert any('dangling' in warning for warning in run.warnings)


@pytest.mark.parametrize('first', [700, 0])
def test_the_cyclic_collector_runs_rarely_and_is_left_as_it_was(system: SystemTree, first: int) -> None:
    system.kernel(ABI)
    system.kernel('6.1.0-50-amd64')
    system.weak_link('6.1.0-50-amd64', ABI, 'hello.ko')   # dangling: a warning, given while gathering
    seen: list[int] = []
    was = gc.get_threshold()
    gc.set_threshold(first, 10, 10)
    try:
        gather_facts(RootFS(str(system.root)), lambda message: seen.append(gc.get_threshold()[0]))
        assert gc.get_threshold() == (first, 10, 10)
    finally:
        gc.set_threshold(*was)
    # Automatic collection turned off by the caller stays off.
    assert seen and set(seen) == ({COLLECTOR_THRESHOLD} if first else {0})


def test_the_gathering_leaves_nothing_for_the_cyclic_collector(demo: Path) -> None:
    """What a run kept (modules read, symvers, the join's caches) is freed once the facts are made:
    none of it in a reference cycle, so the collector need not walk the facts (see _collector_spaced)."""
    facts, ours = gathered_with_garbage(demo)
    assert facts['summary']['kernels'] > 1 and ours == []


def test_a_damaged_module_leaves_nothing_for_the_cyclic_collector(demo: Path) -> None:
    """A module that cannot be read, asked for on every kernel it is weak-linked into: its error,
    remembered and raised again, does not hold the frames it was raised through, which hold the
    whole run (and dkms_facts freezes what is left for the rest of its process)."""
    for module in (demo / 'lib/modules' / ABI / 'updates/dkms/hello.ko', demo / 'var/lib/dkms/hello/1.0' / ABI / 'x86_64/module/hello.ko'):
        module.write_bytes(module.read_bytes()[:200])   # the build dkms installed, both truncated
    facts, ours = gathered_with_garbage(demo)
    assert facts['kernels'][ABI + '+clone']['packages']['hello']['status'] == 'broken' and ours == []


def test_a_kernel_depmod_ran_for_leaves_nothing_for_the_cyclic_collector(demo: Path) -> None:
    """With modules.dep (on every host where depmod ran), whether an in-tree module is installed
    is asked of the kernel's tree: what answers it does not refer back to the tree."""
    for modules_dir in (demo / 'lib/modules').iterdir():
        modules = sorted(path.relative_to(modules_dir) for path in modules_dir.rglob('*.ko'))
        (modules_dir / 'modules.dep').write_text(''.join('%s:\n' % module for module in modules))
    facts, ours = gathered_with_garbage(demo)
    assert facts['summary']['kernels'] > 1 and ours == []


def test_a_damaged_kernel_certificate_leaves_nothing_for_the_cyclic_collector(demo: Path) -> None:
    """The error a certificate the kernel compiled in gives, kept to be told, does not hold the
    frames that caught it."""
    certificate = demo / 'lib/modules' / ABI / 'build/certs/signing_key.x509'
    certificate.parent.mkdir()
    certificate.write_bytes(b'not a certificate\n')
    warnings: list[str] = []
    facts, ours = gathered_with_garbage(demo, warnings.append)
    assert any(warning.startswith('/lib/modules/%s/build/certs/signing_key.x509: ' % ABI) for warning in warnings)
    assert facts['summary']['kernels'] > 1 and ours == []


def test_an_unlistable_directory_leaves_nothing_for_the_cyclic_collector(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The error a walk meets in a directory it cannot list (as a user other than root would),
    kept to be told, does not hold the frames that caught it."""
    (demo / 'lib/modules' / (ABI + '+clone') / 'weak-updates/locked').mkdir()
    scan = _rootfs._scan

    def refused_in_locked(fd: int) -> Any:
        if os.readlink('/proc/self/fd/%d' % fd).endswith('/locked'):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return scan(fd)
    monkeypatch.setattr(_rootfs, '_scan', refused_in_locked)
    warnings: list[str] = []
    facts, ours = gathered_with_garbage(demo, warnings.append)
    assert any(warning.startswith('cannot read /lib/modules/%s+clone/weak-updates/locked: ' % ABI) for warning in warnings)
    assert facts['summary']['kernels'] > 1 and ours == []


def gathered_with_garbage(root: Path, warn: Callable[[str], None] = lambda message: None) -> tuple[dict[str, Any], list[str]]:
    """The facts of ``root`` as the module gathers them, and the types of the collection's objects
    the cyclic collector finds unreachable once they are made."""
    gc.collect()
    gc.disable()
    try:
        rootfs = RootFS(str(root), snapshot=True)    # as the module reads
        facts = gather_facts(rootfs, warn)
        del rootfs
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        ours = [type(garbage).__qualname__ for garbage in gc.garbage
                if type(garbage).__module__.startswith('ansible_collections.kabi.')]
    finally:
        gc.set_debug(0)
        del gc.garbage[:]
        gc.enable()
    return facts, ours


def test_partial_weak_links_are_broken(system: SystemTree) -> None:
    system.kernel(ABI)
    system.kernel(ABI + '+clone', abi=ABI)
    system.package('hello', '1.0', ['hello', 'hello_ext'])
    system.build('hello', '1.0', ABI)
    system.weak_link(ABI + '+clone', ABI, 'hello.ko')
    run = Run(system.root)
    assert run.status(ABI + '+clone') == 'broken'
    assert run.package(ABI + '+clone')['modules']['hello_ext']['status'] == 'missing'


def test_weak_links_in_subdirectories_and_compressed(system: SystemTree) -> None:
    system.kernel(ABI)
    system.kernel(ABI + '+clone', abi=ABI, symvers='boot')
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI, compress='.xz')
    system.weak_link(ABI + '+clone', ABI, 'hello.ko.xz', subdir='dkms/sub')
    run = Run(system.root)
    assert run.status(ABI + '+clone') == 'weak'
    assert run.package(ABI + '+clone')['modules']['hello']['kabi']['compatible'] is True
    assert run.facts['kernels'][ABI + '+clone']['symvers'] == '/boot/symvers-%s+clone.gz' % ABI


def test_kernel_without_symvers_is_weak_without_verdict(system: SystemTree) -> None:
    system.kernel(ABI)
    system.kernel(ABI + '+clone', abi=ABI, symvers='none')
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    system.weak_link_build(ABI + '+clone', ABI)
    run = Run(system.root)
    assert run.status(ABI + '+clone') == 'weak'
    assert run.package(ABI + '+clone')['modules']['hello']['kabi'] is None
    assert any('no symvers' in warning for warning in run.warnings)


def test_corrupt_weak_target_is_broken_not_covered(system: SystemTree) -> None:
    system.kernel(ABI)
    system.kernel(ABI + '+clone', abi=ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    for path in (system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI),
                 system.path('/var/lib/dkms/hello/1.0/%s/x86_64/module/hello.ko' % ABI)):
        path.write_bytes(b'\x7fELF\x02\x01truncated')
    system.weak_link_build(ABI + '+clone', ABI)
    run = Run(system.root)
    assert run.status(ABI + '+clone') == 'broken'
    assert len([w for w in run.warnings if 'hello.ko' in w]) == 1


def weak_link_and_a_rival(system: SystemTree, rival: str) -> None:
    """hello weak-linked into the clone, and another file of its name, ``rival`` (in-root), in
    extra/, which depmod.d ranks above weak-updates/."""
    system.kernel(ABI)
    system.kernel(ABI + '+clone', abi=ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    system.weak_link_build(ABI + '+clone', ABI)
    system.path(rival).parent.mkdir(parents=True)
    system.path(rival).write_bytes(b'someone else')
    system.path('/etc/depmod.d').mkdir(parents=True)
    system.path('/etc/depmod.d/dist.conf').write_text('search updates extra built-in weak-updates\n')


def test_shadowed_weak_link_is_not_coverage(system: SystemTree) -> None:
    weak_link_and_a_rival(system, '/lib/modules/%s+clone/extra/hello.ko' % ABI)
    run = Run(system.root)
    module = run.package(ABI + '+clone')['modules']['hello']
    assert run.status(ABI + '+clone') == 'broken'
    assert module['shadowed_by'] == '/lib/modules/%s+clone/extra/hello.ko' % ABI


@pytest.mark.parametrize('rival', ['kernel/drivers/misc/hello.ko', 'misc/hello.ko', 'extra/vendor/hello.ko'])
def test_a_rival_depmod_indexed_outside_updates_and_extra(system: SystemTree, rival: str) -> None:
    """A file of the module's name that modules.dep lists where neither updates/, extra/ nor
    modules.order tell of it: another package's DEST_MODULE_LOCATION, or a directory reached
    through a link (depmod follows those) (from helper-76)."""
    clone = ABI + '+clone'
    weak_link_and_a_rival(system, '/opt/vendor/hello.ko')
    if rival.startswith('extra/vendor/'):
        system.path('/lib/modules/%s/extra' % clone).mkdir()
        system.path('/lib/modules/%s/extra/vendor' % clone).symlink_to('/opt/vendor')
    else:
        system.path('/lib/modules/%s/%s' % (clone, rival)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(system.path('/opt/vendor/hello.ko'), system.path('/lib/modules/%s/%s' % (clone, rival)))
    system.path('/lib/modules/%s/modules.dep' % clone).write_text('%s:\nweak-updates/hello.ko:\n' % rival)
    module = Run(system.root).package(clone)['modules']['hello']
    assert (module['status'], module['shadowed_by']) == ('missing', '/lib/modules/%s/%s' % (clone, rival))


def test_modules_dep_spelling_the_weak_link_or_its_target_otherwise(system: SystemTree) -> None:
    system.bios_boot()
    clone = ABI + '+clone'
    weak_link_and_a_rival(system, '/opt/vendor/hello.ko')
    system.path('/lib/modules/%s/extra' % ABI).symlink_to('/lib/modules/%s/updates/dkms' % ABI)
    system.path('/lib/modules/%s/modules.dep' % clone).write_text(
        './weak-updates//hello.ko:\n/lib/modules/%s/extra/hello.ko:\n' % ABI)
    hello = Run(system.root).package(clone)
    # The link itself, and its target through a linked directory: no rival. A file outside the
    # kernel's directory (depmod.d external) is one, ranked by what is not followed here.
    assert (hello['status'], hello['verified']) == ('weak', True)
    system.path('/lib/modules/%s/modules.dep' % clone).write_text('/opt/vendor/hello.ko:\nweak-updates/hello.ko:\n')
    hello = Run(system.root).package(clone)
    assert (hello['status'], hello['covered'], hello['verified']) == ('weak', True, False)
    assert 'external' in hello['modules']['hello']['reason']


@pytest.mark.parametrize('listing', ['modules.dep', 'modules.builtin', 'modules.order'])
def test_a_kernel_listing_that_cannot_be_read_leaves_the_link_unverified(system: SystemTree, listing: str) -> None:
    """modules.builtin may make the name built in, modules.order or modules.dep tell of a file
    of the name that modprobe loads instead: one that exists but cannot be read (here a
    directory) leaves a weak link covered, not verified, and a warning."""
    system.bios_boot()
    clone = ABI + '+clone'
    weak_link_and_a_rival(system, '/opt/vendor/hello.ko')
    hello = Run(system.root).package(clone)
    assert (hello['status'], hello['covered'], hello['verified']) == ('weak', True, True)
    if system.path('/lib/modules/%s/%s' % (clone, listing)).exists():
        system.path('/lib/modules/%s/%s' % (clone, listing)).unlink()
    system.path('/lib/modules/%s/%s' % (clone, listing)).mkdir()
    run = Run(system.root)
    hello = run.package(clone)
    assert (hello['status'], hello['covered'], hello['verified']) == ('weak', True, False)
    assert "the kernel's %s cannot be read" % listing in hello['modules']['hello']['reason']
    assert any(listing in warning for warning in run.warnings)


def test_a_link_modules_dep_does_not_list_is_not_verified(system: SystemTree) -> None:
    """modprobe finds what modules.dep lists: a weak link made after depmod last ran (or a copy
    dkms installed with --no-depmod) loads only once depmod runs again (from helper-78)."""
    clone = hello_and_a_clone(system)
    system.weak_link_build(clone, ABI)
    system.path('/lib/modules/%s/modules.dep' % clone).write_text('kernel/drivers/misc/other.ko:\n')
    system.path('/lib/modules/%s/modules.dep' % ABI).write_text('updates/dkms/hello.ko:\n')
    run = Run(system.root)
    hello = run.package(clone)
    assert (hello['status'], hello['covered'], hello['verified']) == ('weak', True, False)
    assert hello['modules']['hello']['reason'].startswith('modules.dep does not list ')
    assert (run.status(ABI), run.package(ABI)['verified']) == ('installed', True)
    system.path('/lib/modules/%s/modules.dep' % clone).write_text('kernel/drivers/misc/other.ko:\nweak-updates/hello.ko:\n')
    assert Run(system.root).package(clone)['verified']


def installed_module(system: SystemTree, name: str, **options: Any) -> None:
    """Package ``name`` 1.0 of one module ``name``, built for ABI as ``build_ko`` makes it with ``options``, installed."""
    system.package(name, '1.0', [name])
    module_dir = system.path('/var/lib/dkms/%s/1.0/%s/x86_64/module' % (name, ABI))
    system.ko.build_ko(module_dir, name, vermagic='%s %s' % (ABI, VERMAGIC_SUFFIX), **options)
    system.install(name, '1.0', ABI)


def test_a_symbol_from_another_package_is_checked_by_its_crc(system: SystemTree) -> None:
    """The loader compares an import with the CRC the module that exports it has (check_version()
    with the owner's __kcrctab): a package rebuilt with a changed prototype refuses the package
    built against its old one, "disagrees about version of symbol" (from helper-84)."""
    system.bios_boot()
    exports = system.kernel(ABI)
    installed_module(system, 'prov', versions=exports, exports=['prov_value'], export_crcs={'prov_value': 0xC2B12F26})
    installed_module(system, 'cons', versions=dict(exports, prov_value=0x8928CCD5))
    run = Run(system.root)
    cons = run.package(ABI, 'cons')
    assert (cons['status'], cons['covered'], cons['verified']) == ('broken', False, True)
    assert cons['modules']['cons']['kabi']['mismatched'] == ['prov_value']
    assert (run.status(ABI, 'prov'), run.package(ABI, 'prov')['verified']) == ('installed', True)
    installed_module(system, 'cons', versions=dict(exports, prov_value=0xC2B12F26))
    assert (Run(system.root).status(ABI, 'cons'), Run(system.root).package(ABI, 'cons')['verified']) == ('installed', True)


def test_a_dkms_module_of_an_in_tree_modules_name_exports_in_its_stead(system: SystemTree) -> None:
    """modprobe takes the DKMS file of an in-tree module's name (updates/ first), never the in-tree
    one: what imports its symbols is checked against the replacement's own CRCs; where the
    replacement cannot be read, whether the in-tree module loads instead is not known."""
    system.bios_boot()
    exports = system.kernel(ABI, crcs=abi_crcs(ABI, BASE_SYMBOLS + ('video_ioctl2',)))
    symvers = system.path('/lib/modules/%s/build/Module.symvers' % ABI)
    symvers.write_text(symvers.read_text().replace('\tvideo_ioctl2\tvmlinux\t',
                                                   '\tvideo_ioctl2\tdrivers/media/v4l2-core/videodev\t'))
    own = dict((symbol, crc) for symbol, crc in exports.items() if symbol != 'video_ioctl2')
    installed_module(system, 'videodev', versions=own, exports=['video_ioctl2'], export_crcs={'video_ioctl2': 0x5252})
    installed_module(system, 'hello', versions=exports)    # against symvers' CRC: the in-tree module's
    hello = Run(system.root).package(ABI, 'hello')
    assert (hello['status'], hello['covered'], hello['verified']) == ('broken', False, True)
    assert hello['modules']['hello']['kabi']['mismatched'] == ['video_ioctl2']
    installed_module(system, 'hello', versions=dict(exports, video_ioctl2=0x5252))
    run = Run(system.root)
    assert [(run.status(ABI, name), run.package(ABI, name)['verified']) for name in ('hello', 'videodev')] == \
        [('installed', True), ('installed', True)]
    # The in-tree file there too: updates/ comes first, unless a depmod.d file that cannot be read
    # says otherwise (from helper-87), and then the in-tree module may load instead.
    in_tree = system.path('/lib/modules/%s/kernel/drivers/media/v4l2-core/videodev.ko' % ABI)
    in_tree.parent.mkdir(parents=True)
    shutil.copyfile(system.path('/lib/modules/%s/kernel/drivers/misc/intree_dummy.ko' % ABI), in_tree)
    assert Run(system.root).package(ABI, 'hello')['verified']
    system.path('/etc/depmod.d/weak.conf').mkdir(parents=True)
    hello = Run(system.root).package(ABI, 'hello')
    assert (hello['status'], hello['covered'], hello['verified']) == ('installed', True, False)
    assert 'video_ioctl2' in hello['modules']['hello']['reason']
    system.path('/etc/depmod.d/weak.conf').rmdir()
    # Its build and its copy cut short alike: the replacement is damaged, and the in-tree module may load.
    for path in (system.path('/var/lib/dkms/videodev/1.0/%s/x86_64/module/videodev.ko' % ABI),
                 system.path('/lib/modules/%s/updates/dkms/videodev.ko' % ABI)):
        path.write_bytes(path.read_bytes()[:100])
    run = Run(system.root)
    assert run.status(ABI, 'videodev') == 'broken'
    hello = run.package(ABI, 'hello')
    assert (hello['status'], hello['covered'], hello['verified']) == ('installed', True, False)
    assert 'video_ioctl2' in hello['modules']['hello']['reason']


def test_module_blacklist_on_the_next_boot_command_line(system: SystemTree) -> None:
    """The kernel refuses a module module_blacklist= names (EPERM), whatever else lets it load (from helper-84)."""
    clone = hello_and_a_clone(system)
    system.weak_link_build(clone, ABI)
    system.path('/etc/default').mkdir(parents=True, exist_ok=True)
    grub = system.path('/etc/default/grub')
    grub.write_text('GRUB_CMDLINE_LINUX_DEFAULT="quiet module_blacklist=other,hello"\n')
    run = Run(system.root)
    for kernel in (ABI, clone):
        entry = run.package(kernel)
        assert (entry['status'], entry['covered'], entry['verified']) == ('rejected', False, True), kernel
        assert 'module_blacklist=other,hello on the next-boot command line' in entry['modules']['hello']['reason']
    grub.write_text('GRUB_CMDLINE_LINUX_DEFAULT="quiet module_blacklist=hello module_blacklist=other"\n')
    assert Run(system.root).status(ABI) == 'installed'


def test_a_symbol_of_an_in_tree_module_that_is_not_installed(system: SystemTree) -> None:
    """modprobe first loads the in-tree modules a module needs, as modules.dep lists them; the
    symbols of one that is not installed (Ubuntu's linux-modules-extra, RHEL's
    kernel-modules-extra) are nobody's: the loader's "Unknown symbol" (from helper-84)."""
    system.bios_boot()
    system.kernel(ABI, crcs=abi_crcs(ABI, BASE_SYMBOLS + ('video_ioctl2',)))
    symvers = system.path('/lib/modules/%s/build/Module.symvers' % ABI)
    symvers.write_text(symvers.read_text().replace('\tvideo_ioctl2\tvmlinux\t',
                                                   '\tvideo_ioctl2\tdrivers/media/v4l2-core/videodev\t'))
    modules_dir = system.path('/lib/modules/' + ABI)
    (modules_dir / 'modules.order').write_text('kernel/drivers/misc/intree_dummy.ko\n'
                                               'kernel/drivers/media/v4l2-core/videodev.ko\n')
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    dep = modules_dir / 'modules.dep'
    dep.write_text('kernel/drivers/misc/intree_dummy.ko:\nupdates/dkms/hello.ko:\n')
    hello = Run(system.root).package(ABI)
    assert (hello['status'], hello['covered'], hello['verified']) == ('broken', False, True)
    assert hello['modules']['hello']['kabi']['missing'] == ['video_ioctl2']
    # Listed, it loads first.
    dep.write_text('kernel/drivers/misc/intree_dummy.ko:\nkernel/drivers/media/v4l2-core/videodev.ko:\n'
                   'updates/dkms/hello.ko: kernel/drivers/media/v4l2-core/videodev.ko\n')
    hello = Run(system.root).package(ABI)
    assert (hello['status'], hello['verified']) == ('installed', True)
    # Its file is there but not listed (depmod has not run since), or none of the kernel's own
    # modules is listed (they are not installed: a tree of headers and dkms builds alone): unknown.
    videodev = modules_dir / 'kernel/drivers/media/v4l2-core/videodev.ko'
    videodev.parent.mkdir(parents=True)
    shutil.copyfile(modules_dir / 'kernel/drivers/misc/intree_dummy.ko', videodev)
    for listed in ('kernel/drivers/misc/intree_dummy.ko:\nupdates/dkms/hello.ko:\n', 'updates/dkms/hello.ko:\n'):
        dep.write_text(listed)
        hello = Run(system.root).package(ABI)
        assert (hello['status'], hello['covered'], hello['verified']) == ('installed', True, False), listed
        assert 'video_ioctl2' in hello['modules']['hello']['reason']
        if videodev.exists():
            videodev.unlink()


@pytest.mark.parametrize('layout', ['copy', 'directory link', 'directory link named hello.ko', 'weak-updates a link',
                                    'another name'])
def test_what_weak_updates_holds_besides_links_to_builds(system: SystemTree, layout: str) -> None:
    """depmod indexes a module file in weak-updates/ that is no link (a copy), and follows links
    to directories there; this reads links to builds only, so where such an entry may be the
    package's module, missing is not verified (from helper-78)."""
    clone = hello_and_a_clone(system)
    weak = system.path('/lib/modules/%s/weak-updates' % clone)
    builds = system.path('/lib/modules/%s/updates/dkms' % ABI)
    if layout == 'weak-updates a link':
        weak.symlink_to('/lib/modules/%s/updates/dkms' % ABI)
    else:
        weak.mkdir()
        if layout.startswith('directory link'):
            (weak / ('hello.ko' if layout.endswith('hello.ko') else 'hello')).symlink_to('/lib/modules/%s/updates/dkms' % ABI)
        else:
            shutil.copy(builds / 'hello.ko', weak / ('hello.ko' if layout == 'copy' else 'other.ko'))
    hello = Run(system.root).package(clone)
    # A link named as the module that leads to a directory is no module file: broken, but what
    # depmod finds inside may be.
    status = 'broken' if layout.endswith('hello.ko') else 'missing'
    assert (hello['status'], hello['covered'], hello['verified']) == (status, False, layout == 'another name')
    if layout != 'another name':
        assert 'which depmod indexes and this does not follow' in hello['modules']['hello']['reason']


def test_a_copy_in_place_of_the_kernels_own_module_that_modules_dep_lists(system: SystemTree) -> None:
    """dkms installs where DEST_MODULE_LOCATION says, in place of the kernel's own module of the
    name (moved aside as original_module): modules.dep lists that path (from helper-79)."""
    system.bios_boot()
    system.kernel(ABI)
    conf = dkms_conf('hello', '1.0', ['hello']).replace('/updates/dkms', '/kernel/drivers/misc')
    system.package('hello', '1.0', ['hello'], conf=conf)
    system.build('hello', '1.0', ABI, install=False)
    copy = system.path('/lib/modules/%s/kernel/drivers/misc/hello.ko' % ABI)
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(system.path('/var/lib/dkms/hello/1.0/%s/x86_64/module/hello.ko' % ABI), copy)
    system.path('/var/lib/dkms/hello/kernel-%s-x86_64' % ABI).symlink_to('1.0/%s/x86_64' % ABI)
    order = ['kernel/drivers/misc/m%d.ko' % index for index in range(70)] + ['kernel/drivers/misc/hello.ko']
    system.path('/lib/modules/%s/modules.order' % ABI).write_text('\n'.join(order) + '\n')
    system.path('/lib/modules/%s/modules.dep' % ABI).write_text(''.join(line + ':\n' for line in order))
    hello = Run(system.root).package(ABI)
    assert (hello['status'], hello['covered'], hello['verified']) == ('installed', True, True)
    # However modules.dep spells it (depmod.d "external" directories give such paths, from helper-80).
    for spelt in ('kernel//drivers/misc/hello.ko', './kernel/drivers/misc/hello.ko',
                  '/lib/modules/%s/kernel/drivers/misc/hello.ko' % ABI):
        system.path('/lib/modules/%s/modules.dep' % ABI).write_text(''.join(line + ':\n' for line in order[:-1] + [spelt]))
        assert Run(system.root).package(ABI)['verified'], spelt


def test_a_depmod_d_file_that_cannot_be_read_may_say_anything(system: SystemTree) -> None:
    """An override in it may favour the weak link over the rival the other files rank first
    (from helper-79: a file over the size read was passed over as if it were not there)."""
    system.bios_boot()
    weak_link_and_a_rival(system, '/lib/modules/%s+clone/extra/hello.ko' % ABI)
    hello = Run(system.root).package(ABI + '+clone')
    assert (hello['status'], hello['covered'], hello['verified']) == ('broken', False, True)
    system.path('/etc/depmod.d/weak.conf').mkdir()
    run = Run(system.root)
    hello = run.package(ABI + '+clone')
    assert (hello['status'], hello['covered'], hello['verified']) == ('weak', True, False)
    assert "depmod.d's /etc/depmod.d/weak.conf cannot be read" in hello['modules']['hello']['reason']
    assert any('weak.conf' in warning for warning in run.warnings)


def test_a_nul_in_a_listed_path_costs_nothing_else(system: SystemTree) -> None:
    """A path read from a file (modules.order, modules.builtin, modules.dep, dkms.conf) with a
    NUL in it names no file: it is passed over, the gather goes on (from helper-78: it stopped
    the whole host)."""
    clone = hello_and_a_clone(system)
    system.weak_link_build(clone, ABI)
    for listing in ('modules.order', 'modules.builtin', 'modules.dep'):
        system.path('/lib/modules/%s/%s' % (clone, listing)).write_text('kernel/a\x00b/hello.ko\n')
    run = Run(system.root)
    assert (run.status(ABI), run.status(clone)) == ('installed', 'weak')
    conf = dkms_conf('nul', '1.0', ['nul']).replace('/updates/dkms', '/kernel/dri\x00vers')
    system.package('nul', '1.0', ['nul'], conf=conf)
    system.build('nul', '1.0', ABI)
    assert Run(system.root).package(ABI, 'nul')['status'] == 'installed'


def test_a_file_depmod_does_not_index_shadows_nothing(system: SystemTree) -> None:
    """A rival compressed in a format the root's kmod was built without is left out of
    modules.dep by its depmod: the weak link is what modprobe loads."""
    system.bios_boot()
    extra = '/lib/modules/%s+clone/extra/hello.ko.gz' % ABI
    weak_link_and_a_rival(system, extra)
    # With no kmod program to tell, either may be what modprobe loads (from helper-78).
    hello = Run(system.root).package(ABI + '+clone')
    assert (hello['status'], hello['covered'], hello['verified']) == ('weak', True, False)
    assert hello['modules']['hello']['reason'].startswith('modprobe loads %s instead if depmod indexes it' % extra)
    for features, expected in (('+ZSTD +XZ +ZLIB', ('missing', False, extra)), ('+ZSTD +XZ -ZLIB', ('weak', True, None))):
        kmod_program(system.ko, system.root, '30', features)
        run = Run(system.root)
        module = run.package(ABI + '+clone')['modules']['hello']
        assert (module['status'], run.package(ABI + '+clone')['covered'], module['shadowed_by']) == expected, features
        assert run.package(ABI + '+clone')['verified']


def test_a_weak_link_named_in_a_format_kmod_lacks_is_never_loaded(system: SystemTree) -> None:
    """depmod takes a file by the suffix of its own name: a link named hello.ko.gz to a plain
    build is left out where kmod was built without zlib (from helper-78)."""
    system.bios_boot()
    clone = hello_and_a_clone(system)
    system.path('/lib/modules/%s/weak-updates' % clone).mkdir()
    system.path('/lib/modules/%s/weak-updates/hello.ko.gz' % clone).symlink_to(
        '/lib/modules/%s/updates/dkms/hello.ko' % ABI)
    for features, expected in ((None, ('weak', True, False)), ('+ZSTD +XZ -ZLIB', ('broken', False, True)),
                               ('+ZSTD +XZ +ZLIB', ('weak', True, True))):
        if features:
            kmod_program(system.ko, system.root, '30', features)
        hello = Run(system.root).package(clone)
        assert (hello['status'], hello['covered'], hello['verified']) == expected, features


def test_exclude_holds_from_kmod_30(system: SystemTree) -> None:
    """A rival in a directory depmod.d excludes: kmod 28's depmod drops the line as a bad one and
    indexes the rival, kmod 30's skips it; with no kmod program to tell, neither is sure (from helper-76)."""
    system.bios_boot()
    weak_link_and_a_rival(system, '/lib/modules/%s+clone/extra/old/hello.ko' % ABI)
    system.path('/etc/depmod.d/dist.conf').write_text('search updates extra built-in weak-updates\nexclude old\n')
    clone = ABI + '+clone'
    hello = Run(system.root).package(clone)
    assert (hello['status'], hello['covered'], hello['verified']) == ('weak', True, False)
    assert 'kmod 30' in hello['modules']['hello']['reason']
    for version, expected in (('28', ('broken', False, True)), ('30', ('weak', True, True))):
        kmod_program(system.ko, system.root, version, '+ZSTD +XZ +ZLIB')
        hello = Run(system.root).package(clone)
        assert (hello['status'], hello['covered'], hello['verified']) == expected, version


def test_of_two_copies_that_are_the_build_the_one_depmod_indexes(system: SystemTree) -> None:
    """The build as a .ko.gz in updates/dkms, which a kmod without zlib leaves out of modules.dep,
    and as a plain file in extra/, which modprobe loads (from helper-76)."""
    system.bios_boot()
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    copy = system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI)
    system.path('/lib/modules/%s/extra' % ABI).mkdir()
    shutil.copy(copy, system.path('/lib/modules/%s/extra/hello.ko' % ABI))
    gzip_file(copy)
    copy.unlink()
    for features, expected in (('+ZSTD +XZ -ZLIB', 'extra/hello.ko'), ('+ZSTD +XZ +ZLIB', 'updates/dkms/hello.ko.gz')):
        kmod_program(system.ko, system.root, '30', features)
        hello = Run(system.root).package(ABI)
        assert (hello['status'], hello['covered'], hello['verified']) == ('installed', True, True), features
        assert hello['modules']['hello']['path'] == '/lib/modules/%s/%s' % (ABI, expected), features


def test_newest_version_wins_and_older_is_outdated(system: SystemTree) -> None:
    system.kernel(ABI)
    system.kernel('6.1.0-50-amd64')
    system.package('hello', '1.0', ['hello'])
    system.package('hello', '1.10', ['hello'])
    system.build('hello', '1.0', ABI)
    system.build('hello', '1.10', '6.1.0-50-amd64')
    run = Run(system.root)
    assert run.facts['packages']['hello']['versions'] == ['1.0', '1.10']
    assert run.package(ABI)['outdated'] is True and run.package(ABI)['version'] == '1.0'
    assert run.package('6.1.0-50-amd64')['outdated'] is False
    assert run.facts['uncovered'] == []


def test_stale_kernels_are_reported_not_counted(system: SystemTree) -> None:
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    system.path('/lib/modules/6.1.0-9-amd64/updates/dkms').mkdir(parents=True)
    run = Run(system.root)
    assert run.facts['kernels']['6.1.0-9-amd64']['stale'] is True
    assert run.facts['uncovered'] == []
    assert run.facts['summary']['kernels'] == 1


def test_package_filter_and_broken_versions(system: SystemTree) -> None:
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'])
    system.package('other', '2.0', ['other'], source=False)
    run = Run(system.root, packages=['other'])
    assert list(run.facts['packages']) == ['other']
    assert run.facts['packages']['other']['broken_versions'] == ['2.0']
    assert run.facts['packages']['other']['autoinstall'] is None


def test_build_exclusive_unknown_is_not_excluded(system: SystemTree) -> None:
    system.kernel(ABI)
    conf = dkms_conf('hello', '1.0', ['hello'], 'if [ -n "$x" ]; then\n BUILD_EXCLUSIVE_KERNEL="^5"\nfi\n')
    system.package('hello', '1.0', ['hello'], conf=conf)
    assert Run(system.root).status(ABI) == 'missing'


def test_build_exclusive_config_under_this_machines_dkms(system: SystemTree) -> None:
    # The real script read as the target's dkms (Debian 12's 3.0.10 in CI has the CONFIG rule
    # backported): a kernel whose .config lacks the option is excluded exactly when it applies it.
    if not os.path.isfile('/usr/sbin/dkms'):
        pytest.skip('no dkms installed')
    script = system.path('/usr/sbin/dkms')
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile('/usr/sbin/dkms', script)
    system.kernel(ABI)
    conf = dkms_conf('hello', '1.0', ['hello'], 'BUILD_EXCLUSIVE_CONFIG="CONFIG_NOT_IN_THIS_KERNEL"\n')
    system.package('hello', '1.0', ['hello'], conf=conf)
    applies = '$BUILD_EXCLUSIVE_CONFIG' in script.read_text(errors='replace')
    run = Run(system.root)
    assert (run.status(ABI), run.package(ABI)['verified']) == ('excluded' if applies else 'missing', True)


def test_framework_conf_moves_the_dkms_tree(system: SystemTree) -> None:
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    shutil.move(str(system.path('/var/lib/dkms')), str(system.path('/srv/dkms')))
    system.path('/etc/dkms').mkdir(parents=True, exist_ok=True)
    system.path('/etc/dkms/framework.conf').write_text('dkms_tree="/srv/dkms"\n')
    assert Run(system.root).status(ABI) == 'installed'


def test_links_that_leave_root_never_read_the_host(system: SystemTree, tmp_path: Path) -> None:
    system.kernel(ABI)
    system.kernel(ABI + '+clone', abi=ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    outside = tmp_path / 'outside.ko'
    shutil.copyfile(system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI), outside)
    link = system.path('/lib/modules/%s+clone/weak-updates/hello.ko' % ABI)
    link.parent.mkdir(parents=True)
    os.symlink(str(outside), str(link))
    run = Run(system.root)
    assert run.status(ABI + '+clone') == 'broken'
    assert run.package(ABI + '+clone')['modules']['hello']['target'] == str(outside)


def test_abi_crcs_differ_between_abis() -> None:
    assert abi_crcs('a') != abi_crcs('b') and abi_crcs('a') == abi_crcs('a')


def test_zst_module_nothing_here_can_decompress(system: SystemTree) -> None:
    """Without a runner (no zstd command) and no Python zstd library the verdict is null, not broken."""
    pytest.importorskip('elftools')
    for module in ('compression.zstd', 'zstandard'):
        try:
            __import__(module)
        except ImportError:
            continue
        pytest.skip('%s can decompress zstd here' % module)
    system.kernel(ABI)
    system.kernel(ABI + '+clone', abi=ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI, compress='.zst')
    system.weak_link_build(ABI + '+clone', ABI)
    run = Run(system.root)
    module = run.package(ABI + '+clone')['modules']['hello']
    assert run.status(ABI + '+clone') == 'weak'
    assert module['kabi'] is None
    assert any('cannot decompress zstd' in warning for warning in run.warnings)


def test_native_install_built_against_other_headers_is_broken(system: SystemTree) -> None:
    # A build link that pointed at another ABI's headers: the copy is dkms's own, byte for
    # byte, but imports the other kernel's CRCs, so the loader refuses it.
    system.kernel(ABI)
    system.kernel('6.1.0-50-amd64')
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', '6.1.0-50-amd64', crcs=abi_crcs(ABI))
    run = Run(system.root)
    assert run.status('6.1.0-50-amd64') == 'broken'
    fact = run.package('6.1.0-50-amd64')['modules']['hello']
    assert fact['kabi']['mismatched'] == ['_printk', 'kfree', 'module_layout']
    assert 'CRCs differ' in fact['reason']
    assert run.package('6.1.0-50-amd64')['verified']


def core_and_client(system: SystemTree, core: bytes | None = None, core_size: int | None = None) -> None:
    """Package a's core, whose build and installed copy are one file (a hard link) holding
    ``core`` or of ``core_size`` bytes (sparse), and package b's client, which imports its export."""
    system.bios_boot()
    system.kernel(ABI)
    system.package('a', '1.0', ['core'])
    built = system.build('a', '1.0', ABI)[0]
    if core is not None:
        built.write_bytes(core)
    if core_size is not None:
        with built.open('r+b') as stream:
            stream.truncate(core_size)
    copy = system.path('/lib/modules/%s/updates/dkms/core.ko' % ABI)
    copy.unlink()
    os.link(built, copy)
    system.package('b', '1.0', ['client'])
    system.build('b', '1.0', ABI, crcs=dict(system.kernel_crcs[ABI], core_export=0x5151))


def test_what_imports_from_a_file_that_could_not_be_read_is_not_verified(system: SystemTree) -> None:
    # core is larger than any module is read: what it holds, and so whether client finds its
    # symbol, is not known.
    core_and_client(system, core_size=MAX_MODULE_BYTES + 1)
    run = Run(system.root)
    assert (run.status(ABI, 'a'), run.package(ABI, 'a')['verified']) == ('broken', False)
    client = run.package(ABI, 'b')
    assert (client['status'], client['covered'], client['verified']) == ('installed', True, False)
    assert 'core_export' in client['modules']['client']['reason']


def test_what_imports_from_a_file_that_is_no_module_is_refused(system: SystemTree) -> None:
    core_and_client(system, core=b'#!/bin/sh\necho not a module\n')
    run = Run(system.root)
    client = run.package(ABI, 'b')
    assert (client['status'], client['covered'], client['verified']) == ('broken', False, True)
    assert client['modules']['client']['kabi']['missing'] == ['core_export']


def test_native_copies_that_are_not_modules_are_broken(system: SystemTree) -> None:
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'])
    built = system.build('hello', '1.0', ABI)[0]
    for path in (built, system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI)):
        path.write_bytes(b'#!/bin/sh\necho not a module\n')
    run = Run(system.root)
    assert run.status(ABI) == 'broken'
    assert not run.package(ABI)['covered'] and not run.package(ABI)['verified']
    assert run.warnings == ['/lib/modules/%s/updates/dkms/hello.ko: not an ELF file' % ABI]


@pytest.mark.parametrize('reader', ['pyelftools', 'kmod'])
def test_symbols_from_another_package(system: SystemTree, reader: str) -> None:
    # consumer imports provider_export from another DKMS package (MLNX OFED, nvidia-fs on nvidia).
    if reader == 'kmod' and not (find_command('modinfo') and find_command('modprobe')):
        pytest.skip('kmod is not installed')
    clone, bare = ABI + '+clone', ABI + '+bare'
    system.kernel(ABI)
    system.kernel(clone, abi=ABI)
    system.kernel(bare, abi=ABI)
    system.package('provider', '1.0', ['provider'])
    system.build('provider', '1.0', ABI)
    system.package('consumer', '1.0', ['consumer'])
    system.build('consumer', '1.0', ABI, crcs=dict(system.kernel_crcs[ABI], provider_export=0x77))
    system.weak_link_build(clone, ABI)
    system.weak_link(bare, ABI, 'consumer.ko')
    run = Run(system.root, reader=reader, runner=run_command)
    assert run.status(ABI, 'consumer') == 'installed'
    assert run.status(clone, 'consumer') == 'weak'
    assert run.status(bare, 'consumer') == 'weak-incompatible'
    assert run.package(bare, 'consumer')['modules']['consumer']['kabi']['missing'] == ['provider_export']
    assert run.package(bare, 'consumer')['verified']
    # Without the provider's installed copy the consumer does not load natively either.
    system.path('/lib/modules/%s/updates/dkms/provider.ko' % ABI).unlink()
    run = Run(system.root, reader=reader, runner=run_command)
    assert run.status(ABI, 'provider') == 'broken'
    assert run.status(ABI, 'consumer') == 'broken'
    assert run.package(ABI, 'consumer')['modules']['consumer']['kabi']['missing'] == ['provider_export']


def signed_system(system: SystemTree, tmp_path: Path) -> Any:
    """hello installed on ABI and weak-linked into a clone, every module signed by dkms's key."""
    system.kernel(ABI)
    system.kernel(ABI + '+clone', abi=ABI)
    system.package('hello', '1.0', ['hello', 'hello_ext'])
    key = rsa_key(tmp_path)
    for built in system.build('hello', '1.0', ABI, install=False):
        sign_module(built, key, built)
    system.install('hello', '1.0', ABI)
    system.weak_link_build(ABI + '+clone', ABI)
    system.path('/var/lib/dkms/mok.pub').write_bytes(key.der)
    system.path('/etc/default').mkdir(parents=True)
    system.path('/etc/default/grub').write_text('GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n')
    return key


def test_secure_boot_without_the_dkms_key_enrolled_rejects_signed_modules(
        system: SystemTree, tmp_path: Path) -> None:
    key = signed_system(system, tmp_path)
    efi = EfiRoot(system.root)
    efi.secure_boot(True)
    efi.mok_list([rsa_key(tmp_path, 'other', '/CN=Someone else').der])
    run = Run(system.root)
    for kernel in (ABI, ABI + '+clone'):
        assert run.facts['kernels'][kernel]['module_signatures']['enforced'] is True
        assert run.facts['kernels'][kernel]['module_signatures']['reason'] == 'secure_boot'
        entry = run.package(kernel)
        assert (entry['status'], entry['covered'], entry['verified']) == ('rejected', False, True)
        for module in entry['modules'].values():
            assert module['status'] == 'rejected'
            assert module['signature']['signed'] and module['signature']['trusted'] is False
            assert module['signature']['signer'] == 'DKMS module signing key'
            assert 'refuses' in module['reason']
            assert module['kabi']['compatible']
    assert run.facts['dkms_certificate']['enrolled'] is False
    # Enrolling the certificate (MokListRT) makes them load.
    efi.mok_list([key.der])
    run = Run(system.root)
    assert run.status(ABI) == 'installed' and run.status(ABI + '+clone') == 'weak'
    assert run.package(ABI)['verified'] and run.facts['summary']['unverified'] == 0
    assert run.package(ABI)['modules']['hello']['signature']['trusted'] is True
    assert run.facts['dkms_certificate']['enrolled'] is True


def patch_signature(module: Path, offset: int, value: int) -> None:
    """Set byte ``offset`` of the PKCS#7 message appended to ``module``."""
    data = bytearray(module.read_bytes())
    end = len(data) - len(b'~Module signature appended~\n')
    start = end - 12 - int.from_bytes(data[end - 4:end], 'big')
    data[start + offset] = value
    module.write_bytes(bytes(data))


@pytest.mark.parametrize('offset, value, verified, problem', [
    # An indefinite length: not DER, and not what sign-file writes.
    (1, 0x80, False, 'cannot be parsed'),
    # SignedData version 5: the kernel's parser takes 1 or 3 (EINVAL).
    (25, 5, True, 'SignedData version is 0x05'),
])
def test_a_damaged_signature_is_never_covered(system: SystemTree, tmp_path: Path, offset: int, value: int,
                                              verified: bool, problem: str) -> None:
    key = signed_system(system, tmp_path)
    efi = EfiRoot(system.root)
    efi.secure_boot(True)
    efi.mok_list([key.der])
    for path in ('/var/lib/dkms/hello/1.0/%s/x86_64/module/hello.ko' % ABI, '/lib/modules/%s/updates/dkms/hello.ko' % ABI):
        patch_signature(system.path(path), offset, value)
    run = Run(system.root)
    for kernel in (ABI, ABI + '+clone'):
        entry = run.package(kernel)
        assert (entry['status'], entry['covered'], entry['verified']) == ('rejected', False, verified)
        assert entry['modules']['hello']['signature']['trusted'] is (None if not verified else False)
        assert problem in entry['modules']['hello']['reason']
        # hello_ext needs hello's export: refused with it, and no more surely.
        assert entry['modules']['hello_ext']['reason'] == 'needs hello_export from modules the kernel refuses (their signature, or module_blacklist=)'
    if not verified:
        # Damaged evidence is bad input: said once per file, however many kernels load it.
        assert [warning for warning in run.warnings if problem in warning] == [
            '/lib/modules/%s/updates/dkms/hello.ko: the PKCS#7 signature cannot be parsed: indefinite length at '
            'byte 0 (not DER)' % ABI]


def test_unsigned_module_under_sig_enforce_is_rejected(system: SystemTree) -> None:
    system.bios_boot(cmdline='quiet module.sig_enforce=1')
    system.kernel(ABI)
    system.package('hello', '1.0', ['hello'])
    system.build('hello', '1.0', ABI)
    run = Run(system.root)
    assert run.facts['kernels'][ABI]['module_signatures']['reason'] == 'sig_enforce'
    assert (run.status(ABI), run.package(ABI)['verified']) == ('rejected', True)
    assert run.facts['uncovered'][0]['status'] == 'rejected'


def test_without_efivars_signature_enforcement_is_unknown(system: SystemTree, tmp_path: Path) -> None:
    signed_system(system, tmp_path)
    run = Run(system.root)
    assert run.facts['kernels'][ABI]['module_signatures']['enforced'] is None
    # Covered as far as can be known, but not verified: a reboot gate can ask for both.
    assert (run.status(ABI), run.package(ABI)['covered'], run.package(ABI)['verified']) == ('installed', True, False)
    assert run.package(ABI)['modules']['hello']['signature']['trusted'] is None
    assert run.facts['summary']['unverified'] == 2
