# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Broken and hostile trees: every case returns facts, warns once per bad item, never covers.

Each test builds a sound system (hello 1.0 installed for ABI, weak-linked on ABI+clone),
damages one thing, and checks the exact facts the contract asks for.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._coverage import gather_facts
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder
from ansible_collections.kabi.dkms.tests.unit.system_trees import SystemTree

ABI = '6.1.0-47-amd64'
CLONE = ABI + '+clone'
NOBODY = 65534


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
    tree = SystemTree(top / 'root', ko_builder)
    tree.kernel(ABI)
    tree.kernel(CLONE, abi=ABI)
    tree.package('hello', '1.0', ['hello'])
    tree.build('hello', '1.0', ABI)
    tree.weak_link_build(CLONE, ABI)
    yield tree
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


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root to create files nobody can read')
def test_unreadable_files_and_directories(system: SystemTree) -> None:
    for path in system.root.rglob('*'):
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.chmod(system.root, 0o755)
    os.chmod(system.path('/lib/modules/%s/updates/dkms/hello.ko' % ABI), 0o600)
    os.chmod(system.path('/var/lib/dkms/hello/1.0/%s/x86_64/module/hello.ko' % ABI), 0o600)
    system.kernel('6.1.0-50-amd64')
    os.chmod(system.path('/lib/modules/6.1.0-50-amd64'), 0o700)
    facts, warnings = _gather_as_nobody(system.root)
    assert clone_hello(facts)['status'] == 'broken'
    assert facts['kernels'][ABI]['packages']['hello']['status'] != 'weak'
    assert any('Permission denied' in warning for warning in warnings)
    assert not facts['kernels'][CLONE]['covered']
