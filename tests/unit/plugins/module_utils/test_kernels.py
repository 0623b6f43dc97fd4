# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel finder on real directory trees, and release ordering checked against rpm."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import subprocess
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator, List, Tuple

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._kernels import (
    WHOLE_KEPT,
    BlsEntry,
    Kernel,
    KernelConfig,
    KernelConfigGone,
    find_default,
    find_kernels,
    gather_kernels,
    parse_kconfig,
    running_release,
    read_kernel_config,
    sort_releases,
)
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.plugins.module_utils._vercmp import compare_releases
from ansible_collections.kabi.dkms.tests.unit.grub_fixtures import debian_grub_cfg
from ansible_collections.kabi.dkms.tests.unit.module_runner import run_command

# Kernel releases as distributions spell them, and the corner cases of rpm's rules.
CORPUS = [
    '6.1.0-9-amd64', '6.1.0-47-amd64', '6.1.0-47-amd64+clone', '6.1.0-47-amd64.clone',
    '6.1.0-56-amd64', '6.1.0-47-cloud-amd64', '5.14.0-427.el9.x86_64',
    '5.14.0-427.13.1.el9_4.x86_64', '5.14.0-503.el9.x86_64', '5.14.0-70.rt21.el9.x86_64',
    '4.18.0-553.el8_10.x86_64', '6.4.0-150600.21-default', '6.10.3-arch1-1',
    '1.0', '1.0.0', '1.0~rc1', '1.0~~', '1.0^git1', '1.0^', '1.0.1', '1.0a', '1.0.a',
    '1_0', '01.0', 'a', 'b', '1', '', '6.1.0-47-amd64 tëst', '6.1.0-47-amdé64',
]


def cmp(a: str, b: str) -> int:
    return compare_releases(a, b)


@pytest.mark.parametrize('older, newer', [
    ('6.1.0-9-amd64', '6.1.0-47-amd64'),
    # Segments left over win: a clone's release is newer than its base.
    ('6.1.0-47-amd64', '6.1.0-47-amd64+clone'),
    ('5.14.0-427.13.1.el9_4.x86_64', '5.14.0-503.el9.x86_64'),
    ('5.14.0-427.el9.x86_64', '5.14.0-427.13.1.el9_4.x86_64'),
    ('1.0~rc1', '1.0'),
    ('1.0~~', '1.0~rc1'),
    ('1.0', '1.0^git1'),
    ('1.0^git1', '1.0.1'),
    ('1.0a', '1.0.1'),  # a number is newer than letters
    ('a', '1'),
    ('', 'a'),
    ('9', '10'),
])
def test_compare_releases_orders(older: str, newer: str) -> None:
    assert cmp(older, newer) == -1
    assert cmp(newer, older) == 1


@pytest.mark.parametrize('a, b', [
    ('1.0', '1_0'),  # separators only separate
    ('01.0', '1.0'),  # leading zeros do not count
    ('1.0a', '1.0.a'),
    ('1.0', '1.0.'),
    ('6.1.0-47-amd64 tëst', '6.1.0-47-amd64.t.st'),  # non-ASCII is a separator, as in rpm
])
def test_compare_releases_equal(a: str, b: str) -> None:
    assert cmp(a, b) == 0
    assert cmp(b, a) == 0  # pylint: disable=arguments-out-of-order


def test_compare_releases_is_a_consistent_order() -> None:
    ordered = sort_releases(CORPUS)
    for i, a in enumerate(ordered):
        assert cmp(a, a) == 0
        for b in ordered[i + 1:]:
            assert cmp(a, b) <= 0, (a, b)
            assert cmp(a, b) == -cmp(b, a), (a, b)  # pylint: disable=arguments-out-of-order


def test_sort_releases_is_deterministic_for_rpm_equal_releases() -> None:
    assert sort_releases(['1_0', '1.0', '0.9']) == ['0.9', '1.0', '1_0']
    assert sort_releases(['1.0', '1_0', '0.9']) == ['0.9', '1.0', '1_0']
    assert sort_releases(iter(['6.1.0-56-amd64', '6.1.0-9-amd64', '6.1.0-47-amd64+clone',
                               '6.1.0-47-amd64'])) == [
        '6.1.0-9-amd64', '6.1.0-47-amd64', '6.1.0-47-amd64+clone', '6.1.0-56-amd64']


@pytest.mark.skipif(shutil.which('rpm') is None, reason='rpm is not installed')
def test_compare_releases_agrees_with_rpm() -> None:
    # rpm.vercmp parses epoch:version-release; a fixed epoch and release leave the whole
    # string to rpmvercmp.
    quoted = ', '.join('"0:%s-0"' % release for release in CORPUS)
    script = ('%%{lua: local v = {%s}; for i = 1, #v do for j = 1, #v do '
              'print(rpm.vercmp(v[i], v[j]) .. " ") end end}' % quoted)
    out = subprocess.run(['rpm', '--eval', script], check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    expected = [int(word) for word in out.split()]
    actual = [cmp(a, b) for a in CORPUS for b in CORPUS]
    assert actual == expected


# Building real roots.

def make(root: Path, path: str, text: str = '') -> Path:
    """A file inside root (parents created); a path ending in / is a directory."""
    target = root / path.lstrip('/')
    if path.endswith('/'):
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding='utf-8')
    return target


def link(root: Path, path: str, target: str) -> None:
    at = root / path.lstrip('/')
    at.parent.mkdir(parents=True, exist_ok=True)
    at.symlink_to(target)


def installed_kernel(root: Path, release: str, base: str = '/lib/modules') -> None:
    make(root, '/boot/vmlinuz-%s' % release)
    make(root, '%s/%s/kernel/fs/' % (base, release))
    make(root, '%s/%s/modules.order' % (base, release))


class Warnings(List[str]):
    def __call__(self, msg: str) -> None:
        self.append(msg)


def facts(root: Path, warn: Callable[[str], None] | None = None) -> dict:
    kernels = find_kernels(RootFS(str(root)), Warnings() if warn is None else warn)
    return {release: dict(kernel.as_fact(), modules_dir=kernel.modules_dir)
            for release, kernel in kernels.items()}


def test_merged_usr_lists_each_kernel_once(tmp_path: Path) -> None:
    installed_kernel(tmp_path, '6.1.0-47-amd64', base='/usr/lib/modules')
    link(tmp_path, '/lib', 'usr/lib')
    warnings = Warnings()
    found = facts(tmp_path, warnings)
    assert list(found) == ['6.1.0-47-amd64']
    assert found['6.1.0-47-amd64']['modules_dir'] == '/lib/modules/6.1.0-47-amd64'
    assert found['6.1.0-47-amd64']['installed'] is True
    assert warnings == []


def test_suse_usr_lib_modules_with_image_inside(tmp_path: Path) -> None:
    make(tmp_path, '/usr/lib/modules/6.4.0-150600.21-default/vmlinuz')
    make(tmp_path, '/usr/lib/modules/6.4.0-150600.21-default/symvers.gz')
    assert facts(tmp_path) == {'6.4.0-150600.21-default': {
        'installed': True, 'stale': False, 'headers': False, 'running': False,
        'default': False, 'modules_dir': '/usr/lib/modules/6.4.0-150600.21-default',
        'symvers': '/usr/lib/modules/6.4.0-150600.21-default/symvers.gz'}}


def test_separate_bases_prefer_the_installed_directory(tmp_path: Path) -> None:
    make(tmp_path, '/lib/modules/6.1.0-47-amd64/updates/dkms/hello.ko')
    make(tmp_path, '/usr/lib/modules/6.1.0-47-amd64/modules.builtin')
    make(tmp_path, '/lib/modules/6.1.0-50-amd64/kernel/')
    make(tmp_path, '/usr/lib/modules/6.1.0-50-amd64/kernel/')
    found = facts(tmp_path)
    assert found['6.1.0-47-amd64']['modules_dir'] == '/usr/lib/modules/6.1.0-47-amd64'
    assert found['6.1.0-50-amd64']['modules_dir'] == '/lib/modules/6.1.0-50-amd64'


def test_stale_leftover_with_only_updates(tmp_path: Path) -> None:
    make(tmp_path, '/lib/modules/6.1.0-9-amd64/updates/dkms/hello.ko')
    make(tmp_path, '/lib/modules/6.1.0-9-amd64/weak-updates/')
    make(tmp_path, '/lib/modules/6.1.0-9-amd64/modules.dep')
    fact = facts(tmp_path)['6.1.0-9-amd64']
    assert (fact['installed'], fact['stale'], fact['headers']) == (False, True, False)


@pytest.mark.parametrize('evidence', [
    '/boot/vmlinuz-K', '/lib/modules/K/vmlinuz', '/lib/modules/K/kernel/',
    '/lib/modules/K/modules.order', '/lib/modules/K/modules.builtin',
])
def test_each_piece_of_evidence_makes_a_kernel_installed(tmp_path: Path, evidence: str) -> None:
    make(tmp_path, '/lib/modules/K/updates/')
    make(tmp_path, evidence)
    assert facts(tmp_path)['K']['installed'] is True


def test_headers_only_kernel_is_not_stale(tmp_path: Path) -> None:
    # An absolute build link resolves inside root; this path exists on no host.
    headers = '/usr/src/kabi-test-headers-6.1.0-50-amd64'
    make(tmp_path, headers + '/include/linux/')
    make(tmp_path, headers + '/Module.symvers')
    link(tmp_path, '/lib/modules/6.1.0-50-amd64/build', headers)
    fact = facts(tmp_path)['6.1.0-50-amd64']
    assert (fact['installed'], fact['stale'], fact['headers']) == (False, False, True)
    assert fact['symvers'] == '/lib/modules/6.1.0-50-amd64/build/Module.symvers'


def test_dangling_build_link_means_no_headers(tmp_path: Path) -> None:
    installed_kernel(tmp_path, '6.1.0-47-amd64')
    link(tmp_path, '/lib/modules/6.1.0-47-amd64/build', '/usr/src/linux-headers-gone')
    fact = facts(tmp_path)['6.1.0-47-amd64']
    assert (fact['headers'], fact['symvers']) == (False, None)


def test_build_link_never_leaves_root(tmp_path: Path) -> None:
    root = tmp_path / 'root'
    make(tmp_path, '/outside/include/linux/')
    make(tmp_path, '/outside/Module.symvers')
    installed_kernel(root, '6.1.0-47-amd64')
    # On the host this climbs out of root to tmp_path/outside; inside root `..` stops at /.
    link(root, '/lib/modules/6.1.0-47-amd64/build', '../../../../../../outside')
    fact = facts(root)['6.1.0-47-amd64']
    assert (fact['headers'], fact['symvers']) == (False, None)


def test_symvers_first_source_wins(tmp_path: Path) -> None:
    release = '5.14.0-427.el9.x86_64'
    installed_kernel(tmp_path, release)
    make(tmp_path, '/lib/modules/%s/build/include/' % release)
    make(tmp_path, '/lib/modules/%s/build/Module.symvers' % release)
    make(tmp_path, '/lib/modules/%s/symvers.xz' % release)
    assert facts(tmp_path)[release]['symvers'] == '/lib/modules/%s/symvers.xz' % release
    make(tmp_path, '/boot/symvers-%s.xz' % release)
    assert facts(tmp_path)[release]['symvers'] == '/boot/symvers-%s.xz' % release
    make(tmp_path, '/boot/symvers-%s.gz' % release)
    assert facts(tmp_path)[release]['symvers'] == '/boot/symvers-%s.gz' % release


def test_names_with_spaces_and_non_ascii(tmp_path: Path) -> None:
    release = '6.1.0-47-amd64 tëst'
    installed_kernel(tmp_path, release)
    assert facts(tmp_path)[release]['installed'] is True


def test_undecodable_name_is_skipped_with_a_warning(tmp_path: Path) -> None:
    installed_kernel(tmp_path, '6.1.0-47-amd64')
    os.mkdir(os.fsencode(tmp_path / 'lib/modules') + b'/6.1.0-\xff-amd64')
    warnings = Warnings()
    assert list(facts(tmp_path, warnings)) == ['6.1.0-47-amd64']
    assert len(warnings) == 1 and 'does not decode' in warnings[0]


def test_only_directories_count(tmp_path: Path) -> None:
    installed_kernel(tmp_path, '6.1.0-47-amd64')
    make(tmp_path, '/lib/modules/README')
    link(tmp_path, '/lib/modules/6.1.0-1-amd64', '/nowhere')
    link(tmp_path, '/lib/modules/loop', 'loop')
    link(tmp_path, '/lib/modules/6.1.0-47-amd64-alias', '6.1.0-47-amd64')
    warnings = Warnings()
    assert sorted(facts(tmp_path, warnings)) == ['6.1.0-47-amd64', '6.1.0-47-amd64-alias']
    assert warnings == []


def test_missing_module_bases_find_nothing(tmp_path: Path) -> None:
    warnings = Warnings()
    assert facts(tmp_path, warnings) == {}
    assert warnings == []


def run_unprivileged(task: Callable[[], Any]) -> Any:
    """``task()`` as an unprivileged user, so permission bits are enforced even for root.

    As root the task runs in a forked child that drops to nobody and sends its JSON
    result back through a pipe.
    """
    if os.geteuid() != 0:
        return task()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        status = 1
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            with os.fdopen(writer, 'w') as out:
                json.dump(task(), out)
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(writer)
    with os.fdopen(reader) as result:
        text = result.read()
    assert os.waitpid(pid, 0)[1] == 0
    return json.loads(text)


def find_unprivileged(root: Path) -> Tuple[List[str], List[str]]:
    """Releases found and warnings given when an unprivileged user reads root."""
    def task() -> Tuple[List[str], List[str]]:
        warnings = Warnings()
        return sorted(find_kernels(RootFS(str(root)), warnings)), list(warnings)

    found, warnings = run_unprivileged(task)
    return found, warnings


@pytest.fixture
def world_readable_tmp() -> Iterator[Path]:
    """A temporary directory an unprivileged user can reach (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix='kabi-kernels-'))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(str(path))


@contextlib.contextmanager
def unreadable(path: Path) -> Iterator[None]:
    path.chmod(0)
    try:
        yield
    finally:
        path.chmod(0o755)


def test_unreadable_kernel_directory_warns_once(world_readable_tmp: Path) -> None:
    root = world_readable_tmp
    installed_kernel(root, '6.1.0-47-amd64')
    installed_kernel(root, '6.1.0-50-amd64')

    with unreadable(root / 'lib/modules/6.1.0-50-amd64'):
        found, warnings = find_unprivileged(root)
    assert found == ['6.1.0-47-amd64']
    assert len(warnings) == 1
    assert '/lib/modules/6.1.0-50-amd64' in warnings[0]


def test_unreadable_module_base_warns_once(world_readable_tmp: Path) -> None:
    root = world_readable_tmp
    installed_kernel(root, '6.1.0-47-amd64', base='/usr/lib/modules')

    with unreadable(root / 'usr/lib/modules'):
        found, warnings = find_unprivileged(root)
    assert found == []
    assert len(warnings) == 1
    assert '/usr/lib/modules' in warnings[0]


# The default kernel.

def known(*releases: str, stale: Tuple[str, ...] = ()) -> dict:
    return {release: Kernel(release, '/lib/modules/' + release, installed=release not in stale)
            for release in releases + stale}


def bls_entry(root: Path, entry_id: str, release: str, version: str | None = None) -> None:
    lines = ['title Red Hat Enterprise Linux (%s) 9.4 (Plow)' % release]
    if version is not None:
        lines.append('version %s' % version)
    lines += ['linux /vmlinuz-%s' % release, 'initrd /initramfs-%s.img' % release,
              'options root=/dev/mapper/rhel-root ro', 'grub_users $grub_users']
    make(root, '/boot/loader/entries/%s.conf' % entry_id, '\n'.join(lines) + '\n')


MACHINE = '0123456789abcdef0123456789abcdef'
OLD, NEW = '5.14.0-427.13.1.el9_4.x86_64', '5.14.0-503.el9.x86_64'


# The head of RHEL 8's and 9's grub.cfg (00_header, GRUB_DEFAULT=saved).
RHEL_HEADER = ('if [ -f ${config_directory}/grubenv ]; then\n  load_env -f ${config_directory}/grubenv\n'
               'elif [ -s $prefix/grubenv ]; then\n  load_env\nfi\n'
               'if [ "${next_entry}" ] ; then\n   set default="${next_entry}"\n   set next_entry=\n'
               '   save_env next_entry\n   set boot_once=true\nelse\n   set default="${saved_entry}"\nfi\n')


@pytest.fixture
def bls_root(tmp_path: Path) -> Path:
    for release in (OLD, NEW):
        bls_entry(tmp_path, '%s-%s' % (MACHINE, release), release, version=release)
    bls_entry(tmp_path, '%s-0-rescue' % MACHINE, '0-rescue-' + MACHINE, version='0-rescue')
    make(tmp_path, '/boot/grub2/grub.cfg', RHEL_HEADER + 'blscfg\n')
    return tmp_path


def grubenv(root: Path, path: str, saved_entry: str) -> None:
    body = '# GRUB Environment Block\nsaved_entry=%s\nkernelopts=root=/dev/sda1 ro\n' % saved_entry
    make(root, path, body + '#' * (1024 - len(body)))


def test_grubenv_saved_entry_resolves_through_bls(bls_root: Path) -> None:
    grubenv(bls_root, '/boot/grub2/grubenv', '%s-%s' % (MACHINE, OLD))
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (OLD, 'grubenv')
    # GRUB reads the grubenv beside its grub.cfg, not another one.
    grubenv(bls_root, '/boot/grub/grubenv', '%s-%s' % (MACHINE, NEW))
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (OLD, 'grubenv')


@pytest.mark.parametrize('grub_cfg', ['', '# nothing\n', 'set default=0\nload_env\n'])
@pytest.mark.parametrize('with_bls', [True, False])
def test_a_grub_cfg_without_a_menu_boots_nothing(bls_root: Path, grub_cfg: str, with_bls: bool) -> None:
    # GRUB stops at its prompt (grub-emu: an empty file, a comment, commands and no entry).
    if not with_bls:
        shutil.rmtree(bls_root / 'boot/loader')
    make(bls_root, '/boot/grub2/grub.cfg', grub_cfg)
    kernels = known(OLD, NEW)
    for release in kernels:
        make(bls_root, '/boot/vmlinuz-%s' % release, '')
    assert find_default(RootFS(str(bls_root)), kernels) == (None, None)


def test_bls_entries_without_a_grub_cfg_leave_the_default_untold(bls_root: Path) -> None:
    # systemd-boot picks one by its own rules (loader.conf, EFI variables, sort keys).
    grubenv(bls_root, '/boot/grub2/grubenv', '%s-%s' % (MACHINE, OLD))
    (bls_root / 'boot/grub2/grub.cfg').unlink()
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (None, None)


def test_a_one_shot_next_entry_comes_before_saved_entry(bls_root: Path) -> None:
    # grub2-reboot sets next_entry, which grub.cfg boots once before saved_entry.
    body = '# GRUB Environment Block\nsaved_entry=%s-%s\nnext_entry=%s-%s\n' % (MACHINE, NEW, MACHINE, OLD)
    make(bls_root, '/boot/grub2/grubenv', body + '#' * (1024 - len(body)))
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (OLD, 'grubenv')


@pytest.mark.parametrize(('default', 'expected'), [
    ('set default="${saved_entry}"', (OLD, 'grubenv')),    # GRUB_DEFAULT=saved
    ('set default="0"', (NEW, 'bls')),                     # GRUB_DEFAULT=0: a stale saved_entry is not read
])
def test_saved_entry_counts_only_where_grub_cfg_boots_it(bls_root: Path, default: str, expected: tuple) -> None:
    grubenv(bls_root, '/boot/grub2/grubenv', '%s-%s' % (MACHINE, OLD))
    header = 'load_env\nif [ "${next_entry}" ] ; then\n   set default="${next_entry}"\nelse\n   %s\nfi\n' % default
    make(bls_root, '/boot/grub2/grub.cfg', header + 'blscfg\n')
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == expected
    # A one-shot next_entry is booted whatever GRUB_DEFAULT says.
    body = '# GRUB Environment Block\nnext_entry=%s-%s\n' % (MACHINE, OLD)
    make(bls_root, '/boot/grub2/grubenv', body + '#' * (1024 - len(body)))
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (OLD, 'grubenv')


MENU_X = "menuentry 'x' {\n  true\n}\n"


@pytest.mark.parametrize(('saved', 'before', 'after', 'expected'), [
    ('1', '', '', (OLD, 'grubenv')),                             # grub2-set-default 1: the second, newest first
    ('Red Hat Enterprise Linux (%s) 9.4 (Plow)' % OLD, '', '', (OLD, 'grubenv')),    # a title
    ('9', '', '', (NEW, 'bls')),                                 # past every entry: GRUB starts the first
    ('2', '', '', (None, None)),                                 # the rescue entry
    ('1', MENU_X, '', (None, None)),                             # entries before blscfg count too
    ('3', '', MENU_X, (None, None)),                             # after NEW, OLD and the rescue entry
    ('x', '', MENU_X, (None, None)),                             # grub.cfg's own entry
    ('stale-id', '', MENU_X, (NEW, 'bls')),                      # names nothing: GRUB starts the first
    ('stale-id', '', 'if [ "$grub_platform" = efi ]; then\n' + MENU_X + 'fi\n', (NEW, 'bls')),  # RHEL 9's firmware entry
    # The title's first word is the id of an entry, so GRUB refuses the value and starts the
    # first; without that entry (in a condition) the value is the title. A one-letter id never matches.
    ('Red Hat Enterprise Linux (%s) 9.4 (Plow)' % OLD, '', MENU_X.replace("'x'", "'Red'"), (NEW, 'bls')),
    ('Red Hat Enterprise Linux (%s) 9.4 (Plow)' % OLD, '', 'if [ "$y" ]; then\n%sfi\n' % MENU_X.replace("'x'", "'Red'"),
     (None, None)),
    ('R Hat', '', MENU_X.replace("'x'", "'R'") + MENU_X.replace("'x'", "'R Hat'"), (None, None)),   # the title 'R Hat'
])
def test_a_saved_entry_read_as_red_hats_grub_reads_it(bls_root: Path, saved: str, before: str, after: str,
                                                      expected: tuple) -> None:
    grubenv(bls_root, '/boot/grub2/grubenv', saved)
    make(bls_root, '/boot/grub2/grub.cfg', 'load_env\nset default="${saved_entry}"\n' + before + 'blscfg\n' + after)
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == expected


@pytest.mark.parametrize('make_it', [
    lambda path: path.mkdir(),
    lambda path: os.mkfifo(str(path)),
    lambda path: path.symlink_to('/boot/loader/gone.conf'),
])
def test_what_is_no_file_is_no_bls_entry(bls_root: Path, make_it: Callable[[Path], None]) -> None:
    # GRUB cannot open it, and lists nothing for it.
    make_it(bls_root / ('boot/loader/entries/%s-9.9.conf' % MACHINE))
    grubenv(bls_root, '/boot/grub2/grubenv', '%s-%s' % (MACHINE, OLD))
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (OLD, 'grubenv')


def test_a_bls_entry_that_cannot_be_read_may_be_the_default(bls_root: Path) -> None:
    grubenv(bls_root, '/boot/grub2/grubenv', '%s-%s' % (MACHINE, OLD))
    entry = bls_root / ('boot/loader/entries/%s-%s.conf' % (MACHINE, OLD))
    entry.write_text(entry.read_text() + '#' * 70000)     # GRUB reads it; this reading stops at 64 KiB
    warnings: List[str] = []
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW), warn=warnings.append) == (None, None)
    assert warnings


def test_bls_top_entry_without_saved_entry(bls_root: Path) -> None:
    grubenv(bls_root, '/boot/grub2/grubenv', 'no-such-entry')
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (NEW, 'bls')


def test_bls_ranks_entry_ids_the_rpm_way(tmp_path: Path) -> None:
    # As text, "-70." sorts after "-503."; grub's blscfg compares the numbers.
    rt = '5.14.0-70.rt21.el9.x86_64'
    for release in (rt, NEW):
        bls_entry(tmp_path, '%s-%s' % (MACHINE, release), release)
    make(tmp_path, '/boot/grub2/grub.cfg', RHEL_HEADER + 'blscfg\n')
    assert find_default(RootFS(str(tmp_path)), known(rt, NEW)) == (NEW, 'bls')


def test_bls_entry_in_systemd_boot_layout_names_its_version(tmp_path: Path) -> None:
    # kernel-install's layout for systemd-boot names the kernel only in `version`.
    make(tmp_path, '/boot/loader/entries/%s-%s.conf' % (MACHINE, NEW),
         'title Fedora\nversion %s\nlinux /%s/%s/linux\n' % (NEW, MACHINE, NEW))
    make(tmp_path, '/boot/grub2/grub.cfg', RHEL_HEADER + 'blscfg\n')
    assert find_default(RootFS(str(tmp_path)), known(OLD, NEW)) == (NEW, 'bls')


@pytest.mark.parametrize('grub_cfg', [None, RHEL_HEADER + 'blscfg\n'])
@pytest.mark.parametrize('saved', ['%s-0-rescue' % MACHINE, '%s-%s' % (MACHINE, NEW), ''])
def test_a_default_bls_entry_that_boots_no_kernel_under_root_leaves_it_untold(
        bls_root: Path, grub_cfg: str | None, saved: str) -> None:
    # GRUB starts the entry named (a rescue kernel, a kernel whose modules are gone), or the
    # first: the newest kernel under root is not the one that boots.
    grubenv(bls_root, '/boot/grub2/grubenv', saved)
    if grub_cfg is not None:
        make(bls_root, '/boot/grub2/grub.cfg', grub_cfg)
    assert find_default(RootFS(str(bls_root)), known(OLD)) == (None, None)


def test_a_one_shot_next_entry_that_names_nothing_starts_the_first(bls_root: Path) -> None:
    # grub.cfg sets default to next_entry whatever it holds; saved_entry is not read then.
    body = '# GRUB Environment Block\nsaved_entry=%s-%s\nnext_entry=no-such-entry\n' % (MACHINE, OLD)
    make(bls_root, '/boot/grub2/grubenv', body + '#' * (1024 - len(body)))
    make(bls_root, '/boot/grub2/grub.cfg', RHEL_HEADER + 'blscfg\n')
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (NEW, 'bls')


@pytest.mark.parametrize(('default', 'expected'), [
    ('1', (OLD, 'bls')),                                                # GRUB_DEFAULT=1
    ('Red Hat Enterprise Linux (%s) 9.4 (Plow)' % OLD, (OLD, 'bls')),  # GRUB_DEFAULT=a title
    ('custom', (NEW, 'grub')),                                          # an entry of 40_custom's that boots NEW
])
def test_the_bls_entry_grub_cfg_makes_the_default(bls_root: Path, default: str, expected: tuple) -> None:
    grubenv(bls_root, '/boot/grub2/grubenv', '%s-%s' % (MACHINE, NEW))
    custom = "menuentry 'custom' {\n  linux /vmlinuz-%s ro\n}\n" % NEW
    make(bls_root, '/boot/grub2/grub.cfg', RHEL_HEADER.replace('${saved_entry}', default) + 'blscfg\n' + custom)
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == expected


def test_a_bls_entry_as_systemd_boot_and_as_blscfg_read_it() -> None:
    entry = BlsEntry('# comment\r\n  title\tAB\r\nversion  6.1 \noptions a\noptions b\n\nlinux /vmlinuz-6.2\n')
    assert entry.lines == {'title': ['AB'], 'version': ['6.1'], 'options': ['a', 'b'], 'linux': ['/vmlinuz-6.2']}
    # The first of each key, cut at the tab where the line has no space, up to the blank line.
    assert entry.blscfg == {'title': 'AB', 'version': '6.1 ', 'options': 'a'}
    assert (entry.release(), entry.blscfg_release()) == ('6.2', '6.1')


def test_an_entry_blscfg_does_not_list_is_not_counted(bls_root: Path) -> None:
    # blscfg stops reading at the blank line, finds no linux key and lists no such entry.
    middle = '5.14.0-450.el9.x86_64'
    make(bls_root, '/boot/loader/entries/%s-%s.conf' % (MACHINE, middle),
         'title Red Hat Enterprise Linux (%s) 9.4 (Plow)\n\nlinux /vmlinuz-%s\n' % (middle, middle))
    make(bls_root, '/boot/grub2/grub.cfg', RHEL_HEADER + 'blscfg\n')
    for saved in ('1', 'Red Hat Enterprise Linux (%s) 9.4 (Plow)' % middle, '%s-%s' % (MACHINE, middle)):
        grubenv(bls_root, '/boot/grub2/grubenv', saved)
        expected = (OLD, 'grubenv') if saved == '1' else (NEW, 'bls')     # else it names nothing GRUB lists
        assert find_default(RootFS(str(bls_root)), known(OLD, middle, NEW)) == expected


R305, R513 = '4.18.0-305.el8.x86_64', '4.18.0-513.el8.x86_64'


@pytest.mark.parametrize(('versions', 'platform', 'saved', 'expected'), [
    (True, None, '', (None, None)),             # RHEL 8 lists 513 first (versions), RHEL 9 305 (ids)
    (True, None, '1', (None, None)),
    (True, None, '1f0e-' + R513, (R513, 'grubenv')),
    (False, None, '', (R305, 'bls')),           # both by id
    (True, 'PLATFORM_ID="platform:el8"', '', (R513, 'bls')),       # os-release tells which GRUB it is
    (True, 'PLATFORM_ID="platform:el8"', '1', (R305, 'grubenv')),
    (True, "PLATFORM_ID='platform:el9'", '', (R305, 'bls')),
    (True, 'PLATFORM_ID=platform:f41', '', (R305, 'bls')),
    (True, 'PLATFORM_ID="platform:f31"', '', (R305, 'bls')),
    (True, 'PLATFORM_ID="platform:f29"', '', (R513, 'bls')),
    (True, 'PLATFORM_ID="platform:al2023"', '', (None, None)),  # another GRUB: not told
    (True, 'PLATFORM_ID="platform:el8"\nPLATFORM_ID="platform:el9"', '', (R305, 'bls')),   # the last one counts
])
def test_the_orders_rhel_8_and_9_list_bls_entries_in(tmp_path: Path, versions: bool, platform: str | None,
                                                     saved: str, expected: tuple) -> None:
    # A cloud image: its first kernel's entry has the image's machine id, later ones the host's.
    for machine, release in (('9c1a', R305), ('1f0e', R513)):
        bls_entry(tmp_path, '%s-%s' % (machine, release), release, version=release if versions else None)
    make(tmp_path, '/boot/grub2/grub.cfg', RHEL_HEADER + 'blscfg\n')
    grubenv(tmp_path, '/boot/grub2/grubenv', saved)
    if platform is not None:
        make(tmp_path, '/etc/os-release', 'NAME="Linux"\n%s\nVERSION_ID="8.10"\n' % platform)
    assert find_default(RootFS(str(tmp_path)), known(R305, R513)) == expected


@pytest.mark.parametrize(('platform', 'expected'), [
    ('el9', ('6.12.0-55.el10', 'bls')),         # an entry without a linux key is not listed
    ('el10', (None, None)),                     # 10.0's GRUB does not list it, later ones start it first
    ('f45', (None, None)),
])
def test_an_entry_of_a_unified_kernel_image(tmp_path: Path, platform: str, expected: tuple) -> None:
    bls_entry(tmp_path, 'm-6.12.0-55.el10', '6.12.0-55.el10')
    make(tmp_path, '/boot/loader/entries/m-6.12.0-60.el10.conf', 'title UKI\nversion 6.12.0-60.el10\nefi /EFI/Linux/uki.efi\n')
    make(tmp_path, '/boot/grub2/grub.cfg', RHEL_HEADER + 'blscfg\n')
    make(tmp_path, '/etc/os-release', 'PLATFORM_ID="platform:%s"\n' % platform)
    assert find_default(RootFS(str(tmp_path)), known('6.12.0-55.el10', '6.12.0-60.el10')) == expected


def test_fedora_30_ranks_by_id_with_plus_a_separator(tmp_path: Path) -> None:
    # Fedora 30's blscfg: by file name, '+' read as any separator: 5.0.0-1+1 after 5.0.0-1a.
    for release, version in (('5.0.0-1+1.fc30.x86_64', '5.0.0-1'), ('5.0.0-1a.fc30.x86_64', '5.0.0-2')):
        bls_entry(tmp_path, 'm-%s' % release, release, version=version)
    make(tmp_path, '/boot/grub2/grub.cfg', RHEL_HEADER + 'blscfg\n')
    make(tmp_path, '/etc/os-release', 'PLATFORM_ID="platform:f30"\n')
    assert find_default(RootFS(str(tmp_path)), known('5.0.0-1+1.fc30.x86_64', '5.0.0-1a.fc30.x86_64')) == \
        ('5.0.0-1+1.fc30.x86_64', 'bls')


def test_a_locally_built_kernel_sorts_as_blscfg_sorts_it(tmp_path: Path) -> None:
    # RHEL 9's blscfg: "6.8.0+" after "6.8.0" (rpm: the same); RHEL 8's: the same, so not told.
    for release in ('6.8.0+', '6.8.0-300.fc40.x86_64'):
        bls_entry(tmp_path, 'm-%s' % release, release)
    make(tmp_path, '/boot/grub2/grub.cfg', RHEL_HEADER + 'blscfg\n')
    kernels = known('6.8.0+', '6.8.0-300.fc40.x86_64')
    assert find_default(RootFS(str(tmp_path)), kernels) == (None, None)
    make(tmp_path, '/etc/os-release', 'PLATFORM_ID="platform:f40"\n')
    assert find_default(RootFS(str(tmp_path)), kernels) == ('6.8.0+', 'bls')


@pytest.mark.parametrize(('name', 'saved'), [
    ('%s-%s.conf.conf' % (MACHINE, OLD), b''),          # blscfg's search for ".conf" in the name never ends
    ('%s-%s.conf' % (MACHINE, OLD), b'RHEL \xfe'),      # bytes that are no UTF-8: GRUB compares the bytes
])
def test_names_grubs_reading_does_not_tell(bls_root: Path, name: str, saved: bytes) -> None:
    (bls_root / ('boot/loader/entries/%s-%s.conf' % (MACHINE, OLD))).unlink()
    (bls_root / 'boot/loader/entries' / name).write_bytes(b'title RHEL \xff\nlinux /vmlinuz-%s\n' % OLD.encode())
    body = b'# GRUB Environment Block\nsaved_entry=%s\n' % saved
    (bls_root / 'boot/grub2/grubenv').write_bytes(body + b'#' * (1024 - len(body)))
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (None, None)


def test_a_blank_bls_title_is_the_entrys_title(bls_root: Path) -> None:
    # blscfg takes the linux path as the title only where there is no title line.
    make(bls_root, '/boot/loader/entries/%s-%s.conf' % (MACHINE, OLD), 'title   \nlinux /vmlinuz-%s\n' % OLD)
    grubenv(bls_root, '/boot/grub2/grubenv', '/vmlinuz-%s' % OLD)
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (NEW, 'bls')
    make(bls_root, '/boot/loader/entries/%s-%s.conf' % (MACHINE, OLD), 'linux /vmlinuz-%s\n' % OLD)
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (OLD, 'grubenv')


def test_bls_entries_that_grub_cfg_does_not_list_do_not_count(bls_root: Path) -> None:
    # GRUB_ENABLE_BLSCFG=false: grub.cfg lists its own entries, and kernel-install still writes BLS ones.
    entries = ''.join("menuentry 'Red Hat Enterprise Linux Server (%s)' {\n  linux /vmlinuz-%s ro\n}\n"
                      % (release, release) for release in (NEW, OLD))
    grubenv(bls_root, '/boot/grub2/grubenv', 'Red Hat Enterprise Linux Server (%s)' % OLD)
    make(bls_root, '/boot/grub2/grub.cfg', RHEL_HEADER + entries)
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (OLD, 'grubenv')


@pytest.mark.parametrize('path', ['/boot/efi/loader/loader.conf', '/efi/loader/entries/Pop_OS-current.conf'])
def test_systemd_boot_s_choice_is_not_guessed(tmp_path: Path, path: str) -> None:
    # Pop!_OS: systemd-boot's files on the EFI system partition, no grub.cfg.
    make(tmp_path, path, 'default Pop_OS-current\n')
    assert find_default(RootFS(str(tmp_path)), known('6.1.0-9-amd64', '6.1.0-47-amd64')) == (None, None)


def test_newest_installed_kernel_without_boot_entries(tmp_path: Path) -> None:
    kernels = known('6.1.0-9-amd64', '6.1.0-47-amd64', stale=('6.1.0-56-amd64',))
    assert find_default(RootFS(str(tmp_path)), kernels) == ('6.1.0-47-amd64', 'newest')
    assert find_default(RootFS(str(tmp_path)), known(stale=('6.1.0-56-amd64',))) == (None, None)


DEBIAN_OLD, DEBIAN_NEW = '6.1.0-13-amd64', '6.1.0-18-amd64'
DEBIAN_ADVANCED = 'Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux '


def debian_root(tmp_path: Path, grub_default: str, grubenv_lines: str = '') -> RootFS:
    """A root whose grub.cfg update-grub wrote for both kernels, and whose grubenv holds ``grubenv_lines``."""
    work = tmp_path / 'work'
    work.mkdir()
    make(tmp_path / 'root', '/boot/grub/grub.cfg', debian_grub_cfg(work, (DEBIAN_OLD, DEBIAN_NEW), grub_default))
    body = '# GRUB Environment Block\n' + grubenv_lines
    make(tmp_path / 'root', '/boot/grub/grubenv', body + '#' * (1024 - len(body)))
    return RootFS(str(tmp_path / 'root'))


@pytest.mark.parametrize(('grub_default', 'grubenv_lines', 'expected'), [
    ('0', '', (DEBIAN_NEW, 'grub')),                      # Debian's own default: the first entry
    ('1>2', '', (DEBIAN_OLD, 'grub')),                    # the advanced entries: newest, its recovery, older
    ('saved', 'saved_entry=%s%s\n' % (DEBIAN_ADVANCED, DEBIAN_OLD), (DEBIAN_OLD, 'grubenv')),
    ('saved', '', (DEBIAN_NEW, 'grub')),                  # nothing saved yet: the first entry
    ('saved', 'saved_entry=1>2\nnext_entry=1>0\n', (DEBIAN_NEW, 'grubenv')),   # grub-reboot wins once
    ('0', 'next_entry=1>2\n', (DEBIAN_OLD, 'grubenv')),
])
def test_debian_grub_menu_names_the_next_boot(tmp_path: Path, grub_default: str, grubenv_lines: str,
                                              expected: tuple) -> None:
    assert find_default(debian_root(tmp_path, grub_default, grubenv_lines), known(DEBIAN_OLD, DEBIAN_NEW)) == expected


def test_a_grub_default_that_boots_no_kernel_here_is_not_the_newest(tmp_path: Path) -> None:
    # The saved entry boots a kernel whose modules are gone: no kernel under root is next, none is guessed.
    rootfs = debian_root(tmp_path, 'saved', 'saved_entry=%s%s\n' % (DEBIAN_ADVANCED, DEBIAN_OLD))
    assert find_default(rootfs, known(DEBIAN_NEW)) == (None, None)


def test_a_custom_cfg_grub_sources_may_change_the_next_boot(tmp_path: Path) -> None:
    rootfs = debian_root(tmp_path, '0')
    make(tmp_path / 'root', '/boot/grub/custom.cfg', "menuentry 'Custom' {\n  linux /vmlinuz-custom\n}\n")
    warnings: List[str] = []
    assert find_default(rootfs, known(DEBIAN_OLD, DEBIAN_NEW), warn=warnings.append) == (None, None)
    assert warnings == ['/boot/grub/grub.cfg: which entry GRUB starts next is not told: its default depends on what '
                        'grub.cfg does out of sight (a condition, a function, a sourced file)']


def test_an_environment_block_that_cannot_be_read_is_not_taken_for_empty(tmp_path: Path) -> None:
    rootfs = debian_root(tmp_path, 'saved')
    (tmp_path / 'root/boot/grub/grubenv').unlink()
    (tmp_path / 'root/boot/grub/grubenv').mkdir()     # there, but no file: load_env's variables are not told
    warnings: List[str] = []
    assert find_default(rootfs, known(DEBIAN_OLD, DEBIAN_NEW), warn=warnings.append) == (None, None)
    assert warnings[0].startswith('cannot read /boot/grub/grubenv: ')
    assert warnings[1:] == ['/boot/grub/grub.cfg: which entry GRUB starts next is not told: its default depends on '
                            'what grub.cfg does out of sight (a condition, a function, a sourced file)']


def test_an_unreadable_environment_block_leaves_the_bls_default_untold(bls_root: Path) -> None:
    (bls_root / 'boot/grub2/grubenv').mkdir(parents=True)
    assert find_default(RootFS(str(bls_root)), known(OLD, NEW)) == (None, None)


def test_a_grub_cfg_of_endless_entries_is_read_no_further(tmp_path: Path) -> None:
    make(tmp_path, '/boot/grub/grub.cfg', "menuentry 'a' {\n  linux /a\n}\n" * 5000)
    warnings: List[str] = []
    assert find_default(RootFS(str(tmp_path)), known(DEBIAN_OLD), warn=warnings.append) == (None, None)
    assert warnings == ['/boot/grub/grub.cfg: which entry GRUB starts next is not told: more than 4096 menu entries, '
                        'more than GRUB\'s tools write']


def test_a_grub_cfg_that_cannot_be_read_tells_no_next_boot(tmp_path: Path) -> None:
    make(tmp_path, '/boot/grub/grub.cfg', '#' * (4 * 1024 * 1024 + 1))
    warnings: List[str] = []
    assert find_default(RootFS(str(tmp_path)), known(DEBIAN_OLD), warn=warnings.append) == (None, None)
    assert warnings == ['cannot read /boot/grub/grub.cfg: larger than 4194304 bytes, the limit for this kind of file']


def test_a_grub_default_that_cannot_be_told_is_not_the_newest(tmp_path: Path) -> None:
    make(tmp_path, '/boot/grub/grub.cfg', 'if [ "$grub_platform" = efi ]; then\n  menuentry x {\n    true\n  }\nfi\n'
         'menuentry a {\n  linux /boot/vmlinuz-%s\n}\nset default=1\n' % DEBIAN_OLD)
    assert find_default(RootFS(str(tmp_path)), known(DEBIAN_OLD, DEBIAN_NEW)) == (None, None)


RHEL7 = ('3.10.0-1160.el7.x86_64', '3.10.0-1160.119.1.el7.x86_64')
RHEL7_MENU = 'load_env\nset default="${saved_entry}"\n' + ''.join(
    "menuentry 'Red Hat Enterprise Linux Server (%s) 7.9 (Maipo)' {\n  linuxefi /vmlinuz-%s root=/dev/sda2\n}\n"
    % (release, release) for release in reversed(RHEL7))


def rhel7_on_efi(root: Path) -> None:
    """RHEL 7 on EFI: its menu and grubenv are in /boot/efi/EFI/redhat, GRUB_DEFAULT=saved."""
    make(root, '/boot/efi/EFI/redhat/grub.cfg', RHEL7_MENU)
    body = '# GRUB Environment Block\nsaved_entry=Red Hat Enterprise Linux Server (%s) 7.9 (Maipo)\n' % RHEL7[0]
    make(root, '/boot/efi/EFI/redhat/grubenv', body + '#' * (1024 - len(body)))
    make(root, '/boot/efi/EFI/BOOT/BOOTX64.EFI', 'shim')


def test_a_grub_cfg_only_on_the_efi_system_partition(tmp_path: Path) -> None:
    rhel7_on_efi(tmp_path)
    assert find_default(RootFS(str(tmp_path)), known(*RHEL7)) == (RHEL7[0], 'grubenv')
    # A grub.cfg in two vendor directories: which one runs is not told.
    make(tmp_path, '/boot/efi/EFI/centos/grub.cfg', RHEL7_MENU)
    warnings: List[str] = []
    assert find_default(RootFS(str(tmp_path)), known(*RHEL7), warn=warnings.append) == (None, None)
    assert len(warnings) == 1 and 'EFI/centos/grub.cfg, /boot/efi/EFI/redhat/grub.cfg' in warnings[0]


@pytest.mark.parametrize(('firmware', 'expected'), [
    ('/sys/firmware/efi/efivars/BootCurrent-8be4df61-93ca-11d2-aa0d-00e098032b8c', (RHEL7[0], 'grubenv')),
    ('/sys/firmware/acpi/tables/DSDT', (RHEL7[1], 'grub')),     # booted without EFI
    (None, (None, None)),                                       # not told
])
def test_a_grub_cfg_in_boot_and_on_the_efi_system_partition(tmp_path: Path, firmware: str | None,
                                                            expected: tuple) -> None:
    # An old /boot/grub2/grub.cfg (grub2-mkconfig run with the BIOS path) runs only on a BIOS boot.
    rhel7_on_efi(tmp_path)
    make(tmp_path, '/boot/grub2/grub.cfg', RHEL7_MENU.replace('${saved_entry}', '0'))
    if firmware:
        make(tmp_path, firmware, 'x')
    assert find_default(RootFS(str(tmp_path)), known(*RHEL7)) == expected


@pytest.mark.parametrize('stub', [
    # grub-install's hints for /boot on LVM, and on LUKS.
    "search.fs_uuid 0a1b2c3d root lvmid/Xy12ab-cd34/qR56ef-gh78 \nset prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n",
    'cryptomount -u 0a1b2c3d4e5f\nsearch.fs_uuid 0a1b2c3d root cryptouuid/0a1b2c3d4e5f \nset prefix=($root)\'/boot/grub\'\n'
    'configfile $prefix/grub.cfg\n',
])
def test_stubs_of_boot_on_lvm_or_luks(tmp_path: Path, stub: str) -> None:
    make(tmp_path, '/boot/efi/EFI/ubuntu/grub.cfg', stub)
    make(tmp_path, '/sys/firmware/efi/runtime', 'x')     # booted with EFI, efivarfs not mounted
    make(tmp_path, '/boot/grub/grub.cfg', RHEL7_MENU.replace('${saved_entry}', '1'))
    assert find_default(RootFS(str(tmp_path)), known(*RHEL7)) == (RHEL7[0], 'grub')


def test_an_os_prober_entry_boots_another_systems_kernel(tmp_path: Path) -> None:
    # The same kernel release installed on another disk, found by os-prober and made the default.
    other = ("menuentry 'Red Hat (on /dev/sdb2)' --class gnu-linux --class os $menuentry_id_option "
             "'osprober-gnulinux-simple-2222' {\n  search --no-floppy --fs-uuid --set=root 2222\n"
             "  linux /boot/vmlinuz-%s root=UUID=2222 ro\n}\n" % RHEL7[0])
    header = 'menuentry_id_option="--id"\nexport menuentry_id_option\n'
    make(tmp_path, '/boot/grub/grub.cfg', header + RHEL7_MENU + other + 'set default=osprober-gnulinux-simple-2222\n')
    assert find_default(RootFS(str(tmp_path)), known(*RHEL7)) == (None, None)


def test_a_grub_cfg_that_only_runs_another_tells_no_next_boot(tmp_path: Path) -> None:
    # Not a stub the reading knows: what it runs is not read, so nothing is told (not "newest").
    make(tmp_path, '/boot/efi/EFI/ubuntu/grub.cfg', 'search.fs_uuid 0a1b root\nset prefix=($root)/elsewhere\n'
         'configfile $prefix/grub.cfg\n')
    make(tmp_path, '/sys/firmware/efi/runtime', 'x')
    make(tmp_path, '/boot/grub/grub.cfg', RHEL7_MENU.replace('${saved_entry}', '1'))
    warnings: List[str] = []
    assert find_default(RootFS(str(tmp_path)), known(*RHEL7), warn=warnings.append) == (None, None)
    assert 'out of sight' in warnings[0]


def test_rhel7_with_a_grub_password(tmp_path: Path) -> None:
    # RHEL's 01_users sources user.cfg when there is one: grub2-setpassword's sets only GRUB2_PASSWORD.
    users = ('if [ -f ${prefix}/user.cfg ]; then\n  source ${prefix}/user.cfg\n  if [ -n "${GRUB2_PASSWORD}" ]; then\n'
             '    set superusers="root"\n    export superusers\n    password_pbkdf2 root ${GRUB2_PASSWORD}\n  fi\nfi\n')
    rhel7_on_efi(tmp_path)
    config = tmp_path / 'boot/efi/EFI/redhat/grub.cfg'
    config.write_text(RHEL7_MENU.replace('set default="${saved_entry}"\n', 'set default="${saved_entry}"\n' + users))
    make(tmp_path, '/boot/efi/EFI/redhat/user.cfg', 'GRUB2_PASSWORD=grub.pbkdf2.sha512.10000.AB12.CD34\n')
    assert find_default(RootFS(str(tmp_path)), known(*RHEL7)) == (RHEL7[0], 'grubenv')
    make(tmp_path, '/boot/efi/EFI/redhat/user.cfg', 'set default=1\n')
    assert find_default(RootFS(str(tmp_path)), known(*RHEL7)) == (None, None)


def test_a_stub_on_the_efi_system_partition_hands_over(tmp_path: Path) -> None:
    # Fedora's, RHEL 9's and Debian's grub.cfg there only finds /boot's and runs it.
    make(tmp_path, '/boot/efi/EFI/fedora/grub.cfg', 'search --no-floppy --root-dev-only --fs-uuid --set=dev 1234\n'
         'set prefix=($dev)/grub2\nexport $prefix\nconfigfile $prefix/grub.cfg\n')
    make(tmp_path, '/boot/efi/EFI/debian/grub.cfg', "search.fs_uuid 1234 root hd0,gpt2\n"
         "set prefix=($root)'/boot/grub'\nconfigfile $prefix/grub.cfg\n")
    make(tmp_path, '/boot/grub2/grub.cfg', RHEL7_MENU.replace('${saved_entry}', '0'))
    assert find_default(RootFS(str(tmp_path)), known(*RHEL7)) == (RHEL7[1], 'grub')


def test_newest_kernel_with_an_image(tmp_path: Path) -> None:
    # 6.1.0-50's image was removed and its in-tree modules left behind: GRUB lists only images.
    for release in ('6.1.0-47-amd64', '6.1.0-50-amd64'):
        make(tmp_path, '/lib/modules/%s/kernel/fs/hello.ko' % release, 'ko')
    make(tmp_path, '/boot/vmlinuz-6.1.0-47-amd64', 'image')
    kernels = find_kernels(RootFS(str(tmp_path)), lambda message: None)
    assert kernels['6.1.0-50-amd64'].installed and kernels['6.1.0-50-amd64'].image is None
    assert find_default(RootFS(str(tmp_path)), kernels) == ('6.1.0-47-amd64', 'newest')


def fake_grubby(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    grubby = make(tmp_path, '/bin/grubby', '#!/bin/sh\n' + script)
    grubby.chmod(0o755)
    monkeypatch.setenv('PATH', '%s%s%s' % (grubby.parent, os.pathsep, os.environ['PATH']))


def test_grubby_names_the_default_on_the_running_system(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_grubby(tmp_path, monkeypatch,
                '[ "$1" = --default-kernel ] || exit 2\necho /boot/vmlinuz-%s\n' % OLD)
    assert find_default(RootFS('/'), known(OLD, NEW), run_command) == (OLD, 'grubby')


def test_grubby_is_not_asked_about_another_root(
        bls_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_grubby(bls_root, monkeypatch, 'echo /boot/vmlinuz-%s\n' % OLD)
    calls: List[List[str]] = []

    def runner(argv: List[str]) -> Tuple[int, str, str]:
        calls.append(argv)
        return run_command(argv)

    assert find_default(RootFS(str(bls_root)), known(OLD, NEW), runner) == (NEW, 'bls')
    assert calls == []


def test_gather_kernels_marks_running_and_default(bls_root: Path) -> None:
    for release in (OLD, NEW):
        installed_kernel(bls_root, release)
    grubenv(bls_root, '/boot/grub2/grubenv', '%s-%s' % (MACHINE, OLD))
    kernels, running, default, source = gather_kernels(RootFS(str(bls_root)), Warnings())
    assert (running, default, source) == (None, OLD, 'grubenv')
    assert [k.release for k in kernels.values() if k.default] == [OLD]
    assert not any(k.running for k in kernels.values())
    assert kernels[OLD].as_fact() == {'installed': True, 'stale': False, 'headers': False,
                                      'running': False, 'default': True, 'symvers': None}


def test_running_release_only_for_the_running_system(tmp_path: Path) -> None:
    assert running_release(RootFS('/')) == os.uname().release
    assert running_release(RootFS(str(tmp_path))) is None


def test_kernel_config_over_its_limit_is_a_warning(tmp_path: Path) -> None:
    config = tmp_path / 'lib/modules/K/build/.config'
    config.parent.mkdir(parents=True)
    with open(config, 'wb') as sparse:
        sparse.truncate(2 * 1024 ** 3)
    warnings: list[str] = []
    assert read_kernel_config(RootFS(str(tmp_path)), warnings.append, '/lib/modules/K') is None
    assert warnings == ['cannot read /lib/modules/K/build/.config: larger than 4194304 bytes, the limit for this '
                        'kind of file']


@pytest.mark.parametrize('where', ['/lib/modules/K/build/.config', '/boot/config-K', '/lib/modules/K/config'])
def test_kernel_config_without_headers_comes_from_the_kernel_package(tmp_path: Path, where: str) -> None:
    # RHEL weak kernels often have no headers; their config is still in /boot or the module tree.
    config = tmp_path / where.lstrip('/')
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('# comment\nCONFIG_MODULE_SIG=y\nCONFIG_MODULE_SIG_FORCE=y\n')
    warnings: list[str] = []
    assert read_kernel_config(RootFS(str(tmp_path)), warnings.append, '/lib/modules/K') == \
        {'CONFIG_MODULE_SIG': 'y', 'CONFIG_MODULE_SIG_FORCE': 'y'}
    assert warnings == []


# Lines of a config: options set, quoted or not, with "=" in values; comments; odd spacing; every
# line end str.splitlines knows; options that are prefixes of others.
CONFIG_LINES = st.lists(st.one_of(
    st.builds('{}={}'.format, st.sampled_from(['CONFIG_A', 'CONFIG_AB', 'CONFIG_A_B', 'CONFIG_', 'A', 'CONFIG_A B']),
              st.sampled_from(['y', 'm', '"q v"', ' y ', '', '"a=b"', '1234', '\x1fy', '"'])),
    st.sampled_from(['# CONFIG_A is not set', '', ' CONFIG_A=y', 'CONFIG_A', '=y']),
    st.text(max_size=12)), max_size=12)
LINE_ENDS = st.sampled_from(['\n', '\r\n', '\r', '\x0b', '\x0c', '\x1c', '\x85', '\u2028'])


def held(text: str) -> KernelConfig:
    """A KernelConfig of ``text``, read again from it when it was let go."""
    return KernelConfig(text, lambda: text)


def let_go() -> None:
    """Ask as many other configs as are held: the one asked before must read its text again."""
    for dummy in range(WHOLE_KEPT):
        assert held('CONFIG_OTHER=1\n').get('CONFIG_OTHER') == '1'


class TestKernelConfig:
    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(CONFIG_LINES, LINE_ENDS, st.booleans())
    @example(['CONFIG_A=1', 'CONFIG_AB=2', 'CONFIG_A=3'], '\n', False)
    def test_lookups_agree_with_the_whole_parse(self, lines: list[str], end: str, ended: bool) -> None:
        text = end.join(lines) + (end if ended else '')
        parsed = parse_kconfig(text)
        config = held(text)
        let_go()
        for key in list(parsed) + ['CONFIG_A', 'CONFIG_AB', 'CONFIG_A_B', 'CONFIG_', 'A', 'CONFIG_A=y', 'CONFIG_A\n', 3]:
            assert config.get(key) == parsed.get(key), key
            assert (key in config) == (key in parsed)
        assert bool(config) == bool(parsed)
        assert dict(config) == parsed and len(config) == len(parsed) and bool(config) == bool(parsed)

    def test_a_copy_answers_as_the_config_does(self) -> None:
        config = held('CONFIG_A=y\n')
        copies = [copy.copy(config), copy.deepcopy(config), copy.deepcopy({'config': config})['config']]
        let_go()
        assert [each.get('CONFIG_A') for each in copies] == ['y'] * 3
        assert [each.get('CONFIG_B') for each in copies] == [None] * 3

    def test_a_config_let_go_is_read_again_only_for_what_it_was_not_asked(self) -> None:
        reads = []

        def reread() -> str:
            reads.append(1)
            return 'CONFIG_A=y\nCONFIG_B=m\n'
        config = KernelConfig('CONFIG_A=y\nCONFIG_B=m\n', reread)
        assert config.get('CONFIG_A') == 'y'
        let_go()
        assert config.get('CONFIG_A') == 'y' and reads == []
        assert config.get('CONFIG_B') == 'm' and reads == [1]
        assert config.get('CONFIG_C') is None and reads == [1]     # held again since

    def test_configs_of_one_text_find_each_option_once(self) -> None:
        """The kernels of one build share the answers found in its text: one whose file is gone
        still answers what another was asked, an option no line sets too; one of another text
        does not take them."""
        def gone() -> str:
            raise FileNotFoundError(2, 'No such file or directory', '/boot/config-K')
        first = KernelConfig('CONFIG_A=y\nCONFIG_SHARED=m\n', gone)
        second = KernelConfig('CONFIG_A=y\nCONFIG_SHARED=m\n', gone)
        assert first.get('CONFIG_A') == 'y' and first.get('CONFIG_UNSET') is None
        other = KernelConfig('CONFIG_A=n\nCONFIG_B=m\n', gone)
        assert other.get('CONFIG_A') == 'n'
        let_go()
        assert second.get('CONFIG_A') == 'y' and second.get('CONFIG_UNSET') is None
        with pytest.raises(KernelConfigGone, match='cannot be read again'):
            second.get('CONFIG_SHARED')

    @pytest.mark.parametrize('now', ['CONFIG_A=n\nCONFIG_B=n\n', 'CONFIG_A=y\n', 'CONFIG_A=y\r\nCONFIG_B=m\r\n'])
    def test_a_config_whose_file_changed_is_not_read_again(self, now: str) -> None:
        """Rewritten, or caught half-written, since it was first read: its answers would mix two
        texts, so none comes from the new one."""
        files = ['CONFIG_A=y\nCONFIG_B=m\n']
        config = KernelConfig(files[0], lambda: files[0])
        assert config.get('CONFIG_A') == 'y'
        let_go()
        files[0] = now
        assert config.get('CONFIG_A') == 'y'
        with pytest.raises(KernelConfigGone, match='changed since it was first read'):
            config.get('CONFIG_B')

    def test_a_config_that_cannot_be_read_again_says_so(self) -> None:
        def gone() -> str:
            raise FileNotFoundError(2, 'No such file or directory', '/boot/config-K')
        config = KernelConfig('CONFIG_A=y\n', gone)
        assert config.get('CONFIG_A') == 'y'
        let_go()
        assert config.get('CONFIG_A') == 'y'
        with pytest.raises(KernelConfigGone, match='cannot be read again: .*No such file'):
            config.get('CONFIG_B')

    def test_the_whole_text_is_parsed_only_when_listed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        config = held('# Linux/x86 6.1.0 Kernel Configuration\nCONFIG_MODULE_SIG=y\nCONFIG_S="a b"\n')

        def parsed_whole(text: str) -> dict[str, str]:
            raise AssertionError('parsed whole for a lookup')
        with monkeypatch.context() as patched:
            patched.setattr('ansible_collections.kabi.dkms.plugins.module_utils._kernels.parse_kconfig', parsed_whole)
            assert config and not held('# CONFIG_A is not set\nCONFIG_B\n')
            assert (config['CONFIG_MODULE_SIG'], config.get('CONFIG_S'), config.get('CONFIG_NONE')) == ('y', 'a b', None)
            with pytest.raises(KeyError):
                config['CONFIG_NONE']
        assert sorted(config) == ['CONFIG_MODULE_SIG', 'CONFIG_S']
