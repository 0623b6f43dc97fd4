# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Weak links, out-of-tree modules and depmod's search order on real module trees."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._dkms_tree import Build, PackageVersion
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import WHOLE_KEPT, Kernel
from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoReader
from ansible_collections.kabi.dkms.plugins.module_utils._module_tree import (
    BUILTIN,
    DEFAULT_SEARCH,
    MAX_NAMESAKES,
    UNTOLD,
    KernelDepmod,
    KernelTree,
    ModuleFile,
    WeakLink,
    rank,
    read_depmod_config,
    read_in_tree_names,
    read_indexed_elsewhere,
    read_out_of_tree,
    read_weak_links,
    shadowing_file,
)
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder, python_zstd, zstd_file
from ansible_collections.kabi.dkms.tests.unit.root_tree import RootTree

PROVIDER = '/lib/modules/5.14.0-427.el9.x86_64'
KERNEL = '/lib/modules/5.14.0-503.el9.x86_64'
RHEL_SEARCH = ('updates', 'extra', BUILTIN, 'weak-updates')


class Tree(RootTree):
    def weak_links(self, modules_dir: str = KERNEL) -> dict[str, WeakLink]:
        return {link.path: link for link in read_weak_links(self.fs, self.warnings.append, modules_dir)}


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


def fields(link: WeakLink) -> tuple[str, str | None, str | None, str | None]:
    return link.name, link.points_to, link.target, link.problem


class TestWeakLinks:
    def test_recursive_absolute_and_relative(self, tree: Tree) -> None:
        tree.write(PROVIDER + '/extra/hello.ko')
        tree.write(PROVIDER + '/extra/drivers/net/vendor-net.ko.xz')
        tree.link(KERNEL + '/weak-updates/hello.ko', PROVIDER + '/extra/hello.ko')
        tree.link(KERNEL + '/weak-updates/drivers/net/vendor-net.ko.xz',
                  '../../../../5.14.0-427.el9.x86_64/extra/drivers/net/vendor-net.ko.xz')
        tree.write(KERNEL + '/weak-updates/README')
        tree.write(KERNEL + '/weak-updates/copied.ko')  # a file, not a link: not a weak link
        links = tree.weak_links()
        assert sorted(links) == [KERNEL + '/weak-updates/drivers/net/vendor-net.ko.xz', KERNEL + '/weak-updates/hello.ko']
        assert fields(links[KERNEL + '/weak-updates/hello.ko']) == \
            ('hello', PROVIDER + '/extra/hello.ko', PROVIDER + '/extra/hello.ko', None)
        assert fields(links[KERNEL + '/weak-updates/drivers/net/vendor-net.ko.xz']) == \
            ('vendor-net', PROVIDER + '/extra/drivers/net/vendor-net.ko.xz',
             PROVIDER + '/extra/drivers/net/vendor-net.ko.xz', None)
        assert tree.warnings == []

    def test_chained_link_target_is_the_final_file(self, tree: Tree) -> None:
        build = '/var/lib/dkms/hello/1.0/5.14.0-427.el9.x86_64/x86_64/module/hello.ko'
        tree.write(build)
        tree.link(PROVIDER + '/extra/hello.ko', build)
        tree.link(KERNEL + '/weak-updates/hello.ko', PROVIDER + '/extra/hello.ko')
        link = tree.weak_links()[KERNEL + '/weak-updates/hello.ko']
        assert (link.points_to, link.target, link.problem) == (PROVIDER + '/extra/hello.ko', build, None)

    def test_dangling(self, tree: Tree) -> None:
        tree.link(KERNEL + '/weak-updates/sub/gone.ko', PROVIDER + '/extra/gone.ko')
        link = tree.weak_links()[KERNEL + '/weak-updates/sub/gone.ko']
        assert fields(link) == ('gone', PROVIDER + '/extra/gone.ko', PROVIDER + '/extra/gone.ko', 'dangling link')
        assert len(tree.warnings) == 1 and 'dangling' in tree.warnings[0]

    def test_loop(self, tree: Tree) -> None:
        tree.link(KERNEL + '/weak-updates/a.ko', 'b.ko')
        tree.link(KERNEL + '/weak-updates/b.ko', 'a.ko')
        links = tree.weak_links()
        assert [fields(link) for link in links.values()] == [
            ('a', None, None, 'symlink loop'), ('b', None, None, 'symlink loop')]
        assert len(tree.warnings) == 2

    def test_link_to_a_directory(self, tree: Tree) -> None:
        tree.path(PROVIDER + '/extra/dir.ko').mkdir(parents=True)
        tree.write(PROVIDER + '/extra/hidden/inner.ko')
        tree.link(KERNEL + '/weak-updates/dir.ko', PROVIDER + '/extra/dir.ko')
        # A directory link without a module name is neither reported nor entered.
        tree.link(KERNEL + '/weak-updates/vendor', PROVIDER + '/extra/hidden')
        tree.link(KERNEL + '/weak-updates/loop', '.')
        links = tree.weak_links()
        assert list(links) == [KERNEL + '/weak-updates/dir.ko']
        assert links[KERNEL + '/weak-updates/dir.ko'].problem == 'not a regular file'
        assert len(tree.warnings) == 1

    def test_link_outside_the_root(self, tree: Tree, tmp_path: Path) -> None:
        host = tmp_path.parent / (tmp_path.name + '-host.ko')
        host.write_text('host module')
        tree.link(KERNEL + '/weak-updates/leak.ko', str(host))
        tree.link(KERNEL + '/weak-updates/up.ko', '../../../../../../../../etc/passwd')
        links = tree.weak_links()
        leak = links[KERNEL + '/weak-updates/leak.ko']
        assert (leak.target, leak.problem) == (str(host), 'dangling link')
        up = links[KERNEL + '/weak-updates/up.ko']
        assert (up.points_to, up.target, up.problem) == ('/etc/passwd', '/etc/passwd', 'dangling link')

    def test_no_weak_updates(self, tree: Tree) -> None:
        tree.path(KERNEL).mkdir(parents=True)
        assert tree.weak_links() == {}
        tree.write(KERNEL + '/weak-updates')
        assert tree.weak_links() == {}
        assert tree.warnings == []


class TestSearchOrder:
    def test_default(self, tree: Tree) -> None:
        assert read_depmod_config(tree.fs, tree.warnings.append).search == DEFAULT_SEARCH == ('updates', BUILTIN)

    def test_rhel(self, tree: Tree) -> None:
        tree.write('/etc/depmod.d/dist.conf', '#\n# depmod.conf\n#\n\n# override default search ordering for kmod packaging\n'
                                              'search updates extra built-in weak-updates\n')
        assert read_depmod_config(tree.fs, tree.warnings.append).search == RHEL_SEARCH

    def test_lines_files_and_precedence(self, tree: Tree) -> None:
        tree.write('/usr/lib/depmod.d/50-a.conf', 'search extra\nsearch updates\n')
        # A name in an earlier directory hides it in later ones (kmod 30+: /usr/lib before /lib);
        # files are read in name order.
        tree.write('/lib/depmod.d/50-a.conf', 'search ignored\n')
        tree.write('/etc/depmod.d/10-b.conf', '# search commented\noverride x * y\nsearch  built-in\tupdates\n')
        tree.write('/etc/depmod.d/90-c.notconf', 'search nope\n')
        assert read_depmod_config(tree.fs, tree.warnings.append).search == (BUILTIN, 'updates', 'extra')

    def test_lines_and_words_as_kmod_reads_them(self, tree: Tree) -> None:
        """Only "\n" ends a line, only a first "#" makes a comment, only spaces and tabs part
        words, a backslash joins lines or stands for the next character, a NUL ends the line
        (freadline_wrapped() and cfg_file_parse() of kmod 30, from helper-78)."""
        tree.write('/etc/depmod.d/a.conf', 'search weak-updates\r\nsearch up\\\ndates # a comment\n'
                                           '  # a bad line\nexclude old\\\\er\x00 gone\n')
        config = read_depmod_config(tree.fs, tree.warnings.append)
        assert config.search == ('weak-updates\r', 'updates', '#', 'a', 'comment')
        assert config.excludes == {'old\\er'}

    def test_a_file_in_place_of_a_directory_is_read_by_its_name(self, tree: Tree) -> None:
        """kmod's cfg_files_list() reads a path of its list that is no directory as a file (from helper-80)."""
        tree.write('/etc/depmod.d', 'override hello * weak-updates\n')
        tree.write('/usr/lib/depmod.d/dist.conf', 'search updates extra built-in weak-updates\n')
        config = read_depmod_config(tree.fs, tree.warnings.append)
        assert (config.search, config.overrides, config.unread) == (RHEL_SEARCH, [('hello', '*', 'weak-updates')], ())
        assert tree.warnings == []

    def test_etc_overrides_lib_by_name(self, tree: Tree) -> None:
        tree.write('/usr/lib/depmod.d/dist.conf', 'search updates extra built-in weak-updates\n')
        tree.write('/etc/depmod.d/dist.conf', 'search weak-updates built-in\n')
        assert read_depmod_config(tree.fs, tree.warnings.append).search == ('weak-updates', BUILTIN)

    def test_unreadable_file_warns(self, tree: Tree) -> None:
        tree.path('/etc/depmod.d/dir.conf').mkdir(parents=True)
        tree.write('/etc/depmod.d/ok.conf', 'search extra built-in\n')
        assert read_depmod_config(tree.fs, tree.warnings.append).search == ('extra', BUILTIN)
        assert len(tree.warnings) == 1 and 'dir.conf' in tree.warnings[0]

    @pytest.mark.parametrize(('path', 'search', 'expected'), [
        ('updates/dkms/hello.ko', RHEL_SEARCH, 0),
        ('extra/hello.ko', RHEL_SEARCH, 1),
        ('kernel/drivers/net/e1000.ko.xz', RHEL_SEARCH, 2),
        ('weak-updates/hello.ko', RHEL_SEARCH, 3),
        ('updates-old/hello.ko', RHEL_SEARCH, 2),
        # An entry matches what continues it with "/": not itself, nor anything when it ends in "/".
        ('updates', RHEL_SEARCH, 2),
        ('weak-updates/hello.ko', ('weak-updates/', 'extra', BUILTIN), 2),
        ('extra/hello.ko', ('extra\r', BUILTIN), 1),
        ('weak-updates/hello.ko', DEFAULT_SEARCH, 1),
        ('kernel/x.ko', DEFAULT_SEARCH, 1),
        ('kernel/x.ko', ('updates', 'extra'), 2),
    ])
    def test_rank(self, path: str, search: tuple[str, ...], expected: int) -> None:
        assert rank(path, search) == expected


class TestDepmodConfig:
    def test_continued_lines_hidden_files_and_directory_order(self, tree: Tree) -> None:
        tree.write('/etc/depmod.d/dist.conf', 'search updates \\\nextra built-in weak-updates\n')
        tree.write('/etc/depmod.d/.old.conf', 'search weak-updates\n')
        tree.write('/etc/depmod.d/.conf', 'search nothing\n')
        tree.write('/lib/depmod.d/50-x.conf', 'search lib\n')
        tree.write('/usr/lib/depmod.d/50-x.conf', 'search usr-lib\n')
        config = read_depmod_config(tree.fs, tree.warnings.append)
        assert config.search == ('usr-lib', 'updates', 'extra', BUILTIN, 'weak-updates')

    def test_overrides_and_excludes(self, tree: Tree) -> None:
        tree.write('/etc/depmod.d/kmod.conf', 'override e1000e * weak-updates\noverride igb ^5\\.14 extra\n'
                                              'override bnx2 ^6 extra\nexclude weak-updates-old .snap\n')
        config = read_depmod_config(tree.fs, tree.warnings.append)
        assert config.excludes == {'weak-updates-old', '.snap'}
        rules = config.for_kernel('5.14.0-503.el9.x86_64', tree.warnings.append)
        assert (rules.overrides, rules.unknown) == (['extra/igb', 'weak-updates/e1000e'], False)
        # exclude came with kmod 30: an older depmod drops the line; with no kmod known, nor is this.
        for kmod_version, excludes, known in (((30,), {'weak-updates-old', '.snap'}, True), ((28,), set(), True),
                                              (None, {'weak-updates-old', '.snap'}, False)):
            rules = config.for_kernel('5.14.0-503.el9.x86_64', tree.warnings.append, kmod_version)
            assert (rules.excludes, rules.excludes_known) == (excludes, known), kmod_version


def test_what_modules_dep_lists_besides_the_kernels_own(tree: Tree) -> None:
    tree.write(KERNEL + '/modules.order', 'kernel/drivers/misc/eeprom.ko\n')
    tree.write(KERNEL + '/modules.dep', 'kernel/drivers/misc/eeprom.ko.xz:\nmisc/hello-x.old.ko: kernel/a.ko\n'
                                        '../../etc/passwd.ko:\n%s/extra/abs.ko:\nnot-a-module.txt:\n\n'
                                        './/misc/dotted.ko:\n/opt/ext/outside.ko:\n' % KERNEL)
    in_tree = read_in_tree_names(tree.fs, tree.warnings.append, KERNEL)
    assert read_indexed_elsewhere(tree.fs, tree.warnings.append, KERNEL, in_tree) == [
        ('dotted', KERNEL + '/misc/dotted.ko'), ('abs', KERNEL + '/extra/abs.ko'), ('outside', '/opt/ext/outside.ko'),
        ('hello_x', KERNEL + '/misc/hello-x.old.ko')]
    assert read_indexed_elsewhere(tree.fs, tree.warnings.append, KERNEL + '-none', in_tree) == []
    assert tree.warnings == []


class TestShadowing:
    @pytest.fixture
    def weak(self, tree: Tree) -> WeakLink:
        tree.write(PROVIDER + '/extra/hello.ko')
        tree.link(KERNEL + '/weak-updates/sub/hello.ko', PROVIDER + '/extra/hello.ko')
        return tree.weak_links()[KERNEL + '/weak-updates/sub/hello.ko']

    def inputs(self, tree: Tree) -> tuple[dict[str, list[str]], dict[str, str]]:
        return read_out_of_tree(tree.fs, tree.warnings.append, KERNEL), read_in_tree_names(tree.fs, tree.warnings.append, KERNEL)

    def test_not_shadowed(self, tree: Tree, weak: WeakLink) -> None:
        tree.write(KERNEL + '/modules.order', 'kernel/drivers/misc/other.ko\n')
        out_of_tree, in_tree = self.inputs(tree)
        assert shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH), out_of_tree, in_tree, tree.fs.isfile) == \
            (None, None, True)
        # Unless a listing of the kernel's could not be read: the name may be built in, or its file elsewhere.
        in_tree.unread.append('modules.builtin')
        shadow, why, certain = shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH), out_of_tree, in_tree, tree.fs.isfile)
        assert (shadow, certain) == (None, False) and "modules.builtin cannot be read" in why

    def test_by_an_updates_file(self, tree: Tree, weak: WeakLink) -> None:
        tree.write(KERNEL + '/updates/dkms/hello.ko.xz')
        out_of_tree, in_tree = self.inputs(tree)
        assert out_of_tree == {'hello': [KERNEL + '/updates/dkms/hello.ko.xz']}
        for search in (RHEL_SEARCH, DEFAULT_SEARCH):
            assert shadowing_file(weak, KERNEL, KernelDepmod(search), out_of_tree, in_tree, tree.fs.isfile)[0] == KERNEL + '/updates/dkms/hello.ko.xz'

    def test_by_an_extra_file_only_where_extra_is_searched(self, tree: Tree, weak: WeakLink) -> None:
        tree.write(KERNEL + '/extra/hello.ko')
        out_of_tree, in_tree = self.inputs(tree)
        assert shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH), out_of_tree, in_tree, tree.fs.isfile)[0] == KERNEL + '/extra/hello.ko'
        # Unsearched, extra/ and weak-updates/ both rank as built-in: a tie depmod's reading order decides.
        assert shadowing_file(weak, KERNEL, KernelDepmod(DEFAULT_SEARCH), out_of_tree, in_tree, tree.fs.isfile)[2] is False

    def test_the_highest_ranked_file_is_named(self, tree: Tree, weak: WeakLink) -> None:
        tree.write(KERNEL + '/updates/dkms/hello.ko.xz')
        tree.write(KERNEL + '/extra/zz/hello.ko')
        out_of_tree, in_tree = self.inputs(tree)
        assert shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH), out_of_tree, in_tree, tree.fs.isfile)[0] == KERNEL + '/updates/dkms/hello.ko.xz'

    def test_names_are_normalized(self, tree: Tree) -> None:
        tree.write(PROVIDER + '/extra/vendor-net.ko')
        tree.link(KERNEL + '/weak-updates/vendor-net.ko', PROVIDER + '/extra/vendor-net.ko')
        tree.write(KERNEL + '/updates/vendor_net.ko')
        link = tree.weak_links()[KERNEL + '/weak-updates/vendor-net.ko']
        out_of_tree, in_tree = self.inputs(tree)
        assert shadowing_file(link, KERNEL, KernelDepmod(RHEL_SEARCH), out_of_tree, in_tree, tree.fs.isfile)[0] == KERNEL + '/updates/vendor_net.ko'

    def test_by_an_in_tree_module(self, tree: Tree, weak: WeakLink) -> None:
        tree.write(KERNEL + '/modules.order', 'kernel/drivers/misc/eeprom.ko\nkernel/drivers/misc/hello.ko\n')
        out_of_tree, in_tree = self.inputs(tree)
        # Listed, but moved aside (dkms's original_module): nothing for depmod to index.
        assert shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH), out_of_tree, in_tree, tree.fs.isfile)[0] is None
        tree.write(KERNEL + '/kernel/drivers/misc/hello.ko.xz')     # listed without the suffix it has
        assert in_tree == {'eeprom': 'kernel/drivers/misc/eeprom.ko', 'hello': 'kernel/drivers/misc/hello.ko'}
        assert shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH), out_of_tree, in_tree, tree.fs.isfile)[0] == \
            KERNEL + '/kernel/drivers/misc/hello.ko.xz'
        # Where weak-updates is not searched first-class it ranks with built-in: a tie, which the
        # order depmod reads directories decides, so not known here.
        shadow, why, certain = shadowing_file(weak, KERNEL, KernelDepmod(DEFAULT_SEARCH), out_of_tree, in_tree, tree.fs.isfile)
        assert (shadow, certain) == (KERNEL + '/kernel/drivers/misc/hello.ko.xz', False) and 'depends on' in why

    def test_by_a_built_in_module(self, tree: Tree, weak: WeakLink) -> None:
        # kmod asks modules.builtin before it inserts anything: no file of the name loads, in any directory.
        tree.write(KERNEL + '/modules.builtin', 'kernel/drivers/misc/hello.ko\n')
        tree.write(KERNEL + '/updates/hello.ko')
        out_of_tree, in_tree = self.inputs(tree)
        for module_file in (weak, ModuleFile('hello', KERNEL + '/updates/hello.ko', KERNEL + '/updates/hello.ko')):
            for search in (RHEL_SEARCH, DEFAULT_SEARCH):
                shadow, why, certain = shadowing_file(module_file, KERNEL, KernelDepmod(search), out_of_tree, in_tree,
                                                      tree.fs.isfile)
                assert (shadow, certain) == (None, True) and 'built into' in why

    def test_an_override_and_an_exclude(self, tree: Tree, weak: WeakLink) -> None:
        tree.write(KERNEL + '/extra/hello.ko')
        out_of_tree, in_tree = self.inputs(tree)
        # RHEL's kmod packages pin their module in weak-updates/ whatever the search order says.
        favoured = KernelDepmod(RHEL_SEARCH, ['weak-updates/sub/hello'])
        assert shadowing_file(weak, KERNEL, favoured, out_of_tree, in_tree, tree.fs.isfile) == (None, None, True)
        pinned = KernelDepmod(RHEL_SEARCH, ['updates/hello', 'extra/hello', 'weak-updates/sub/hello'])
        assert shadowing_file(weak, KERNEL, pinned, out_of_tree, in_tree, tree.fs.isfile)[:2] == (
            KERNEL + '/extra/hello.ko', 'modprobe loads %s/extra/hello.ko instead (a depmod.d override)' % KERNEL)
        # A directory depmod.d excludes is never indexed, at any depth.
        shadow, why, certain = shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH, excludes=['sub']), out_of_tree,
                                              in_tree, tree.fs.isfile)
        assert (shadow, certain) == (None, True) and 'skips sub' in why
        assert shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH, excludes=['extra']), out_of_tree,
                              in_tree, tree.fs.isfile) == (None, None, True)
        # depmod checks every name on the way, a file's too.
        shadow, why, certain = shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH, excludes=['hello.ko']), out_of_tree,
                                              in_tree, tree.fs.isfile)
        assert (shadow, certain) == (None, True) and 'skips hello.ko' in why
        # Where the kmod, and so whether depmod honours exclude, is not known: neither way is sure.
        shadow, why, certain = shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH, excludes=['sub'], excludes_known=False),
                                              out_of_tree, in_tree, tree.fs.isfile)
        assert (shadow, certain) == (None, False) and why.startswith('modprobe may never load it: depmod.d excludes sub')
        shadow, why, certain = shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH, excludes=['extra'], excludes_known=False),
                                              out_of_tree, in_tree, tree.fs.isfile)
        assert (shadow, certain) == (KERNEL + '/extra/hello.ko', False) and 'kmod 30' in why

    def test_an_override_ends_at_the_module_name(self, tree: Tree, weak: WeakLink) -> None:
        # depmod compares "extra/hello" with the path up to the first dot of the file name: an
        # extra/hello.old.ko is module hello, and the override names it.
        tree.write(KERNEL + '/extra/hello.old.ko')
        out_of_tree, in_tree = self.inputs(tree)
        shadow = shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH, ['extra/hello']), out_of_tree, in_tree,
                                tree.fs.isfile)
        assert shadow == (KERNEL + '/extra/hello.old.ko',
                          'modprobe loads %s/extra/hello.old.ko instead (a depmod.d override)' % KERNEL, True)

    def test_more_namesakes_than_any_tree_has(self, tree: Tree, weak: WeakLink) -> None:
        for index in range(MAX_NAMESAKES + 1):
            tree.write(KERNEL + '/updates/d%d/hello.ko' % index)
        out_of_tree, in_tree = self.inputs(tree)
        shadow, why, certain = shadowing_file(weak, KERNEL, KernelDepmod(RHEL_SEARCH), out_of_tree, in_tree, tree.fs.isfile)
        assert (shadow, certain) == (None, False) and why.startswith('%d files of the module name' % (MAX_NAMESAKES + 1))

    def test_the_link_target_itself_never_shadows(self, tree: Tree) -> None:
        # A weak link into the kernel's own extra/ (odd, but seen) is not its own shadow.
        tree.write(KERNEL + '/extra/hello.ko')
        tree.link(KERNEL + '/weak-updates/hello.ko', KERNEL + '/extra/hello.ko')
        link = tree.weak_links()[KERNEL + '/weak-updates/hello.ko']
        out_of_tree, in_tree = self.inputs(tree)
        assert shadowing_file(link, KERNEL, KernelDepmod(RHEL_SEARCH), out_of_tree, in_tree, tree.fs.isfile)[0] is None


class TestInstalledCopy:
    """Whether the copy in a kernel's tree is the dkms build, compressed alike or not."""

    RELEASE = '5.14.0-503.el9.x86_64'
    BUILT = '/var/lib/dkms/hello/1.0/%s/x86_64/module/hello.ko' % RELEASE
    IMAGE = b'\x7fELF the build'

    def copy_state(self, tree: Tree, suffix: str, make: Callable[[Path], None]) -> object:
        tree.write(self.BUILT).write_bytes(self.IMAGE)
        copy = tree.write(KERNEL + '/extra/hello.ko')
        make(copy)
        version = PackageVersion('hello', '1.0', None, False, None,
                                 {self.RELEASE: Build(self.RELEASE, 'x86_64', None, {'hello': self.BUILT})})
        kernel_tree = KernelTree(tree.fs, tree.warnings.append, Kernel(self.RELEASE, KERNEL), KoReader(tree.fs))
        assert kernel_tree.installed_copy(version, 'hello')[0] == KERNEL + '/extra/hello.ko' + suffix
        return kernel_tree.installed_copy(version, 'hello')[1]

    @staticmethod
    def compressed(data: bytes) -> Callable[[Path], None]:
        def make(copy: Path) -> None:
            copy.with_name('hello.ko.gz').write_bytes(gzip.compress(data))
            copy.unlink()
        return make

    def test_the_same_bytes(self, tree: Tree) -> None:
        assert self.copy_state(tree, '', lambda copy: copy.write_bytes(self.IMAGE)) is True
        assert self.copy_state(tree, '', lambda copy: copy.write_bytes(b'\x7fELF another')) is False

    def test_compressed_otherwise(self, tree: Tree) -> None:
        assert self.copy_state(tree, '.gz', self.compressed(self.IMAGE)) is True
        # Larger once decompressed: found without decompressing all of it.
        assert self.copy_state(tree, '.gz', self.compressed(self.IMAGE + b' and more')) is False
        assert tree.warnings == []

    def test_one_this_target_cannot_decompress(self, tree: Tree) -> None:
        if python_zstd():
            pytest.skip('a Python zstd library decompresses here')

        def make(copy: Path) -> None:
            copy.write_bytes(self.IMAGE)
            zstd_file(copy)
            copy.unlink()
        assert self.copy_state(tree, '.zst', make) is UNTOLD     # no zstd command given either
        assert tree.warnings == []

    def test_a_damaged_copy(self, tree: Tree) -> None:
        def make(copy: Path) -> None:
            copy.with_name('hello.ko.gz').write_bytes(b'\x1f\x8b not gzip')
            copy.unlink()
        assert self.copy_state(tree, '.gz', make) is None
        assert len(tree.warnings) == 1 and tree.warnings[0].startswith('cannot compare')


class TestListings:
    def test_out_of_tree_skips_directory_links_and_non_modules(self, tree: Tree) -> None:
        tree.write(KERNEL + '/updates/dkms/a.ko')
        tree.write(KERNEL + '/updates/dkms/a.ko.sig')
        tree.write(KERNEL + '/extra/b.ko.zst')
        tree.write('/elsewhere/c.ko')
        tree.link(KERNEL + '/extra/elsewhere', '/elsewhere')
        tree.link(KERNEL + '/extra/loop', '.')
        assert read_out_of_tree(tree.fs, tree.warnings.append, KERNEL) == \
            {'a': [KERNEL + '/updates/dkms/a.ko'], 'b': [KERNEL + '/extra/b.ko.zst']}
        assert tree.warnings == []

    def test_in_tree_names_first_listing_wins_and_blank_lines(self, tree: Tree) -> None:
        tree.write(KERNEL + '/modules.builtin', 'kernel/fs/ext4/ext4.ko\n\n')
        tree.write(KERNEL + '/modules.order', 'kernel/fs/ext4/ext4.ko\n  kernel/drivers/net/e1000e.ko  \nnot-a-module\n')
        names = read_in_tree_names(tree.fs, tree.warnings.append, KERNEL)
        assert names == {'ext4': 'kernel/fs/ext4/ext4.ko', 'e1000e': 'kernel/drivers/net/e1000e.ko'}
        assert names.builtin == {'ext4'}

    def test_builtin_names_as_depmod_indexes_them(self, tree: Tree) -> None:
        """A line that starts with a letter, named by its file name up to the first dot (from helper-78)."""
        tree.write(KERNEL + '/modules.builtin', '  kernel/drivers/misc/indented.ko\nkernel/drivers/misc/hello.mod.ko\n'
                                                '_kernel/under.ko\nkernel/lib/no-dot\nkernel/lib/crc-t10dif.ko\n'
                                                # fgets() reads 4095 characters at a time: the rest is a line too.
                                                'kernel/' + 'x' * 4088 + 'long.ko\n'
                                                # in bytes (from helper-80): 4,095 of them end after "abcdefg"
                                                'kernel/' + '\u00e9' * 2040 + '/abcdefg/fake.ko\nkernel/last\x00.ko')
        names = read_in_tree_names(tree.fs, tree.warnings.append, KERNEL)
        assert names.builtin == {'hello', 'crc_t10dif', 'x' * 4088, 'long', 'abcdefg', 'last'}

    def test_in_tree_names_without_listings(self, tree: Tree) -> None:
        names = read_in_tree_names(tree.fs, tree.warnings.append, KERNEL)
        assert (names, names.unread, tree.warnings) == ({}, [], [])

    def test_listings_that_exist_but_cannot_be_read(self, tree: Tree) -> None:
        tree.write(KERNEL + '/modules.order', 'kernel/fs/ext4/ext4.ko\n')
        for listing in ('modules.builtin', 'modules.dep'):
            tree.path(KERNEL + '/' + listing).mkdir(parents=True)
        names = read_in_tree_names(tree.fs, tree.warnings.append, KERNEL)
        assert read_indexed_elsewhere(tree.fs, tree.warnings.append, KERNEL, names) == []
        assert (names, names.unread) == ({'ext4': 'kernel/fs/ext4/ext4.ko'}, ['modules.builtin', 'modules.dep'])
        assert len(tree.warnings) == 2


def test_the_kernels_own_module_is_one_whose_file_is_there(tree: Tree, ko_builder: KoBuilder) -> None:
    """Built-in modules (listed first here) and listed modules whose file is gone are passed
    over: what a kernel's own modules tell comes from a file that is there."""
    modules_dir = tree.root / KERNEL.lstrip('/')
    ko_builder.build_ko(modules_dir / 'kernel/lib', 'zlib_deflate', this_module_size=1344)
    (modules_dir / 'modules.builtin').write_text('kernel/arch/x86/aes.ko\nkernel/crypto/aead.ko\n')
    (modules_dir / 'modules.order').write_text('kernel/drivers/gone.ko\nkernel/lib/zlib_deflate.ko\n')
    kernel_tree = KernelTree(tree.fs, tree.warnings.append, Kernel('5.14.0-503.el9.x86_64', KERNEL), KoReader(tree.fs))
    own = kernel_tree.own_module()
    assert own is not None and (own.name, own.this_module_size) == ('zlib_deflate', 1344)


def test_whether_modprobe_finds_the_in_tree_module_a_symbol_comes_from(tree: Tree) -> None:
    """Built in, or listed in modules.dep: found. Not listed: not found, unless its file is there
    (depmod has not run since) or modules.dep lists none of the kernel's own modules (a tree of
    headers and dkms builds alone): then unknown. No modules.dep: not told."""
    def present() -> Callable[[str], bool | None] | None:
        return KernelTree(tree.fs, tree.warnings.append, Kernel('5.14.0-503.el9.x86_64', KERNEL)).module_present

    tree.write(KERNEL + '/modules.builtin', 'kernel/crypto/aead.ko\n')
    tree.write(KERNEL + '/modules.order', 'kernel/drivers/misc/eeprom.ko\nkernel/drivers/media/videodev.ko\n'
                                          'kernel/drivers/media/tuner-simple.ko\n')
    assert present() is None
    tree.write(KERNEL + '/modules.dep', 'kernel/drivers/misc/eeprom.ko.xz:\nkernel/drivers/media/tuner_simple.ko:\n')
    tree.write(KERNEL + '/kernel/drivers/media/videodev.ko.zst')
    found = present()
    assert found is not None
    assert [found(owner) for owner in ('drivers/misc/eeprom', 'crypto/aead', 'drivers/media/tuner-simple',
                                       'drivers/media/videodev', 'drivers/media/mc')] == [True, True, True, None, False]
    tree.write(KERNEL + '/modules.dep', 'updates/dkms/hello.ko:\n')
    found = present()
    assert found is not None and found('drivers/media/mc') is None and found('crypto/aead') is True
    assert tree.warnings == []


def test_a_kernel_config_let_go_is_read_again_from_its_file(tree: Tree) -> None:
    """Configs are let go after others are asked: asked again, one is read from its file again;
    one whose file has gone or changed since is a config that cannot be read, said once, rather
    than a config that sets nothing or answers from two texts."""
    releases = ['6.1.0-%d-amd64' % number for number in range(WHOLE_KEPT + 3)]
    kernel_trees = []
    for release in releases:
        tree.write('/boot/config-%s' % release, '# comment\nCONFIG_MODULE_SIG=y\nCONFIG_LOCALVERSION="-%s"\n' % release)
        kernel_trees.append(KernelTree(tree.fs, tree.warnings.append, Kernel(release, '/lib/modules/%s' % release)))
    for kernel_tree in kernel_trees:
        assert kernel_tree.config is not None and kernel_tree.config.get('CONFIG_MODULE_SIG') == 'y'
    first, second, third = kernel_trees[:3]
    assert first.config.get('CONFIG_LOCALVERSION') == '-' + releases[0]
    tree.path('/boot/config-%s' % releases[1]).unlink()
    tree.write('/boot/config-%s' % releases[2], 'CONFIG_MODULE_SIG=n\n')
    for kernel_tree in kernel_trees[3:]:
        assert kernel_tree.config.get('CONFIG_LOCALVERSION') is not None
    assert second.config is None and second.config is None and third.config is None
    assert tree.warnings == [
        'kernel %s: its kernel config cannot be read again: [Errno 2] No such file or directory: '
        "'/boot/config-%s'; taken as unreadable from now on" % (releases[1], releases[1]),
        'kernel %s: its kernel config changed since it was first read; taken as unreadable from now on' % releases[2]]
