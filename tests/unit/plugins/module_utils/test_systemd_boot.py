# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd-boot's default entry, on trees holding Debian's real loader (its LoaderInfo names the
version) and EFI variables in efivarfs's format."""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._boot_cmdline import read_next_boot_cmdline
from ansible_collections.kabi.dkms.plugins.module_utils._efivars import EFI_CERT_SHA256, EFI_CERT_X509, EFI_GLOBAL_VARIABLE
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import Kernel, find_default
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.plugins.module_utils._systemd_boot import (
    LOADER_GUID, matches, parse_name, read_lines, read_systemd_boot)
from ansible_collections.kabi.dkms.tests.unit.boot_fixtures import (
    ESP_UUID, GRUB, NON_VOLATILE_BOOT_RUNTIME, SHIM, bootctl_default, efi_program, global_variable, load_option,
    systemd_boot_loader, udev_record, write, x86_kernel_image)
from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import signature_list

MACHINE = '6a9857a393724b7a981ebb5b8495b9ea'
OLD, NEW = '6.1.0-9-amd64', '6.1.0-47-amd64'
KERNELS = {release: Kernel(release, '/lib/modules/' + release) for release in (OLD, NEW)}
GRUB_MENU = "menuentry 'Debian GNU/Linux' {\n  linux /vmlinuz-%s root=/dev/sda2 ro\n}\n" % OLD


def loader_as(version: str) -> bytes:
    """The real loader with its LoaderInfo saying ``version`` (padded to the same length)."""
    data = systemd_boot_loader()
    start = data.index(b'#### LoaderInfo: systemd-boot ') + len(b'#### LoaderInfo: systemd-boot ')
    end = data.index(b' ####', start)
    text = (version + '-' + 'k' * (end - start)).encode()[:end - start] if len(version) < end - start else version.encode()
    return data[:start] + text + data[end:]


def efivar(root: Path, name: str, value: str, guid: str = LOADER_GUID) -> None:
    """A loader variable as efivarfs shows it: attributes, then NUL-terminated UTF-16LE."""
    write(root, '/sys/firmware/efi/efivars/%s-%s' % (name, guid),
          struct.pack('<I', NON_VOLATILE_BOOT_RUNTIME) + (value + '\0').encode('utf-16-le'))


def entry(root: Path, partition: str, name: str, release: str, sort_key: str | None = 'debian',
          more: str = '', image: bool = True) -> None:
    """A kernel-install entry (its layout: /MACHINE/RELEASE/linux) and its kernel image."""
    linux = '/%s/%s/linux' % (MACHINE, release)
    lines = ['title Debian GNU/Linux 12 (bookworm)', 'version %s' % release, 'machine-id %s' % MACHINE]
    lines += ['sort-key %s' % sort_key] if sort_key else []
    lines += ['options root=UUID=1234 ro quiet', 'linux %s' % linux, 'initrd /%s/%s/initrd.img-%s' % (MACHINE, release, release)]
    write(root, '%s/loader/entries/%s' % (partition, name), '\n'.join(lines) + '\n' + more)
    if image:
        write(root, partition + linux, 'kernel image')


def count_boots(root: Path, release: str, counter: str) -> None:
    """Give kernel-install's entry of ``release`` on the ESP a boot counter (``+3-1``), as systemd-boot's boot counting names it."""
    name = root / ('boot/efi/loader/entries/%s-%s.conf' % (MACHINE, release))
    name.rename(name.with_name('%s-%s%s.conf' % (MACHINE, release, counter)))


@pytest.fixture
def esp(tmp_path: Path) -> Path:
    """Debian 12 with systemd-boot on an ESP at /boot/efi and kernel-install's two entries."""
    write(tmp_path, '/boot/efi/EFI/systemd/systemd-bootx64.efi', systemd_boot_loader())
    efivar(tmp_path, 'LoaderInfo', 'systemd-boot 252.39-1~deb12u2')     # efivarfs is mounted
    for release in (OLD, NEW):
        entry(tmp_path, '/boot/efi', '%s-%s.conf' % (MACHINE, release), release)
    return tmp_path


def default(root: Path, warnings: List[str] | None = None) -> tuple:
    return find_default(RootFS(str(root)), KERNELS, warn=(warnings if warnings is not None else []).append)


def test_the_newest_kernel_install_entry_by_default(esp: Path) -> None:
    assert default(esp) == (NEW, 'systemd-boot')


@pytest.mark.parametrize(('pattern', 'expected'), [
    ('%s-%s.conf' % (MACHINE, OLD), OLD),
    ('%s-6.1.0-9-*' % MACHINE.upper(), OLD),        # patterns are folded like the ids
    ('*-amd64.conf', NEW),                          # the first match in the loader's order
    ('%s-%s' % (MACHINE, OLD), NEW),                # ids keep .conf: no match, so the first entry
])
def test_loader_conf_default_is_a_pattern_over_ids(esp: Path, pattern: str, expected: str) -> None:
    write(esp, '/boot/efi/loader/loader.conf', 'timeout 3\n# the entry to start\ndefault %s\n' % pattern)
    assert default(esp) == (expected, 'systemd-boot')


def test_efi_variables_come_before_loader_conf(esp: Path) -> None:
    write(esp, '/boot/efi/loader/loader.conf', 'default %s-%s.conf\n' % (MACHINE, NEW))
    efivar(esp, 'LoaderEntryDefault', '%s-%s.conf' % (MACHINE, OLD))     # bootctl set-default
    assert default(esp) == (OLD, 'systemd-boot')
    efivar(esp, 'LoaderEntryOneShot', '%s-%s.conf' % (MACHINE, NEW))     # bootctl set-oneshot
    assert default(esp) == (NEW, 'systemd-boot')


def test_saved_names_the_entry_booted_last(esp: Path) -> None:
    write(esp, '/boot/efi/loader/loader.conf', 'default @saved\n')
    assert default(esp) == (NEW, 'systemd-boot')        # nothing saved yet: the first entry
    efivar(esp, 'LoaderEntryLastBooted', '%s-%s.conf' % (MACHINE, OLD))
    assert default(esp) == (OLD, 'systemd-boot')


def test_an_entry_whose_kernel_image_is_not_there_is_skipped(esp: Path) -> None:
    (esp / ('boot/efi/%s/%s/linux' % (MACHINE, NEW))).unlink()
    assert default(esp) == (OLD, 'systemd-boot')
    # FAT ignores letter case.
    write(esp, '/boot/efi/%s/%s/LINUX' % (MACHINE, NEW), 'kernel image')
    assert default(esp) == (NEW, 'systemd-boot')


def test_an_entry_without_tries_left_goes_last(esp: Path) -> None:
    count_boots(esp, NEW, '+0-3')
    assert default(esp) == (OLD, 'systemd-boot')


def test_the_boot_counter_is_part_of_the_id_before_259(esp: Path) -> None:
    count_boots(esp, OLD, '+2-1')
    write(esp, '/boot/efi/loader/loader.conf', 'default %s-%s.conf\n' % (MACHINE, OLD))
    assert default(esp) == (NEW, 'systemd-boot')
    write(esp, '/boot/efi/EFI/systemd/systemd-bootx64.efi', loader_as('259.5'))
    assert default(esp) == (OLD, 'systemd-boot')


def test_preferred_skips_entries_without_tries_left_from_260(esp: Path) -> None:
    count_boots(esp, OLD, '+0-3')
    write(esp, '/boot/efi/loader/loader.conf', 'preferred %s-6.1.0-9*\ndefault %s-6.1.0-9*\n' % (MACHINE, MACHINE))
    assert default(esp) == (OLD, 'systemd-boot')        # 252 knows no preferred: default matches it
    write(esp, '/boot/efi/EFI/systemd/systemd-bootx64.efi', loader_as('260.1'))
    assert default(esp) == (OLD, 'systemd-boot')        # preferred skips it, default does not
    write(esp, '/boot/efi/loader/loader.conf', 'preferred %s-6.1.0-*\n' % MACHINE)
    assert default(esp) == (NEW, 'systemd-boot')


def test_sort_keys_order_before_ids(esp: Path) -> None:
    # An entry without a sort key comes after those with one, whatever its id.
    entry(esp, '/boot/efi', 'zzz-custom.conf', '6.1.0-50-amd64', sort_key=None)
    kernels = dict(KERNELS, **{'6.1.0-50-amd64': Kernel('6.1.0-50-amd64', '/lib/modules/6.1.0-50-amd64')})
    assert find_default(RootFS(str(esp)), kernels) == (NEW, 'systemd-boot')
    write(esp, '/boot/efi/loader/loader.conf', 'default zzz*\n')
    assert find_default(RootFS(str(esp)), kernels) == ('6.1.0-50-amd64', 'systemd-boot')


def test_an_entry_for_another_architecture_is_skipped(esp: Path) -> None:
    entry(esp, '/boot/efi', '%s-%s.conf' % (MACHINE, NEW), NEW, more='architecture aa64\narchitecture x64\n')
    assert default(esp) == (OLD, 'systemd-boot')    # dropped at the first line that names another


@pytest.mark.parametrize(('change', 'reason'), [
    (lambda root: write(root, '/boot/efi/EFI/Linux/debian-6.1.0-50-amd64.efi', 'MZ'), 'unified kernel image'),
    (lambda root: write(root, '/boot/efi/loader/loader.conf', 'default auto-win*\n'), 'auto-windows'),
    (lambda root: write(root, '/boot/efi/EFI/systemd/systemd-bootx64.efi', loader_as('251.4')), 'systemd-boot 251.4'),
    (lambda root: write(root, '/boot/grub/grub.cfg', GRUB_MENU), 'BootOrder'),
    (lambda root: entry(root, '/boot/efi', 'x.conf', NEW, more='profile 1\n')
     or write(root, '/boot/efi/EFI/systemd/systemd-bootx64.efi', loader_as('261.2')), 'profile'),
    (lambda root: write(root, '/sys/firmware/dmi/entries/11-0/raw', b'\x0b\x05\0\0\x01io.systemd.boot.entries-extra:x.conf=linux /k\0\0')
     or write(root, '/boot/efi/EFI/systemd/systemd-bootx64.efi', loader_as('258.1')), 'SMBIOS'),
    (lambda root: write(root, '/boot/efi/loader/loader.conf', 'default %s\n' % ('*a' * 5000)), 'longer than'),
    (lambda root: write(root, '/boot/efi/EFI/systemd/systemd-bootx64.efi', loader_as('262.1')), 'systemd-boot 262.1'),
    (lambda root: write(root, '/boot/efi/EFI/systemd/systemd-bootx64.efi', b'MZ' + b'\0' * 64), 'names no systemd-boot'),
    # Ids alike once what is no version character is dropped (x_1 and x1), no sort key: their order is the disk's.
    (lambda root: entry(root, '/boot/efi', 'x_1.conf', OLD, sort_key=None) or entry(root, '/boot/efi', 'x1.conf', NEW, sort_key=None)
     or write(root, '/boot/efi/loader/loader.conf', 'default x*\n'), 'sort alike'),
    # Pop!_OS's kernelstub: the image copied as vmlinuz.efi, no version line.
    (lambda root: write(root, '/boot/efi/loader/entries/Pop_OS-current.conf', 'title Pop!_OS\nlinux /EFI/Pop_OS-1234/vmlinuz.efi\n')
     or write(root, '/boot/efi/EFI/Pop_OS-1234/vmlinuz.efi', 'kernel image')
     or write(root, '/boot/efi/loader/loader.conf', 'default Pop_OS-current.conf\n'), 'a kernel it does not name'),
    (lambda root: write(root, '/boot/efi/loader/keys/auto/db.auth', 'keys')
     or write(root, '/boot/efi/loader/loader.conf', 'default secure-boot-keys-*\n'), 'secure-boot-keys-auto'),
])
def test_what_cannot_be_read_is_not_guessed(esp: Path, change, reason: str) -> None:
    change(esp)
    warnings: List[str] = []
    assert default(esp, warnings) == (None, None)
    assert len(warnings) == 1 and reason in warnings[0] and warnings[0].startswith('systemd-boot:')


def test_an_unreadable_loader_is_read_and_warned_about_once(esp: Path) -> None:
    # /efi/EFI/BOOT a link loop: listed (and warned about) before the loader that cannot be read.
    (esp / 'efi' / 'EFI').mkdir(parents=True)
    os.symlink('BOOT', str(esp / 'efi' / 'EFI' / 'BOOT'))
    write(esp, '/boot/efi/EFI/systemd/systemd-bootx64.efi', b'MZ' + b'\0' * 64)
    warnings: List[str] = []
    assert default(esp, warnings) == (None, None)
    assert [warning.split(':')[0] for warning in warnings] == ['cannot list /efi/EFI/BOOT', 'systemd-boot']
    assert 'names no systemd-boot' in warnings[1]


def test_without_efi_variables_the_choice_is_not_told(esp: Path) -> None:
    # A disk image: LoaderEntryDefault or LoaderEntryOneShot may be set in the firmware.
    for path in (esp / 'sys/firmware/efi/efivars').iterdir():
        path.unlink()
    warnings: List[str] = []
    assert default(esp, warnings) == (None, None) and 'not visible' in warnings[0]


def esp_at_efi(root: Path) -> None:
    """ESP at /efi with the loader, kernel-install's entries on /boot."""
    write(root, '/efi/EFI/systemd/systemd-bootx64.efi', systemd_boot_loader())
    efivar(root, 'LoaderInfo', 'systemd-boot 252.39-1~deb12u2')
    for release in (OLD, NEW):
        entry(root, '/boot', '%s-%s.conf' % (MACHINE, release), release)


def test_boot_s_entries_count_only_on_a_partition_of_its_own(tmp_path: Path) -> None:
    # /boot on the root's file system is no partition the loader reads: its entries are not listed.
    esp_at_efi(tmp_path)
    warnings: List[str] = []
    assert default(tmp_path, warnings) == (None, None) and 'starts no boot entry' in warnings[0]
    entry(tmp_path, '/efi', 'old-%s.conf' % OLD, OLD, sort_key='zzz')
    assert default(tmp_path) == (OLD, 'systemd-boot')


FIND_DEFAULT = """import json, os, sys
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import Kernel, find_default
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
root = sys.argv[1]
# udev's records, as systemd-udevd writes them: ESP partition 1, /boot partition 2 (its type from the
# environment), and another XBOOTLDR partition numbered as the environment says, all on disk 8:0.
records = [('efi', 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', '1'), ('boot', os.environ.get('BOOT_TYPE'), '2'),
           (None, 'bc13c2ff-59e6-4262-a352-b275fd6f7172', os.environ.get('OTHER_XBOOTLDR'))]
for where, kind, number in records:
    if kind is None or number is None:
        continue
    device = os.stat(os.path.join(root, where)).st_dev if where else os.makedev(8, 9)
    os.makedirs(os.path.join(root, 'run/udev/data'), exist_ok=True)
    with open(os.path.join(root, 'run/udev/data/b%d:%d' % (os.major(device), os.minor(device))), 'w') as record:
        record.write('E:ID_PART_ENTRY_DISK=8:0\\nE:ID_PART_ENTRY_TYPE=%s\\nE:ID_PART_ENTRY_NUMBER=%s\\n' % (kind, number))
kernels = dict((release, Kernel(release, '/lib/modules/' + release)) for release in sys.argv[2:])
print(json.dumps(find_default(RootFS(root), kernels, warn=lambda message: None)))
"""
# Runs as root in a new mount namespace: /boot a file system of its own (a tmpfs), holding what was there.
SEPARATE_BOOT = 'mount -t tmpfs kabi-dkms-test "$1/boot" && cp -a "$2/." "$1/boot/" && shift 2 && exec "$@"'


def default_with_boot_mounted(root: Path, work: Path, boot_type: str | None = None, other_xbootldr: str | None = None) -> tuple:
    """find_default where /boot under ``root`` is a partition of its own: of a kind nothing tells,
    or of ``boot_type`` by udev's record, with another XBOOTLDR partition numbered ``other_xbootldr``."""
    shutil.rmtree(str(root / 'run/udev'), ignore_errors=True)
    saved = work / 'boot'
    shutil.move(str(root / 'boot'), str(saved))
    (root / 'boot').mkdir()
    result = subprocess.run(['unshare', '--mount', 'sh', '-c', SEPARATE_BOOT, 'sh', str(root), str(saved),
                             sys.executable, '-c', FIND_DEFAULT, str(root), OLD, NEW],
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path),
                                     **{name: value for name, value in (('BOOT_TYPE', boot_type),
                                                                        ('OTHER_XBOOTLDR', other_xbootldr)) if value}),
                            capture_output=True, text=True, check=False)
    shutil.rmtree(str(root / 'boot'))
    shutil.move(str(saved), str(root / 'boot'))
    if result.returncode != 0 and ('unshare' in result.stderr or 'mount:' in result.stderr):
        pytest.skip('no private mount namespace here (needs root): %s' % result.stderr.strip())
    assert result.returncode == 0, result.stderr
    return tuple(json.loads(result.stdout))


def test_boot_s_entries_on_a_partition_count_when_the_answer_is_the_same_either_way(tmp_path: Path) -> None:
    root, work = tmp_path / 'root', tmp_path / 'work'
    work.mkdir()
    esp_at_efi(root)
    assert default_with_boot_mounted(root, work) == (NEW, 'systemd-boot')    # none on the ESP: this system started from /boot's
    entry(root, '/efi', 'old-%s.conf' % OLD, OLD, sort_key='zzz')
    assert default_with_boot_mounted(root, work) == (None, None)              # /boot's kind decides, and is not told
    xbootldr = 'bc13c2ff-59e6-4262-a352-b275fd6f7172'
    assert default_with_boot_mounted(root, work, xbootldr) == (NEW, 'systemd-boot')         # udev: the XBOOTLDR
    assert default_with_boot_mounted(root, work, xbootldr, other_xbootldr='3') == (NEW, 'systemd-boot')
    assert default_with_boot_mounted(root, work, xbootldr, other_xbootldr='1') == (OLD, 'systemd-boot')   # not the first
    assert default_with_boot_mounted(root, work, xbootldr, other_xbootldr='\u00b9') == (NEW, 'systemd-boot')   # no number
    linux_data = '0fc63daf-8483-4772-8e79-3d69d8477de4'
    assert default_with_boot_mounted(root, work, linux_data) == (OLD, 'systemd-boot')     # an ext4 /boot: not read


def test_no_loader_leaves_the_other_rules() -> None:
    # Without the loader on the ESP, systemd-boot's files tell nothing (test_kernels covers that).
    assert read_systemd_boot(RootFS('/nonexistent-root-for-test'), lambda message: None) is None


@pytest.mark.parametrize(('pattern', 'name', 'expected'), [
    ('debian-*.conf', 'debian-6.1.conf', True), ('debian-?.conf', 'debian-6.conf', True),
    ('[a-c]x', 'bx', True), ('[a-c]x', 'dx', False), ('[]a]x', ']x', True), ('[!a]x', '!x', True),
    ('[!a]x', 'bx', False), ('[a-]x', '-x', True), ('a\\*', 'a*', True), ('a\\*', 'ab', False),
    ('a\\', 'a', False), ('[ab', 'a', False), ('*', '', True), ('a*b*c', 'aXbYc', True), ('a*b*c', 'aXcYb', False),
    ('*.conf', 'x.conf.bak', False), ('a**', 'a', True),
])
def test_patterns_match_as_the_loader_matches_them(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


def test_a_hostile_pattern_takes_no_time() -> None:
    started = time.perf_counter()
    assert not matches('*a' * 2000 + '*b', 'a' * 255)
    assert time.perf_counter() - started < 5     # backtracking would take longer than the universe


def test_lines_as_the_loader_reads_them() -> None:
    text = "  title  \"Debian\"  \r\n# default x\nversion\t6.1\nlinux /a # not a comment\nempty\nsort-key 'x'\n"
    assert read_lines(text, 252) == [('title', 'Debian'), ('version', '6.1'), ('linux', '/a # not a comment'),
                                     ('sort-key', "'x'")]
    assert read_lines(text, 260)[-1] == ('sort-key', 'x')          # 260 takes single quotes off too
    assert read_lines('version 1\0\nlinux /a\n', 252) == [('version', '1')]   # a NUL ends the text
    assert read_lines('sort-key "\n', 252) == [('sort-key', '')]       # a lone quote is both ends


@pytest.mark.parametrize(('name', 'version', 'expected'), [
    ('Debian-6.1.conf', 252, ('debian-6.1.conf', (-1, 0))),
    ('debian+0.CONF', 252, ('debian+0.conf', (-1, 0))), ('debian+0.CONF', 257, ('debian+0.conf', (0, 0))),
    ('debian+3.conf', 252, ('debian+3.conf', (3, 0))),
    ('debian+2-1.conf', 259, ('debian.conf', (2, 1))),
    ('debian+x.conf', 259, ('debian+x.conf', (-1, 0))),
])
def test_entry_names(name: str, version: int, expected: tuple) -> None:
    assert parse_name(name, '.conf', version) == expected


def test_the_command_line_is_the_options_of_the_kernel_s_entries(esp: Path) -> None:
    entry(esp, '/boot/efi', '%s-%s.conf' % (MACHINE, NEW), NEW, more='options module.sig_enforce=1\n')
    cmdline = read_next_boot_cmdline(RootFS(str(esp)), NEW, lambda message: None)
    assert cmdline.values('module.sig_enforce') == ['1'] and cmdline.values('root') == ['UUID=1234']
    assert cmdline.source.endswith('/loader/entries/%s-%s.conf' % (MACHINE, NEW))
    assert read_next_boot_cmdline(RootFS(str(esp)), OLD, lambda message: None).values('module.sig_enforce') == []
    # The default entry's options are what the kernel gets next; of another kernel's two entries with other
    # options, which one starts it is the user's choice.
    entry(esp, '/boot/efi', 'debug-%s.conf' % NEW, NEW, more='options lockdown=integrity\n')
    assert read_next_boot_cmdline(RootFS(str(esp)), NEW, lambda message: None).values('lockdown') == []
    entry(esp, '/boot/efi', 'debug-%s.conf' % OLD, OLD, more='options lockdown=integrity\n')
    assert read_next_boot_cmdline(RootFS(str(esp)), OLD, lambda message: None).params is None


def test_a_unified_kernel_image_leaves_the_command_line_unknown(esp: Path) -> None:
    write(esp, '/boot/efi/EFI/Linux/debian-%s.efi' % NEW, 'MZ')
    cmdline = read_next_boot_cmdline(RootFS(str(esp)), OLD, lambda message: None)
    assert cmdline.params is None and 'unified kernel image' in cmdline.problem


def test_variables_as_the_loader_reads_them(esp: Path) -> None:
    name = '%s-%s.conf' % (MACHINE, OLD)
    variable = esp / ('sys/firmware/efi/efivars/LoaderEntryDefault-' + LOADER_GUID)
    variable.write_bytes(struct.pack('<I', NON_VOLATILE_BOOT_RUNTIME) + name.encode('utf-16-le') + b'x')
    assert default(esp) == (NEW, 'systemd-boot')    # an odd number of bytes: no value
    # Stored without its NUL: 252 writes the NUL over the last character (".con" names nothing), 261 appends it.
    variable.write_bytes(struct.pack('<I', NON_VOLATILE_BOOT_RUNTIME) + name.encode('utf-16-le'))
    assert default(esp) == (NEW, 'systemd-boot')
    write(esp, '/boot/efi/EFI/systemd/systemd-bootx64.efi', loader_as('261.1'))
    assert default(esp) == (OLD, 'systemd-boot')


def test_a_fallback_copy_of_another_version_must_agree(esp: Path) -> None:
    count_boots(esp, OLD, '+2-1')
    write(esp, '/boot/efi/loader/loader.conf', 'default %s-%s.conf\n' % (MACHINE, OLD))
    write(esp, '/boot/efi/EFI/BOOT/BOOTX64.EFI', systemd_boot_loader())    # bootctl's copy, the same version
    assert default(esp) == (NEW, 'systemd-boot')
    write(esp, '/boot/efi/EFI/systemd/systemd-bootx64.efi', loader_as('259.5'))
    warnings: List[str] = []
    assert default(esp, warnings) == (None, None) and 'loaders' in warnings[0]
    write(esp, '/boot/efi/EFI/BOOT/BOOTX64.EFI', 'shim or GRUB')           # not systemd-boot: not its choice
    assert default(esp) == (OLD, 'systemd-boot')


def test_an_esp_reached_by_two_mount_paths_is_one(esp: Path) -> None:
    (esp / 'efi').symlink_to('boot/efi')
    assert default(esp) == (NEW, 'systemd-boot')


LOAD_OPTION_CATEGORY_APP = 0x100


@pytest.fixture
def switched(esp: Path) -> Path:
    """Debian switched to systemd-boot: GRUB's files and its shim stay behind, and udev names the
    ESP's partition (its PARTUUID, which the boot options' hard drive nodes give)."""
    write(esp, '/boot/grub/grub.cfg', GRUB_MENU)
    write(esp, '/boot/efi/EFI/debian/shimx64.efi', efi_program(SHIM))
    write(esp, '/boot/efi/EFI/debian/grubx64.efi', efi_program(GRUB))
    udev_record(esp, '/boot/efi', ESP_UUID)
    global_variable(esp, 'Boot0000', load_option('Linux Boot Manager', '\\EFI\\systemd\\systemd-bootx64.efi'))
    global_variable(esp, 'Boot0001', load_option('debian', '\\EFI\\debian\\shimx64.efi'))
    global_variable(esp, 'Boot0002', load_option('UEFI PXEv4', None))
    return esp


@pytest.mark.parametrize(('order', 'next_entry', 'expected'), [
    ([0, 1], None, (NEW, 'systemd-boot')),           # bootctl install put itself first
    ([1, 0], None, (OLD, 'grub')),                   # shim first, and the GRUB beside it: its menu decides
    ([0, 1], b'\1\0', (OLD, 'grub')),                # BootNext comes first, once
    ([0, 1], b'\1\0\0\0', (NEW, 'systemd-boot')),    # a BootNext of two numbers is none
    ([2, 0], None, (None, None)),                    # network boot first: not told
    ([3, 0], None, (NEW, 'systemd-boot')),           # no Boot0003: passed over
])
def test_the_firmware_s_boot_options_tell_grub_from_systemd_boot(switched: Path, order: List[int], next_entry: bytes | None,
                                                                 expected: tuple) -> None:
    global_variable(switched, 'BootOrder', struct.pack('<%dH' % len(order), *order))
    if next_entry is not None:
        global_variable(switched, 'BootNext', next_entry)
    assert default(switched) == expected


@pytest.mark.parametrize(('attributes', 'expected'), [
    (0, (NEW, 'systemd-boot')),                                 # inactive: passed over
    (1 | LOAD_OPTION_CATEGORY_APP, (NEW, 'systemd-boot')),      # an application, not a boot option
])
def test_options_the_boot_manager_does_not_start(switched: Path, attributes: int, expected: tuple) -> None:
    global_variable(switched, 'Boot0001', load_option('debian', '\\EFI\\debian\\shimx64.efi', attributes))
    global_variable(switched, 'BootOrder', struct.pack('<2H', 1, 0))
    assert default(switched) == expected
    global_variable(switched, 'BootNext', b'\1\0')       # BootNext starts it whatever its attributes
    assert default(switched) == (OLD, 'grub')


def test_what_shim_starts_and_secure_boot_refuses(switched: Path) -> None:
    global_variable(switched, 'BootOrder', struct.pack('<2H', 0, 1))
    global_variable(switched, 'SecureBoot', b'\1')
    global_variable(switched, 'BootCurrent', b'\1\0')
    # Debian's systemd-boot is not signed, and db holds no image hash that could let it run...
    write(switched, '/sys/firmware/efi/efivars/db-d719b2cb-3d3a-4596-a3bc-dad00e67656f',
          struct.pack('<I', NON_VOLATILE_BOOT_RUNTIME) + signature_list(EFI_CERT_X509, [b'0' * 64]))
    assert default(switched) == (OLD, 'grub')               # ...so the firmware starts shim, which ran this boot
    global_variable(switched, 'BootCurrent', b'\2\0')
    assert default(switched) == (None, None)                # whether the firmware trusts shim's signer is not read
    global_variable(switched, 'BootCurrent', b'\0\0')
    assert default(switched) == (NEW, 'systemd-boot')       # systemd-boot itself ran this boot: db lets it
    global_variable(switched, 'BootCurrent', b'\1\0')
    write(switched, '/sys/firmware/efi/efivars/db-d719b2cb-3d3a-4596-a3bc-dad00e67656f',
          struct.pack('<I', NON_VOLATILE_BOOT_RUNTIME) + signature_list(EFI_CERT_SHA256, [b'1' * 32]))
    assert default(switched) == (None, None)                # an image hash in db may be systemd-boot's
    global_variable(switched, 'BootOrder', struct.pack('<1H', 1))
    write(switched, '/boot/efi/EFI/debian/grubx64.efi', systemd_boot_loader())
    assert default(switched) == (None, None)                # shim refuses an unsigned second stage under Secure Boot
    (switched / ('sys/firmware/efi/efivars/SecureBoot-' + EFI_GLOBAL_VARIABLE)).unlink()
    assert default(switched) == (NEW, 'systemd-boot')       # shim starts whatever grubx64.efi is


def test_an_option_for_another_disk_is_not_this_esp(switched: Path) -> None:
    global_variable(switched, 'Boot0000', load_option('Linux Boot Manager', '\\EFI\\systemd\\systemd-bootx64.efi',
                                                      partition='99999999-2222-3333-4444-555555555555'))
    global_variable(switched, 'BootOrder', struct.pack('<2H', 0, 1))
    assert default(switched) == (None, None)


def test_an_image_without_a_version_line_names_its_kernel_in_its_header(esp: Path) -> None:
    # Pop!_OS's kernelstub copies the image as vmlinuz.efi and writes no version line.
    write(esp, '/boot/efi/loader/entries/Pop_OS-current.conf', 'title Pop!_OS\nlinux /EFI/Pop_OS-1234/vmlinuz.efi\n')
    write(esp, '/boot/efi/loader/loader.conf', 'default Pop_OS-current.conf\n')
    write(esp, '/boot/efi/EFI/Pop_OS-1234/vmlinuz.efi', x86_kernel_image(OLD))
    assert default(esp) == (OLD, 'systemd-boot')
    write(esp, '/boot/efi/EFI/Pop_OS-1234/vmlinuz.efi', x86_kernel_image(OLD + ' (debian-kernel@lists.debian.org) #1 SMP'))   # the release is its first word
    assert default(esp) == (OLD, 'systemd-boot')
    write(esp, '/boot/efi/EFI/Pop_OS-1234/vmlinuz.efi', x86_kernel_image('<unknown>'))
    assert default(esp) == (None, None)


def random_esp(chance: random.Random, top: Path) -> str | None:
    """An ESP tree of kernel-install-like entries with random ids, sort keys, machine ids, versions
    and a loader.conf default pattern; its default as systemd-boot 252 reads it by this reading."""
    pieces = ['1', '2', '10', '01', 'a', 'b', 'rc', '.', '-', '_', '~', '^']
    names = set()
    while len(names) < chance.randint(2, 6):
        # bootctl lists no file whose name holds what an entry name may not (~, ^): the loader does.
        names.add('e' + ''.join(chance.choice(pieces[:-2]) for dummy in range(chance.randint(1, 4))) + '.conf')
    for name in sorted(names):
        lines = ['linux /k/%s' % name]
        if chance.random() < 0.6:
            lines.append('sort-key %s' % chance.choice(['debian', 'arch', 'x']))
        if chance.random() < 0.5:
            lines.append('machine-id %s' % chance.choice([MACHINE, 'f' * 32]))
        if chance.random() < 0.8:
            lines.append('version %s' % ''.join(chance.choice(pieces) for dummy in range(chance.randint(1, 5))))
        write(top, '/loader/entries/' + name, '\n'.join(lines) + '\n')
        write(top, '/k/' + name, 'kernel image')
    pattern = chance.choice([None, chance.choice(sorted(names)), 'e1*', 'e?*', '*.conf', 'e[a-b]*', 'x*'])
    if pattern is not None:
        write(top, '/loader/loader.conf', 'timeout 3\ndefault %s\n' % pattern)
    return pattern


def test_the_default_is_the_one_debian_s_bootctl_marks(tmp_path: Path) -> None:
    # Cases where the reading does not answer (entries alike) are not compared; most are.
    chance, compared = random.Random(252), 0
    for case in range(40):
        esp = tmp_path / ('esp%d' % case)
        random_esp(chance, esp)
        root = tmp_path / ('root%d' % case)
        shutil.copytree(str(esp), str(root / 'boot/efi'))
        write(root, '/boot/efi/EFI/systemd/systemd-bootx64.efi', systemd_boot_loader())
        efivar(root, 'LoaderInfo', 'systemd-boot 252.39-1~deb12u2')
        reading = read_systemd_boot(RootFS(str(root)), lambda message: None)
        if reading.default is None:
            continue
        assert reading.default.id == bootctl_default(esp, tmp_path), case
        compared += 1
    assert compared >= 30


def test_the_command_line_of_the_loader_that_starts(switched: Path) -> None:
    # systemd-boot starts (BootOrder): its entry's options, not grub.cfg's line; GRUB starts: grub.cfg's.
    entry(switched, '/boot/efi', '%s-%s.conf' % (MACHINE, OLD), OLD, more='options module.sig_enforce=1\n')
    global_variable(switched, 'BootOrder', struct.pack('<2H', 0, 1))
    assert read_next_boot_cmdline(RootFS(str(switched)), OLD, lambda message: None).values('module.sig_enforce') == ['1']
    global_variable(switched, 'BootOrder', struct.pack('<2H', 1, 0))
    cmdline = read_next_boot_cmdline(RootFS(str(switched)), OLD, lambda message: None)
    assert cmdline.source == '/boot/grub/grub.cfg' and cmdline.values('module.sig_enforce') == []
    global_variable(switched, 'BootOrder', struct.pack('<2H', 2, 0))     # not told which starts
    assert read_next_boot_cmdline(RootFS(str(switched)), OLD, lambda message: None).params is None


def test_smbios_strings_may_add_to_the_command_line_from_256(esp: Path) -> None:
    write(esp, '/sys/firmware/dmi/entries/11-0/raw', b'\x0b\x05\0\0\x01io.systemd.boot.kernel-cmdline-extra=quiet\0\0')
    assert read_next_boot_cmdline(RootFS(str(esp)), NEW, lambda message: None).params is not None     # 252
    write(esp, '/boot/efi/EFI/systemd/systemd-bootx64.efi', loader_as('256.5'))
    assert read_next_boot_cmdline(RootFS(str(esp)), NEW, lambda message: None).params is None


PLUGIN_257 = "BOOT_OPTIONS=\"$(grep -Gv '^\\s*#' /etc/kernel/cmdline | tr -s \"$IFS\" ' ')\"\n"
PLUGIN_256 = "BOOT_OPTIONS=\"$(tr -s \"$IFS\" ' ' </etc/kernel/cmdline)\"\n"


@pytest.mark.parametrize(('plugin', 'expected'), [
    (PLUGIN_256, ['1']),      # kept: the kernel sees the words after #
    (PLUGIN_257, []),         # dropped
    (None, None),             # which, not told
])
def test_a_kernel_without_an_entry_gets_what_kernel_install_writes(esp: Path, plugin: str | None, expected) -> None:
    write(esp, '/etc/default/grub', 'GRUB_CMDLINE_LINUX="lockdown=integrity"\n')     # GRUB's, left behind
    write(esp, '/etc/kernel/cmdline', 'root=UUID=1234 ro\n# module.sig_enforce=1\n')
    if plugin is not None:
        write(esp, '/usr/lib/kernel/install.d/90-loaderentry.install', plugin)
    cmdline = read_next_boot_cmdline(RootFS(str(esp)), '6.1.0-50-amd64', lambda message: None)
    assert cmdline.values('module.sig_enforce') == expected if expected is not None else cmdline.params is None
    assert cmdline.source == '/etc/kernel/cmdline'


def test_entries_of_efi_programs(esp: Path, tmp_path: Path) -> None:
    # memtest, chain-loaded GRUB: EFI programs that start no kernel; listed last they change nothing.
    write(esp, '/boot/efi/loader/entries/zz-grub.conf', 'title GRUB\nsort-key zz\nefi /EFI/debian/grubx64.efi\n')
    write(esp, '/boot/efi/EFI/debian/grubx64.efi', efi_program(GRUB))
    assert default(esp) == (NEW, 'systemd-boot')
    assert read_next_boot_cmdline(RootFS(str(esp)), NEW, lambda message: None).params is not None
    write(esp, '/boot/efi/loader/loader.conf', 'default zz-grub.conf\n')
    warnings: List[str] = []
    assert default(esp, warnings) == (None, None) and 'EFI program' in warnings[0]
    # One that carries a kernel (a unified kernel image made with objcopy) may start any kernel.
    write(tmp_path, '/kernel', 'a kernel image')
    write(tmp_path, '/stub.efi', efi_program('usr/lib/systemd/boot/efi/linuxx64.efi.stub'))
    subprocess.run(['objcopy', '--add-section', '.linux=%s' % (tmp_path / 'kernel'), '--change-section-vma',
                    '.linux=0x2000000', str(tmp_path / 'stub.efi'), str(esp / 'boot/efi/EFI/debian/grubx64.efi')], check=True)
    assert default(esp, warnings) == (None, None) and 'unified kernel image' in warnings[-1]
    assert read_next_boot_cmdline(RootFS(str(esp)), NEW, lambda message: None).params is None


def test_shim_s_second_stage_of_another_version(switched: Path) -> None:
    # EFI/systemd holds 259, shim starts a 252 copy as grubx64.efi: whose rules apply is not told.
    write(switched, '/boot/efi/EFI/systemd/systemd-bootx64.efi', loader_as('259.5'))
    write(switched, '/boot/efi/EFI/debian/grubx64.efi', systemd_boot_loader())
    global_variable(switched, 'BootOrder', struct.pack('<2H', 1, 0))
    assert default(switched) == (None, None)
    write(switched, '/boot/efi/EFI/systemd/systemd-bootx64.efi', systemd_boot_loader())
    assert default(switched) == (NEW, 'systemd-boot')


def test_a_hostile_loader_info_takes_no_time(esp: Path) -> None:
    write(esp, '/boot/efi/EFI/systemd/systemd-bootx64.efi', b'#### LoaderInfo: systemd-boot ' + b'1' * 200000)
    started = time.perf_counter()
    assert default(esp) == (None, None)
    assert time.perf_counter() - started < 5


def test_kernel_install_s_own_rules_for_its_command_line(esp: Path) -> None:
    write(esp, '/etc/kernel/cmdline/stray', 'not a file')           # a directory: the next file is read
    write(esp, '/usr/lib/kernel/cmdline', 'root=UUID=1234 ro\n# module.sig_enforce=1\n')
    write(esp, '/usr/lib/kernel/install.d/90-loaderentry.install', PLUGIN_256)
    write(esp, '/etc/kernel/install.d/90-loaderentry.install', PLUGIN_257)     # /etc's runs in place of /usr/lib's
    cmdline = read_next_boot_cmdline(RootFS(str(esp)), '6.1.0-50-amd64', lambda message: None)
    assert cmdline.source == '/usr/lib/kernel/cmdline' and cmdline.values('module.sig_enforce') == []


def test_the_saved_id_keeps_its_case(esp: Path) -> None:
    # The loader folds the other patterns before it reads LoaderEntryLastBooted, so B.CONF names nothing.
    write(esp, '/boot/efi/loader/loader.conf', 'default @saved\n')
    efivar(esp, 'LoaderEntryLastBooted', '%s-%s.CONF' % (MACHINE, OLD))
    assert default(esp) == (NEW, 'systemd-boot')
    efivar(esp, 'LoaderEntryLastBooted', '%s-%s.conf' % (MACHINE, OLD))
    assert default(esp) == (OLD, 'systemd-boot')


def test_a_counter_past_a_c_int_is_part_of_the_name() -> None:
    assert parse_name('a+2147483648.conf', '.conf', 259) == ('a+2147483648.conf', (-1, 0))
    assert parse_name('a+2147483647.conf', '.conf', 259) == ('a.conf', (2147483647, 0))


def test_a_pattern_of_many_ranges_is_not_followed(esp: Path) -> None:
    write(esp, '/boot/efi/loader/loader.conf', 'default *[%sa-a]x*\n' % ('b-b' * 100))
    warnings: List[str] = []
    assert default(esp, warnings) == (None, None) and 'ranges' in warnings[0]


def test_an_entry_that_starts_systemd_boot(esp: Path) -> None:
    write(esp, '/boot/efi/loader/entries/again.conf', 'sort-key a\nefi /EFI/systemd/systemd-bootx64.efi\n')
    warnings: List[str] = []
    assert default(esp, warnings) == (None, None) and 'starts systemd-boot' in warnings[0]
    # The loader this boot started is that file: it leaves the entry out.
    efivar(esp, 'LoaderImageIdentifier', '\\EFI\\systemd\\systemd-bootx64.efi')
    assert default(esp) == (NEW, 'systemd-boot')


# AnsiballZ compiles every module_util a module imports on every run: the reader is imported only
# where systemd-boot is installed (a GRUB host reads its fallback BOOTX64.EFI to tell, no more).
READER_IMPORTED = '''import sys
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import gather_kernels
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
source = gather_kernels(RootFS(sys.argv[1]), lambda message: None)[3]
print(source, 'ansible_collections.kabi.dkms.plugins.module_utils._systemd_boot' in sys.modules)
'''


def test_the_reader_is_loaded_only_where_systemd_boot_is_installed(esp: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    def loaded(root: Path) -> List[str]:
        return subprocess.run([sys.executable, '-c', READER_IMPORTED, str(root)], check=True, capture_output=True,
                              text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))).stdout.split()
    for release in (OLD, NEW):
        write(esp, '/lib/modules/%s/modules.dep' % release, '')
    assert loaded(esp) == ['systemd-boot', 'True']
    grub = tmp_path_factory.mktemp('grub-host')
    write(grub, '/boot/efi/EFI/BOOT/BOOTX64.EFI', efi_program(SHIM))
    write(grub, '/boot/grub/grub.cfg', GRUB_MENU)
    for release in (OLD, NEW):
        write(grub, '/lib/modules/%s/modules.dep' % release, '')
        write(grub, '/boot/vmlinuz-%s' % release, 'kernel image')
    assert loaded(grub) == ['grub', 'False']
