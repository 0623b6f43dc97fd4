# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kabi.dkms.dkms_facts run for real: main() with module arguments, JSON out."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.modules import dkms_facts
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder
from ansible_collections.kabi.dkms.tests.unit.module_runner import run_module
from ansible_collections.kabi.dkms.tests.unit.system_trees import build_demo


@pytest.fixture
def demo(tmp_path: Path, ko_builder: KoBuilder) -> Path:
    build_demo(tmp_path / 'root', ko_builder)
    return tmp_path / 'root'


def test_sets_dkms_facts_and_changes_nothing(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(str(p) for p in demo.rglob('*'))
    result = run_module(dkms_facts.main, {'root': str(demo)}, capsys)
    facts = result['ansible_facts']['dkms']
    assert result['changed'] is False
    assert facts['root'] == str(demo)
    assert facts['summary'] == {'kernels': 4, 'covered': 2, 'uncovered': 2, 'packages': 2, 'unverified': 0}
    assert [(u['kernel'], u['status']) for u in facts['uncovered']] == [
        ('6.1.0-47-amd64+broken', 'weak-incompatible'), ('6.1.0-50-amd64', 'missing')]
    assert sorted(str(p) for p in demo.rglob('*')) == before
    assert not result.get('warnings')


def test_gathered_at_is_the_utc_time_of_gathering(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    gathered_at = run_module(dkms_facts.main, {'root': str(demo)}, capsys)['ansible_facts']['dkms']['gathered_at']
    after = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    assert time.strptime(gathered_at, '%Y-%m-%dT%H:%M:%SZ')
    assert before <= gathered_at <= after, 'ISO 8601 in UTC sorts as time does'


def test_unregistered_package_names_warn(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_module(dkms_facts.main, {'root': str(demo), 'packages': ['gpu', 'nvidia', 'zfs']}, capsys)
    assert list(result['ansible_facts']['dkms']['packages']) == ['gpu']
    # ansible-core 2.19+ returns each warning as a summary object, older ones as text.
    warnings = [w['event']['msg'] if isinstance(w, dict) else w for w in result['warnings']]
    assert warnings == ['packages: nvidia, zfs are not registered in the dkms tree, so nothing is reported for them']


def test_check_mode_and_options(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_module(dkms_facts.main, {'root': str(demo), 'packages': ['gpu'], 'kabi_check': False,
                                          '_ansible_check_mode': True}, capsys)
    facts = result['ansible_facts']['dkms']
    assert list(facts['packages']) == ['gpu']
    assert facts['kernels']['6.1.0-50-amd64']['packages']['gpu']['status'] == 'installed'


def test_unreadable_root_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_module(dkms_facts.main, {'root': str(tmp_path / 'nowhere')}, capsys)
    assert result['failed'] is True
    assert 'cannot read root' in result['msg']
