# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""grub.cfg texts written by Debian's own grub-mkconfig scripts (grub-common's /etc/grub.d) for a
/boot that holds the given kernels.

The scripts read the host's /boot, so they run in a mount namespace of their own whose /boot is
an empty tmpfs (``unshare --mount``, root only). There is no disk to probe: a grub-probe stand-in
describes one ext4 partition, which only shapes the ``search`` lines, not the menu.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

GRUB_D = Path('/etc/grub.d')
# The header (default, next_entry, saved_entry), the Linux entries, the firmware entry (EFI only)
# and the line that sources custom.cfg, in update-grub's order.
SCRIPTS = ('00_header', '10_linux', '30_uefi-firmware', '41_custom')
UUID = '0a1b2c3d-1111-2222-3333-444455556666'
PROBE = '''#!/bin/sh
for arg in "$@"; do
    case $arg in
        --target=fs) echo ext4 ;;
        --target=fs_uuid) echo %s ;;
        --target=device) echo /dev/sda1 ;;
        --target=partmap) echo gpt ;;
        --target=drive) echo '(hd0,gpt1)' ;;
        --target=*hint*) echo 'hd0,gpt1' ;;
        --target=*) echo ;;
    esac
done
''' % UUID
# Runs as root in the new namespace: the kernels' images and initrds in an empty /boot, then the scripts.
GENERATE = '''set -e
mount -t tmpfs kabi-dkms-test /boot
for release in "$@"; do : > "/boot/vmlinuz-$release"; : > "/boot/initrd.img-$release"; done
for script in %s; do sh "%s/$script"; done
''' % (' '.join(SCRIPTS), GRUB_D)


def debian_grub_cfg(work: Path, releases: tuple[str, ...], grub_default: str = '0') -> str:
    """What update-grub writes for these kernels with ``GRUB_DEFAULT=grub_default``; skips the
    test where no mount namespace can be made (not root)."""
    if not (GRUB_D / '10_linux').is_file():
        pytest.fail('grub-common is not installed: run scripts/bootstrap.sh')
    probe = work / 'grub-probe'
    probe.write_text(PROBE)
    probe.chmod(0o755)
    env = dict(os.environ, pkgdatadir='/usr/share/grub', grub_probe=str(probe), GRUB_DEVICE='/dev/sda1', GRUB_DEVICE_UUID=UUID,
               GRUB_DEVICE_BOOT='/dev/sda1', GRUB_DEVICE_BOOT_UUID=UUID, GRUB_FS='ext4', GRUB_DISTRIBUTOR='Debian',
               GRUB_DEFAULT=grub_default, GRUB_TIMEOUT='5', GRUB_CMDLINE_LINUX_DEFAULT='quiet',
               GRUB_DISABLE_OS_PROBER='true', LC_ALL='C')
    result = subprocess.run(['unshare', '--mount', 'sh', '-c', GENERATE, 'sh', *releases],
                            env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0 and ('unshare' in result.stderr or 'mount:' in result.stderr):
        pytest.skip('no private mount namespace here (needs root): %s' % result.stderr.strip())
    assert result.returncode == 0, result.stderr
    return result.stdout


def grub_script_check(text: str, work: Path) -> bool:
    """Whether GRUB's own parser (grub-common's grub-script-check) takes ``text``."""
    script = work / 'check.cfg'
    script.write_text(text)
    return subprocess.run(['grub-script-check', str(script)], capture_output=True, check=False).returncode == 0
