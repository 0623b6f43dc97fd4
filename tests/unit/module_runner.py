# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's real main() and read the JSON it prints, as Ansible would."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@contextlib.contextmanager
def _module_args(args: dict[str, Any]) -> Iterator[None]:
    try:
        from ansible.module_utils.testing import patch_module_args  # ansible-core 2.19+
    except ImportError:
        from ansible.module_utils import basic
        from ansible.module_utils.common.text.converters import to_bytes
        previous = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = previous
        return
    with patch_module_args(args):
        yield


@contextlib.contextmanager
def _module_side() -> Iterator[None]:
    """Run as a module does, even in a test process that imported controller code before: there
    ansible-core 2.19+ prints module warnings on the controller's display instead of returning them."""
    try:
        from ansible.module_utils import _internal
    except ImportError:
        yield
        return
    previous = getattr(_internal, 'is_controller', False)
    _internal.is_controller = False
    try:
        yield
    finally:
        _internal.is_controller = previous


def run_module(main: Callable[[], None], args: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The result dict main() exits with (``failed`` set when it called fail_json)."""
    capsys.readouterr()
    collecting = gc.isenabled()
    try:
        with _module_args(args), _module_side(), pytest.raises(SystemExit):
            main()
    finally:
        # Frozen, and the collector stopped, by main() for the end of its process (dkms_facts): this one goes on.
        if hasattr(gc, 'unfreeze'):     # Python 3.7
            gc.unfreeze()
        if collecting:
            gc.enable()
    return json.loads(capsys.readouterr().out)


def run_command(argv: list[str]) -> tuple[int, str, str]:
    """What module_utils get from AnsibleModule.run_command: (rc, stdout, stderr) in the C locale."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=dict(os.environ, LC_ALL='C'))
    return done.returncode, done.stdout, done.stderr
