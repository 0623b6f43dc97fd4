# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kabi.dkms.dkms_facts run for real: main() with module arguments, JSON out."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils import _ko
from ansible_collections.kabi.dkms.plugins.module_utils._elftools_adapter import load_adapter
from ansible_collections.kabi.dkms.plugins.modules import dkms_facts
from ansible_collections.kabi.dkms.tests.unit.boot_fixtures import systemd_boot_loader
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


def test_pyelftools_is_loaded_once_per_run(demo: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """main() loads it to decide whether to respawn, and hands it to the readers."""
    loads = []

    def counted() -> object:
        loads.append(1)
        return load_adapter()
    monkeypatch.setattr(dkms_facts, 'load_adapter', counted)
    monkeypatch.setattr(_ko, 'load_adapter', counted)
    facts = run_module(dkms_facts.main, {'root': str(demo)}, capsys)['ansible_facts']['dkms']
    assert facts['kabi_reader'] == 'pyelftools' and len(loads) == 1


def test_unreadable_root_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_module(dkms_facts.main, {'root': str(tmp_path / 'nowhere')}, capsys)
    assert result['failed'] is True
    assert 'cannot read root' in result['msg']


def test_systemd_boot_names_the_next_boot(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Debian's real loader on the ESP, kernel-install's entries, and `bootctl set-default` done.
    (demo / 'boot/efi/EFI/systemd').mkdir(parents=True)
    (demo / 'boot/efi/EFI/systemd/systemd-bootx64.efi').write_bytes(systemd_boot_loader())
    for release in ('6.1.0-47-amd64', '6.1.0-50-amd64'):
        (demo / 'boot/efi/debian' / release).mkdir(parents=True)
        (demo / 'boot/efi/debian' / release / 'linux').write_text('kernel image')
        (demo / 'boot/efi/loader/entries').mkdir(parents=True, exist_ok=True)
        (demo / ('boot/efi/loader/entries/debian-%s.conf' % release)).write_text(
            'title Debian\nsort-key debian\nversion %s\noptions root=/dev/sda2 ro module.sig_enforce=1\n'
            'linux /debian/%s/linux\n' % (release, release))
    variable = demo / 'sys/firmware/efi/efivars/LoaderEntryDefault-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f'
    variable.parent.mkdir(parents=True)
    variable.write_bytes(b'\x07\0\0\0' + 'debian-6.1.0-47-amd64.conf\0'.encode('utf-16-le'))
    facts = run_module(dkms_facts.main, {'root': str(demo)}, capsys)['ansible_facts']['dkms']
    assert (facts['default_kernel'], facts['default_kernel_source']) == ('6.1.0-47-amd64', 'systemd-boot')
    policy = facts['kernels']['6.1.0-47-amd64']['module_signatures']
    assert policy['cmdline'] == '/boot/efi/loader/entries/debian-6.1.0-47-amd64.conf'
    assert policy['enforced'] is True and policy['reason'] == 'sig_enforce'
