# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real signing keys (openssl), modules signed by the kernel's scripts/sign-file, and UEFI
variables written in the efivarfs format under a test root."""

from __future__ import annotations

import glob
import shutil
import struct
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._efivars import (
    EFI_CERT_X509, EFI_GLOBAL_VARIABLE, SHIM_LOCK)

# Where Debian (linux-kbuild-X.Y), Ubuntu (linux-headers-K) and a kernel's build tree keep sign-file.
SIGN_FILE_PATTERNS = ('/usr/lib/linux-kbuild-*/scripts/sign-file', '/usr/src/linux-headers-*/scripts/sign-file',
                      '/lib/modules/*/build/scripts/sign-file')
# efivarfs attributes: what the firmware sets on SecureBoot (BS|RT) and what mokutil gives MokNew (NV|BS|RT).
BOOT_RUNTIME = 0x6
NON_VOLATILE_BOOT_RUNTIME = 0x7


def der(tag: int, *parts: bytes) -> bytes:
    """One DER element: ``tag``, the definite length, the parts."""
    body = b''.join(parts)
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    size = (len(body).bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + len(body).to_bytes(size, 'big') + body


def openssl() -> str:
    command = shutil.which('openssl')
    if command is None:
        pytest.skip('the openssl command is needed to make signing keys')
    return command


def sign_file_path() -> str | None:
    """The kernel's scripts/sign-file, None when no kernel build tooling is installed."""
    for pattern in SIGN_FILE_PATTERNS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[-1]
    return None


def find_sign_file() -> str:
    """The kernel's scripts/sign-file; skips the test when no kernel build tooling is installed."""
    path = sign_file_path()
    if path is None:
        pytest.skip('the kernel\'s scripts/sign-file is needed to sign modules (Debian: linux-kbuild-6.1)')
    return path


class SigningKey:
    """A private key and its self-signed certificate (DER), as dkms makes its MOK pair."""

    def __init__(self, directory: Path, name: str, subject: str, key_args: Sequence[str],
                 extensions: Sequence[str] = ()) -> None:
        self.key = directory / (name + '.key')
        self.certificate = directory / (name + '.der')
        argv = [openssl(), 'req', '-new', '-x509', '-nodes', '-utf8', '-days', '36500', '-subj', subject,
                *key_args, '-keyout', str(self.key), '-outform', 'DER', '-out', str(self.certificate)]
        for extension in extensions:
            argv += ['-addext', extension]
        subprocess.run(argv, check=True, capture_output=True)
        self.der = self.certificate.read_bytes()

    def openssl_field(self, *options: str) -> str:
        """What ``openssl x509 -noout OPTIONS`` prints, e.g. ``-serial``."""
        return subprocess.run([openssl(), 'x509', '-inform', 'DER', '-in', str(self.certificate), '-noout', *options],
                              check=True, capture_output=True, text=True).stdout

    @property
    def serial(self) -> str:
        """The serial number as colon hex, lowercase, as the facts print it."""
        text = self.openssl_field('-serial').strip().split('=', 1)[1].lower()
        text = text if len(text) % 2 == 0 else '0' + text
        return ':'.join(text[index:index + 2] for index in range(0, len(text), 2))

    @property
    def skid(self) -> str:
        """The subject key identifier as colon hex, lowercase."""
        return self.openssl_field('-ext', 'subjectKeyIdentifier').splitlines()[-1].strip().lower()


def rsa_key(directory: Path, name: str = 'mok', subject: str = '/CN=DKMS module signing key',
            extensions: Sequence[str] = ()) -> SigningKey:
    return SigningKey(directory, name, subject, ['-newkey', 'rsa:2048'], extensions)


def ec_key(directory: Path, name: str = 'second', subject: str = '/O=Second Org/CN=Second signing key') -> SigningKey:
    return SigningKey(directory, name, subject, ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'])


def sign_module(module: Path, key: SigningKey, target: Path, digest: str = 'sha256', key_id: bool = False) -> Path:
    """``target``: a copy of ``module`` signed by sign-file (``-k``: the signer named by its SKID)."""
    options = ['-k'] if key_id else []
    argv = [find_sign_file(), *options, digest, str(key.key), str(key.certificate), str(module), str(target)]
    subprocess.run(argv, check=True, capture_output=True)
    return target


def signature_list(signature_type: str, entries: Sequence[bytes], owner: str = SHIM_LOCK,
                   header: bytes = b'') -> bytes:
    """One EFI_SIGNATURE_LIST of equally sized entries."""
    size = 16 + len(entries[0])
    body = b''.join(uuid.UUID(owner).bytes_le + entry for entry in entries)
    return (uuid.UUID(signature_type).bytes_le + struct.pack('<III', 28 + len(header) + len(body), len(header), size)
            + header + body)


def x509_lists(certificates: Sequence[bytes]) -> bytes:
    """One list per certificate, as shim and mokutil write them."""
    return b''.join(signature_list(EFI_CERT_X509, [der]) for der in certificates)


class EfiRoot:
    """efivarfs files under a test root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.efivars = root / 'sys/firmware/efi/efivars'
        self.efivars.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, guid: str, data: bytes, attributes: int = BOOT_RUNTIME) -> Path:
        path = self.efivars / ('%s-%s' % (name, guid))
        path.write_bytes(struct.pack('<I', attributes) + data)
        return path

    def secure_boot(self, enabled: bool = True, setup_mode: bool = False) -> None:
        self.write('SecureBoot', EFI_GLOBAL_VARIABLE, b'\x01' if enabled else b'\x00')
        self.write('SetupMode', EFI_GLOBAL_VARIABLE, b'\x01' if setup_mode else b'\x00')

    def mok_list(self, certificates: Sequence[bytes], name: str = 'MokListRT') -> None:
        self.write(name, SHIM_LOCK, x509_lists(certificates))
