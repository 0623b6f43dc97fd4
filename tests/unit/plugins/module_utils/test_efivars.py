# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""UEFI variables written in the efivarfs format under a test root."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._efivars import (
    EFI_CERT_SHA256, EFI_CERT_X509, EFI_GLOBAL_VARIABLE, SHIM_LOCK, EfiVariableError, EfiVariables,
    parse_load_option, parse_signature_lists)
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import (
    EfiRoot, SigningKey, signature_list, x509_lists)

OWNER = '11111111-2222-3333-4444-555555555555'


def test_signature_lists_back_to_back(signing_keys: dict[str, SigningKey]) -> None:
    hashes = [bytes([n]) * 32 for n in range(3)]
    data = (x509_lists([signing_keys['dkms'].der])
            + signature_list(EFI_CERT_SHA256, hashes, owner=OWNER, header=b'\0' * 8)
            + x509_lists([signing_keys['second'].der]))
    entries = parse_signature_lists(data)
    assert [(entry.type, entry.owner) for entry in entries] == (
        [(EFI_CERT_X509, SHIM_LOCK)] + [(EFI_CERT_SHA256, OWNER)] * 3 + [(EFI_CERT_X509, SHIM_LOCK)])
    assert [entry.data for entry in entries] == [signing_keys['dkms'].der] + hashes + [signing_keys['second'].der]
    # The GUID as it sits in the file (mixed-endian), from the reference's dump of a real list.
    assert data[:16].hex() == 'a159c0a5e494a74a87b5ab155c2bf072'


@pytest.mark.parametrize('mangle, message', [
    (lambda data: data[:20], 'truncated signature list header'),
    (lambda data: data[:-1], 'claims'),
    (lambda data: data[:16] + struct.pack('<I', 10) + data[20:], 'claims 10 bytes'),
    (lambda data: data[:24] + struct.pack('<I', 7) + data[28:], 'do not hold 7-byte signatures'),
    (lambda data: data[:24] + struct.pack('<I', 0) + data[28:], 'do not hold 0-byte'),
    (lambda data: data[:20] + struct.pack('<I', 0xFFFFFFF0) + data[24:], 'claims'),
])
def test_damaged_signature_lists(mangle, message: str) -> None:
    data = signature_list(EFI_CERT_SHA256, [b'\1' * 32, b'\2' * 32])
    with pytest.raises(EfiVariableError, match=message):
        parse_signature_lists(mangle(data))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.binary(max_size=200))
def test_arbitrary_lists_parse_or_raise(data: bytes) -> None:
    try:
        entries = parse_signature_lists(data)
    except EfiVariableError:
        return
    assert sum(len(entry.data) + 16 for entry in entries) <= len(data)


def test_variables_with_their_attributes(tmp_path: Path) -> None:
    efi = EfiRoot(tmp_path)
    efi.secure_boot(True)
    efi.write('MokNew', SHIM_LOCK, b'list', attributes=0x7)
    variables = EfiVariables(RootFS(str(tmp_path)))
    assert variables.available is True
    assert variables.get_byte('SecureBoot', EFI_GLOBAL_VARIABLE) == (0x6, 1)
    assert variables.get('MokNew', SHIM_LOCK) == (0x7, b'list')
    assert variables.data('MokNew', SHIM_LOCK) == b'list'
    assert variables.get('MokDel', SHIM_LOCK) is None


@pytest.mark.parametrize('content, message', [
    (b'\x06\0', 'shorter than the attributes'),
    (b'\x06\0\0\0', 'holds no data'),
])
def test_damaged_flag_variables(tmp_path: Path, content: bytes, message: str) -> None:
    efi = EfiRoot(tmp_path)
    (efi.efivars / ('SecureBoot-' + EFI_GLOBAL_VARIABLE)).write_bytes(content)
    with pytest.raises(EfiVariableError, match=message):
        EfiVariables(RootFS(str(tmp_path))).get_byte('SecureBoot', EFI_GLOBAL_VARIABLE)


def test_availability(tmp_path: Path) -> None:
    # A disk image or a test tree without /sys: nothing tells.
    assert EfiVariables(RootFS(str(tmp_path))).available is None
    # sysfs without /sys/firmware/efi: a machine booted without EFI.
    (tmp_path / 'sys/firmware/acpi').mkdir(parents=True)
    assert EfiVariables(RootFS(str(tmp_path))).available is False
    # EFI, but efivarfs not mounted (an empty directory): unknown.
    (tmp_path / 'sys/firmware/efi/efivars').mkdir(parents=True)
    assert EfiVariables(RootFS(str(tmp_path))).available is None
    EfiRoot(tmp_path).secure_boot(False)
    assert EfiVariables(RootFS(str(tmp_path))).available is True


def test_mok_list_continuations_are_joined(tmp_path: Path, signing_keys: dict[str, SigningKey]) -> None:
    efi = EfiRoot(tmp_path)
    first, second = x509_lists([signing_keys['second'].der]), x509_lists([signing_keys['dkms'].der])
    efi.write('MokListRT', SHIM_LOCK, first)
    efi.write('MokListRT1', SHIM_LOCK, second)
    efi.write('MokListRT3', SHIM_LOCK, b'after a gap: not read')
    assert EfiVariables(RootFS(str(tmp_path))).shim_list('MokListRT') == first + second


def test_mok_config_table_wins_unless_it_reads_empty(tmp_path: Path, signing_keys: dict[str, SigningKey]) -> None:
    efi = EfiRoot(tmp_path)
    efi.write('MokListRT', SHIM_LOCK, x509_lists([signing_keys['second'].der]))
    table = tmp_path / 'sys/firmware/efi/mok-variables'
    table.mkdir()
    # Read as non-root, the config table's files are empty: efivarfs answers.
    (table / 'MokListRT').write_bytes(b'')
    variables = EfiVariables(RootFS(str(tmp_path)))
    assert variables.shim_list('MokListRT') == x509_lists([signing_keys['second'].der])
    (table / 'MokListRT').write_bytes(x509_lists([signing_keys['dkms'].der]))
    assert variables.shim_list('MokListRT') == x509_lists([signing_keys['dkms'].der])
    (table / 'MokListTrustedRT').write_bytes(b'\1')
    assert variables.has_shim_flag('MokListTrustedRT')
    assert not variables.has_shim_flag('MokIgnoreDB')


@pytest.mark.parametrize(('data', 'expected'), [
    # efibootmgr's: a hard drive node, the file, the end.
    (struct.pack('<IH', 1, 42 + 18 + 4) + 'x\0'.encode('utf-16-le') + struct.pack('<BBHIQQ16sBB', 4, 1, 42, 1, 0, 1, b'\1' * 16, 2, 2)
     + struct.pack('<BBH', 4, 4, 18) + '\\EFI\\a\0'.encode('utf-16-le') + struct.pack('<BBH', 0x7F, 0xFF, 4), (1, 'EFI/a')),
    (struct.pack('<IH', 0, 4) + b'\0\0' + struct.pack('<BBH', 0x7F, 0xFF, 4), (0, None)),       # nothing to start
    (struct.pack('<IH', 1, 8) + b'\0\0' + struct.pack('<BBH', 4, 4, 4) + struct.pack('<BBH', 0x7F, 0xFF, 4), (1, '')),
])
def test_load_options(data: bytes, expected: tuple) -> None:
    option = parse_load_option(data, 'Boot0000')
    assert (option.attributes, option.path) == expected


@pytest.mark.parametrize('data', [
    b'\1\0', struct.pack('<IH', 1, 4) + b'x\0',                                   # too short, no description end
    struct.pack('<IH', 1, 40) + b'\0\0' + struct.pack('<BBH', 0x7F, 0xFF, 4),       # a path past the variable
    struct.pack('<IH', 1, 8) + b'\0\0' + struct.pack('<BBH', 4, 4, 0) + b'\0' * 4,  # a node of no size
    struct.pack('<IH', 1, 7) + b'\0\0' + struct.pack('<BBH', 4, 4, 7) + b'abc',     # a path of an odd length, no end
    struct.pack('<IH', 1, 4) + b'\0\0' + struct.pack('<BBH', 4, 4, 4),              # no end node
    struct.pack('<IH', 1, 8) + b'\0\0' + struct.pack('<BBH', 0x7F, 0x01, 4) + struct.pack('<BBH', 0x7F, 0xFF, 4),  # instances
])
def test_damaged_load_options_are_errors(data: bytes) -> None:
    with pytest.raises(EfiVariableError):
        parse_load_option(data, 'Boot0000')
