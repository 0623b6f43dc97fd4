# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real systemd-boot loader the next-boot tests put on their EFI system partitions."""

from __future__ import annotations

from pathlib import Path

import pytest

_COLLECTION = Path(__file__).resolve().parents[2]
_LOADER = 'systemd-boot-efi/usr/lib/systemd/boot/efi/systemd-bootx64.efi'
# scripts/bootstrap.sh unpacks Debian's systemd-boot-efi into the checkout's build/, which is also
# where scripts/test.sh copies the collection for ansible-test (build/ansible_collections/kabi/dkms);
# an installed systemd-boot-efi serves too.
LOADERS = (_COLLECTION / 'build' / _LOADER, _COLLECTION.parent.parent.parent / _LOADER, Path('/usr/lib/systemd/boot/efi/systemd-bootx64.efi'))


def systemd_boot_loader() -> bytes:
    """Debian's systemd-boot for x86-64, as its package ships it."""
    for path in LOADERS:
        if path.is_file():
            return path.read_bytes()
    pytest.skip("no systemd-boot loader: scripts/bootstrap.sh --for units unpacks Debian's systemd-boot-efi")
