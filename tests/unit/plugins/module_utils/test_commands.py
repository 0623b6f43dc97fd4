# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding host commands on PATH and in the sbin directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils import _commands
from ansible_collections.kabi.dkms.plugins.module_utils._commands import find_command


def test_find_command(tmp_path: Path) -> None:
    tool = tmp_path / 'tool'
    tool.write_text('#!/bin/sh\n')
    assert find_command('tool', str(tmp_path)) is None  # not executable
    tool.chmod(0o755)
    assert find_command('tool', '%s%s%s' % (tmp_path / 'nothing', os.pathsep, tmp_path)) == str(tool)


def test_sbin_is_searched_after_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sbin = tmp_path / 'sbin'
    sbin.mkdir()
    tool = sbin / 'grubby'
    tool.write_text('#!/bin/sh\n')
    tool.chmod(0o755)
    monkeypatch.setattr(_commands, 'SBIN_DIRS', (str(sbin),))
    assert find_command('grubby', str(tmp_path / 'empty')) == str(tool)
