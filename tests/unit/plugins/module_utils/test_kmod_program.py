# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The root's kmod, read from gcc-built programs that print their version and features as kmod's
tools do, and from the host's own kmod program."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._kmod_program import KMOD_PROGRAM_LIMIT, KmodProgram, read_kmod_program
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder, kmod_program


def read(root: Path) -> tuple[tuple[tuple[int, ...], dict[str, bool]] | None, list[str]]:
    warnings: list[str] = []
    program = read_kmod_program(RootFS(str(root)), warnings.append)
    return (None if program is None else (program.version, program.features)), warnings


DEBIAN_12 = {'ZSTD': True, 'XZ': True, 'ZLIB': False, 'LIBCRYPTO': True, 'EXPERIMENTAL': False}


@pytest.mark.parametrize('version, expected', [('30', (30,)), ('31', (31,)), ('34.2', (34, 2)), ('29-dirty', (29,)),
                                               ('31+20240202', (31,))])
def test_the_version_its_program_prints(ko_builder: KoBuilder, tmp_path: Path, version: str,
                                        expected: tuple[int, ...]) -> None:
    kmod_program(ko_builder, tmp_path, version)
    assert read(tmp_path) == ((expected, DEBIAN_12), [])


def test_the_features_of_its_build(ko_builder: KoBuilder, tmp_path: Path) -> None:
    # kmod 34 as meson names them; before kmod 21 it printed none.
    kmod_program(ko_builder, tmp_path, '34', '-ZSTD -XZ +ZLIB +OPENSSL')
    assert read(tmp_path) == (((34,), {'ZSTD': False, 'XZ': False, 'ZLIB': True, 'OPENSSL': True}), [])
    kmod_program(ko_builder, tmp_path, '20', None)
    assert read(tmp_path) == (((20,), {}), [])


def test_where_distributions_install_it(ko_builder: KoBuilder, tmp_path: Path) -> None:
    assert read(tmp_path) == (None, [])     # none: not known, nothing wrong
    kmod_program(ko_builder, tmp_path, '25', path='sbin/kmod')
    assert read(tmp_path)[0] == ((25,), DEBIAN_12)
    # Merged /usr: /bin leads to usr/bin, which comes first.
    kmod_program(ko_builder, tmp_path, '34', path='usr/bin/kmod')
    (tmp_path / 'bin').symlink_to('usr/bin')
    assert read(tmp_path)[0] == ((34,), DEBIAN_12)


def test_the_hosts_own_kmod(tmp_path: Path) -> None:
    program = shutil.which('kmod')
    if program is None:
        pytest.skip('kmod is not installed here')
    printed = subprocess.run([program, '--version'], capture_output=True, text=True, check=True).stdout.splitlines()
    (tmp_path / 'usr/bin').mkdir(parents=True)
    shutil.copyfile(os.path.realpath(program), tmp_path / 'usr/bin/kmod')
    version, features = read(tmp_path)[0] or ((), {})
    assert version == tuple(int(part) for part in printed[0].split()[-1].split('.'))
    assert features == dict((name[1:], name[0] == '+') for name in printed[1].split())


def test_never_run(tmp_path: Path) -> None:
    program = tmp_path / 'usr/bin/kmod'
    program.parent.mkdir(parents=True)
    program.write_bytes(b'#!/bin/sh\ntouch "$0.ran"\n# kmod version 99\0+XZ\0\n')
    program.chmod(0o755)
    assert read(tmp_path) == (((99,), {'XZ': True}), [])
    assert not (tmp_path / 'usr/bin/kmod.ran').exists()


def test_what_names_no_one_version(ko_builder: KoBuilder, tmp_path: Path) -> None:
    program = kmod_program(ko_builder, tmp_path, '30')
    program.write_bytes(program.read_bytes() + b''.join(b'kmod version %d\0' % number for number in range(100000)))
    assert read(tmp_path) == (None, ['/usr/bin/kmod: names more than one kmod version (30, 0, ...); which kmod '
                                     'loads modules is not known'])
    program.write_bytes(b'\x7fELF' + b'\0' * 64 + b'busybox')
    assert read(tmp_path) == (None, ['/usr/bin/kmod: no kmod version in it; which kmod loads modules is not known'])
    # Two builds' features: which one is not known.
    program.write_bytes(b'kmod version 30\0+XZ\0-XZ\0')
    assert read(tmp_path) == (((30,), {}), [])


def test_hostile_programs(tmp_path: Path) -> None:
    program = tmp_path / 'usr/bin/kmod'
    program.parent.mkdir(parents=True)
    os.mkfifo(program)
    version, warnings = read(tmp_path)
    assert version is None and warnings == ['/usr/bin/kmod: not a regular file (a FIFO), never read; which kmod '
                                            'loads modules is not known']
    program.unlink()
    with program.open('wb') as sparse:
        sparse.truncate(KMOD_PROGRAM_LIMIT + 1)
    version, warnings = read(tmp_path)
    assert version is None and warnings == ['/usr/bin/kmod: larger than %d bytes, the limit for this kind of file; '
                                            'which kmod loads modules is not known' % KMOD_PROGRAM_LIMIT]
    program.unlink()
    for target in ('nowhere', 'kmod', '../../../../../../etc/hostname'):
        program.symlink_to(target)
        version, warnings = read(tmp_path)
        assert version is None and len(warnings) == 1 and warnings[0].startswith('/usr/bin/kmod: '), target
        program.unlink()


def test_what_its_build_knows_and_its_depmod_indexes() -> None:
    debian_12 = KmodProgram((30,), {'ZSTD': True, 'XZ': True, 'ZLIB': False, 'LIBCRYPTO': True})
    assert [debian_12.knows(name) for name in ('gzip', 'xz', 'zstd')] == [False, True, True]
    assert [debian_12.indexes('/lib/modules/k/extra/m' + suffix) for suffix in ('.ko', '.ko.gz', '.ko.xz', '.ko.zst')] == \
        [True, False, True, True]
    # kmod 25 names no zstd: it has none. Before kmod 21 a build names nothing.
    assert KmodProgram((25,), {'XZ': True, 'ZLIB': True}).knows('zstd') is False
    assert KmodProgram((20,), {}).knows('xz') is None and KmodProgram((20,), {}).indexes('m.ko.xz') is None
