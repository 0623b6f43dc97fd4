# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding a Python of the host that can run the fact module with pyelftools: real interpreters in
real virtual environments, with and without pyelftools, probed as AnsiballZ's payload would be."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

import ansible
import elftools
import pytest

from ansible_collections.kabi.dkms.plugins.module_utils import _coverage, _interpreters
from ansible_collections.kabi.dkms.plugins.module_utils._interpreters import python_with_elftools, rerun_with_elftools


def make_venv(path: Path, elftools_too: bool) -> str:
    """A virtual environment of the running Python, without pip; with pyelftools when asked (a .pth
    file naming where the running Python imports it from). Its interpreter's path."""
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(path)], check=True)
    if elftools_too:
        site = path / Path(sysconfig.get_path('purelib')).relative_to(sys.prefix)
        (site / 'elftools.pth').write_text(str(Path(elftools.__path__[0]).parent) + '\n')
    return str(path / 'bin' / 'python')


def script(path: Path, text: str) -> str:
    path.write_text('#!/bin/sh\n' + text)
    path.chmod(0o755)
    return str(path)


def gone(pid: int, seconds: float = 30) -> bool:
    """Whether process ``pid`` ends (or is a zombie waiting to be reaped) within ``seconds``: a
    process sent SIGKILL dies once the kernel next schedules it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            state = Path('/proc/%d/stat' % pid).read_text().rpartition(')')[2].split()[0]
        except FileNotFoundError:
            return True
        if state == 'Z':
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


@pytest.fixture(name='modlib')
def fixture_modlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A directory holding what AnsiballZ's payload does: the running ansible package and this
    collection; no PYTHONPATH inherited, so the probe sees only what it is given."""
    monkeypatch.delenv('PYTHONPATH', raising=False)
    modlib = tmp_path / 'modlib'
    modlib.mkdir()
    (modlib / 'ansible').symlink_to(Path(ansible.__file__).parent)
    (modlib / 'ansible_collections').symlink_to(Path(_coverage.__file__).parents[4])
    return str(modlib)


def test_the_first_interpreter_with_pyelftools_is_chosen(tmp_path: Path, modlib: str) -> None:
    without = make_venv(tmp_path / 'without', elftools_too=False)
    first = make_venv(tmp_path / 'first', elftools_too=True)
    second = make_venv(tmp_path / 'second', elftools_too=True)
    assert python_with_elftools(modlib, [str(tmp_path / 'absent' / 'python3'), without, first, second]) == (first, [])
    assert python_with_elftools(modlib, [without]) == (None, [])


def test_an_interpreter_that_cannot_run_the_module_is_told(tmp_path: Path, modlib: str) -> None:
    # What Ansible's module_utils do on a Python older than their core supports: exit 1 on import.
    refusing = tmp_path / 'refusing'
    (refusing / 'ansible' / 'module_utils').mkdir(parents=True)
    (refusing / 'ansible' / '__init__.py').write_text('')
    (refusing / 'ansible' / 'module_utils' / '__init__.py').write_text('')
    (refusing / 'ansible' / 'module_utils' / 'basic.py').write_text('import sys\nsys.exit(1)\n')
    without = make_venv(tmp_path / 'without', elftools_too=False)
    with_elftools = make_venv(tmp_path / 'venv', elftools_too=True)
    assert python_with_elftools(str(refusing), [without, with_elftools]) == (None, [with_elftools])
    assert python_with_elftools(modlib, [with_elftools]) == (with_elftools, [])


def test_the_probe_never_imports_from_the_working_directory(tmp_path: Path, modlib: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # ``python -c`` puts the working directory first on sys.path: a planted pyelftools there must not run.
    planted = tmp_path / 'home'
    (planted / 'elftools' / 'elf').mkdir(parents=True)
    (planted / 'elftools' / '__init__.py').write_text('')
    (planted / 'elftools' / 'elf' / '__init__.py').write_text('')
    (planted / 'elftools' / 'elf' / 'elffile.py').write_text('open(%r, "w").close()\n' % str(tmp_path / 'ran'))
    monkeypatch.chdir(planted)
    without = make_venv(tmp_path / 'without', elftools_too=False)
    assert python_with_elftools(modlib, [without]) == (None, [])
    assert not (tmp_path / 'ran').exists()


def test_what_cannot_start_or_hangs_is_passed_over(tmp_path: Path, modlib: str) -> None:
    with_elftools = make_venv(tmp_path / 'venv', elftools_too=True)
    not_executable = tmp_path / 'not-executable'
    not_executable.write_text('#!/bin/sh\nexit 0\n')
    directory = tmp_path / 'a-directory'
    directory.mkdir()
    fifo = tmp_path / 'fifo'
    os.mkfifo(fifo)
    pid_file = tmp_path / 'sleeper'
    hangs = script(tmp_path / 'hangs', 'sleep 60 &\necho $! > %s\nwait\n' % pid_file)
    candidates = [str(not_executable), str(directory), str(fifo), hangs, with_elftools]
    started = time.monotonic()
    assert python_with_elftools(modlib, candidates, timeout=1) == (None, [])
    assert time.monotonic() - started < 30
    assert gone(int(pid_file.read_text()))   # what the hung probe started went with it
    assert python_with_elftools(modlib, candidates[:3] + [with_elftools], timeout=60) == (with_elftools, [])


def test_each_program_is_probed_once_the_running_one_never(tmp_path: Path, modlib: str) -> None:
    starts = tmp_path / 'starts'
    program = script(tmp_path / 'python3.9', 'echo >> %s\nexit 3\n' % starts)
    (tmp_path / 'python3').symlink_to(program)
    assert python_with_elftools(modlib, [str(tmp_path / 'python3'), program, sys.executable]) == (None, [])
    assert starts.read_text() == '\n'
    assert _interpreters._environment(sys.executable) == _interpreters._running_environment()
    other = make_venv(tmp_path / 'other', elftools_too=False)
    # The same program in another virtual environment imports other things.
    assert _interpreters._environment(other)[0] == os.path.realpath(sys.executable)
    assert _interpreters._environment(other) != _interpreters._running_environment()


class Caller:
    """What rerun_with_elftools asks of an AnsibleModule: its parameters, and a place for warnings."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def test_only_a_module_that_ansiballz_runs_is_run_again() -> None:
    # Here __main__ is pytest's: no payload to hand over, nothing probed, nothing said.
    caller = Caller({'root': '/'})
    assert rerun_with_elftools(caller, ['/']) is None
    assert caller.warnings == []


def test_the_system_pythons_are_absolute_paths_newest_first() -> None:
    versioned = [path for path in _interpreters.SYSTEM_PYTHONS if path.startswith('/usr/bin/python3.')]
    assert _interpreters.SYSTEM_PYTHONS[:2] == ('/usr/bin/python3', '/usr/libexec/platform-python')
    assert [int(path.rsplit('.', 1)[1]) for path in versioned] == list(range(14, 5, -1))
