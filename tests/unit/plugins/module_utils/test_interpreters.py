# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding a Python of the host that can read .ko files with pyelftools: real interpreters in real
virtual environments, with and without pyelftools."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import ansible
import elftools
import pytest

from ansible_collections.kabi.dkms.plugins.module_utils import _interpreters
from ansible_collections.kabi.dkms.plugins.module_utils._interpreters import python_with_elftools


def make_venv(path: Path, elftools_too: bool) -> str:
    """A virtual environment of the running Python, without pip; with pyelftools when asked (a .pth
    file naming where the running Python imports it from). Its interpreter's path."""
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(path)], check=True)
    if elftools_too:
        site = path / Path(sysconfig.get_path('purelib')).relative_to(sys.prefix)
        (site / 'elftools.pth').write_text(str(Path(elftools.__path__[0]).parent) + '\n')
    return str(path / 'bin' / 'python')


@pytest.fixture(name='ansible_parent')
def fixture_ansible_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A directory that holds nothing but the running ansible package, as AnsiballZ's zip file does;
    no PYTHONPATH inherited, so the probe sees only what it is given."""
    monkeypatch.delenv('PYTHONPATH', raising=False)
    parent = tmp_path / 'modlib'
    parent.mkdir()
    (parent / 'ansible').symlink_to(Path(ansible.__file__).parent)
    return str(parent)


def test_the_first_interpreter_with_pyelftools_is_chosen(tmp_path: Path, ansible_parent: str) -> None:
    without = make_venv(tmp_path / 'without', elftools_too=False)
    first = make_venv(tmp_path / 'first', elftools_too=True)
    second = make_venv(tmp_path / 'second', elftools_too=True)
    assert python_with_elftools(ansible_parent, [str(tmp_path / 'absent' / 'python3'), without, first, second]) == first
    assert python_with_elftools(ansible_parent, [without]) is None


def test_an_interpreter_that_ansible_refuses_is_passed_over(tmp_path: Path, ansible_parent: str) -> None:
    # What Ansible's module_utils do on a Python older than their core supports: exit 1 on import.
    refusing = tmp_path / 'refusing'
    (refusing / 'ansible' / 'module_utils').mkdir(parents=True)
    (refusing / 'ansible' / '__init__.py').write_text('')
    (refusing / 'ansible' / 'module_utils' / '__init__.py').write_text('')
    (refusing / 'ansible' / 'module_utils' / 'basic.py').write_text('import sys\nsys.exit(1)\n')
    with_elftools = make_venv(tmp_path / 'venv', elftools_too=True)
    assert python_with_elftools(str(refusing), [with_elftools]) is None
    assert python_with_elftools(ansible_parent, [with_elftools]) == with_elftools


def test_what_cannot_start_or_hangs_is_passed_over(tmp_path: Path, ansible_parent: str) -> None:
    with_elftools = make_venv(tmp_path / 'venv', elftools_too=True)
    not_executable = tmp_path / 'not-executable'
    not_executable.write_text('#!/bin/sh\nexit 0\n')
    directory = tmp_path / 'a-directory'
    directory.mkdir()
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    hangs = tmp_path / 'hangs'
    hangs.write_text('#!/bin/sh\nexec sleep 60\n')
    hangs.chmod(hangs.stat().st_mode | stat.S_IXUSR)
    candidates = [str(path) for path in (not_executable, directory, fifo, hangs)]
    assert python_with_elftools(ansible_parent, candidates + [with_elftools], timeout=1) == with_elftools


def test_the_running_interpreter_is_not_probed(tmp_path: Path) -> None:
    assert _interpreters._environment(sys.executable) == _interpreters._running_environment()
    other = make_venv(tmp_path / 'other', elftools_too=False)
    # The same program in another virtual environment imports other things.
    assert _interpreters._environment(other)[0] == os.path.realpath(sys.executable)
    assert _interpreters._environment(other) != _interpreters._running_environment()


def test_the_system_pythons_are_absolute_paths_newest_first() -> None:
    versioned = [path for path in _interpreters.SYSTEM_PYTHONS if path.startswith('/usr/bin/python3.')]
    assert _interpreters.SYSTEM_PYTHONS[:2] == ('/usr/bin/python3', '/usr/libexec/platform-python')
    assert [int(path.rsplit('.', 1)[1]) for path in versioned] == list(range(14, 5, -1))


def test_each_program_is_probed_once(tmp_path: Path, ansible_parent: str) -> None:
    # A program that counts its starts, under two names.
    starts = tmp_path / 'starts'
    program = tmp_path / 'python3.9'
    program.write_text('#!/bin/sh\necho >> %s\nexit 1\n' % starts)
    program.chmod(0o755)
    (tmp_path / 'python3').symlink_to(program)
    assert python_with_elftools(ansible_parent, [str(tmp_path / 'python3'), str(program)]) is None
    assert starts.read_text() == '\n'
