# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""udev's record of a path's block device, as systemd-udevd writes it under /run/udev/data."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.plugins.module_utils._udev import udev_properties
from ansible_collections.kabi.dkms.tests.unit.boot_fixtures import ESP_UUID, udev_record, write


def test_the_record_of_the_device_a_path_is_on(tmp_path: Path) -> None:
    write(tmp_path, '/boot/efi/EFI/x', 'x')
    assert udev_properties(RootFS(str(tmp_path)), '/boot/efi') == {}      # no record: nothing told
    udev_record(tmp_path, '/boot/efi', ESP_UUID)
    found = udev_properties(RootFS(str(tmp_path)), '/boot/efi')
    assert found['ID_PART_ENTRY_UUID'] == ESP_UUID and 'S:disk/by-partuuid/%s' % ESP_UUID not in found
