# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real systemd-boot loader the next-boot tests put on their EFI system partitions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

_COLLECTION = Path(__file__).resolve().parents[2]
# scripts/bootstrap.sh unpacks Debian's EFI programs into the checkout's build/, which is also where
# scripts/test.sh copies the collection for ansible-test (build/ansible_collections/kabi/dkms).
_UNPACKED = (_COLLECTION / 'build/efi-programs', _COLLECTION.parent.parent.parent / 'efi-programs')


def _unpacked(path: str) -> Path | None:
    return next((top / path for top in _UNPACKED if (top / path).is_file()), None)


def efi_program(path: str) -> bytes:
    """An EFI program as Debian's package ships it (``path`` in the package)."""
    found = _unpacked(path)
    if found is None:
        pytest.skip('no %s: scripts/bootstrap.sh --for units unpacks it from Debian\'s package' % path)
    return found.read_bytes()


def systemd_boot_loader() -> bytes:
    """Debian's systemd-boot for x86-64 (not signed)."""
    return efi_program('usr/lib/systemd/boot/efi/systemd-bootx64.efi')


SHIM = 'usr/lib/shim/shimx64.efi.signed'
GRUB = 'usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed'


# Runs as root in a new mount namespace: the ESP a file system of its own (bootctl wants its root), the
# firmware's variables out of sight, then bootctl lists the entries as systemd-boot would.
LIST_ENTRIES = '''set -e
mount -t tmpfs kabi-dkms-esp "$1"
cp -a "$2/." "$1/"
if [ -d /sys/firmware/efi/efivars ]; then mount -t tmpfs kabi-dkms-efivars /sys/firmware/efi/efivars; fi
SYSTEMD_RELAX_ESP_CHECKS=1 SYSTEMD_RELAX_XBOOTLDR_CHECKS=1 "$3" --esp-path="$1" --boot-path="$1" list --no-pager
'''


def bootctl_default(esp: Path, work: Path) -> str | None:
    """The id of the entry Debian's bootctl marks as the default of the ESP tree ``esp`` (None for
    none); skips where there is no bootctl or no private mount namespace (not root)."""
    bootctl = _unpacked('usr/bin/bootctl')
    if bootctl is None:
        pytest.skip("no bootctl: scripts/bootstrap.sh --for units unpacks Debian's systemd-boot")
    mount_point = work / 'esp-mount'
    mount_point.mkdir(exist_ok=True)
    result = subprocess.run(['unshare', '--mount', 'sh', '-c', LIST_ENTRIES, 'sh', str(mount_point), str(esp), str(bootctl)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0 and ('unshare' in result.stderr or 'mount:' in result.stderr):
        pytest.skip('no private mount namespace here (needs root): %s' % result.stderr.strip())
    assert result.returncode == 0, result.stderr
    default = None
    for block in result.stdout.split('\n\n'):
        fields = dict(line.strip().split(': ', 1) for line in block.splitlines() if ': ' in line)
        if '(default)' in fields.get('title', ''):
            default = fields.get('id')
    return default
