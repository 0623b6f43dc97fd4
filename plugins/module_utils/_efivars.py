# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""UEFI variables under a root, as efivarfs and shim's MOK config table show them.

Facts from here (through the boot policy): ``module_signatures.secure_boot`` (``SecureBoot``,
``SetupMode``, shim's ``MokSBStateRT``) and the keys in ``trusted_keys``/``pending_keys``
(``MokListRT``, ``db``, the blacklists ``MokListXRT``/``dbx``, a pending ``MokNew``).
An efivarfs file is 4 bytes of little-endian attributes and the data; a file under
``mok-variables`` is the data alone. Key lists are EFI_SIGNATURE_LISTs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import struct

from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError

EFI_DIR = '/sys/firmware/efi'
EFIVARS_DIR = EFI_DIR + '/efivars'
MOK_VARIABLES_DIR = EFI_DIR + '/mok-variables'
SYSFS_FIRMWARE_DIR = '/sys/firmware'
EFI_GLOBAL_VARIABLE = '8be4df61-93ca-11d2-aa0d-00e098032b8c'
IMAGE_SECURITY_DATABASE = 'd719b2cb-3d3a-4596-a3bc-dad00e67656f'
SHIM_LOCK = '605dab50-e046-4300-abb6-3dd810dd8b23'
EFI_CERT_X509 = 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072'
EFI_CERT_SHA256 = 'c1c41626-504c-4092-aca9-41f936934328'
EFI_CERT_X509_SHA256 = '3bd2a492-96c0-4079-b420-fcf98ef103ed'
EFI_VARIABLE_NON_VOLATILE = 0x1
ATTRIBUTES = struct.Struct('<I')
# EFI_SIGNATURE_LIST header: type GUID, list size, header size, signature size.
SIGNATURE_LIST_HEADER = struct.Struct('<16sIII')
GUID_SIZE = 16
# An EFI_LOAD_OPTION (Boot####): attributes, the length of its device path list, then its description.
LOAD_OPTION_HEADER = struct.Struct('<IH')
LOAD_OPTION_ACTIVE = 0x1
LOAD_OPTION_CATEGORY = 0x1F00   # 0: a boot option; else an application the boot manager does not start
DEVICE_PATH_NODE = struct.Struct('<BBH')
# A hard drive node's body: partition number, start, size, signature, MBR type, signature type.
HARD_DRIVE_BODY = struct.Struct('<IQQ16sBB')
GPT_SIGNATURE = 0x02
MEDIA_DEVICE_PATH, FILE_PATH_NODE, HARD_DRIVE_NODE, END_OF_PATH, END_OF_ENTIRE_PATH = 0x04, 0x04, 0x01, 0x7F, 0xFF
# Firmware variable stores hold a few hundred KiB at most; shim's config table holds MokListRT whole.
MAX_VARIABLE_BYTES = 4 * 1024 * 1024
# shim splits MokListRT into MokListRT1, MokListRT2, ... when it outgrows one variable.
MAX_CONTINUATIONS = 64


class EfiVariableError(Exception):
    """A variable that exists but cannot be read or parsed."""


class SignatureEntry:
    """One EFI_SIGNATURE_DATA: its list's type GUID and its data (a DER certificate or a hash)."""

    __slots__ = ('type', 'owner', 'data')

    def __init__(self, signature_type, owner, data):
        self.type = signature_type
        self.owner = owner
        self.data = data

    def __repr__(self):
        return 'SignatureEntry(%s, %d bytes)' % (self.type, len(self.data))


# A GUID's first three fields are little-endian, the other eight bytes are in order.
_GUID_FIELDS = struct.Struct('<IHH')


def _guid(raw):
    """The text of a 16-byte GUID as the firmware stores it (what uuid.UUID(bytes_le=raw) gives,
    without the cost of importing uuid on every host)."""
    return '%08x-%04x-%04x-' % _GUID_FIELDS.unpack(raw[:8]) + raw[8:10].hex() + '-' + raw[10:16].hex()


def parse_signature_lists(data):
    """Every SignatureEntry of concatenated EFI_SIGNATURE_LISTs; raises EfiVariableError."""
    entries = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < SIGNATURE_LIST_HEADER.size:
            raise EfiVariableError('truncated signature list header at byte %d' % offset)
        raw_type, list_size, header_size, signature_size = SIGNATURE_LIST_HEADER.unpack_from(data, offset)
        body = offset + SIGNATURE_LIST_HEADER.size + header_size
        end = offset + list_size
        if list_size < SIGNATURE_LIST_HEADER.size or end > len(data) or body > end:
            raise EfiVariableError('signature list at byte %d claims %d bytes, %d remain'
                                   % (offset, list_size, len(data) - offset))
        if signature_size <= GUID_SIZE or (end - body) % signature_size:
            raise EfiVariableError('signature list at byte %d: %d bytes do not hold %d-byte signatures'
                                   % (offset, end - body, signature_size))
        signature_type = _guid(raw_type)
        for start in range(body, end, signature_size):
            entries.append(SignatureEntry(signature_type, _guid(data[start:start + GUID_SIZE]),
                                          data[start + GUID_SIZE:start + signature_size]))
        offset = end
    return entries


class BootOption:
    """An EFI_LOAD_OPTION (Boot####): ``attributes``; ``path``, the file its device path names on
    its partition (``\\`` turned to ``/``), ``''`` for a partition without a
    file (the firmware then starts the removable media path EFI/BOOT/BOOT<arch>.EFI), None for one
    that starts no file of a partition (network, firmware applications); ``partition``, the GPT
    partition GUID of its hard drive node (None without one: a short form the firmware looks up
    on every file system) and ``partition_number``; ``optional``, its optional data (shim reads its
    second stage there)."""

    def __init__(self, attributes, path, partition, partition_number, optional):
        self.attributes = attributes
        self.path = path
        self.partition = partition
        self.partition_number = partition_number
        self.optional = optional


def parse_load_option(data, name):
    """The BootOption of a Boot#### variable's data; raises EfiVariableError for one the firmware's
    checks refuse (a description or device path that runs past the data, no end node)."""
    if len(data) < LOAD_OPTION_HEADER.size:
        raise EfiVariableError('%s: %d bytes, shorter than a load option' % (name, len(data)))
    attributes, length = LOAD_OPTION_HEADER.unpack_from(data)
    at = LOAD_OPTION_HEADER.size
    while True:     # the description: NUL-terminated UTF-16, so its end is at an even offset
        at = data.find(b'\0\0', at)
        if at < 0:
            raise EfiVariableError('%s: its description has no end' % name)
        if (at - LOAD_OPTION_HEADER.size) % 2 == 0:
            at += 2
            break
        at += 1
    end = at + length
    if end > len(data):
        raise EfiVariableError('%s: its device path runs past the variable' % name)
    files, partition, number, ended = [], None, None, False
    while at + DEVICE_PATH_NODE.size <= end:
        node_type, subtype, size = DEVICE_PATH_NODE.unpack_from(data, at)
        if size < DEVICE_PATH_NODE.size or at + size > end:
            raise EfiVariableError('%s: a device path node of %d bytes' % (name, size))
        if node_type == END_OF_PATH:
            if subtype != END_OF_ENTIRE_PATH:
                # A path of several instances: EDK2 opens no file by it.
                raise EfiVariableError('%s: a device path of several instances' % name)
            ended = True
            break
        body = data[at + DEVICE_PATH_NODE.size:at + size]
        if node_type == MEDIA_DEVICE_PATH and subtype == FILE_PATH_NODE:
            if len(body) % 2:
                raise EfiVariableError('%s: a file path node of an odd length' % name)
            try:
                files.append(body.decode('utf-16-le').split('\0', 1)[0])
            except UnicodeDecodeError:
                raise EfiVariableError('%s: a file path that is not UTF-16 text' % name)
        elif node_type == MEDIA_DEVICE_PATH and subtype == HARD_DRIVE_NODE:
            if len(body) != HARD_DRIVE_BODY.size:
                raise EfiVariableError('%s: a hard drive node of %d bytes' % (name, size))
            number, dummy, dummy, signature, dummy, signature_type = HARD_DRIVE_BODY.unpack(body)
            partition = _guid(signature) if signature_type == GPT_SIGNATURE else ''
        at += size
    if not ended:
        raise EfiVariableError('%s: its device path has no end' % name)
    if files:
        path = '/'.join(part for part in '\\'.join(files).replace('\\', '/').split('/') if part)
    else:
        path = '' if partition is not None else None
    return BootOption(attributes, path, partition or None, number, data[end:])


class EfiVariables:
    """The UEFI variables visible under a root, with what their absence means.

    ``available`` is True when efivarfs holds variables (a variable's absence then means
    the firmware does not have it), False when sysfs shows a machine booted without EFI,
    and None when nothing tells (a disk image has no NVRAM, efivarfs is not mounted).
    """

    def __init__(self, rootfs):
        self.rootfs = rootfs
        self.available = self._availability()

    def _availability(self):
        if self._entries(EFIVARS_DIR):
            return True
        if self.rootfs.isdir(SYSFS_FIRMWARE_DIR) and not self.rootfs.exists(EFI_DIR):
            return False
        return None

    def _entries(self, directory):
        try:
            return self.rootfs.listdir(directory)
        except (OSError, RootPathError):
            return []

    def _read(self, path):
        try:
            data = self.rootfs.read_bytes(path, MAX_VARIABLE_BYTES + 1)
        except (OSError, IOError, RootPathError) as exc:
            raise EfiVariableError('%s: cannot read: %s' % (path, getattr(exc, 'strerror', None) or exc))
        if len(data) > MAX_VARIABLE_BYTES:
            raise EfiVariableError('%s: larger than %d bytes' % (path, MAX_VARIABLE_BYTES))
        return data

    def get(self, name, guid):
        """``(attributes, data)`` of an efivarfs variable; None when absent; raises EfiVariableError."""
        path = posixpath.join(EFIVARS_DIR, '%s-%s' % (name, guid))
        if not self.rootfs.exists(path):
            return None
        raw = self._read(path)
        if len(raw) < ATTRIBUTES.size:
            raise EfiVariableError('%s: %d bytes, shorter than the attributes' % (path, len(raw)))
        return ATTRIBUTES.unpack_from(raw)[0], raw[ATTRIBUTES.size:]

    def data(self, name, guid):
        """The data of an efivarfs variable without its attributes; None when absent."""
        variable = self.get(name, guid)
        return None if variable is None else variable[1]

    def get_byte(self, name, guid):
        """``(attributes, first data byte)`` of a one-byte flag; None when absent; raises EfiVariableError."""
        variable = self.get(name, guid)
        if variable is None:
            return None
        attributes, data = variable
        if not data:
            raise EfiVariableError('%s-%s holds no data' % (name, guid))
        return attributes, bytearray(data)[0]

    def shim_list(self, name):
        """Data of a shim list (``MokListRT``, ``MokListXRT``), as the kernel reads it.

        The kernel prefers shim's MOK config table (``mok-variables``, whole, readable by root
        only: an empty read falls back) over the efivarfs copy, which shim may split into
        numbered continuations. None when absent; raises EfiVariableError.
        """
        table = posixpath.join(MOK_VARIABLES_DIR, name)
        if self.rootfs.isfile(table):
            data = self._read(table)
            if data:
                return data
        first = self.get(name, SHIM_LOCK)
        if first is None:
            return None
        parts = [first[1]]
        for number in range(1, MAX_CONTINUATIONS + 1):
            more = self.get('%s%d' % (name, number), SHIM_LOCK)
            if more is None:
                break
            parts.append(more[1])
        return b''.join(parts)

    def boot_options(self):
        """``(number, BootOption)`` of the options the firmware's boot manager tries, in its order,
        as EDK2 does: BootNext
        (one number; whatever its attributes), then BootOrder's active options of the boot
        category, each number once; a number without its variable, or one that does not parse, is
        passed over. Read as it is consumed, so an option after the one started costs nothing."""
        numbers = []
        data = self.data('BootNext', EFI_GLOBAL_VARIABLE)
        if data is not None and len(data) == 2:
            numbers.append((struct.unpack('<H', data)[0], True))
        data = self.data('BootOrder', EFI_GLOBAL_VARIABLE) or b''
        numbers.extend((number, False) for number in struct.unpack('<%dH' % (len(data) // 2), data[:len(data) // 2 * 2]))
        tried = set()
        for number, once in numbers:
            if not once:
                if number in tried:
                    continue
                tried.add(number)
            name = 'Boot%04X' % number
            try:
                raw = self.data(name, EFI_GLOBAL_VARIABLE)
                option = parse_load_option(raw, name) if raw is not None else None
            except EfiVariableError:
                option = None
            if option is None:
                continue
            if once or option.attributes & LOAD_OPTION_ACTIVE and not option.attributes & LOAD_OPTION_CATEGORY:
                yield number, option

    def has_shim_flag(self, name):
        """Whether shim published a flag variable (``MokIgnoreDB``, ``MokListTrustedRT``) in either place."""
        return (self.rootfs.exists(posixpath.join(MOK_VARIABLES_DIR, name))
                or self.rootfs.exists(posixpath.join(EFIVARS_DIR, '%s-%s' % (name, SHIM_LOCK))))
