# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kabi.dkms.dkms_module run for real: main() against sandbox trees, JSON out.

Decisions that need no dkms run everywhere; builds run the real dkms when it is installed, we
are root and some kernel on this machine has headers (the CI lab), and are skipped otherwise.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._dkms_cli import DkmsLock
from ansible_collections.kabi.dkms.plugins.modules import dkms_module
from ansible_collections.kabi.dkms.tests.unit.module_runner import run_module
from ansible_collections.kabi.dkms.tests.unit.plugins.module_utils.test_dkms_cli import Sandbox

NO_HEADERS = '0.0.1-kabi-unit-noheaders'


def headers_kernel() -> str | None:
    found = sorted(glob.glob('/lib/modules/*/build/include'))
    return found[-1].split('/')[3] if found else None


real_dkms = pytest.mark.skipif(
    not (shutil.which('dkms') and os.geteuid() == 0 and headers_kernel()),
    reason='needs the real dkms, root and a kernel with headers')


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def run(sandbox: Sandbox, capsys: pytest.CaptureFixture[str], **options: Any) -> dict[str, Any]:
    return run_module(dkms_module.main, sandbox.args(**options), capsys)


def outcomes(result: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {entry['kernel']: (entry['action'], entry['outcome']) for entry in result['per_kernel']}


def test_check_mode_plans_and_changes_nothing(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.register('hello', '1.0')
    sandbox.register('hello', '1.10')
    sandbox.install('hello', '1.10', '6.1.0-1-a')
    sandbox.kernel('6.1.0-2-b')
    before = sandbox.listing()
    result = run(sandbox, capsys, name='hello', kernels=['6.1.0-1-a', NO_HEADERS], _ansible_check_mode=True)
    assert result['version'] == '1.10', 'the newest registered version by default'
    assert outcomes(result) == {'6.1.0-1-a': ('unchanged', 'already'), NO_HEADERS: ('unchanged', 'no-headers')}
    assert result['changed'] is False and not result.get('failed')
    assert sandbox.listing() == before


def test_check_mode_reports_a_registration(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.source('hello', '2.0')
    result = run(sandbox, capsys, name='hello', version='2.0', kernels=[NO_HEADERS], _ansible_check_mode=True)
    assert result['registered'] is True and result['changed'] is True
    assert not (sandbox.dkms_tree / 'hello').exists()


def test_excluded_kernels_are_reported_not_failed(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.register('hello', '1.0', conf='BUILD_EXCLUSIVE_KERNEL="^5\\."\n')
    result = run(sandbox, capsys, name='hello', kernels=['6.1.0-1-a'])
    assert outcomes(result) == {'6.1.0-1-a': ('unchanged', 'excluded')}
    assert result['changed'] is False and not result.get('failed')


@pytest.mark.parametrize(('options', 'message'), [
    ({'name': 'nothing'}, 'has no registered version'),
    ({'name': 'hello', 'version': '9.9'}, 'neither registered'),
])
def test_unknown_package_or_version_fails(sandbox: Sandbox, capsys: pytest.CaptureFixture[str],
                                          options: dict[str, Any], message: str) -> None:
    sandbox.register('hello', '1.0')
    result = run(sandbox, capsys, kernels=[NO_HEADERS], **options)
    assert result['failed'] is True and message in result['msg']


def test_lock_timeout_fails_clearly(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.register('hello', '1.0')
    with DkmsLock(str(sandbox.base / 'kabi-dkms.lock'), 0):
        result = run(sandbox, capsys, name='hello', kernels=[NO_HEADERS], lock_timeout=1)
    assert result['failed'] is True and 'gave up after 1 seconds' in result['msg']


@real_dkms
def test_install_is_idempotent_and_absent_removes_only_that_kernel(
        sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    kernel = headers_kernel()
    sandbox.kernel(kernel)
    sandbox.source('kabiunit', '1.0')
    first = run(sandbox, capsys, name='kabiunit', version='1.0', kernels=[kernel, NO_HEADERS])
    assert first['registered'] is True and first['changed'] is True
    assert outcomes(first) == {kernel: ('installed', 'done'), NO_HEADERS: ('unchanged', 'no-headers')}
    assert (sandbox.install_tree / kernel / 'updates' / 'dkms' / 'kabiunit.ko').is_file()

    second = run(sandbox, capsys, name='kabiunit', kernels=[kernel])
    assert second['changed'] is False and outcomes(second) == {kernel: ('unchanged', 'already')}

    gone = run(sandbox, capsys, name='kabiunit', kernels=[kernel], state='absent')
    assert gone['changed'] is True and outcomes(gone) == {kernel: ('removed', 'done')}
    assert not (sandbox.install_tree / kernel / 'updates' / 'dkms' / 'kabiunit.ko').exists()
    assert (sandbox.source_tree / 'kabiunit-1.0' / 'dkms.conf').is_file()


@real_dkms
def test_build_failure_carries_the_make_log(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    kernel = headers_kernel()
    sandbox.kernel(kernel)
    sandbox.source('kabibad', '1.0')
    (sandbox.source_tree / 'kabibad-1.0' / 'kabibad.c').write_text('#error deliberately broken\n')
    result = run(sandbox, capsys, name='kabibad', version='1.0', kernels=[kernel], state='built')
    entry = result['per_kernel'][0]
    assert result['failed'] is True
    assert (entry['outcome'], entry['rc']) == ('build-failed', 10)
    assert any('deliberately broken' in line for line in entry['make_log'])
