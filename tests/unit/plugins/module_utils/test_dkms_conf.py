# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dkms.conf as each dkms version reads it: records, defaults, rejections, BUILD_EXCLUSIVE, the version."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._dkms_conf import (
    RULE_VERSIONS, DkmsConf, DkmsVersion, read_dkms_version)
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.root_tree import RootTree

ARCH = 'x86_64'
K1 = '6.1.0-47-amd64'
K2 = '6.1.0-50-amd64'
NEWEST = (3, 4, 3)
DEBIAN_12 = (3, 0, 10)
HEADER = 'PACKAGE_NAME=hello\nPACKAGE_VERSION=1.0\n'


def conf(text: str, dkms_version: tuple[int, ...] | None = NEWEST, header: str = HEADER,
         warn: Callable[[str], None] | None = None) -> DkmsConf:
    return DkmsConf([header + text], 'hello', '1.0', dkms_version, warn=warn)


class TestRecords:
    @pytest.mark.parametrize(('text', 'expected'), [
        ('', []),                                                   # dkms finds no module to build
        ('DEST_MODULE_LOCATION[0]=/updates\n', ['hello']),          # one record: PACKAGE_NAME
        ('BUILT_MODULE_NAME[0]=hello_core\n', ['hello_core']),
        ('BUILT_MODULE_NAME[0]=a\nBUILT_MODULE_NAME[1]=b\nDEST_MODULE_NAME[1]=renamed\n', ['a', 'renamed']),
        ('BUILT_MODULE_NAME[0]=a\nDEST_MODULE_NAME[0]=""\n', ['a']),
        ('DEST_MODULE_NAME[0]=renamed\n', ['renamed']),
        ('BUILT_MODULE_NAME=(a b c)\nDEST_MODULE_NAME=(x)\n', ['x', 'b', 'c']),
        ('BUILT_MODULE_NAME[0]="${PACKAGE_NAME}_drv"\n', ['hello_drv']),
        ('BUILT_MODULE_NAME=()\nBUILT_MODULE_NAME+=(a)\nBUILT_MODULE_NAME+=("b")\n', ['a', 'b']),
    ])
    def test_static(self, text: str, expected: list[str]) -> None:
        assert conf(text, None).dest_module_names() == expected

    def test_sparse_indices_by_version(self) -> None:
        text = 'BUILT_MODULE_NAME[0]=a\nBUILT_MODULE_NAME[3]=d\nDEST_MODULE_NAME[3]=z\n'
        # Before 3.2.2 dkms counts elements (two records: a and an empty one), since by highest index.
        assert conf(text, (3, 2, 1)).dest_module_names() == ['a', '']
        assert conf(text, (3, 2, 2)).dest_module_names() == ['a', '', '', 'z']
        assert conf(text, None).dest_module_names() is None

    def test_default_name_by_version(self) -> None:
        # dkms 3.0.10 names a lone record after the -m name, and only with one DEST_MODULE_LOCATION;
        # Debian 12's after PACKAGE_NAME, as 3.0.11 does.
        text = 'DEST_MODULE_LOCATION[0]=/updates\n'
        assert conf(text, DEBIAN_12, header='PACKAGE_NAME=other\n').dest_module_names() == ['hello']
        backported = DkmsVersion(DEBIAN_12, exclusive_config=True, package_name_default=True)
        assert conf(text, backported, header='PACKAGE_NAME=other\n').dest_module_names() == ['other']
        assert conf(text, NEWEST, header='PACKAGE_NAME=other\n').dest_module_names() == ['other']
        assert conf('DEST_MODULE_NAME[0]=x\n', DEBIAN_12).dest_module_names() == ['x']

    @pytest.mark.parametrize('text', [
        'BUILT_MODULE_NAME[0]=$(ls)\n',
        'BUILT_MODULE_NAME[0]=a\nDEST_MODULE_NAME[0]=`x`\n',
        'DEST_MODULE_NAME[$i]=a\n',
        'source ./more\n',
        'if [ "$kernelver" ]; then BUILT_MODULE_NAME[1]=b; fi\n',
    ])
    def test_not_static(self, text: str) -> None:
        assert conf(text).dest_module_names() is None

    @pytest.mark.parametrize('text', [
        'BUILT_MODULE_NAME[999999999]=a\nDEST_MODULE_LOCATION[0]=/updates\n',
        'BUILT_MODULE_NAME[07777777777]=a\nDEST_MODULE_LOCATION[0]=/updates\n',   # octal: 1,073,741,823
        'BUILT_MODULE_NAME[999999999]=a\nBUILT_MODULE_NAME+=(b)\nDEST_MODULE_LOCATION[0]=/updates\n',
    ])
    def test_a_billion_records_are_not_walked(self, text: str) -> None:
        # dkms 3.2.2 and later would check every index up to the highest: not told, and read at once.
        for version in (NEWEST, (3, 2, 2), None):
            assert (conf(text, version).dest_module_names(), conf(text, version).valid()) == (None, None)

    def test_package_name_not_static(self) -> None:
        assert conf('DEST_MODULE_LOCATION[0]=/extra\n', header='PACKAGE_NAME=$(cat name)\n').dest_module_names() is None


class TestDestModuleLocations:
    @pytest.mark.parametrize(('text', 'expected'), [
        ('DEST_MODULE_LOCATION[0]="/kernel/drivers/video"\n', {'hello': '/kernel/drivers/video'}),
        ('BUILT_MODULE_NAME=(a b)\nDEST_MODULE_NAME[1]=renamed\n'
         'DEST_MODULE_LOCATION=("/updates/dkms" "/kernel/drivers//net/")\n',
         {'a': '/updates/dkms', 'renamed': '/kernel/drivers/net'}),
        ('BUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION[1]=/extra\n', {'b': '/extra'}),
        # dkms refuses other places; a climb out of the kernel's tree is one of them.
        ('DEST_MODULE_LOCATION[0]="/kernel/../../../etc"\n', {}),
        ('DEST_MODULE_LOCATION[0]="/lib/firmware"\n', {}),
        ('DEST_MODULE_LOCATION[0]=$(where)\n', {}),
        ('BUILT_MODULE_NAME[0]=$(ls)\nDEST_MODULE_LOCATION[0]=/kernel\n', {}),
        ('', {}),
    ])
    def test_locations(self, text: str, expected: dict[str, str]) -> None:
        assert conf(text).dest_module_locations() == expected


class TestFlags:
    @pytest.mark.parametrize(('text', 'newest', 'debian_12'), [
        ('AUTOINSTALL="yes"', True, True), ('AUTOINSTALL=YES', True, True), ('AUTOINSTALL=yEs', True, True),
        ('AUTOINSTALL=y', False, True),       # 3.1.7 and later refuse the file; 3.0.10 takes any word
        ('AUTOINSTALL=true', False, True),
        ('AUTOINSTALL=no', False, True),      # 3.0.10 autoinstalls on any non-empty value
        ('AUTOINSTALL=""', False, False), ('', False, False),
        ('AUTOINSTALL=$(echo yes)', None, None), ('[ -n "$x" ] && AUTOINSTALL=yes', None, None),
        ('AUTOINSTALL=yes ; NO_WEAK_MODULES=yes', True, True),
        ('AUTOINSTALL="yes\r"', True, True),   # 3.1.5+ strip the CR; 3.0.10 sees a non-empty word
    ])
    def test_autoinstall(self, text: str, newest: bool | None, debian_12: bool | None) -> None:
        assert conf(text, NEWEST).autoinstall is newest
        assert conf(text, DEBIAN_12).autoinstall is debian_12
        assert conf(text, None).autoinstall is (newest if newest == debian_12 else None)

    def test_no_weak_modules(self) -> None:
        assert conf('NO_WEAK_MODULES=yes').no_weak_modules is True
        assert conf('NO_WEAK_MODULES=no').no_weak_modules is False
        assert conf('NO_WEAK_MODULES=no', DEBIAN_12).no_weak_modules is True
        assert conf('').no_weak_modules is False

    def test_build_depends_and_obsolete_by(self) -> None:
        assert conf('BUILD_DEPENDS=(spl "zfs-common")\nOBSOLETE_BY=6.8\n').build_depends == ['spl', 'zfs-common']
        assert conf('OBSOLETE_BY=6.8\n').obsolete_by == '6.8'
        assert conf('').build_depends == [] and conf('').obsolete_by is None
        assert conf('BUILD_DEPENDS[0]=$(deps)\n').build_depends is None


class TestErrors:
    VALID = 'BUILT_MODULE_NAME[0]=hello\nDEST_MODULE_LOCATION[0]=/updates/dkms\nAUTOINSTALL=yes\n'

    def test_valid(self) -> None:
        assert (conf(self.VALID, None).valid(), conf(self.VALID, None).errors()) == (True, [])

    @pytest.mark.parametrize(('text', 'fragment'), [
        ('BUILT_MODULE_NAME[0]=hello.ko\nDEST_MODULE_LOCATION[0]=/updates\n', "ends in '.o' or '.ko'"),
        ('DEST_MODULE_NAME[0]=hello.o\nDEST_MODULE_LOCATION[0]=/updates\n', "ends in '.o' or '.ko'"),
        ('BUILT_MODULE_NAME[0]=hello\nDEST_MODULE_LOCATION[0]=/lib/firmware\n', 'does not begin with'),
        ('BUILT_MODULE_NAME[0]=hello\n', "no 'DEST_MODULE_LOCATION'"),
        ('BUILT_MODULE_NAME=(a b)\nDEST_MODULE_LOCATION=(/extra /extra)\nDEST_MODULE_NAME=(x x)\n', 'duplicate'),
        (VALID + 'AUTOINSTALL=Y\n', 'unsupported AUTOINSTALL'),
        (VALID + 'NO_WEAK_MODULES=true\n', 'unsupported NO_WEAK_MODULES'),
    ])
    def test_rejected_by_the_newest(self, text: str, fragment: str) -> None:
        errors = conf(text).errors()
        assert conf(text).valid() is False
        assert errors and any(fragment in error for error in errors), errors

    def test_rejected_by_version(self) -> None:
        text = self.VALID + 'AUTOINSTALL=y\n'
        assert (conf(text, DEBIAN_12).valid(), conf(text, DEBIAN_12).errors()) == (True, [])
        assert conf(text, (3, 1, 7)).errors() == ["unsupported AUTOINSTALL value 'y'"]
        # Which version the target runs decides; the reasons some version gives are told.
        assert (conf(text, None).valid(), conf(text, None).errors()) == (None, ["unsupported AUTOINSTALL value 'y'"])
        assert conf('', DEBIAN_12, header='PACKAGE_NAME=hello\nPACKAGE_VERSION=1\n').errors() == [
            "no 'DEST_MODULE_LOCATION' directive"]
        assert conf('', NEWEST).errors() == []

    def test_unknown(self) -> None:
        assert conf('BUILT_MODULE_NAME[0]=$(x)\nDEST_MODULE_LOCATION[0]=/updates\n').valid() is None
        # Whatever eval did, CLEAN is unset after it: not a value to look at.
        assert conf('eval x=1\nunset CLEAN\n').valid() is None

    def test_missing_package_name_or_version(self) -> None:
        # read_conf fails without either, in every dkms version from 2.8.8 on.
        assert conf(self.VALID, header='PACKAGE_NAME=hello\n').errors() == ["no 'PACKAGE_VERSION' directive"]
        assert conf(self.VALID, header='PACKAGE_VERSION=1\n').errors() == ["no 'PACKAGE_NAME' directive"]
        assert conf(self.VALID, header='PACKAGE_NAME=hello\nPACKAGE_VERSION=$(date)\n').valid() is None


def rule(text: str, dkms_version: tuple[int, ...] | None = NEWEST,
         warn: Callable[[str], None] | None = None) -> DkmsConf:
    """A dkms.conf with one module record and ``text``."""
    return conf('DEST_MODULE_LOCATION[0]=/updates\n' + text, dkms_version, warn=warn)


class TestBuildExclusive:
    @pytest.mark.parametrize(('text', 'release', 'arch', 'expected'), [
        ('', K1, ARCH, False),
        ('BUILD_EXCLUSIVE_KERNEL="^6\\.1\\."', K1, ARCH, False),
        ('BUILD_EXCLUSIVE_KERNEL="^5\\."', K1, ARCH, True),
        ('BUILD_EXCLUSIVE_KERNEL="(^5\\.|-rt-)"', '6.1.0-1-rt-amd64', ARCH, False),
        ('BUILD_EXCLUSIVE_KERNEL="^(5\\.|6\\.[0-4])($|[.-])"', K1, ARCH, False),   # a $ bash leaves as it is
        ('BUILD_EXCLUSIVE_KERNEL="^(5\\.|6\\.[0-4])($|[.-])"', '6.5.0-1-amd64', ARCH, True),
        ('BUILD_EXCLUSIVE_KERNEL="(unbalanced"', K1, ARCH, True),    # bash: `! x =~ bad` is true
        ('BUILD_EXCLUSIVE_KERNEL="^\\d"', K1, ARCH, True),           # no \\d in an ERE: a literal d
        ('BUILD_EXCLUSIVE_ARCH="x86_64"', K1, ARCH, False),
        ('BUILD_EXCLUSIVE_ARCH="x86_64"', K1, 'aarch64', True),
        ('BUILD_EXCLUSIVE_ARCH="x86_64"', K1, None, None),
        ('BUILD_EXCLUSIVE_KERNEL_MIN="6.1.0-50"', K1, ARCH, True),
        ('BUILD_EXCLUSIVE_KERNEL_MIN="6.1.0-50"', K2, ARCH, False),
        ('BUILD_EXCLUSIVE_KERNEL_MIN="6.1"', '5.15.0-100-generic', ARCH, True),
        ('BUILD_EXCLUSIVE_KERNEL_MAX="6.1.0-48"', K1, ARCH, False),
        ('BUILD_EXCLUSIVE_KERNEL_MAX="6.1.0-48"', K2, ARCH, True),
        ('BUILD_EXCLUSIVE_KERNEL_MAX="5.15"', '5.14.0-427.el9.x86_64', ARCH, False),
        ('OBSOLETE_BY="6.1.0-48"', K2, ARCH, True),
        ('BUILD_EXCLUSIVE_KERNEL_MIN="$(uname -r)"', K1, ARCH, None),
        ('if true; then\nBUILD_EXCLUSIVE_KERNEL="^5"\nfi', K1, ARCH, True),
        ('if [ -e /etc/dkms/rt ]; then\nBUILD_EXCLUSIVE_KERNEL="^5"\nfi', K1, ARCH, None),
        ('source /etc/more.conf', K1, ARCH, None),
        ('BUILD_EXCLUSIVE_KERNEL="^${kernelver}$"', K1, ARCH, False),   # read again with the kernel's presets
        ("BUILD_EXCLUSIVE_KERNEL='^5\\.$arch'", K1, ARCH, True),         # expanded when dkms reads it back
    ])
    def test_rules(self, text: str, release: str, arch: str | None, expected: bool | None) -> None:
        assert rule(text).excludes(release, arch) is expected

    @pytest.mark.parametrize(('release', 'expected'), [(K1, False), ('6.1.0-28-rt-amd64', True)])
    def test_build_exclude_set_by_a_test_of_the_kernel(self, release: str, expected: bool) -> None:
        # nvidia-tesla-470-kernel-dkms in Debian 12: "Can't easily set this via BUILD_EXCLUSIVE."
        text = '[[ "$kernelver" =~ "-rt-" ]] && build_exclude="yes"\n'
        assert rule(text, (3, 0, 10)).excludes(release, ARCH) is expected
        assert rule(text, (3, 3, 0)).excludes(release, ARCH) is False   # 3.3 reads build_exclude no more

    def test_rules_by_version(self) -> None:
        # dkms 3.0.10 knows neither KERNEL_MIN nor OBSOLETE_BY as exclusions.
        assert rule('BUILD_EXCLUSIVE_KERNEL_MIN="6.1.0-50"', DEBIAN_12).excludes(K1, ARCH) is False
        assert rule('OBSOLETE_BY="6.1.0-48"', (3, 1, 8)).excludes(K2, ARCH) is False
        assert rule('BUILD_EXCLUSIVE_KERNEL_MIN="6.1.0-50"', None).excludes(K1, ARCH) is None

    def test_an_unknown_package_rule_leaves_one_modules_name_known(self) -> None:
        # v4l2loopback-dkms in Debian 12: BUILD_EXCLUSIVE_KERNEL set where a command decides.
        text = ('if ! { echo "$kernelver"; echo 5.18; } | sort -V -C; then\n  BUILD_EXCLUSIVE_KERNEL="REQUIRES X"\nfi\n'
                'BUILT_MODULE_NAME[0]="$PACKAGE_NAME"\nDEST_MODULE_LOCATION[0]="/extra"\n')
        assert conf(text).excludes(K1, ARCH) is None
        # What dkms builds if it builds at all: from 3.3 only modules after the first have rules of their own.
        assert conf(text).kernel_module_names(K1, ARCH) == ['hello']
        two = text + 'BUILT_MODULE_NAME[1]=hello_ext\nDEST_MODULE_LOCATION[1]="/extra"\n'
        assert conf(two).kernel_module_names(K1, ARCH) is None
        assert conf(two, (3, 2, 2)).kernel_module_names(K1, ARCH) == ['hello', 'hello_ext']

    def test_rules_count_only_with_a_record_since_3_3(self) -> None:
        text = 'BUILD_EXCLUSIVE_KERNEL="^5\\."\n'
        assert conf(text, (3, 3, 0)).excludes(K1, ARCH) is False            # no record: nothing excluded
        assert conf(text, (3, 2, 2)).excludes(K1, ARCH) is True
        assert rule(text, (3, 3, 0)).excludes(K1, ARCH) is True

    def test_config(self) -> None:
        config = {'CONFIG_DRM': 'm', 'CONFIG_PCI': 'y', 'CONFIG_DEBUG': 'n'}
        calls: list[int] = []

        def kernel_config() -> dict[str, str]:
            calls.append(1)
            return config

        cases = [
            ('CONFIG_DRM CONFIG_PCI', False),
            ('CONFIG_DRM !CONFIG_DEBUG !CONFIG_ABSENT', False),
            ('CONFIG_ABSENT', True),
            ('!CONFIG_PCI', True),
            ('CONFIG_DEBUG', True),
        ]
        for options, expected in cases:
            assert rule('BUILD_EXCLUSIVE_CONFIG="%s"' % options).excludes(K1, ARCH, kernel_config) is expected, options
        assert len(calls) == len(cases)

    def test_config_from_3_0_11_or_where_a_distribution_backported_it(self) -> None:
        text = 'BUILD_EXCLUSIVE_CONFIG="CONFIG_ABSENT"'
        assert rule(text, (3, 0, 10)).excludes(K1, ARCH, dict) is False
        debian_12 = DkmsVersion((3, 0, 10), exclusive_config=True)
        assert rule(text, debian_12).excludes(K1, ARCH, dict) is True
        assert rule(text, debian_12).build_exclusive()['config'] == 'CONFIG_ABSENT'
        assert rule(text, (3, 0, 11)).excludes(K1, ARCH, dict) is True

    @pytest.mark.parametrize(('text', 'before_3_3'), [
        ('build_exclude=yes', True),     # dkms's own flag: up to 3.2 it only ever sets it
        ('build_exclude=', False),
        ('build_exclude=$(uname -r)', None),
    ])
    def test_a_build_exclude_the_file_sets(self, text: str, before_3_3: bool | None) -> None:
        assert rule(text, (3, 0, 10)).excludes(K1, ARCH, dict) is before_3_3
        assert rule(text, (3, 2, 2)).excludes(K1, ARCH, dict) is before_3_3
        assert rule(text, (3, 3, 0)).excludes(K1, ARCH, dict) is False     # 3.3 clears it first
        assert rule(text, None).excludes(K1, ARCH, dict) is (False if before_3_3 is False else None)

    @pytest.mark.parametrize('name', ['export_envs', 'dkms_conf_variables', 'mv_re'])
    def test_a_variable_dkms_made_readonly(self, name: str) -> None:
        # Assigning it ends the subshell dkms sources the file in: nothing is carried, or what is not told.
        reader = conf('BUILT_MODULE_NAME[0]=hello\nDEST_MODULE_LOCATION[0]=/updates\n%s=x\n' % name, NEWEST)
        assert (reader.valid(), reader.dest_module_names()) == (None, None)

    @pytest.mark.parametrize(('text', 'expected'), [
        ('BUILT_MODULE_LOCATION[0]="src/$HOME"', (None, None, False)),
        ("BUILT_MODULE_NAME[1]=$'\\u20ac'\nDEST_MODULE_LOCATION[1]=/updates", (None, None, False)),
        ('BUILD_EXCLUSIVE_KERNEL[0]=$(uname -r)', (True, ['hello'], None)),
    ])
    def test_an_element_not_known_leaves_what_depends_on_it_unknown(self, text: str, expected: tuple) -> None:
        reader = conf('BUILT_MODULE_NAME[0]=hello\nDEST_MODULE_LOCATION[0]=/updates\n' + text + '\n', NEWEST)
        assert (reader.valid(), reader.dest_module_names(), reader.excludes(K1, ARCH, dict)) == expected

    def test_config_is_read_only_when_needed(self) -> None:
        def unexpected() -> dict[str, str]:
            raise AssertionError('kernel_config called without a CONFIG rule')

        assert rule('BUILD_EXCLUSIVE_KERNEL="^6"').excludes(K1, ARCH, unexpected) is False
        assert rule('BUILD_EXCLUSIVE_KERNEL="^5"\nBUILD_EXCLUSIVE_CONFIG="CONFIG_X"').excludes(
            K1, ARCH, unexpected) is True

    @pytest.mark.parametrize('kernel_config', [None, lambda: None])
    def test_config_unknown(self, kernel_config: Callable[[], dict[str, str] | None] | None) -> None:
        assert rule('BUILD_EXCLUSIVE_CONFIG="CONFIG_DRM"').excludes(K1, ARCH, kernel_config) is None

    def test_kernel_config_sourced_inside_an_if(self) -> None:
        # lttng-modules style: only the CONFIG_ variables depend on the kernel.
        text = ('AUTOINSTALL=yes\nif [ -f "$kernel_source_dir/.config" ]; then\n'
                '    . "$kernel_source_dir/.config"\nfi\nBUILT_MODULE_NAME[0]=lttng-tracer\n'
                'DEST_MODULE_LOCATION[0]=/extra\nBUILD_EXCLUSIVE_ARCH="$CONFIG_ARCH_NAME"\n')
        package = rule(text)
        assert (package.autoinstall, package.dest_module_names()) == (True, ['lttng-tracer'])
        assert package.build_exclusive() is None             # it names the kernel's config
        # For one kernel, the .config is data; inside an `if` what it sets may or may not be.
        assert package.excludes(K1, ARCH, lambda: {'CONFIG_ARCH_NAME': 'x86_64'}) is None
        plain = text.replace('if [ -f "$kernel_source_dir/.config" ]; then\n', '').replace('fi\n', '')
        # Each kernel's reading is kept: one DkmsConf per config here.
        assert rule(plain).excludes(K1, ARCH, lambda: {'CONFIG_ARCH_NAME': 'x86_64'}) is False
        assert rule(plain).excludes(K1, ARCH, lambda: {'CONFIG_ARCH_NAME': 'aarch64'}) is True
        assert rule(plain).excludes(K1, ARCH, lambda: None) is None

    def test_pattern_beyond_the_budget_is_unknown_with_a_warning(self) -> None:
        warnings: list[str] = []
        text = 'BUILD_EXCLUSIVE_KERNEL="^(((a{1,100}){1,100}){1,100})$"'
        assert rule(text, warn=warnings.append).excludes(K1, ARCH) is None
        assert len(warnings) == 1 and 'BUILD_EXCLUSIVE_KERNEL' in warnings[0]

    def test_written_rules(self) -> None:
        package = rule('BUILD_EXCLUSIVE_KERNEL="^6\\."\nBUILD_EXCLUSIVE_CONFIG="CONFIG_DRM  CONFIG_PCI"\n')
        assert package.build_exclusive() == {'kernel': '^6\\.', 'arch': None, 'kernel_min': None, 'kernel_max': None,
                                             'config': 'CONFIG_DRM CONFIG_PCI'}


class TestDkmsVersion:
    @pytest.mark.parametrize(('line', 'expected'), [
        ('            echo $"dkms-3.0.10"', (3, 0, 10)),     # dkms 3.0.x
        ('            echo "dkms-3.4.3"', (3, 4, 3)),        # dkms 3.1 and later
        ('            echo "dkms-@RELEASE_STRING@"', None),
    ])
    def test_version_line(self, tmp_path: Path, line: str, expected: tuple[int, ...] | None) -> None:
        tree = RootTree(tmp_path)
        tree.write('/usr/sbin/dkms', '#!/bin/bash\n' + '# filler\n' * 1000 + 'case "$1" in\n  -V)\n' + line + '\n;;\nesac\n')
        assert read_dkms_version(tree.fs, tree.warnings.append) == expected
        assert len(tree.warnings) == (0 if expected else 1)

    @pytest.mark.parametrize('backported', [False, True])
    def test_backports_are_known_by_the_script(self, tmp_path: Path, backported: bool) -> None:
        tree = RootTree(tmp_path)
        carried = 'BUILD_EXCLUSIVE_KERNEL BUILD_EXCLUSIVE_ARCH%s\n   build_exclude' % (
            '\n   BUILD_EXCLUSIVE_CONFIG' if backported else '')
        named = '$PACKAGE_NAME' if backported else '$module'
        tree.write('/usr/sbin/dkms', '#!/bin/bash\nreadonly dkms_conf_variables="CLEAN PACKAGE_NAME %s"\n'
                   'case "$1" in\n  -V)\n    echo $"dkms-3.0.10"\n;;\nesac\n'
                   '        [[ ! ${built_module_name[$index]} ]] && \\\n'
                   '            ((${#DEST_MODULE_LOCATION[@]} == 1)) && \\\n'
                   '            built_module_name[$index]=%s\n' % (carried, named))
        version = read_dkms_version(tree.fs, tree.warnings.append)
        assert (version, version.exclusive_config, version.package_name_default) == ((3, 0, 10), backported, backported)

    def test_the_installed_dkms(self, tmp_path: Path) -> None:
        # This machine's dkms (Debian 12's 3.0.10 in CI backports BUILD_EXCLUSIVE_CONFIG): read as
        # its read_conf applies the rule.
        if not os.path.isfile('/usr/sbin/dkms'):
            pytest.skip('no dkms installed')
        tree = RootTree(tmp_path)
        script = Path('/usr/sbin/dkms').read_text(errors='replace')
        tree.write('/usr/sbin/dkms', script)
        version = read_dkms_version(tree.fs, tree.warnings.append)
        applies = re.search(r'\[\[ \$BUILD_EXCLUSIVE_CONFIG', script) is not None
        assert rule('BUILD_EXCLUSIVE_CONFIG="CONFIG_ABSENT"', version).excludes(K1, ARCH, dict) is applies

    def test_no_dkms(self, tmp_path: Path) -> None:
        warnings: list[str] = []
        assert read_dkms_version(RootFS(str(tmp_path)), warnings.append) is None
        assert warnings == []


SHELL_TOKENS = st.sampled_from([
    'BUILT_MODULE_NAME', 'DEST_MODULE_LOCATION', 'AUTOINSTALL', 'BUILD_EXCLUSIVE_KERNEL', '=', '+=', '[0]', '[1]',
    '(', ')', '"', "'", '$', '${', '$(', '\\', ';', '&&', '\n', '\r\n', '\ufeff', 'if ', 'fi', '/updates', 'a.ko',
    'yes', 'no', '^(.+)+$', '[', '$kernelver', '. "$kernel_source_dir/.config"', ' ', '{', '}', 'return', '<<E\n',
])


class TestProperties:
    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(st.lists(SHELL_TOKENS, max_size=30).map(''.join), st.sampled_from([None, NEWEST, DEBIAN_12]))
    def test_every_question_gets_an_answer(self, text: str, version: tuple[int, ...] | None) -> None:
        package = conf(text, version, header='')
        for answer in (package.autoinstall, package.no_weak_modules):
            assert answer in (True, False, None)
        names = package.dest_module_names()
        assert names is None or all(isinstance(name, str) for name in names)
        assert package.valid() in (True, False, None)
        assert all(isinstance(error, str) for error in package.errors())
        assert package.excludes(K1, ARCH, lambda: {}) in (True, False, None)
        package.build_exclusive()
        package.build_depends
        package.dest_module_locations()

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(st.lists(st.lists(SHELL_TOKENS, max_size=20).map(''.join), min_size=1, max_size=3))
    @example(['AUTOINSTALL="yes\r"\nBUILT_MODULE_NAME[0]=a\nDEST_MODULE_LOCATION[0]=/updates\n'])
    @example(['DEST_MODULE_LOCATION[0]=/updates\n', 'BUILD_DEPENDS_REBUILD=maybe\nNO_WEAK_MODULES="$CLEAN"\n'])
    @example(['BUILD_EXCLUSIVE_KERNEL_MIN=6\n', 'OBSOLETE_BY=7\r\nBUILD_DEPENDS=a\r\n'])
    @example(['CLEAN=yes\nNO_WEAK_MODULES="$CLEAN"\nDEST_MODULE_LOCATION[0]=/updates\n'])  # 3.0.10 prints CLEAN first
    @example(['BUILD_EXCLUSIVE_KERNEL_MIN=9\nBUILD_DEPENDS_REBUILD=x\nDEST_MODULE_LOCATION[0]=/updates\n'])
    @example(['OBSOLETE_BY=7\r\nDEST_MODULE_LOCATION[0]=/updates\n'])
    def test_unknown_version_is_what_every_version_agrees_on(self, texts: list[str]) -> None:
        # Versions that carry the same values the same way share one reading of the files.
        def answers(package: DkmsConf) -> list[Any]:
            return [package.autoinstall, package.no_weak_modules, package.dest_module_names(),
                    package.build_depends, package.obsolete_by,
                    package.build_exclusive(), package.valid(), package.excludes(K1, ARCH, lambda: {})]

        def read(version: tuple[int, ...] | None) -> DkmsConf:
            return DkmsConf(texts, 'hello', '1.0', version, kernel_texts=lambda release, arch: texts[1:])

        unknown = read(None)
        by_version = [answers(read(version)) for version in RULE_VERSIONS]
        agreed = [values[0] if all(value == values[0] for value in values) else None for values in zip(*by_version)]
        assert answers(unknown) == agreed
        assert unknown.errors() == sorted(set(error for version in RULE_VERSIONS for error in read(version).errors()))


def test_the_pattern_matcher_is_imported_only_for_a_pattern() -> None:
    # It is a sizeable module that Ansible compiles from source on every run.
    script = (
        'import sys\n'
        'from ansible_collections.kabi.dkms.plugins.module_utils._dkms_conf import DkmsConf\n'
        'conf = DkmsConf(["DEST_MODULE_LOCATION[0]=/updates\\nBUILD_EXCLUSIVE_KERNEL_MIN=6"], "p", "1", (3, 4, 3))\n'
        'assert conf.excludes("6.1.0-47-amd64", "x86_64") is False\n'
        'print(any(name.endswith("._ere") for name in sys.modules))\n'
        'conf = DkmsConf(["DEST_MODULE_LOCATION[0]=/updates\\nBUILD_EXCLUSIVE_KERNEL=^6"], "p", "1", (3, 4, 3))\n'
        'assert conf.excludes("6.1.0-47-amd64", "x86_64") is False\n'
        'print(any(name.endswith("._ere") for name in sys.modules))\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, '-c', script], check=True, stdout=subprocess.PIPE, env=env)
    assert out.stdout.decode().split() == ['False', 'True']
