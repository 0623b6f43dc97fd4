# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real systemd-boot loader the next-boot tests put on their EFI system partitions."""

from __future__ import annotations

import os
import struct
import subprocess
import uuid
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._efivars import EFI_GLOBAL_VARIABLE

_COLLECTION = Path(__file__).resolve().parents[2]
NON_VOLATILE_BOOT_RUNTIME = 0x7
ESP_UUID = '11111111-2222-3333-4444-555555555555'
# scripts/bootstrap.sh unpacks Debian's EFI programs into the checkout's build/, which is also where
# scripts/test.sh copies the collection for ansible-test (build/ansible_collections/kabi/dkms).
_UNPACKED = (_COLLECTION / 'build/efi-programs', _COLLECTION.parent.parent.parent / 'efi-programs')


def unpacked(path: str) -> Path | None:
    """Where scripts/bootstrap.sh unpacked ``path`` of a Debian package, None when it did not."""
    return next((top / path for top in _UNPACKED if (top / path).is_file()), None)


def efi_program(path: str) -> bytes:
    """An EFI program as Debian's package ships it (``path`` in the package)."""
    found = unpacked(path)
    if found is None:
        pytest.skip('no %s: scripts/bootstrap.sh --for units unpacks it from Debian\'s package' % path)
    return found.read_bytes()


SYSTEMD_BOOT = 'usr/lib/systemd/boot/efi/systemd-bootx64.efi'


def systemd_boot_loader() -> bytes:
    """Debian's systemd-boot for x86-64 (not signed)."""
    return efi_program(SYSTEMD_BOOT)


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
    bootctl = unpacked('usr/bin/bootctl')
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


def write(root: Path, path: str, data: bytes | str) -> None:
    target = root / path.lstrip('/')
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data.encode() if isinstance(data, str) else data)


def global_variable(root: Path, name: str, data: bytes) -> None:
    write(root, '/sys/firmware/efi/efivars/%s-%s' % (name, EFI_GLOBAL_VARIABLE), struct.pack('<I', NON_VOLATILE_BOOT_RUNTIME) + data)


def load_option(description: str, path: str | None, attributes: int = 1, partition: str = ESP_UUID) -> bytes:
    """A Boot#### variable's data as efibootmgr writes it: a hard drive node, the file, the end; for
    no path, a network option (a MAC address node)."""
    if path is None:
        nodes = struct.pack('<BBH32sB', 3, 11, 37, b'\x52\x54\0\x12\x34\x56', 1)
    else:
        name = (path + '\0').encode('utf-16-le')
        nodes = struct.pack('<BBHIQQ16sBB', 4, 1, 42, 1, 2048, 1048576, uuid.UUID(partition).bytes_le, 2, 2)
        nodes += struct.pack('<BBH', 4, 4, 4 + len(name)) + name
    nodes += struct.pack('<BBH', 0x7F, 0xFF, 4)
    return struct.pack('<IH', attributes, len(nodes)) + (description + '\0').encode('utf-16-le') + nodes


def udev_record(root: Path, path: str, partition_uuid: str) -> None:
    """udev's record of the device ``path`` under root is on, as systemd-udevd writes one for an
    EFI system partition."""
    device = os.stat(str(root / path.lstrip('/'))).st_dev
    write(root, '/run/udev/data/b%d:%d' % (os.major(device), os.minor(device)),
          'S:disk/by-partuuid/%s\nE:ID_PART_ENTRY_UUID=%s\nE:ID_PART_ENTRY_TYPE=c12a7328-f81f-11d2-ba4b-00a0c93ec93b\n'
          % (partition_uuid, partition_uuid))


def x86_kernel_image(text: str, setup_sectors: int = 39, offset: int = 0x42C0) -> bytes:
    """The first sectors of an x86 bzImage as the boot protocol lays them out: the boot sector's
    signature, the setup header (HdrS, protocol 2.15) and its kernel_version string where Debian's
    6.1 images have it."""
    image = bytearray(0x200 * (setup_sectors + 2))
    image[0x1F1] = setup_sectors
    struct.pack_into('<H', image, 0x1FE, 0xAA55)
    image[0x202:0x206] = b'HdrS'
    struct.pack_into('<HH', image, 0x206, 0x020F, 0)
    struct.pack_into('<H', image, 0x20E, offset)
    data = (text + '\0').encode()
    image[0x200 + offset:0x200 + offset + len(data)] = data
    return bytes(image)
