# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The root's kmod version, read from gcc-built programs that print it as kmod does, and from
the host's own kmod program."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._kmod_version import KMOD_PROGRAM_LIMIT, read_kmod_version
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder, kmod_program


def read(root: Path) -> tuple[tuple[int, ...] | None, list[str]]:
    warnings: list[str] = []
    return read_kmod_version(RootFS(str(root)), warnings.append), warnings


@pytest.mark.parametrize('version, expected', [('30', (30,)), ('31', (31,)), ('34.2', (34, 2)), ('29-dirty', (29,))])
def test_the_version_its_program_prints(ko_builder: KoBuilder, tmp_path: Path, version: str,
                                        expected: tuple[int, ...]) -> None:
    kmod_program(ko_builder, tmp_path, version)
    assert read(tmp_path) == (expected, [])


def test_where_distributions_install_it(ko_builder: KoBuilder, tmp_path: Path) -> None:
    assert read(tmp_path) == (None, [])     # none: not known, nothing wrong
    kmod_program(ko_builder, tmp_path, '25', 'sbin/kmod')
    assert read(tmp_path) == ((25,), [])
    # Merged /usr: /bin leads to usr/bin, which comes first.
    kmod_program(ko_builder, tmp_path, '34', 'usr/bin/kmod')
    (tmp_path / 'bin').symlink_to('usr/bin')
    assert read(tmp_path) == ((34,), [])


def test_the_hosts_own_kmod(tmp_path: Path) -> None:
    program = shutil.which('kmod')
    if program is None:
        pytest.skip('kmod is not installed here')
    printed = subprocess.run([program, '--version'], capture_output=True, text=True, check=True).stdout
    version = printed.splitlines()[0].split()[-1]
    (tmp_path / 'usr/bin').mkdir(parents=True)
    shutil.copyfile(os.path.realpath(program), tmp_path / 'usr/bin/kmod')
    assert read(tmp_path) == (tuple(int(part) for part in version.split('.')), [])


def test_never_run(tmp_path: Path) -> None:
    program = tmp_path / 'usr/bin/kmod'
    program.parent.mkdir(parents=True)
    program.write_bytes(b'#!/bin/sh\ntouch "$0.ran"\n# kmod version 99\0\n')
    program.chmod(0o755)
    assert read(tmp_path) == ((99,), [])
    assert not (tmp_path / 'usr/bin/kmod.ran').exists()


def test_what_names_no_one_version(ko_builder: KoBuilder, tmp_path: Path) -> None:
    program = kmod_program(ko_builder, tmp_path, '30')
    program.write_bytes(program.read_bytes() + b'kmod version 34\0')
    assert read(tmp_path) == (None, ['/usr/bin/kmod: names kmod versions 30, 34; which kmod loads modules '
                                     'is not known'])
    program.write_bytes(b'\x7fELF' + b'\0' * 64 + b'busybox')
    assert read(tmp_path) == (None, ['/usr/bin/kmod: no kmod version in it; which kmod loads modules is not known'])


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
