# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_dkms_cli without dkms: argv, exit codes, the lock, make.log tails and the per-kernel plan.

``Sandbox`` lays out a dkms tree, source tree and install tree the way dkms 3.x writes them; the
module tests reuse it, with the real dkms where one is installed.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils import _dkms_cli as cli
from ansible_collections.kabi.dkms.plugins.module_utils._dkms_tree import read_dkms_tree
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS

NOBODY = 65534

ARCH = 'x86_64'
MODULE_SOURCE = '''#include <linux/module.h>
static int __init unit_init(void) { return 0; }
static void __exit unit_exit(void) { }
module_init(unit_init);
module_exit(unit_exit);
MODULE_LICENSE("GPL");
'''


class Sandbox:
    """dkms, source and install trees under one temporary directory."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.dkms_tree = base / 'dkms'
        self.source_tree = base / 'src'
        self.install_tree = base / 'modules'
        for path in (self.dkms_tree, self.source_tree, self.install_tree):
            path.mkdir(parents=True, exist_ok=True)

    def source(self, name: str, version: str, conf: str = '', makefile: str | None = None) -> Path:
        """A buildable one-module kbuild package in the source tree."""
        src = self.source_tree / f'{name}-{version}'
        src.mkdir(parents=True, exist_ok=True)
        (src / 'dkms.conf').write_text(f'PACKAGE_NAME="{name}"\nPACKAGE_VERSION="{version}"\n'
                                       f'BUILT_MODULE_NAME[0]="{name}"\nDEST_MODULE_LOCATION[0]="/updates/dkms"\n'
                                       f'AUTOINSTALL="yes"\n{conf}')
        (src / 'Makefile').write_text(makefile if makefile is not None else f'obj-m := {name}.o\n')
        (src / f'{name}.c').write_text(MODULE_SOURCE)
        return src

    def register(self, name: str, version: str, conf: str = '') -> None:
        src = self.source(name, version, conf)
        (self.dkms_tree / name / version).mkdir(parents=True, exist_ok=True)
        (self.dkms_tree / name / version / 'source').symlink_to(src)

    def kernel(self, release: str) -> Path:
        path = self.install_tree / release
        path.mkdir(parents=True, exist_ok=True)
        return path

    def build(self, name: str, version: str, release: str, payload: bytes = b'\x7fELF built') -> Path:
        """What ``dkms build`` leaves: the module in V/K/ARCH/module/."""
        module = self.dkms_tree / name / version / release / ARCH / 'module' / f'{name}.ko'
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_bytes(payload)
        return module

    def install(self, name: str, version: str, release: str, copy: bool = True) -> None:
        """What ``dkms install`` leaves: the kernel-K-ARCH link and the copy in the kernel's tree."""
        built = self.build(name, version, release)
        (self.dkms_tree / name / f'kernel-{release}-{ARCH}').symlink_to(f'{version}/{release}/{ARCH}')
        if copy:
            dest = self.kernel(release) / 'updates' / 'dkms' / built.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(built.read_bytes())

    def args(self, **options: Any) -> dict[str, Any]:
        """Module arguments confined to the sandbox."""
        return dict(dkms_tree=str(self.dkms_tree), source_tree=str(self.source_tree),
                    install_tree=str(self.install_tree), no_depmod=True, arch=ARCH, **options)

    def listing(self) -> list[str]:
        return sorted(str(p.relative_to(self.base)) for p in self.base.rglob('*') if p.name != 'kabi-dkms.lock')


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def view(sandbox: Sandbox, name: str, release: str) -> cli.KernelView:
    tree = read_dkms_tree(RootFS('/'), pytest.fail, names=[name], dkms_tree=str(sandbox.dkms_tree),
                          source_tree=str(sandbox.source_tree), install_tree=str(sandbox.install_tree))
    return cli.KernelView(RootFS('/'), pytest.fail, tree.packages.get(name), release, ARCH, tree.install_tree)


@pytest.mark.parametrize(('rc', 'outcome'), [
    (0, 'done'), (21, 'no-headers'), (77, 'excluded'), (10, 'build-failed'), (7, 'build-failed'),
    (6, 'version-refused'), (1, 'failed'), (13, 'failed'), (101, 'failed'), (-9, 'failed')])
def test_exit_codes(rc: int, outcome: str) -> None:
    assert cli.outcome_of(rc) == outcome
    assert (outcome in cli.FAILURES) == (outcome in ('build-failed', 'version-refused', 'failed'))


def test_argv_passes_only_what_is_given() -> None:
    assert cli.dkms_argv('install', 'hello', '1.0', '6.1.0-56-amd64') == [
        'dkms', 'install', '-m', 'hello', '-v', '1.0', '-k', '6.1.0-56-amd64']
    assert cli.dkms_argv('remove', 'hello', '1.0', 'K', arch='aarch64', dkms_tree='/d', source_tree='/s',
                         install_tree='/i', no_depmod=True, force=True) == [
        'dkms', 'remove', '-m', 'hello', '-v', '1.0', '-k', 'K', '-a', 'aarch64', '--dkmstree', '/d',
        '--sourcetree', '/s', '--installtree', '/i', '--no-depmod', '--force']
    assert cli.dkms_argv('add', 'hello', '1.0') == ['dkms', 'add', '-m', 'hello', '-v', '1.0']


def test_tail_keeps_the_last_lines() -> None:
    assert cli.tail('\n'.join(str(i) for i in range(100)), 3) == ['97', '98', '99']
    assert cli.tail(None) == []


def test_make_log_tail_prefers_the_newest_log(sandbox: Sandbox) -> None:
    kernel_log = sandbox.dkms_tree / 'm' / '1' / 'K' / ARCH / 'log' / 'make.log'
    build_log = sandbox.dkms_tree / 'm' / '1' / 'build' / 'make.log'
    for path, text in ((kernel_log, 'old success\n'), (build_log, 'line\n' * 50 + 'error: boom\n')):
        path.parent.mkdir(parents=True)
        path.write_text(text)
    os.utime(kernel_log, (time.time() - 60, time.time() - 60))
    lines = cli.make_log_tail(RootFS('/'), str(sandbox.dkms_tree), 'm', '1', 'K', ARCH)
    assert len(lines) == cli.LOG_LINES and lines[-1] == 'error: boom'
    assert cli.make_log_tail(RootFS('/'), str(sandbox.dkms_tree), 'm', '2', 'K', ARCH) == []


def test_state_follows_the_tree(sandbox: Sandbox) -> None:
    sandbox.register('hello', '1.0')
    sandbox.install('hello', '1.0', '6.1.0-1-inst')
    sandbox.build('hello', '1.0', '6.1.0-2-built')
    sandbox.install('hello', '1.0', '6.1.0-4-linked', copy=False)
    assert view(sandbox, 'hello', '6.1.0-1-inst').state('1.0') == cli.INSTALLED
    assert view(sandbox, 'hello', '6.1.0-2-built').state('1.0') == cli.BUILT
    assert view(sandbox, 'hello', '6.1.0-3-other').state('1.0') == cli.ABSENT
    linked = view(sandbox, 'hello', '6.1.0-4-linked')
    assert linked.state('1.0') == cli.BUILT and linked.linked_without_copies('1.0')
    # dkms.conf's DEST_MODULE_LOCATION is where dkms installs on distributions it has no override for.
    sandbox.register('video', '2.0', conf='DEST_MODULE_LOCATION[0]="/kernel/drivers/video"\n')
    sandbox.install('video', '2.0', '6.1.0-1-inst', copy=False)
    copy = sandbox.install_tree / '6.1.0-1-inst' / 'kernel' / 'drivers' / 'video' / 'video.ko'
    copy.parent.mkdir(parents=True)
    copy.write_bytes(b'\x7fELF built')
    assert view(sandbox, 'video', '6.1.0-1-inst').state('2.0') == cli.INSTALLED
    # A copy that differs from the build is not an installation of it.
    (sandbox.install_tree / '6.1.0-1-inst' / 'updates' / 'dkms' / 'hello.ko').write_bytes(b'other')
    assert view(sandbox, 'hello', '6.1.0-1-inst').state('1.0') == cli.BUILT


@pytest.mark.parametrize(('current', 'state', 'headers', 'excluded', 'expected'), [
    ('6.1.0-1-inst', 'installed', True, False, (None, 'already')),
    ('6.1.0-2-built', 'built', True, False, (None, 'already')),
    ('6.1.0-1-inst', 'built', True, False, (None, 'already')),
    ('6.1.0-2-built', 'installed', True, False, ('install', None)),
    ('6.1.0-3-other', 'installed', True, False, ('install', None)),
    ('6.1.0-3-other', 'built', True, False, ('build', None)),
    ('6.1.0-3-other', 'installed', False, False, (None, 'no-headers')),
    ('6.1.0-3-other', 'installed', True, True, (None, 'excluded')),
    ('6.1.0-1-inst', 'absent', False, False, ('remove', None)),
    ('6.1.0-2-built', 'absent', True, False, ('remove', None)),
    ('6.1.0-3-other', 'absent', True, False, (None, 'already')),
])
def test_plan(sandbox: Sandbox, current: str, state: str, headers: bool, excluded: bool,
              expected: tuple[str | None, str | None]) -> None:
    sandbox.register('hello', '1.0')
    sandbox.install('hello', '1.0', '6.1.0-1-inst')
    sandbox.build('hello', '1.0', '6.1.0-2-built')
    action, outcome, _msg = cli.plan_kernel(view(sandbox, 'hello', current), '1.0', state, headers, excluded, True)
    assert (action, outcome) == expected


def test_plan_without_install_tree_fails_before_dkms(sandbox: Sandbox) -> None:
    sandbox.register('hello', '1.0')
    action, outcome, msg = cli.plan_kernel(view(sandbox, 'hello', '6.1.0-5-gone'), '1.0', 'installed', True, False, False)
    assert (action, outcome) == (None, 'failed') and '6.1.0-5-gone' in msg


def test_absent_without_version_covers_every_version(sandbox: Sandbox) -> None:
    sandbox.register('hello', '1.0')
    sandbox.register('hello', '2.0')
    sandbox.build('hello', '1.0', '6.1.0-9')
    assert cli.plan_kernel(view(sandbox, 'hello', '6.1.0-9'), None, 'absent', True, False, True)[0] == 'remove'
    assert cli.plan_kernel(view(sandbox, 'hello', '6.1.0-9'), '2.0', 'absent', True, False, True)[1] == 'already'


def test_snapshot_sees_installs_and_rebuilds(sandbox: Sandbox) -> None:
    sandbox.register('hello', '1.0')
    before = view(sandbox, 'hello', '6.1.0-9').snapshot()
    sandbox.build('hello', '1.0', '6.1.0-9')
    built = view(sandbox, 'hello', '6.1.0-9').snapshot()
    assert built != before
    module = sandbox.build('hello', '1.0', '6.1.0-9')
    os.utime(module, (time.time() + 10, time.time() + 10))
    assert view(sandbox, 'hello', '6.1.0-9').snapshot() != built


def test_lock_waits_then_names_the_holder(tmp_path: Path) -> None:
    path = str(tmp_path / 'run' / 'kabi-dkms.lock')
    with cli.DkmsLock(path, 5) as held:
        assert held.waited < 1
        start = time.time()
        with pytest.raises(cli.LockTimeout, match=f'pid {os.getpid()}'):
            with cli.DkmsLock(path, 0.5):
                pass
        assert time.time() - start >= 0.5
    with cli.DkmsLock(path, 0) as again:
        assert again.waited == 0


def test_lock_refuses_a_planted_symlink(tmp_path: Path) -> None:
    target = tmp_path / 'precious'
    target.write_text('keep')
    (tmp_path / 'kabi-dkms.lock').symlink_to(target)
    with pytest.raises(cli.LockError, match='cannot open the lock file'):
        with cli.DkmsLock(str(tmp_path / 'kabi-dkms.lock'), 0):
            pass
    assert target.read_text() == 'keep'


def test_lock_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / 'run' / 'kabi-dkms' / 'lock'
    path.parent.parent.mkdir()
    with cli.DkmsLock(str(path), 0):
        pass
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize('directory_mode, file_mode, owner, refused', [
    (0o1777, None, None, 'lock directory .* mode 1777'),     # /run/lock, /tmp
    (0o775, None, None, 'lock directory .* mode 0775'),
    (0o755, 0o644, None, 'lock file .* mode 0644'),           # what flock(1) creates
    (0o755, 0o600, NOBODY, 'lock file .* owned by uid %d' % NOBODY),
])
def test_lock_others_could_hold_is_refused(tmp_path: Path, directory_mode: int, file_mode: int | None,
                                           owner: int | None, refused: str) -> None:
    directory = tmp_path / 'locks'
    directory.mkdir()
    os.chmod(directory, directory_mode)
    lock = directory / 'lock'
    if file_mode is not None:
        lock.write_text('')
        os.chmod(lock, file_mode)
    if owner is not None:
        if os.geteuid() != 0:
            pytest.skip('needs root to give the file away')
        os.chown(lock, owner, owner)
    with pytest.raises(cli.LockError, match=refused):
        with cli.DkmsLock(str(lock), 0):
            pass


@pytest.mark.skipif(os.geteuid() != 0, reason='needs root to drop to nobody')
def test_another_user_cannot_hold_the_lock(tmp_path: Path) -> None:
    """Nobody cannot open the lock file, not even read-only (flock needs no more), nor plant one."""
    os.chmod(tmp_path, 0o755)
    path = tmp_path / 'kabi-dkms' / 'lock'
    with cli.DkmsLock(str(path), 0):
        pass
    os.chmod(path.parent, 0o755)  # even a directory others may read keeps the file to root
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 0
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            for flags in (os.O_RDONLY, os.O_RDWR, os.O_RDONLY | os.O_CREAT):
                try:
                    os.close(os.open(str(path), flags))
                    status = 1
                except PermissionError:
                    pass
            try:
                os.close(os.open(str(path.parent / 'other'), os.O_RDONLY | os.O_CREAT, 0o644))
                status = 1
            except PermissionError:
                pass
        finally:
            os._exit(status)
    assert os.waitpid(pid, 0)[1] == 0, 'nobody could open or plant a lock file'
    with cli.DkmsLock(str(path), 0) as held:
        assert held.waited == 0


def test_default_lock_file() -> None:
    assert cli.default_lock_file(None) == '/run/kabi-dkms/lock'
    assert cli.default_lock_file('/srv/sandbox/dkms/') == '/srv/sandbox/kabi-dkms.lock'
