# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dkms tree reader on real trees: locations, versions, sources, builds, install links, dkms.conf."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._dkms_tree import (
    DkmsTree,
    Package,
    dumps_tree,
    loads_tree,
    module_name,
    normalize_module_name,
    package_conf_facts,
    read_dkms_tree,
    read_locations,
    read_package,
    sort_versions,
)
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.plugins.module_utils._shell_vars import UNKNOWN
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder
from ansible_collections.kabi.dkms.tests.unit.root_tree import RootTree
from ansible_collections.kabi.dkms.tests.unit.system_trees import SystemTree, dkms_conf

ARCH = 'x86_64'
K1 = '6.1.0-47-amd64'
K2 = '6.1.0-50-amd64'


class Tree(RootTree):
    """Writes dkms trees under a root with in-root paths; collects the reader's warnings."""

    def add(self, name: str, version: str, conf: str | None = None, dkms_tree: str = '/var/lib/dkms',
            source_tree: str = '/usr/src') -> None:
        """Register a version the way `dkms add` does: source directory and source link."""
        source = '%s/%s-%s' % (source_tree, name, version)
        self.write(source + '/dkms.conf', conf if conf is not None else dkms_conf(name, version, [name]))
        self.link('%s/%s/%s/source' % (dkms_tree, name, version), source)

    def build(self, name: str, version: str, kernel: str, files: list[str], dkms_tree: str = '/var/lib/dkms') -> None:
        for filename in files:
            self.write('%s/%s/%s/%s/%s/module/%s' % (dkms_tree, name, version, kernel, ARCH, filename), 'ELF')

    def read(self, names: list[str] | None = None, **locations: str) -> DkmsTree:
        return read_dkms_tree(self.fs, self.warnings.append, names, **locations)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


def watch(tree: Tree, lookup: str) -> list[str]:
    """The paths the reader asks ``lookup`` (isfile, isdir) about from now on; the answers stay
    the file system's."""
    looked_up: list[str] = []
    answer = getattr(tree.fs, lookup)

    def watched(path: str) -> bool:
        looked_up.append(path)
        return answer(path)

    setattr(tree.fs, lookup, watched)
    return looked_up


class TestNames:
    @pytest.mark.parametrize(('filename', 'expected'), [
        ('hello.ko', 'hello'), ('hello.ko.gz', 'hello'), ('hello.ko.xz', 'hello'), ('hello.ko.zst', 'hello'),
        ('nvidia-uvm.ko', 'nvidia-uvm'), ('.ko', None), ('hello.ko.sig', None), ('hello.o', None),
        ('Module.symvers', None), ('hello.ko.bz2', None),
    ])
    def test_module_name(self, filename: str, expected: str | None) -> None:
        assert module_name(filename) == expected

    def test_normalize(self) -> None:
        assert normalize_module_name('nvidia-uvm') == 'nvidia_uvm'


class TestLocations:
    def test_defaults(self, tree: Tree) -> None:
        assert read_locations(tree.fs, tree.warnings.append) == ('/var/lib/dkms', '/usr/src', '/lib/modules')
        assert tree.warnings == []

    def test_framework_conf_and_drop_ins(self, tree: Tree) -> None:
        tree.write('/etc/dkms/framework.conf', '# dkms_tree="/commented"\ndkms_tree="/srv/dkms"\n'
                                               'source_tree="/srv/src"\n')
        tree.write('/etc/dkms/framework.conf.d/10-src.conf', 'source_tree="/opt/src"\n')
        tree.write('/etc/dkms/framework.conf.d/20-src.conf', 'source_tree="/opt/src2"\ninstall_tree=/opt/mods\n')
        tree.write('/etc/dkms/framework.conf.d/30-ignored.conf.bak', 'dkms_tree="/bak"\n')
        assert read_locations(tree.fs, tree.warnings.append) == ('/srv/dkms', '/opt/src2', '/opt/mods')
        assert tree.warnings == []

    def test_explicit_arguments_win(self, tree: Tree) -> None:
        tree.write('/etc/dkms/framework.conf', 'dkms_tree="/srv/dkms"\nsource_tree="/srv/src"\n')
        assert read_locations(tree.fs, tree.warnings.append, dkms_tree='/x', install_tree='/y') == \
            ('/x', '/srv/src', '/y')

    def test_not_static_falls_back_with_a_warning(self, tree: Tree) -> None:
        tree.write('/etc/dkms/framework.conf', 'dkms_tree="$(cat /etc/where)"\n')
        assert read_locations(tree.fs, tree.warnings.append)[0] == '/var/lib/dkms'
        assert len(tree.warnings) == 1 and 'dkms_tree' in tree.warnings[0]

    def test_unreadable_drop_in_warns(self, tree: Tree) -> None:
        (tree.path('/etc/dkms/framework.conf.d/dir.conf')).mkdir(parents=True)
        tree.write('/etc/dkms/framework.conf.d/ok.conf', 'dkms_tree=/srv/dkms\n')
        assert read_locations(tree.fs, tree.warnings.append)[0] == '/srv/dkms'
        assert len(tree.warnings) == 1 and 'dir.conf' in tree.warnings[0]

    def test_no_dkms_tree_is_a_host_without_dkms(self, tree: Tree) -> None:
        assert (tree.read().packages, tree.warnings) == ({}, [])

    @pytest.mark.parametrize('make, problem', [
        (lambda path: path.write_text('x'), 'the dkms tree /srv/dkms is not a directory'),
        (os.mkfifo, 'the dkms tree /srv/dkms is not a directory'),
        (lambda path: path.symlink_to('dkms'), 'the dkms tree cannot be read (too many levels of symbolic links: /srv/dkms)'),
    ])
    def test_a_dkms_tree_that_cannot_be_listed_is_said(self, tree: Tree, make: Callable[[Path], None],
                                                       problem: str) -> None:
        """Else the facts would show no package and every kernel covered, as on a host without dkms."""
        tree.path('/srv').mkdir()
        make(tree.path('/srv/dkms'))
        assert tree.read(dkms_tree='/srv/dkms').packages == {}
        assert len(tree.warnings) == 1 and tree.warnings[0].startswith(problem)

    def test_tree_override_is_read(self, tree: Tree) -> None:
        tree.write('/etc/dkms/framework.conf.d/local.conf', 'dkms_tree="/srv/dkms"\nsource_tree="/srv/src"\n')
        tree.add('hello', '1.0', dkms_tree='/srv/dkms', source_tree='/srv/src')
        tree.add('decoy', '1.0')
        result = tree.read()
        assert (result.dkms_tree, result.source_tree, result.install_tree) == ('/srv/dkms', '/srv/src', '/lib/modules')
        assert list(result.packages) == ['hello']
        assert result.packages['hello'].versions['1.0'].source == '/srv/src/hello-1.0'


class TestVersions:
    def test_pep440_order(self) -> None:
        # rpm order would put 1.0 before 1.0rc1; PEP 440 knows rc is a pre-release.
        assert sort_versions(['10.0', '1.0', '1.0rc1', '9.2.1', '1.0.post1', '1.0.dev3']) == \
            ['1.0.dev3', '1.0rc1', '1.0', '1.0.post1', '9.2.1', '10.0']

    def test_pep440_equal_versions_are_ordered_by_text(self) -> None:
        assert sort_versions(['1.00', '1.0.0', '1.0']) == ['1.0', '1.0.0', '1.00']

    def test_driver_versions(self) -> None:
        assert sort_versions(['550.54.14', '535.161.07', '550.120']) == ['535.161.07', '550.54.14', '550.120']

    def test_rpm_fallback_for_non_pep440(self) -> None:
        # One non-PEP-440 version switches the whole list to rpm segment order.
        assert sort_versions(['2023.10.01-custom', '1.0-rc1-git', '1.0', '0.9', '2023.9.30']) == \
            ['0.9', '1.0', '1.0-rc1-git', '2023.9.30', '2023.10.01-custom']

    def test_empty(self) -> None:
        assert sort_versions([]) == []

    def test_several_versions_of_a_package(self, tree: Tree) -> None:
        for version in ('1.10', '1.9', '1.0-rc1-git'):
            tree.add('hello', version)
        package = tree.read().packages['hello']
        assert package.ordered_versions() == ['1.0-rc1-git', '1.9', '1.10']
        assert package.newest().version == '1.10'
        assert tree.warnings == []


class TestSources:
    def test_registered(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        version = tree.read().packages['hello'].versions['1.0']
        assert (version.name, version.version, version.source, version.broken) == \
            ('hello', '1.0', '/usr/src/hello-1.0', False)
        assert version.conf is not None and version.conf.autoinstall is True

    def test_relative_source_link(self, tree: Tree) -> None:
        tree.write('/usr/src/hello-1.0/dkms.conf', dkms_conf('hello', '1.0', ['hello']))
        tree.link('/var/lib/dkms/hello/1.0/source', '../../../../../usr/src/hello-1.0')
        assert tree.read().packages['hello'].versions['1.0'].source == '/usr/src/hello-1.0'

    def test_dangling_source(self, tree: Tree) -> None:
        tree.link('/var/lib/dkms/hello/1.0/source', '/usr/src/hello-1.0')
        version = tree.read().packages['hello'].versions['1.0']
        assert (version.source, version.broken, version.conf) == (None, True, None)

    def test_missing_source(self, tree: Tree) -> None:
        tree.path('/var/lib/dkms/hello/1.0').mkdir(parents=True)
        version = tree.read().packages['hello'].versions['1.0']
        assert (version.source, version.broken) == (None, True)

    def test_source_loop_and_source_file(self, tree: Tree) -> None:
        tree.link('/var/lib/dkms/hello/1.0/source', '/var/lib/dkms/hello/1.0/source')
        tree.write('/usr/src/file', 'not a directory')
        tree.link('/var/lib/dkms/hello/2.0/source', '/usr/src/file')
        versions = tree.read().packages['hello'].versions
        assert versions['1.0'].broken and versions['2.0'].broken

    def test_source_link_to_a_host_directory(self, tree: Tree, tmp_path: Path) -> None:
        # The host's directory has a dkms.conf; inside the root the link dangles.
        host = tmp_path.parent / (tmp_path.name + '-host')
        host.mkdir()
        (host / 'dkms.conf').write_text('PACKAGE_NAME=leak\n')
        tree.link('/var/lib/dkms/hello/1.0/source', str(host))
        assert tree.read().packages['hello'].versions['1.0'].broken

    def test_source_without_dkms_conf(self, tree: Tree) -> None:
        tree.path('/usr/src/hello-1.0').mkdir(parents=True)
        tree.link('/var/lib/dkms/hello/1.0/source', '/usr/src/hello-1.0')
        version = tree.read().packages['hello'].versions['1.0']
        assert (version.broken, version.conf) == (False, None)
        assert len(tree.warnings) == 1 and 'dkms.conf' in tree.warnings[0]

    def test_hostile_dkms_conf_does_not_stop_the_reader(self, tree: Tree) -> None:
        tree.add('hello', '1.0', 'BUILT_MODULE_NAME[\u00b2]=hello\n')
        assert tree.read().packages['hello'].versions['1.0'].conf is not None

    def test_entries_that_are_not_versions(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.path('/var/lib/dkms/hello/original_module').mkdir()
        tree.write('/var/lib/dkms/hello/stray-file')
        tree.link('/var/lib/dkms/hello/dangling', '/nowhere')
        tree.write('/var/lib/dkms/not-a-package')
        tree.link('/var/lib/dkms/loop', 'loop')
        tree.path('/var/lib/dkms/empty').mkdir()
        tree.link('/var/lib/dkms/hello/kernel-%s-%s' % (K1, ARCH), '1.0/%s/%s' % (K1, ARCH))
        asked = watch(tree, 'isdir')
        result = tree.read()
        assert list(result.packages) == ['empty', 'hello']
        assert list(result.packages['hello'].versions) == ['1.0'] and result.packages['empty'].versions == {}
        assert tree.warnings == []
        # Package and version directories are listed without being looked up first.
        assert not set(asked) & {'/var/lib/dkms/hello', '/var/lib/dkms/hello/1.0'}

    def test_name_filter_and_missing_tree(self, tree: Tree) -> None:
        assert tree.read().packages == {}
        tree.add('hello', '1.0')
        tree.add('other', '1.0')
        assert list(tree.read(['other', 'absent']).packages) == ['other']
        assert tree.warnings == []


class TestBuilds:
    def test_builds_and_module_names(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.build('hello', '1.0', K1, ['hello.ko', 'hello_ext.ko'])
        tree.build('hello', '1.0', K2, ['hello.ko.xz', 'hello_ext.ko.zst', 'hello.ko.sig'])
        tree.write('/var/lib/dkms/hello/1.0/%s/%s/log/make.log' % (K2, ARCH), 'ok')
        tree.path('/var/lib/dkms/hello/1.0/build').mkdir()
        version = tree.read().packages['hello'].versions['1.0']
        assert sorted(version.builds) == [K1, K2]
        build = version.builds[K2]
        assert (build.kernel, build.arch, build.path) == \
            (K2, ARCH, '/var/lib/dkms/hello/1.0/%s/%s/module' % (K2, ARCH))
        assert build.modules == {
            'hello': '/var/lib/dkms/hello/1.0/%s/%s/module/hello.ko.xz' % (K2, ARCH),
            'hello_ext': '/var/lib/dkms/hello/1.0/%s/%s/module/hello_ext.ko.zst' % (K2, ARCH),
        }
        assert version.module_names() == ['hello', 'hello_ext']

    def test_half_finished_build_is_not_a_build(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.path('/var/lib/dkms/hello/1.0/%s/%s/module' % (K1, ARCH)).mkdir(parents=True)
        tree.path('/var/lib/dkms/hello/1.0/%s/%s/log' % (K2, ARCH)).mkdir(parents=True)
        version = tree.read().packages['hello'].versions['1.0']
        assert version.builds == {}
        # No build: the names come from dkms.conf.
        assert version.module_names() == ['hello']

    def test_whole_system_with_compressed_modules(self, tmp_path: Path, ko_builder: KoBuilder) -> None:
        system = SystemTree(tmp_path, ko_builder)
        system.kernel(K1)
        system.package('hello', '1.0', ['hello', 'hello_ext'])
        system.build('hello', '1.0', K1, compress='.xz')
        system.kernel(K2)
        system.build('hello', '1.0', K2, compress='.gz', install=False)
        warnings: list[str] = []
        package = read_dkms_tree(RootFS(str(tmp_path)), warnings.append).packages['hello']
        assert warnings == []
        assert package.installed == {K1: ('1.0', ARCH)}
        builds = package.versions['1.0'].builds
        assert sorted(builds[K1].modules) == ['hello', 'hello_ext']
        assert builds[K1].modules['hello'].endswith('/hello.ko.xz')
        assert builds[K2].modules['hello_ext'].endswith('/hello_ext.ko.gz')
        assert package.versions['1.0'].conf.dest_module_names() == ['hello', 'hello_ext']

    def test_module_directory_is_listed_without_a_look_up(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.build('hello', '1.0', K1, ['hello.ko'])
        tree.write('/var/lib/dkms/hello/1.0/%s/%s/module' % (K2, ARCH), 'not a directory')
        tree.link('/var/lib/dkms/hello/1.0/6.1.0-51-amd64/%s/module' % ARCH, 'module')   # a loop
        asked = watch(tree, 'isdir')
        assert list(tree.read().packages['hello'].versions['1.0'].builds) == [K1]
        assert tree.warnings == []   # no module/ directory: nothing built, nothing wrong
        assert not [path for path in asked if path.endswith('/%s/%s/module' % (K1, ARCH))]


class TestInstallLinks:
    def test_relative_and_absolute(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.add('hello', '2.0')
        tree.link('/var/lib/dkms/hello/kernel-%s-%s' % (K1, ARCH), '1.0/%s/%s' % (K1, ARCH))
        tree.link('/var/lib/dkms/hello/kernel-%s-aarch64' % K2, '/var/lib/dkms/hello/2.0/%s/aarch64' % K2)
        tree.link('/var/lib/dkms/hello/kernel-6.1.0-1-rt-amd64-%s' % ARCH, './1.0/6.1.0-1-rt-amd64/%s' % ARCH)
        package = tree.read().packages['hello']
        assert package.installed == {K1: ('1.0', ARCH), K2: ('2.0', 'aarch64'), '6.1.0-1-rt-amd64': ('1.0', ARCH)}
        assert tree.warnings == []

    @pytest.mark.parametrize('target', ['/elsewhere/1.0/K/x86_64', '../other/1.0/K/x86_64', '.'])
    def test_pointing_outside_the_package(self, tree: Tree, target: str) -> None:
        tree.add('hello', '1.0')
        tree.link('/var/lib/dkms/hello/kernel-%s-%s' % (K1, ARCH), target)
        assert tree.read().packages['hello'].installed == {}
        assert len(tree.warnings) == 1 and 'outside' in tree.warnings[0]

    def test_not_a_link(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.write('/var/lib/dkms/hello/kernel-%s-%s' % (K1, ARCH))
        assert tree.read().packages['hello'].installed == {}
        assert len(tree.warnings) == 1

    def test_dangling_install_link_still_names_its_version(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.link('/var/lib/dkms/hello/kernel-%s-%s' % (K1, ARCH), '3.0/%s/%s' % (K1, ARCH))
        assert tree.read().packages['hello'].installed == {K1: ('3.0', ARCH)}


class TestAdminOverrides:
    def test_package_and_version_overrides(self, tree: Tree) -> None:
        tree.add('hello', '1.0', dkms_conf('hello', '1.0', ['hello']))
        tree.add('hello', '2.0', dkms_conf('hello', '2.0', ['hello']))
        tree.write('/etc/dkms/hello.conf', 'BUILD_EXCLUSIVE_KERNEL="^5\\."\n')
        tree.write('/etc/dkms/hello-2.0.conf', 'AUTOINSTALL=no\nBUILD_EXCLUSIVE_KERNEL="^6\\."\n')
        tree.write('/usr/sbin/dkms', '#!/bin/bash\necho "dkms-3.4.3"\n')  # dkms 3.0.10 would autoinstall "no"
        versions = tree.read().packages['hello'].versions
        assert versions['1.0'].conf.excludes(K1, ARCH) is True
        assert versions['1.0'].conf.autoinstall is True
        assert versions['2.0'].conf.excludes(K1, ARCH) is False
        assert versions['2.0'].conf.autoinstall is False
        assert tree.warnings == []

    def test_kernel_overrides_apply_to_their_kernel_only(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.write('/etc/dkms/hello-1.0-%s.conf' % K1, 'BUILD_EXCLUSIVE_KERNEL="^5\\."\n')
        tree.write('/etc/dkms/hello--%s-%s.conf' % (K2, ARCH), 'BUILD_EXCLUSIVE_ARCH="aarch64"\n')
        conf = tree.read().packages['hello'].versions['1.0'].conf
        assert (conf.excludes(K1, ARCH), conf.excludes(K2, ARCH), conf.excludes('6.1.0-51-amd64', ARCH)) == \
            (True, True, False)
        assert conf.build_exclusive()['kernel'] is None   # the package's own rules name no kernel
        assert tree.warnings == []

    def test_override_that_is_a_directory_is_ignored(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.path('/etc/dkms/hello.conf').mkdir(parents=True)
        assert tree.read().packages['hello'].versions['1.0'].conf.autoinstall is True
        assert tree.warnings == []

    def test_overrides_are_found_in_one_listing(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.add('world', '1.0')
        tree.write('/etc/dkms/framework.conf', '# defaults\n')
        tree.write('/etc/dkms/world.conf', 'AUTOINSTALL=\n')
        tree.write('/etc/dkms/world--%s.conf' % K2, 'BUILD_EXCLUSIVE_KERNEL="^5\\."\n')
        looked_up = watch(tree, 'isfile')
        packages = tree.read().packages
        hello, world = packages['hello'].versions['1.0'].conf, packages['world'].versions['1.0'].conf
        assert (hello.autoinstall, world.autoinstall) == (True, False)
        assert [conf.excludes(release, ARCH) for conf in (hello, world) for release in (K1, K2)] == \
            [False, False, False, True]
        # Only the overrides that exist are looked at; the absent ones are known absent from the listing.
        assert sorted(path for path in looked_up if path.startswith('/etc/dkms/')) == \
            ['/etc/dkms/world--%s.conf' % K2, '/etc/dkms/world.conf']
        assert tree.warnings == []

    def test_override_can_make_a_value_unknown(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.write('/etc/dkms/hello.conf', 'AUTOINSTALL=$(decide)\n')
        assert tree.read().packages['hello'].versions['1.0'].conf.autoinstall is None


class TestFailedBuilds:
    def test_log_left_in_build(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.add('hello', '2.0')
        log = 'DKMS (dkms-3.4.3) make.log for hello/2.0 for kernel %s (%s)\nSun Nov 29\n' % (K2, ARCH)
        log += ''.join('line %d\n' % number for number in range(2000)) + 'make: *** [Makefile:12: all] Error 2\n'
        tree.write('/var/lib/dkms/hello/2.0/build/make.log', log)
        tree.write('/var/lib/dkms/hello/1.0/build/make.log', 'DKMS make.log for hello-1.0 for kernel %s (%s)\n' % (K1, ARCH))
        package = tree.read().packages['hello']
        failed = package.versions['2.0'].failed_build
        assert (failed['kernel'], failed['arch'], failed['log']) == (K2, ARCH, '/var/lib/dkms/hello/2.0/build/make.log')
        assert failed['tail'][-1] == 'make: *** [Makefile:12: all] Error 2' and len(failed['tail']) == 20
        assert package.versions['1.0'].failed_build['kernel'] == K1   # dkms 3.0 wrote the header this way
        facts = package_conf_facts(package)
        assert [(build['version'], build['kernel']) for build in facts['failed_builds']] == [('1.0', K1), ('2.0', K2)]

    def test_never_tried_and_built(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.build('hello', '1.0', K1, ['hello.ko'])
        tree.write('/var/lib/dkms/hello/1.0/%s/%s/log/make.log' % (K1, ARCH), 'DKMS make.log ... ok\n')
        assert tree.read().packages['hello'].versions['1.0'].failed_build is None

    def test_no_build_directory_no_look_up(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.build('hello', '1.0', K1, ['hello.ko'])
        looked_up = watch(tree, 'isfile')
        assert tree.read().packages['hello'].versions['1.0'].failed_build is None
        assert not [path for path in looked_up if path.endswith('make.log')]

    def test_log_without_header(self, tree: Tree) -> None:
        tree.add('hello', '1.0')
        tree.write('/var/lib/dkms/hello/1.0/build/make.log', '')
        failed = tree.read().packages['hello'].versions['1.0'].failed_build
        assert failed == {'kernel': None, 'arch': None, 'log': '/var/lib/dkms/hello/1.0/build/make.log', 'tail': []}


class TestPackageConfFacts:
    def test_facts(self, tree: Tree) -> None:
        tree.write('/usr/sbin/dkms', '#!/bin/bash\necho "dkms-3.4.3"\n')
        tree.add('hello', '1.0', dkms_conf('hello', '1.0', ['hello', 'hello_ext'],
                                           'BUILD_DEPENDS=(base)\nNO_WEAK_MODULES=yes\nOBSOLETE_BY=6.8\n'
                                           'BUILD_EXCLUSIVE_ARCH="x86_64"\n'))
        facts = package_conf_facts(tree.read().packages['hello'])
        assert facts == {
            'autoinstall': True, 'modules': ['hello', 'hello_ext'], 'build_depends': ['base'], 'no_weak_modules': True,
            'obsolete_by': '6.8',
            'build_exclusive': {'kernel': None, 'arch': 'x86_64', 'kernel_min': None, 'kernel_max': None, 'config': None},
            'dkms_conf': {'path': '/usr/src/hello-1.0/dkms.conf', 'dkms_version': '3.4.3', 'valid': True, 'errors': []},
            'failed_builds': [],
        }

    def test_rejected_and_unknown(self, tree: Tree) -> None:
        tree.add('bad', '1.0', 'PACKAGE_NAME=bad\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=bad.ko\n'
                               'DEST_MODULE_LOCATION[0]=/updates\nAUTOINSTALL=y\n')
        tree.add('dynamic', '1.0', 'PACKAGE_NAME=dynamic\nPACKAGE_VERSION=1.0\n'
                                   'BUILT_MODULE_NAME[0]=$(basename $PWD)\nDEST_MODULE_LOCATION[0]=/updates\n')
        packages = tree.read().packages
        bad = package_conf_facts(packages['bad'])
        assert bad['dkms_conf']['dkms_version'] is None and bad['dkms_conf']['valid'] is False
        assert bad['dkms_conf']['errors'] == ["'BUILT_MODULE_NAME' 'bad.ko' ends in '.o' or '.ko' (record #0)",
                                              "'DEST_MODULE_NAME' 'bad.ko' ends in '.o' or '.ko' (record #0)",
                                              "unsupported AUTOINSTALL value 'y'"]
        assert bad['autoinstall'] is None           # 3.0.10 says yes, 3.1.7 and later refuse the file
        dynamic = package_conf_facts(packages['dynamic'])
        assert (dynamic['modules'], dynamic['dkms_conf']['valid'], dynamic['dkms_conf']['errors']) == (None, None, [])

    def test_no_version(self) -> None:
        facts = package_conf_facts(Package('gone', {}, {}))
        assert facts['modules'] is None
        assert facts['dkms_conf'] == {'path': None, 'dkms_version': None, 'valid': None, 'errors': []}


def test_read_package_directly(tree: Tree) -> None:
    tree.add('hello', '1.0')
    tree.build('hello', '1.0', K1, ['hello.ko.gz'])
    tree.link('/var/lib/dkms/hello/kernel-%s-%s' % (K1, ARCH), '1.0/%s/%s' % (K1, ARCH))
    package = read_package(tree.fs, tree.warnings.append, '/var/lib/dkms', 'hello')
    assert package.name == 'hello'
    assert package.installed == {K1: ('1.0', ARCH)}
    assert package.versions['1.0'].module_names() == ['hello']
    assert not os.path.exists(tree.path('/lib/modules'))


def described(tree: DkmsTree) -> dict[str, object]:
    """What the facts take from a DkmsTree, kernel overrides included."""
    return {name: (package.installed, package_conf_facts(package),
                   {version: (entry.source, entry.broken, entry.failed_build,
                              {kernel: (build.arch, build.path, build.modules) for kernel, build in entry.builds.items()},
                              entry.conf and [entry.conf.excludes(kernel, ARCH) for kernel in (K1, K2)])
                    for version, entry in package.versions.items()})
            for name, package in tree.packages.items()}


class TestHandover:
    """A tree read in the compare worker, handed over to the parent (_compare_ahead)."""

    def test_a_tree_handed_over_reads_as_the_tree_read_here(self, tree: Tree) -> None:
        tree.write('/usr/sbin/dkms', '#!/bin/bash\necho "dkms-3.0.10"\n')
        tree.add('hello', '1.0')
        tree.build('hello', '1.0', K1, ['hello.ko'])
        tree.link('/var/lib/dkms/hello/kernel-%s-%s' % (K1, ARCH), '1.0/%s/%s' % (K1, ARCH))
        tree.add('hello', '2.0', dkms_conf('hello', '2.0', ['hello'], 'BUILT_MODULE_NAME[1]="$(uname -r)"\n'))
        tree.write('/etc/dkms/hello-1.0-%s.conf' % K2, 'BUILD_EXCLUSIVE_KERNEL="^5\\."\n')
        tree.write('/etc/dkms/hello-2.0-%s.conf' % K2, '')
        os.truncate(tree.path('/etc/dkms/hello-2.0-%s.conf' % K2), 2 << 20)     # too large: a warning, later
        tree.add('world', '1.0')
        tree.path('/usr/src/world-1.0/dkms.conf').unlink()
        tree.link('/var/lib/dkms/gone/1.0/source', '/usr/src/gone-1.0')
        here = tree.read()
        told_here = tree.warnings[:]
        handed, told = loads_tree(dumps_tree(tree.read(), tree.warnings[len(told_here):]), tree.fs, tree.warnings.append)
        assert told == told_here and any('world-1.0/dkms.conf' in message for message in told)
        assert described(handed) == described(here)
        assert handed.packages['hello'].versions['1.0'].conf.excludes(K2, ARCH) is True   # its kernel's override, read now
        assert handed.packages['hello'].versions['2.0'].conf.readings[0].values['BUILT_MODULE_NAME'][1] is UNKNOWN
        # Both trees warned once about the override that cannot be read, each to its own warn.
        assert sum('hello-2.0-%s.conf' % K2 in message for message in tree.warnings) == 2

    def test_loads_tree_makes_nothing_but_a_tree(self, tree: Tree) -> None:
        with pytest.raises(pickle.UnpicklingError, match='not part of a dkms tree: posix.system'):
            loads_tree(pickle.dumps((os.system, [])), tree.fs, tree.warnings.append)
