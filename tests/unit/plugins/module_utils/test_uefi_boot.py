# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the firmware's boot manager starts from an ESP, with Debian's real EFI programs (shim,
GRUB, systemd-boot, systemd's stub made a unified kernel image by objcopy) and boot options in
efivarfs's format."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.plugins.module_utils._uefi_boot import find_on_fat, next_program, pe_sections, program_kind
from ansible_collections.kabi.dkms.tests.unit.boot_fixtures import (
    ESP_UUID, GRUB, SHIM, efi_program, global_variable, load_option, systemd_boot_loader, udev_record, write)

STUB = 'usr/lib/systemd/boot/efi/linuxx64.efi.stub'


@pytest.mark.parametrize(('path', 'expected'), [
    ('\\EFI\\Debian\\SHIMX64.EFI', '/esp/EFI/debian/shimx64.efi'),     # FAT ignores case
    ('/EFI/./debian/../debian/shimx64.efi', '/esp/EFI/debian/shimx64.efi'),
    ('/../EFI/debian/shimx64.efi', None),                                  # the root has no ..
    ('/EFI/debian/grubx64.efi', None),
])
def test_files_found_as_fat_finds_them(tmp_path: Path, path: str, expected: str | None) -> None:
    write(tmp_path, '/esp/EFI/debian/shimx64.efi', 'shim')
    assert find_on_fat(RootFS(str(tmp_path)), '/esp', path) == expected


@pytest.mark.parametrize(('program', 'expected'), [
    (SHIM, ('shim', True)), (GRUB, ('grub', True)), ('usr/lib/systemd/boot/efi/systemd-bootx64.efi', ((252, 39), False)),
    (STUB, (None, False)),
])
def test_programs_by_what_they_carry(tmp_path: Path, program: str, expected: tuple) -> None:
    write(tmp_path, '/program.efi', efi_program(program))
    assert program_kind(RootFS(str(tmp_path)), '/program.efi') == expected


def test_a_unified_kernel_image_has_a_linux_section(tmp_path: Path) -> None:
    if shutil.which('objcopy') is None:
        pytest.fail('objcopy (binutils) is not installed: run scripts/bootstrap.sh')
    write(tmp_path, '/stub.efi', efi_program(STUB))
    write(tmp_path, '/kernel', 'a kernel image')
    subprocess.run(['objcopy', '--add-section', '.linux=%s' % (tmp_path / 'kernel'), '--change-section-vma',
                    '.linux=0x2000000', str(tmp_path / 'stub.efi'), str(tmp_path / 'uki.efi')], check=True)
    assert '.linux' in pe_sections(RootFS(str(tmp_path)), '/uki.efi')
    assert '.linux' not in pe_sections(RootFS(str(tmp_path)), '/stub.efi')
    write(tmp_path, '/text.efi', 'MZ, and nothing of a PE image')
    assert pe_sections(RootFS(str(tmp_path)), '/text.efi') is None


@pytest.fixture
def esp(tmp_path: Path) -> Path:
    """An ESP at /boot/efi that udev names, with efivarfs mounted."""
    write(tmp_path, '/boot/efi/EFI/systemd/systemd-bootx64.efi', systemd_boot_loader())
    udev_record(tmp_path, '/boot/efi', ESP_UUID)
    global_variable(tmp_path, 'Timeout', b'\5\0')
    return tmp_path


def starts(root: Path) -> str | None:
    return next_program(RootFS(str(root)), '/boot/efi', 'x64')[0]


def test_shim_at_the_removable_media_path(esp: Path) -> None:
    write(esp, '/boot/efi/EFI/BOOT/BOOTX64.EFI', efi_program(SHIM))
    write(esp, '/boot/efi/EFI/BOOT/grubx64.efi', efi_program(GRUB))
    global_variable(esp, 'Boot0000', load_option('UEFI OS', ''))      # a partition without a file
    global_variable(esp, 'BootOrder', struct.pack('<H', 0))
    assert starts(esp) == 'grub'
    write(esp, '/boot/efi/EFI/BOOT/fbx64.efi', 'fallback')               # shim then runs its fallback
    assert starts(esp) is None


def test_paths_with_dots_and_missing_files(esp: Path) -> None:
    global_variable(esp, 'Boot0000', load_option('gone', '\\EFI\\gone\\grubx64.efi'))
    global_variable(esp, 'Boot0001', load_option('Linux Boot Manager', '\\EFI\\.\\systemd\\..\\systemd\\systemd-bootx64.efi'))
    global_variable(esp, 'BootOrder', struct.pack('<2H', 0, 1))
    assert starts(esp) == 'systemd-boot'     # the firmware cannot load the first and tries the next


def test_shim_given_a_second_stage_in_its_options(esp: Path) -> None:
    write(esp, '/boot/efi/EFI/debian/shimx64.efi', efi_program(SHIM))
    write(esp, '/boot/efi/EFI/debian/grubx64.efi', efi_program(GRUB))
    global_variable(esp, 'Boot0000', load_option('debian', '\\EFI\\debian\\shimx64.efi') + '\\EFI\\debian\\mm.efi\0'.encode('utf-16-le'))
    global_variable(esp, 'BootOrder', struct.pack('<H', 0))
    assert starts(esp) is None
