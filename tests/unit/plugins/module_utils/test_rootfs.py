# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RootFS on real directory trees: chroot-like symlink resolution that never reaches the host."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import socket
import stat
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils import _rootfs
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import (
    CHUNK, MAX_CACHED_DIRS, MAX_DEPTH, MAX_SYMLINKS, FileTooLarge, NotRegularFile, RootFS, RootPathError)

SECRET = b'host secret, never to be read\n'
NOBODY = 65534
LIMIT = 1024 * 1024


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty root next to a directory standing for the host's files."""
    top = tmp_path / 'root'
    top.mkdir()
    host = tmp_path / 'host'
    host.mkdir()
    (host / 'secret').write_bytes(SECRET)
    return top


@pytest.fixture(params=[False, True], ids=['live', 'snapshot'])
def fs(root: Path, request: pytest.FixtureRequest) -> RootFS:
    """Every test reads both ways: the snapshot must resolve exactly what a live read does."""
    return RootFS(str(root), snapshot=request.param)


def write(root: Path, in_root: str, data: bytes = b'') -> Path:
    path = root / in_root.lstrip('/')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def link(root: Path, in_root: str, target: str) -> Path:
    path = root / in_root.lstrip('/')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def host_secret(root: Path) -> Path:
    return root.parent / 'host' / 'secret'


class TestResolve:
    def test_plain_paths_are_normalized(self, fs: RootFS, root: Path) -> None:
        write(root, '/a/b/file')
        assert fs.resolve('/a/b/file') == '/a/b/file'
        assert fs.resolve('//a/./b//file/') == '/a/b/file'
        assert fs.resolve('a/b/file') == '/a/b/file'
        assert fs.resolve('/') == '/'
        assert fs.resolve('') == '/'

    def test_a_nul_names_nothing(self, fs: RootFS, root: Path) -> None:
        """A path read from a file may hold a NUL, which no file name has: an error of the path, not of the run."""
        write(root, '/a/b/file')
        with pytest.raises(RootPathError):
            fs.resolve('/a/b\x00c/file')
        assert not fs.isfile('/a/b/file\x00') and not fs.exists('/a\x00')
        with pytest.raises(RootPathError):
            fs.read_bytes('/a/b/file\x00', 10)

    def test_dotdot_is_clamped_at_the_root(self, fs: RootFS, root: Path) -> None:
        write(root, '/etc/passwd', b'in-root passwd\n')
        assert fs.resolve('/../../..') == '/'
        assert fs.resolve('/a/../../../etc/passwd') == '/etc/passwd'
        assert fs.read_bytes('/../../etc/passwd', LIMIT) == b'in-root passwd\n'

    def test_absolute_link_is_rerooted(self, fs: RootFS, root: Path) -> None:
        write(root, '/etc/hostname', b'in-root\n')
        link(root, '/var/hostname-link', '/etc/hostname')
        assert fs.resolve('/var/hostname-link') == '/etc/hostname'
        assert fs.host(fs.resolve('/var/hostname-link')) == str(root / 'etc/hostname')
        assert fs.read_bytes('/var/hostname-link', LIMIT) == b'in-root\n'

    def test_absolute_link_to_a_file_only_the_host_has(self, fs: RootFS, root: Path) -> None:
        # /etc/hostname exists on most hosts; inside this root it does not.
        link(root, '/hostname', '/etc/hostname')
        assert fs.host(fs.resolve('/hostname')) == str(root / 'etc/hostname')
        assert not fs.exists('/hostname')
        assert not fs.isfile('/hostname')
        with pytest.raises(OSError):
            fs.read_bytes('/hostname', LIMIT)

    def test_relative_link_climbing_out_is_clamped(self, fs: RootFS, root: Path) -> None:
        write(root, '/etc/passwd', b'in-root passwd\n')
        link(root, '/lib/modules/K/weak-updates/x.ko', '../../../../etc/passwd')
        assert fs.resolve('/lib/modules/K/weak-updates/x.ko') == '/etc/passwd'
        link(root, '/a/deep', '../../../../../../../../etc/passwd')
        assert fs.read_bytes('/a/deep', LIMIT) == b'in-root passwd\n'

    @pytest.mark.parametrize('target', ['host_absolute', 'host_relative'])
    def test_links_to_host_files_never_read_them(self, fs: RootFS, root: Path, target: str) -> None:
        secret = host_secret(root)
        text = str(secret) if target == 'host_absolute' else '../host/secret'
        link(root, '/leak', text)
        assert fs.host(fs.resolve('/leak')).startswith(str(root) + os.sep)
        assert not fs.exists('/leak')
        with pytest.raises(OSError):
            fs.read_bytes('/leak', LIMIT)
        assert secret.read_bytes() == SECRET

    def test_directory_link_pointing_outside_is_rerooted(self, fs: RootFS, root: Path) -> None:
        link(root, '/lib', str(root.parent / 'host'))
        link(root, '/usr', '../host')
        for path in ('/lib/secret', '/usr/secret'):
            assert not fs.exists(path)
            with pytest.raises(OSError):
                fs.read_bytes(path, LIMIT)
        with pytest.raises(OSError):
            fs.listdir('/usr')

    def test_root_given_through_a_link_is_canonical(self, root: Path, tmp_path: Path) -> None:
        alias = tmp_path / 'alias'
        alias.symlink_to(root)
        write(root, '/etc/os-release', b'ID=test\n')
        fs = RootFS(str(alias))
        assert fs.root == str(root.resolve())
        assert fs.read_bytes('/etc/os-release', LIMIT) == b'ID=test\n'

    def test_link_to_slash_is_the_root(self, fs: RootFS, root: Path) -> None:
        write(root, '/etc/x', b'x')
        link(root, '/sysroot', '/')
        assert fs.resolve('/sysroot/sysroot/etc/x') == '/etc/x'
        assert fs.listdir('/sysroot') == ['etc', 'sysroot']

    def test_chained_and_parent_links(self, fs: RootFS, root: Path) -> None:
        write(root, '/var/lib/dkms/hello/1.0/6.1/x86_64/module/hello.ko', b'ELF')
        link(root, '/lib/modules/6.1/updates/dkms/hello.ko', '/var/lib/dkms/hello/1.0/6.1/x86_64/module/hello.ko')
        link(root, '/lib/modules/6.1+clone/weak-updates/hello.ko', '../../6.1/updates/dkms/hello.ko')
        link(root, '/modules', 'lib/modules')
        path = '/modules/6.1+clone/weak-updates/hello.ko'
        assert fs.resolve(path) == '/var/lib/dkms/hello/1.0/6.1/x86_64/module/hello.ko'
        assert fs.read_bytes(path, LIMIT) == b'ELF'

    def test_dotdot_after_a_link_is_physical(self, fs: RootFS, root: Path) -> None:
        # Like the kernel, `link/..` is the parent of the link's target, not of the link.
        (root / 'x/y').mkdir(parents=True)
        link(root, '/a/l', '/x/y')
        assert fs.resolve('/a/l/..') == '/x'

    def test_dangling_link_resolves_to_where_it_points(self, fs: RootFS, root: Path) -> None:
        link(root, '/lib/modules/K/weak-updates/gone.ko', '/lib/modules/A/extra/gone.ko')
        path = '/lib/modules/K/weak-updates/gone.ko'
        assert fs.resolve(path) == '/lib/modules/A/extra/gone.ko'
        assert fs.islink(path)
        assert not fs.exists(path)
        assert not fs.isfile(path)
        assert fs.readlink(path) == '/lib/modules/A/extra/gone.ko'
        with pytest.raises(OSError) as raised:
            fs.open(path)
        assert raised.value.errno == errno.ENOENT

    def test_link_loops_raise(self, fs: RootFS, root: Path) -> None:
        link(root, '/self', '/self')
        link(root, '/a', 'b')
        link(root, '/b', '/a')
        link(root, '/dir/up', '../dir/up/x')
        for path in ('/self', '/a', '/b/c', '/dir/up'):
            with pytest.raises(RootPathError):
                fs.resolve(path)
            assert not fs.exists(path)
            assert not fs.isdir(path)
            with pytest.raises(RootPathError):
                fs.open(path)
        assert fs.islink('/a')

    def test_symlink_limit_is_the_kernels(self, fs: RootFS, root: Path) -> None:
        write(root, '/target', b'end')
        link(root, '/l0', '/target')
        for index in range(1, MAX_SYMLINKS + 1):
            link(root, '/l%d' % index, '/l%d' % (index - 1))
        # /l{N-1} needs N links; /l{N} one more than the kernel follows.
        assert fs.read_bytes('/l%d' % (MAX_SYMLINKS - 1), LIMIT) == b'end'
        with pytest.raises(RootPathError):
            fs.resolve('/l%d' % MAX_SYMLINKS)

    def test_host_maps_in_root_paths(self, fs: RootFS, root: Path) -> None:
        assert fs.host('/') == str(root)
        assert fs.host('') == str(root)
        assert fs.host('/../etc') == str(root / 'etc')
        assert fs.host('lib/modules') == str(root / 'lib/modules')


class TestAccess:
    def test_lstat_and_readlink_see_the_link_itself(self, fs: RootFS, root: Path) -> None:
        write(root, '/real/file', b'1234')
        link(root, '/real/link', 'file')
        link(root, '/alias', '/real')
        assert fs.islink('/alias/link')
        assert fs.readlink('/alias/link') == 'file'
        assert fs.lstat('/alias/file').st_size == 4
        assert not fs.islink('/alias/file')
        assert not fs.islink('/missing')
        assert fs.lstat('/').st_ino == os.lstat(root).st_ino

    def test_kinds(self, fs: RootFS, root: Path) -> None:
        write(root, '/d/f')
        link(root, '/d/dlink', '/d')
        assert fs.isdir('/d') and fs.isdir('/d/dlink')
        assert fs.isfile('/d/f') and fs.isfile('/d/dlink/f')
        assert not fs.isfile('/d') and not fs.isdir('/d/f')
        assert not fs.exists('/nope')

    def test_listdir_is_sorted_and_follows_links(self, fs: RootFS, root: Path) -> None:
        for name in ('b', 'a', 'c'):
            write(root, '/d/' + name)
        link(root, '/l', 'd')
        assert fs.listdir('/d') == ['a', 'b', 'c']
        assert fs.listdir('/l') == ['a', 'b', 'c']
        with pytest.raises(OSError):
            fs.listdir('/d/a')
        with pytest.raises(OSError):
            fs.listdir('/missing')

    def test_open_refuses_directories(self, fs: RootFS, root: Path) -> None:
        (root / 'dir').mkdir()
        with pytest.raises(OSError) as raised:
            fs.open('/dir')
        assert raised.value.errno == errno.EISDIR

    def test_reads(self, fs: RootFS, root: Path) -> None:
        write(root, '/f', b'abc\xff\xfedef')
        assert fs.read_bytes('/f', LIMIT) == b'abc\xff\xfedef'
        assert fs.read_bytes('/f', 8) == b'abc\xff\xfedef'
        assert fs.read_text('/f', LIMIT) == 'abc\ufffd\ufffddef'

    def test_a_file_over_its_limit_is_an_error_naming_it(self, fs: RootFS, root: Path) -> None:
        write(root, '/f', b'abcdefgh')
        with pytest.raises(FileTooLarge) as raised:
            fs.read_bytes('/f', 7)
        assert raised.value.filename == '/f' and str(raised.value) == 'larger than 7 bytes, the limit for this kind of file'
        # A sparse file of 2 GiB is refused by its size, before any byte is read.
        with open(root / 'sparse', 'wb') as sparse:
            sparse.truncate(2 * 1024 ** 3)
        with pytest.raises(FileTooLarge):
            fs.read_text('/sparse', LIMIT)

    def test_a_file_whose_size_is_not_told_is_read_to_its_end_and_to_its_limit(self) -> None:
        # /proc files report a size of 0 and hold more (as /proc/cmdline, which the facts read).
        proc = RootFS('/proc')
        status = proc.read_bytes('/self/status', LIMIT)
        assert os.stat('/proc/self/status').st_size == 0 and status.startswith(b'Name:') and b'\nPid:' in status
        with pytest.raises(FileTooLarge):
            proc.read_bytes('/self/status', 10)
        # A /proc/sys number is given whole to a first read, and nothing to a read after it.
        assert int(proc.read_text('/sys/kernel/pid_max', LIMIT)) == int(Path('/proc/sys/kernel/pid_max').read_text())


class TestSpecialFiles:
    def test_fifos_sockets_and_devices_are_never_read(self, fs: RootFS, root: Path) -> None:
        os.mkfifo(root / 'fifo')  # no writer: reading it would wait forever
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(root / 'socket'))
        link(root, '/to-fifo', '/fifo')
        specials = {'/fifo': 'a FIFO', '/socket': 'a socket', '/to-fifo': 'a FIFO'}
        if os.geteuid() == 0:
            os.mknod(root / 'zero', 0o600 | stat.S_IFCHR, os.makedev(1, 5))
            specials['/zero'] = 'a character device'
        write(root, '/file', b'x')
        try:
            for path, kind in specials.items():
                with pytest.raises(NotRegularFile, match='not a regular file \\(%s\\), never read' % kind):
                    fs.read_bytes(path, LIMIT)
                with pytest.raises(NotRegularFile):
                    fs.same_content(path, path)
                with pytest.raises(NotRegularFile):
                    fs.same_content('/file', path)
                with pytest.raises(NotRegularFile):
                    fs.open_descriptor(path)
                assert not fs.isfile(path) and fs.exists(path)
        finally:
            server.close()

    def test_a_descriptor_is_of_the_regular_file_with_its_stat(self, fs: RootFS, root: Path) -> None:
        write(root, '/dir/file', b'12345')
        link(root, '/dir/to-file', 'file')
        fd, status = fs.open_descriptor('/dir/to-file')
        try:
            assert status.st_size == 5 and stat.S_ISREG(status.st_mode)
            assert os.pread(fd, 10, 1) == b'2345'
            assert (status.st_dev, status.st_ino) == (os.fstat(fd).st_dev, os.stat(root / 'dir/file').st_ino)
        finally:
            os.close(fd)


class TestDepth:
    def test_lookups_stop_at_the_depth_limit(self, fs: RootFS, root: Path) -> None:
        shallow = '/' + '/'.join(['d'] * (MAX_DEPTH - 1))
        write(root, shallow + '/f', b'ok')
        assert fs.read_bytes(shallow + '/f', LIMIT) == b'ok'
        deep = shallow + '/d/d'
        write(root, deep + '/f', b'too deep')
        with pytest.raises(RootPathError, match='more than %d directories deep' % MAX_DEPTH):
            fs.read_bytes(deep + '/f', LIMIT)
        entries, errors = fs.walk('/d')
        assert paths(entries) == [shallow + '/f']
        # The walk stops where lookups stop: nothing it lists is beyond their reach.
        assert [(path, str(exc)) for path, exc in errors] == [
            (shallow + '/d', 'more than %d directories deep' % MAX_DEPTH)]

    def test_links_through_directories_count_towards_the_limit(self, fs: RootFS, root: Path) -> None:
        # /a{N} -> /a{N-1} -> ... -> /a0, a real directory: /a{N}/f follows N links.
        write(root, '/a0/f', b'ok')
        for index in range(1, MAX_SYMLINKS + 2):
            link(root, '/a%d' % index, '/a%d' % (index - 1))
        link(root, '/one-more', '/a%d/f' % MAX_SYMLINKS)
        # The directory of a path first, then a link into it: a snapshot that remembers the
        # directory must still count the links it took to reach it.
        assert fs.read_bytes('/a%d/f' % MAX_SYMLINKS, LIMIT) == b'ok'
        for path in ('/a%d/f' % (MAX_SYMLINKS + 1), '/one-more'):
            with pytest.raises(RootPathError, match='too many levels of symbolic links'):
                fs.resolve(path)


def paths(entries: list[tuple[str, int | None, str | None]]) -> list[str]:
    return [entry[0] for entry in entries]


class TestWalk:
    def test_recurses_real_directories_only(self, fs: RootFS, root: Path) -> None:
        write(root, '/w/a.ko')
        write(root, '/w/sub/deeper/b.ko')
        write(root, '/elsewhere/hidden.ko')
        link(root, '/w/sub/dirlink', '/elsewhere')
        link(root, '/w/loop', '/w')
        link(root, '/w/sub/dangling.ko', '/nowhere.ko')
        entries, errors = fs.walk('/w')
        assert entries == [('/w/a.ko', stat.S_IFREG, None), ('/w/loop', stat.S_IFLNK, '/w'),
                           ('/w/sub/dangling.ko', stat.S_IFLNK, '/nowhere.ko'),
                           ('/w/sub/deeper/b.ko', stat.S_IFREG, None),
                           ('/w/sub/dirlink', stat.S_IFLNK, '/elsewhere')]
        assert errors == []

    def test_special_files_are_entries_of_their_kind(self, fs: RootFS, root: Path) -> None:
        (root / 'w').mkdir()
        os.mkfifo(root / 'w/fifo.ko')
        assert fs.walk('/w') == ([('/w/fifo.ko', stat.S_IFIFO, None)], [])

    def test_self_loops_terminate(self, fs: RootFS, root: Path) -> None:
        link(root, '/w/a', 'b')
        link(root, '/w/b', 'a')
        link(root, '/w/up', '..')
        entries, errors = fs.walk('/w')
        assert entries == [('/w/a', stat.S_IFLNK, 'b'), ('/w/b', stat.S_IFLNK, 'a'), ('/w/up', stat.S_IFLNK, '..')]
        assert errors == []

    def test_start_through_a_link(self, fs: RootFS, root: Path) -> None:
        write(root, '/real/x.ko')
        link(root, '/alias', '/real')
        assert fs.walk('/alias') == ([('/alias/x.ko', stat.S_IFREG, None)], [])
        assert fs.walk('/alias/') == ([('/alias/x.ko', stat.S_IFREG, None)], [])

    def test_lookups_after_a_walk_agree_with_a_fresh_look(self, fs: RootFS, root: Path) -> None:
        """What a snapshot remembers from a walk (types, link texts, directories) is what a live
        lookup finds."""
        write(root, '/lib/modules/A/extra/x.ko', b'x')
        (root / 'lib/modules/A/extra/sub').mkdir()
        link(root, '/lib/modules/B/weak-updates/x.ko', '/lib/modules/A/extra/x.ko')
        link(root, '/lib/modules/B/weak-updates/sub/rel.ko', '../../../A/extra/x.ko')
        link(root, '/lib/modules/B/weak-updates/dir.ko', '../../A/extra/sub')
        link(root, '/lib/modules/B/weak-updates/gone.ko', '/lib/modules/A/extra/gone.ko')
        link(root, '/lib/modules/B/weak-updates/loop.ko', 'loop.ko')
        entries, errors = fs.walk('/lib/modules/B/weak-updates')
        live = RootFS(str(root))
        assert errors == []
        for path, kind, text in entries:
            assert kind == stat.S_IFLNK and text == live.readlink(path) == fs.readlink(path)
            if path.endswith('loop.ko'):
                with pytest.raises(RootPathError):
                    fs.lookup(path)
                continue
            assert fs.lookup(path) == live.lookup(path)
        assert fs.lookup('/lib/modules/B/weak-updates/sub/rel.ko') == ('/lib/modules/A/extra/x.ko', stat.S_IFREG)
        assert fs.lookup('/lib/modules/B/weak-updates/dir.ko') == ('/lib/modules/A/extra/sub', stat.S_IFDIR)
        assert fs.lookup('/lib/modules/B/weak-updates/gone.ko') == ('/lib/modules/A/extra/gone.ko', None)
        nothing = '/lib/modules/B/weak-updates/nothing/x.ko'
        assert fs.lookup(nothing) == (nothing, None)

    def test_lookups_in_a_listed_directory_agree_with_a_fresh_look(self, fs: RootFS, root: Path) -> None:
        """A snapshot starts lookups in a directory it listed there, with the links followed to
        reach it still counted."""
        write(root, '/real/sub/f', b'f')
        link(root, '/real/sub/up', '../../real')
        link(root, '/l0', '/real')
        for index in range(1, MAX_SYMLINKS):
            link(root, '/l%d' % index, '/l%d' % (index - 1))
        last = '/l%d' % (MAX_SYMLINKS - 1)
        assert fs.listdir(last) == fs.listdir('/l0') == ['sub']
        assert fs.listdir(last + '/sub') == ['f', 'up']
        assert fs.read_bytes('/l0/sub/f', LIMIT) == b'f'
        assert fs.lookup('/l0/sub/up/sub') == ('/real/sub', stat.S_IFDIR)
        with pytest.raises(RootPathError):
            fs.lookup(last + '/sub/up')     # one link more than the kernel follows

    def test_links_a_walk_gave_resolve_as_lookups_resolve_them(self, fs: RootFS, root: Path) -> None:
        """lookup_link answers as lookup does, for links that hold the same text too: the symlinks
        followed to reach each link, and the link itself, count towards the kernel's limit."""
        write(root, '/target', b'end')
        link(root, '/c0', '/target')
        for index in range(1, MAX_SYMLINKS):
            link(root, '/c%d' % index, '/c%d' % (index - 1))
        write(root, '/lib/modules/A/extra/x.ko', b'x')
        for kernel in ('B', 'C'):
            link(root, '/lib/modules/%s/weak-updates/x.ko' % kernel, '/lib/modules/A/extra/x.ko')
        link(root, '/lib/modules/B/weak-updates/rel.ko', '../../A/extra/x.ko')
        link(root, '/lib/modules/B/weak-updates/gone.ko', '/lib/modules/A/extra/gone.ko')
        link(root, '/lib/modules/B/weak-updates/loop.ko', '/lib/modules/B/weak-updates/loop.ko')
        # /c{N-2} takes N-1 links: with the link to it, N; through /alias to the link's directory, one more.
        link(root, '/w/near.ko', '/c%d' % (MAX_SYMLINKS - 2))
        link(root, '/w/over.ko', '/c%d' % (MAX_SYMLINKS - 1))
        link(root, '/alias', '/w')
        live = RootFS(str(root))
        for top in ('/lib/modules/B/weak-updates', '/lib/modules/C/weak-updates', '/w', '/alias'):
            entries, errors = fs.walk(top)
            assert errors == []
            for path, kind, text in entries:
                assert kind == stat.S_IFLNK and looked_up(fs.lookup_link, path, text) == looked_up(live.lookup, path)
        assert fs.lookup_link('/w/near.ko', '/c%d' % (MAX_SYMLINKS - 2)) == ('/target', stat.S_IFREG)
        for path in ('/alias/near.ko', '/w/over.ko'):
            with pytest.raises(RootPathError, match='too many levels of symbolic links: %s' % path):
                fs.lookup_link(path, fs.readlink(path))

    @pytest.mark.parametrize('snapshot', [False, True])
    def test_without_typed_listings(self, root: Path, snapshot: bool, monkeypatch: pytest.MonkeyPatch) -> None:
        """Python 3.6 cannot list a descriptor with types: each entry is looked at instead, with the
        same result."""
        write(root, '/w/a.ko')
        link(root, '/w/sub/l.ko', '../a.ko')
        typed = RootFS(str(root), snapshot=snapshot)
        expected = typed.walk('/w'), typed.listdir('/w')
        monkeypatch.setattr(_rootfs, '_SCANDIR_FD', False)
        untyped = RootFS(str(root), snapshot=snapshot)
        assert (untyped.walk('/w'), untyped.listdir('/w')) == expected
        assert untyped.lookup('/w/sub/l.ko') == ('/w/a.ko', stat.S_IFREG)

    @pytest.mark.parametrize('start', ['/missing', '/file', '/loop'])
    def test_unlistable_start_is_an_error(self, fs: RootFS, root: Path, start: str) -> None:
        write(root, '/file')
        link(root, '/loop', '/loop')
        entries, errors = fs.walk(start)
        assert entries == []
        assert [error[0] for error in errors] == [start]
        assert isinstance(errors[0][1], (OSError, RootPathError))

    @pytest.mark.skipif(os.geteuid() != 0, reason='needs root to drop to nobody')
    def test_unreadable_subdirectory_is_reported(self) -> None:
        # Outside pytest's private temporary directory, so nobody can reach the tree.
        top = Path(tempfile.mkdtemp(prefix='kabi-rootfs-'))
        try:
            os.chmod(top, 0o755)
            write(top, '/w/ok.ko')
            write(top, '/w/locked/x.ko')
            os.chmod(top / 'w/locked', 0o000)
            fs = RootFS(str(top))
            read_end, write_end = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                os.close(read_end)
                try:
                    os.setgid(NOBODY)
                    os.setuid(NOBODY)
                    entries, errors = fs.walk('/w')
                    os.write(write_end, repr((paths(entries), [(path, type(exc).__name__) for path, exc in errors]))
                             .encode())
                finally:
                    os._exit(0)
            os.close(write_end)
            with os.fdopen(read_end) as pipe:
                result = pipe.read()
            os.waitpid(pid, 0)
        finally:
            shutil.rmtree(top)
        assert result == repr((['/w/ok.ko'], [('/w/locked', 'PermissionError')]))


def descriptors_in(root: Path) -> int:
    """How many of this process's descriptors are open on something in ``root`` (or on it)."""
    count = 0
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink('/proc/self/fd/' + fd)
        except OSError:
            continue  # the listing's own descriptor, closed meanwhile
        count += target == str(root) or target.startswith(str(root) + '/')
    return count


class TestSnapshotDescriptors:
    @pytest.mark.parametrize('open_files', [None, 300])
    def test_kept_descriptors_are_bounded_and_closed(self, root: Path, monkeypatch: pytest.MonkeyPatch,
                                                     open_files: int | None) -> None:
        """At most MAX_CACHED_DIRS, or half of what the process may open, listed directories' too."""
        if open_files is not None:
            monkeypatch.setattr(resource, 'getrlimit', lambda which: (open_files, open_files * 10))
        allowed = min(MAX_CACHED_DIRS, open_files // 2) if open_files else _rootfs._cached_dirs_allowed()
        count = allowed + 44
        for index in range(count):
            write(root, '/var/lib/dkms/p%d/1.0/module/m.ko' % index, b'%d' % index)
        fs = RootFS(str(root), snapshot=True)
        # Twice: the second round reopens what the first had to close.
        for dummy in range(2):
            for index in range(count):
                assert fs.listdir('/var/lib/dkms/p%d/1.0' % index) == ['module']
                assert fs.read_bytes('/var/lib/dkms/p%d/1.0/module/m.ko' % index, LIMIT) == b'%d' % index
            assert descriptors_in(root) == allowed + 1  # and the root's
        fs.close()
        assert descriptors_in(root) == 0
        assert fs.read_bytes('/var/lib/dkms/p0/1.0/module/m.ko', LIMIT) == b'0'
        fs.close()

    def test_a_listed_directory_is_read_as_it_was_listed(self, root: Path) -> None:
        """A listing keeps its descriptor, as a walk keeps those of the directories it goes
        through: what is read below the directory is read from the one that was listed, even once
        it is moved away and replaced by a link to the host's; after close, a lookup opens it again,
        by name, and refuses the link."""
        write(root, '/a/secret', b'in-root\n')
        fs = RootFS(str(root), snapshot=True)
        assert fs.listdir('/a') == ['secret']
        os.rename(root / 'a', root / 'old')
        link(root, '/a', str(host_secret(root).parent))
        assert fs.read_bytes('/a/secret', LIMIT) == b'in-root\n'
        fs.close()
        with pytest.raises(OSError) as raised:
            fs.read_bytes('/a/secret', LIMIT)
        assert raised.value.errno == errno.ENOTDIR

    def test_a_remembered_directory_swapped_for_a_link_is_never_followed(self, root: Path) -> None:
        """After a snapshot has seen /d, it becomes an absolute link to the host's directory: a
        kept descriptor still reads the directory it was opened on (inside root); one opened again
        refuses the link."""
        write(root, '/d/secret', b'in-root\n')
        fs = RootFS(str(root), snapshot=True)
        assert fs.read_bytes('/d/secret', LIMIT) == b'in-root\n'
        os.rename(root / 'd', root / 'old')
        link(root, '/d', str(host_secret(root).parent))
        assert fs.read_bytes('/d/secret', LIMIT) == b'in-root\n'
        fs.close()
        with pytest.raises(OSError) as raised:
            fs.read_bytes('/d/secret', LIMIT)
        assert raised.value.errno == errno.ENOTDIR


class TestSnapshotEntries:
    def test_links_and_subdirectories_are_kept_by_the_directory_they_are_in(self, root: Path) -> None:
        """Directories without links or subdirectories share one empty, read-only placeholder: a
        link or subdirectory seen later, by a lookup or by a walk, goes to its own directory only."""
        write(root, '/a/f')
        link(root, '/a/l', 'f')
        write(root, '/b/sub/g')
        link(root, '/b/m', 'sub/g')
        write(root, '/c/h')
        fs = RootFS(str(root), snapshot=True)
        assert fs.resolve('/a/l') == '/a/f'
        assert fs.walk('/b')[0] == [('/b/m', stat.S_IFLNK, 'sub/g'), ('/b/sub/g', stat.S_IFREG, None)]
        assert fs.resolve('/c/h') == '/c/h'
        a, b, c = (fs._top.children[name] for name in 'abc')
        assert dict(a.links) == {'l': 'f'} and dict(b.links) == {'m': 'sub/g'}
        assert list(b.children) == ['sub']
        assert a.children is c.links is b.children['sub'].links is b.children['sub'].children is _rootfs._NONE_SEEN
        assert len(_rootfs._NONE_SEEN) == 0
        # Read again from what the snapshot keeps.
        assert fs.resolve('/b/m') == '/b/sub/g' and fs.resolve('/a/l') == '/a/f'
        fs.close()


class TestHolds:
    def test_a_file_holds_exactly_the_pieces_joined(self, fs: RootFS, root: Path) -> None:
        data = bytes(range(256)) * 1024
        write(root, '/same', data)
        write(root, '/changed', data[:-1] + b'!')
        write(root, '/longer', data + b'!')
        write(root, '/empty')
        pieces = [data[at:at + CHUNK] for at in range(0, len(data), CHUNK)]
        assert fs.holds('/same', pieces, LIMIT) and fs.holds('/same', [data], LIMIT)
        assert fs.holds('/same', [b'', data, b''], LIMIT)
        assert not fs.holds('/changed', pieces, LIMIT)
        assert not fs.holds('/longer', pieces, LIMIT)
        assert not fs.holds('/same', pieces[:-1], LIMIT)
        assert fs.holds('/empty', [], LIMIT) and not fs.holds('/empty', [b'x'], LIMIT)

    def test_no_further_than_the_first_difference(self, fs: RootFS, root: Path) -> None:
        write(root, '/file', b'abcdef')
        taken = []

        def pieces() -> Iterator[bytes]:
            for piece in (b'ab', b'XX', b'ef'):
                taken.append(piece)
                yield piece
        assert not fs.holds('/file', pieces(), LIMIT)
        assert taken == [b'ab', b'XX']

    def test_reads_that_stop_short(self, fs: RootFS, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        data = bytes(range(256)) * (CHUNK // 256) * 2 + b'tail'
        write(root, '/one', data)
        real = os.read

        def short(fd: int, count: int) -> bytes:
            return real(fd, min(count, 1000))
        monkeypatch.setattr(os, 'read', short)
        assert fs.holds('/one', [data[:CHUNK], data[CHUNK:]], LIMIT) and not fs.holds('/one', [data[:-1] + b'!'], LIMIT)

    def test_never_past_a_limit(self, fs: RootFS, root: Path) -> None:
        write(root, '/file', b'abcdef')
        assert fs.holds('/file', [b'abc', b'def'], 6)
        assert not fs.holds('/file', [b'abc', b'def'], 5) and not fs.holds('/file', [b'abc', b'de'], 5)

    def test_special_files_are_never_read(self, fs: RootFS, root: Path) -> None:
        os.mkfifo(root / 'fifo')  # no writer: reading it would wait forever
        with pytest.raises(NotRegularFile):
            fs.holds('/fifo', [b'x'], LIMIT)


class TestSameContent:
    def test_equal_and_different(self, fs: RootFS, root: Path) -> None:
        write(root, '/a', b'same bytes')
        write(root, '/b', b'same bytes')
        write(root, '/c', b'other byte')
        write(root, '/d', b'shorter')
        write(root, '/e')
        write(root, '/f')
        assert fs.same_content('/a', '/b')
        assert not fs.same_content('/a', '/c')
        assert not fs.same_content('/a', '/d')
        assert fs.same_content('/e', '/f')

    def test_one_file_under_two_names(self, fs: RootFS, root: Path) -> None:
        # A hard link, or an in-root link (dkms --symlink-modules): one file, told by its inode.
        write(root, '/a', b'bytes')
        os.link(root / 'a', root / 'hard')
        os.symlink('/a', root / 'soft')
        assert fs.same_content('/a', '/hard') and fs.same_content('/soft', '/a')

    def test_difference_past_the_first_chunk(self, fs: RootFS, root: Path) -> None:
        data = bytes(range(256)) * 1024
        write(root, '/big1', data)
        write(root, '/big2', data[:-1] + b'\x00')
        write(root, '/big3', data)
        assert not fs.same_content('/big1', '/big2')
        assert fs.same_content('/big1', '/big3')

    def test_reads_that_stop_short(self, fs: RootFS, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        # A network file system may return fewer bytes than asked before the end.
        data = bytes(range(256)) * (CHUNK // 256) * 2 + b'tail'
        write(root, '/one', data)
        write(root, '/same', data)
        write(root, '/other', data[:-1] + b'!')
        real = os.read

        def short(fd: int, count: int) -> bytes:
            return real(fd, min(count, 1000))
        monkeypatch.setattr(os, 'read', short)
        assert fs.same_content('/one', '/same') and not fs.same_content('/one', '/other')

    def test_files_that_grow_while_compared(self, fs: RootFS, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        write(root, '/a')
        write(root, '/b')
        real = os.read

        def growing(fd: int, count: int) -> bytes:
            for name in ('a', 'b'):
                if not (root / name).stat().st_size:
                    (root / name).write_bytes(b'x' * (CHUNK + 10))
            return real(fd, count)
        monkeypatch.setattr(os, 'read', growing)
        with pytest.raises(OSError, match='grew while it was compared'):
            fs.same_content('/a', '/b')

    def test_through_links_inside_the_root(self, fs: RootFS, root: Path) -> None:
        write(root, '/lib/modules/A/updates/dkms/hello.ko', b'ELF')
        write(root, '/var/lib/dkms/hello.ko', b'ELF')
        link(root, '/lib/modules/B/weak-updates/hello.ko', '/lib/modules/A/updates/dkms/hello.ko')
        assert fs.same_content('/lib/modules/B/weak-updates/hello.ko', '/var/lib/dkms/hello.ko')

    def test_errors(self, fs: RootFS, root: Path) -> None:
        write(root, '/a', b'x')
        link(root, '/loop', '/loop')
        with pytest.raises(OSError):
            fs.same_content('/a', '/missing')
        with pytest.raises(RootPathError):
            fs.same_content('/loop', '/a')


NAMES = st.sampled_from(['a', 'b', 'c.ko'])
# Link texts: absolute or relative, through '..' and '.', to the host's directory, or to nothing.
LINK_TEXTS = st.one_of(
    st.lists(st.sampled_from(['a', 'b', 'c.ko', '..', '.']), min_size=1, max_size=5).map('/'.join),
    st.lists(st.sampled_from(['a', 'b', 'c.ko', '..']), min_size=1, max_size=4).map(lambda parts: '/' + '/'.join(parts)),
    st.just('HOST'), st.just('/'))
TREES = st.lists(st.tuples(st.lists(NAMES, min_size=1, max_size=3), st.sampled_from(['dir', 'file', 'link']), LINK_TEXTS),
                 max_size=14)
QUERIES = st.lists(st.lists(st.sampled_from(['a', 'b', 'c.ko', '..', 'secret']), max_size=5).map('/'.join), min_size=1,
                   max_size=12)


def build(root: Path, tree: list[tuple[list[str], str, str]]) -> None:
    """Make what can be made of ``tree`` under ``root`` (entries whose parent is no directory are left out)."""
    for parts, kind, text in tree:
        path = root.joinpath(*parts)
        # os.path answers False for a link loop, where pathlib before Python 3.8 raises.
        if os.path.lexists(path) or not os.path.isdir(path.parent) or os.path.islink(path.parent):
            continue
        if kind == 'dir':
            path.mkdir()
        elif kind == 'file':
            path.write_bytes('/'.join(parts).encode())
        else:
            path.symlink_to(str(host_secret(root).parent) if text == 'HOST' else text)


def outcome(fs: RootFS, path: str) -> tuple[object, ...]:
    """Everything a reader learns about ``path``, with errors as their type; listed first, as the
    directory of later lookups."""
    try:
        listing: object = fs.listdir(path)
    except (OSError, RootPathError) as exc:
        listing = type(exc).__name__
    try:
        found = fs.lookup(path)
    except RootPathError:
        return ('RootPathError', listing)
    try:
        data = fs.read_bytes(path, LIMIT)
    except (OSError, RootPathError) as exc:
        data = type(exc).__name__
    return found, fs.islink(path), data, listing


def looked_up(lookup: Callable[..., tuple[str, int | None]], *arguments: str) -> object:
    """What ``lookup`` answers, or the message of the error it raises."""
    try:
        return lookup(*arguments)
    except RootPathError as exc:
        return str(exc)


def comparable(walked: tuple[list[tuple[str, int | None, str | None]], list[tuple[str, Exception]]]) -> object:
    entries, errors = walked
    return entries, [(path, str(exc)) for path, exc in errors]


class TestSnapshotAgreesWithLive:
    @settings(max_examples=120, deadline=None, derandomize=True)
    @given(TREES, QUERIES, st.booleans())
    def test_any_tree_and_lookup_order(self, tree: list[tuple[list[str], str, str]], queries: list[str],
                                       walk_first: bool) -> None:
        """On any small tree of directories, files and links (loops, '..', absolute, to the host), a
        snapshot answers each lookup as a live one does, whatever it saw before; nothing resolves
        outside the root and the host's file is never read."""
        top = Path(tempfile.mkdtemp(prefix='kabi-rootfs-prop-'))
        try:
            root = top / 'root'
            root.mkdir()
            (top / 'host').mkdir()
            host_secret(root).write_bytes(SECRET)
            build(root, tree)
            snapshot, live = RootFS(str(root), snapshot=True), RootFS(str(root))
            if walk_first:
                walked = snapshot.walk('/')
                assert comparable(walked) == comparable(live.walk('/'))
                for path, kind, text in walked[0]:
                    if kind == stat.S_IFLNK:
                        assert looked_up(snapshot.lookup_link, path, text) == looked_up(live.lookup, path)
            for query in queries + queries[::-1]:
                seen = outcome(snapshot, '/' + query)
                assert seen == outcome(live, '/' + query)
                assert SECRET not in seen
            snapshot.close()
        finally:
            shutil.rmtree(top)


def test_a_remembered_error_keeps_nothing_of_the_failed_computation() -> None:
    # A .ko.gz that decompresses to junk fails in frames that hold the whole image: the error
    # kept for the next weak link to it must not keep those frames alive.
    cache: dict[str, object] = {}

    def compute(key: str) -> None:
        image = bytearray(1 << 20)
        try:
            raise ValueError('not an ELF file (%d bytes)' % len(image))
        except ValueError as exc:
            raise OSError(errno.EIO, str(exc), key)

    for attempt in range(2):
        with pytest.raises(OSError, match='not an ELF file'):
            _rootfs.remembered(cache, '/m.ko.gz', compute, OSError)
        kept = cache['/m.ko.gz']
        assert isinstance(kept, OSError) and kept.__context__ is None and kept.__cause__ is None


def test_other_line_ends_are_those_splitlines_sees() -> None:
    """has_other_line_ends finds every character str.splitlines ends a line at but "\\n", and no other."""
    ends = [chr(code) for code in range(0x110000) if len(('a%sb' % chr(code)).splitlines()) == 2]
    assert ''.join(ends) == ''.join(sorted(_rootfs.LINE_ENDS))
    for end in ends:
        assert _rootfs.has_other_line_ends('CONFIG_A=y%sCONFIG_B=m\n' % end) == (end != '\n')
    assert not _rootfs.has_other_line_ends('CONFIG_A=y\n# CONFIG_B is not set\n' * 1000)
