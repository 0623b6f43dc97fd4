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


# The grub.cfg RHEL 8's grub2-mkconfig writes for BLS entries (GRUB_ENABLE_BLSCFG=true), written out
# by hand in the order and words of its scripts: 00_header (the environment block, the default),
# tuned's 00_tuned ($tuned_params from /etc/tuned/bootcmdline), 01_users, then 10_linux's fallback
# $kernelopts for a grubenv without one, and blscfg, which expands each entry's options as it runs.
RHEL8_GRUB_CFG = '''\
### BEGIN /etc/grub.d/00_header ###
set pager=1

if [ -f ${config_directory}/grubenv ]; then
  load_env -f ${config_directory}/grubenv
elif [ -s $prefix/grubenv ]; then
  load_env
fi
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="${saved_entry}"
fi

if [ x"${feature_menuentry_id}" = xy ]; then
  menuentry_id_option="--id"
else
  menuentry_id_option=""
fi

export menuentry_id_option

if [ "${prev_saved_entry}" ]; then
  set saved_entry="${prev_saved_entry}"
  save_env saved_entry
  set prev_saved_entry=
  save_env prev_saved_entry
  set boot_once=true
fi

function savedefault {
  if [ -z "${boot_once}" ]; then
    saved_entry="${chosen}"
    save_env saved_entry
  fi
}

function load_video {
  if [ x$feature_all_video_module = xy ]; then
    insmod all_video
  else
    insmod efi_gop
    insmod vbe
    insmod vga
  fi
}

terminal_output console
if [ x$feature_timeout_style = xy ] ; then
  set timeout_style=menu
  set timeout=5
else
  set timeout=5
fi
### END /etc/grub.d/00_header ###

### BEGIN /etc/grub.d/00_tuned ###
set tuned_params="%(tuned_params)s"
set tuned_initrd=""
### END /etc/grub.d/00_tuned ###

### BEGIN /etc/grub.d/01_users ###
if [ -f ${prefix}/user.cfg ]; then
  source ${prefix}/user.cfg
  if [ -n "${GRUB2_PASSWORD}" ]; then
    set superusers="root"
    export superusers
    password_pbkdf2 root ${GRUB2_PASSWORD}
  fi
fi
### END /etc/grub.d/01_users ###

### BEGIN /etc/grub.d/10_linux ###
insmod part_msdos
insmod xfs
set root='hd0,msdos1'
if [ x$feature_platform_search_hint = xy ]; then
  search --no-floppy --fs-uuid --set=root --hint='hd0,msdos1'  5f9e2b31-0c4d-4c39-9b8e-0a1b2c3d4e5f
else
  search --no-floppy --fs-uuid --set=root 5f9e2b31-0c4d-4c39-9b8e-0a1b2c3d4e5f
fi
if [ -z "${kernelopts}" ]; then
  set kernelopts="%(kernelopts)s"
fi

insmod blscfg
blscfg
### END /etc/grub.d/10_linux ###

### BEGIN /etc/grub.d/30_uefi-firmware ###
### END /etc/grub.d/30_uefi-firmware ###

### BEGIN /etc/grub.d/40_custom ###
# This file provides an easy way to add custom menu entries.
### END /etc/grub.d/40_custom ###
'''


def rhel8_grub_cfg(tuned_params: str = '', kernelopts: str = 'root=/dev/mapper/rhel-root ro crashkernel=auto rhgb quiet ') -> str:
    """RHEL8_GRUB_CFG with 00_tuned's $tuned_params and 10_linux's fallback $kernelopts."""
    return RHEL8_GRUB_CFG % {'tuned_params': tuned_params, 'kernelopts': kernelopts}
