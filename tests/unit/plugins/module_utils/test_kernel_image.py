# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release an x86 kernel image names in its setup header (Documentation/arch/x86/boot.rst)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._kernel_image import release_in_image
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.boot_fixtures import x86_kernel_image


@pytest.mark.parametrize(('image', 'expected'), [
    (x86_kernel_image('6.1.0-9-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.27-1'),
     '6.1.0-9-amd64'),
    (x86_kernel_image('<unknown>'), None),                          # no release
    (x86_kernel_image('6.1.0-9-amd64', setup_sectors=4), None),     # past the setup sectors: not the header's
    (b'\x7fELF' + b'\0' * 0x400, None),                             # no setup header
])
def test_the_release_an_image_names(tmp_path: Path, image: bytes, expected: str | None) -> None:
    (tmp_path / 'vmlinuz.efi').write_bytes(image)
    assert release_in_image(RootFS(str(tmp_path)), '/vmlinuz.efi') == expected
