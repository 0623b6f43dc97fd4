# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which EFI program the firmware's boot manager starts next from an EFI system partition, what
an EFI program on it is, and which systemd-boot loaders are installed there (find_loaders: only
where there is one is systemd-boot's own reader, _systemd_boot, needed at all).

The boot manager tries BootNext, then BootOrder's boot options (EfiVariables.boot_options); it
passes over one whose file it cannot load and, under Secure Boot, one whose image is not signed.
Whether it trusts a signed image's signer is not read: under Secure Boot a signed program counts
only when it is the one this boot started (BootCurrent), and an unsigned one is refused unless
the signature database holds image hashes. Programs are told apart by what they carry:
systemd-boot its LoaderInfo, shim and GRUB their SBAT lines; shim starts grub<arch>.efi beside
it (whatever that is; under Secure Boot only a signed one), or with its options' data or a
fallback beside it something else.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re
import struct

from ansible_collections.kabi.dkms.plugins.module_utils._efivars import (
    EFI_CERT_SHA256, EFI_GLOBAL_VARIABLE, IMAGE_SECURITY_DATABASE, EfiVariableError, EfiVariables, parse_signature_lists)
from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError, is_absent
from ansible_collections.kabi.dkms.plugins.module_utils._udev import udev_properties

# systemd-boot's .sdmagic text, ASCII in its image.
LOADER_INFO = LazyPattern(br'#### LoaderInfo: systemd-boot ([0-9]{1,6})(?:\.([0-9]{1,6}))?[^#\s]{0,64} ####')
# Debian's signed GRUB is 4 MiB with its modules built in.
PROGRAM_LIMIT = 16 * 1024 * 1024
# A PE image's headers and section table lie in its first KiB, rarely more.
HEADERS_LIMIT = 64 * 1024
SECTION = struct.Struct('<8sIIII')     # name, virtual size, address, raw size, raw offset (of 40 bytes)
SECTION_SIZE = 40
# Where the EFI system partition is mounted, in bootctl's order.
ESP_MOUNTS = ('/efi', '/boot', '/boot/efi')
# bootctl installs the loader in both: its own name, and the removable media path firmware falls back to.
LOADER_FILES = (('EFI/systemd', LazyPattern(r'^systemd-boot(x64|ia32|aa64|arm|riscv64|loongarch64)\.efi$', re.IGNORECASE)),
                ('EFI/BOOT', LazyPattern(r'^boot(x64|ia32|aa64|arm|riscv64|loongarch64)\.efi$', re.IGNORECASE)))
# The loader is about 100 KiB; signed and with drivers built in, well under this.
LOADER_LIMIT = 4 * 1024 * 1024


def ascii_lower(text):
    """ASCII lowercase, as EFI programs fold names (other characters stay)."""
    return ''.join(chr(ord(char) + 32) if 'A' <= char <= 'Z' else char for char in text)


def find_on_fat(rootfs, partition, path):
    """The in-root path of ``path`` (from the root of the FAT partition mounted at ``partition``,
    ``\\`` or ``/`` separated), letter case ignored and ``.``/``..`` followed as FAT's directory
    entries lead; None when it is not there."""
    found = []
    for part in path.replace('\\', '/').split('/'):
        if part in ('', '.'):
            continue
        if part == '..':
            if not found:
                return None     # the root directory has no .. entry
            found.pop()
            continue
        where = posixpath.join(partition, *found) if found else partition
        try:
            if rootfs.exists(posixpath.join(where, part)):
                found.append(part)
                continue
            folded = [name for name in rootfs.listdir(where) if ascii_lower(name) == ascii_lower(part)]
        except (OSError, RootPathError, ValueError):   # ValueError: a name no file system holds (a NUL, a lone surrogate)
            return None
        if len(folded) != 1:
            return None
        found.append(folded[0])
    where = posixpath.join(partition, *found) if found else None
    try:
        return where if where is not None and rootfs.exists(where) else None
    except (OSError, RootPathError, ValueError):
        return None


def loader_version(data):
    """``(major, minor)`` of the systemd-boot whose image is ``data`` (its LoaderInfo), None for
    another program."""
    found = LOADER_INFO.search(data)
    return (int(found.group(1)), int(found.group(2) or 0)) if found else None


class Loader:
    """The systemd-boot installed on an EFI system partition: ``esp`` (where it is mounted),
    ``version`` (the major and minor of its LoaderInfo), ``arch`` (x64, aa64...)."""

    def __init__(self, esp, version, arch):
        self.esp = esp
        self.version = version
        self.arch = arch


def find_loaders(rootfs, warn):
    """``(loaders, problem)``: the systemd-boot loaders on the EFI system partition candidates under
    root (an empty list when there is none; a fallback BOOT<arch>.EFI counts when it is systemd-boot),
    and None; or no loaders and why, for one whose version cannot be read."""
    loaders, seen = [], set()
    for esp in ESP_MOUNTS:
        try:
            where = rootfs.resolve(esp)
        except (OSError, RootPathError):
            continue
        if where in seen:
            continue    # /efi a link to /boot/efi: one partition
        seen.add(where)
        for directory, pattern in LOADER_FILES:
            fallback = directory == 'EFI/BOOT'
            directory = posixpath.join(esp, directory)
            for name in listing(rootfs, directory, warn):
                found = pattern.match(name)
                if not found:
                    continue
                path = posixpath.join(directory, name)
                version = systemd_boot_version(rootfs, path)
                if version is None:
                    if fallback:
                        continue    # the fallback path may hold shim or GRUB
                    return [], '%s cannot be read, or names no systemd-boot version' % path
                loaders.append(Loader(esp, version, ascii_lower(found.group(1))))
    return loaders, None


def systemd_boot_version(rootfs, path):
    """``(major, minor)`` of the systemd-boot at ``path`` (its LoaderInfo), None when it is none
    or cannot be read."""
    try:
        return loader_version(rootfs.read_bytes(path, LOADER_LIMIT))
    except (OSError, RootPathError):
        return None


def listing(rootfs, directory, warn):
    """The sorted names in ``directory``; none, with a warning unless it is absent or no directory,
    when it cannot be listed."""
    try:
        names = rootfs.listdir(directory)
    except (OSError, RootPathError) as exc:
        if not is_absent(exc) and getattr(exc, 'errno', None) != 20:    # ENOTDIR: not a directory
            warn('cannot list %s: %s' % (directory, exc))
        return []
    return sorted(names)


def program_kind(rootfs, path):
    """``(kind, signed)`` of an EFI program: systemd-boot's ``(major, minor)`` version, ``shim``,
    ``grub`` or None for another; whether its certificate table holds a signature. ``(None, None)`` when it cannot be
    read (or is larger than any of them)."""
    try:
        data = rootfs.read_bytes(path, PROGRAM_LIMIT)
    except (OSError, RootPathError):
        return None, None
    version = loader_version(data)
    kind = version if version is not None else 'shim' if b'\nshim,' in data else 'grub' if b'\ngrub,' in data else None
    return kind, _signed(data)


def _signed(data):
    """Whether a PE image's certificate table (its fifth data directory) holds anything."""
    try:
        header = struct.unpack_from('<I', data, 0x3C)[0]
        if data[header:header + 4] != b'PE\0\0':
            return False
        optional = header + 24
        directories = optional + (112 if struct.unpack_from('<H', data, optional)[0] == 0x20B else 96)
        return struct.unpack_from('<II', data, directories + 4 * 8)[1] > 0
    except struct.error:
        return False


def pe_sections(rootfs, path):
    """``{name: (raw offset, raw size)}`` of a PE image's sections; None when it cannot be read or
    is no PE image."""
    try:
        with rootfs.open(path) as handle:
            head = handle.read(HEADERS_LIMIT)
    except (OSError, RootPathError):
        return None
    try:
        header = struct.unpack_from('<I', head, 0x3C)[0]
        if head[:2] != b'MZ' or head[header:header + 4] != b'PE\0\0':
            return None
        count, optional_size = struct.unpack_from('<H', head, header + 6)[0], struct.unpack_from('<H', head, header + 20)[0]
        table = header + 24 + optional_size
        sections = {}
        for index in range(count):
            name, dummy, dummy, size, offset = SECTION.unpack_from(head, table + index * SECTION_SIZE)
            sections[name.rstrip(b'\0').decode('ascii', 'replace')] = (offset, size)
        return sections
    except struct.error:
        return None


def next_program(rootfs, esp, arch):
    """``(kind, version)`` of what the firmware's boot manager starts next from the ESP mounted
    at ``esp`` (of architecture ``arch``: x64, aa64...): ``systemd-boot`` and its ``(major,
    minor)`` (shim's second stage for shim), or ``grub`` and None; ``(None, None)`` when not told (no EFI
    variables, a boot option for another partition, a short form or no file, another program, a
    signed program this boot did not start under Secure Boot, shim told to start another)."""
    variables = EfiVariables(rootfs)
    if not variables.available:
        return None, None
    partition = udev_properties(rootfs, esp)
    own, number_there = ascii_lower(partition.get('ID_PART_ENTRY_UUID', '')), partition.get('ID_PART_ENTRY_NUMBER')
    kinds = {}

    def kind_of(path):      # each program read once, however many options name it
        if path not in kinds:
            kinds[path] = program_kind(rootfs, path) if pe_sections(rootfs, path) is not None else ('not PE', None)
        return kinds[path]

    try:
        secure_boot = variables.get_byte('SecureBoot', EFI_GLOBAL_VARIABLE)
        secure_boot = secure_boot is not None and secure_boot[1] == 1
        current = variables.data('BootCurrent', EFI_GLOBAL_VARIABLE)
        for number, option in variables.boot_options():
            if option.path is None or not own or option.partition != own \
                    or number_there is not None and str(option.partition_number) != number_there:
                return None, None   # not a file of this ESP, or which partition it is is not told
            path = option.path or 'EFI/BOOT/BOOT%s.EFI' % arch.upper()
            found = find_on_fat(rootfs, esp, path)
            kind, signed = kind_of(found) if found is not None else ('not PE', None)
            if kind == 'not PE':
                continue        # the firmware cannot load it and tries the next
            if signed is None:
                return None, None
            ran = current == struct.pack('<H', number)
            if secure_boot and not ran:
                if signed:
                    return None, None   # whether the firmware trusts its signer is not read
                if _db_holds_hashes(variables):
                    return None, None   # its hash may be there
                continue    # Secure Boot refuses an unsigned image
            if kind == 'shim':
                found = _shim_second_stage(rootfs, esp, posixpath.dirname(path), arch, option)
                if found is None:
                    return None, None
                kind, signed = kind_of(found) if found else ('not PE', None)
                if kind == 'not PE':
                    continue    # shim fails to start it, and the firmware tries the next
                if secure_boot and not signed:
                    return None, None   # shim refuses it unless MokList or db holds its hash
            if isinstance(kind, tuple):
                return 'systemd-boot', kind
            return ('grub', None) if kind == 'grub' else (None, None)
    except EfiVariableError:
        return None, None
    return None, None


def _db_holds_hashes(variables):
    """Whether the signature database holds image hashes (an unsigned image may then run)."""
    data = variables.data('db', IMAGE_SECURITY_DATABASE)
    return data is None or any(entry.type == EFI_CERT_SHA256 for entry in parse_signature_lists(data))


def _shim_second_stage(rootfs, esp, directory, arch, option):
    """The in-root path of the program shim started from ``directory`` starts: grub<arch>.efi
    beside it (``''`` when that is not there); None where its option's data names another, or it
    is the removable media path's and its fallback (fb<arch>.efi) is there."""
    if option.optional:
        return None
    if ascii_lower(directory) == 'efi/boot' and find_on_fat(rootfs, esp, '%s/fb%s.efi' % (directory, arch)):
        return None
    return find_on_fat(rootfs, esp, '%s/grub%s.efi' % (directory, arch)) or ''
