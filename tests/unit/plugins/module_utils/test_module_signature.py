# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The appended-signature reader on real gcc-built modules signed by the kernel's sign-file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._commands import find_command
from ansible_collections.kabi.dkms.plugins.module_utils._module_signature import (
    DAMAGED, INVALID, MODULE_SIG_MAGIC, SIGNATURE_INFO, SIGNED, UNSIGNED, UNSUPPORTED, elf_length,
    read_module_signature)
from ansible_collections.kabi.dkms.plugins.module_utils._x509 import parse_certificate
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder
from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import SigningKey, der, openssl, sign_module

TRAILER = SIGNATURE_INFO.size + len(MODULE_SIG_MAGIC)


@pytest.fixture
def module(ko_builder: KoBuilder, tmp_path: Path) -> Path:
    return ko_builder.build_ko(tmp_path, 'hello')


@pytest.fixture
def signed(module: Path, signing_keys: dict[str, SigningKey], tmp_path: Path) -> Path:
    return sign_module(module, signing_keys['dkms'], tmp_path / 'signed.ko')


def with_header(data: bytes, **fields: int) -> bytes:
    """``data`` with fields of its struct module_signature replaced."""
    end = len(data) - len(MODULE_SIG_MAGIC)
    names = ('algo', 'hash', 'id_type', 'signer_len', 'key_id_len', 'pad', 'sig_len')
    values = dict(zip(names, SIGNATURE_INFO.unpack(data[end - SIGNATURE_INFO.size:end])))
    values.update(fields)
    return data[:end - SIGNATURE_INFO.size] + SIGNATURE_INFO.pack(*(values[name] for name in names)) + data[end:]


def appended(payload: bytes, blob: bytes) -> bytes:
    """``payload`` with ``blob`` appended the way sign-file appends a PKCS#7 signature."""
    return payload + blob + SIGNATURE_INFO.pack(0, 0, 2, 0, 0, b'\0\0\0', len(blob)) + MODULE_SIG_MAGIC


def test_unsigned_module(module: Path) -> None:
    signature = read_module_signature(module.read_bytes())
    assert (signature.state, signature.signed, signature.signer) == (UNSIGNED, False, None)


def test_sign_file_signature_names_the_certificate(module: Path, signed: Path,
                                                   signing_keys: dict[str, SigningKey]) -> None:
    key = signing_keys['dkms']
    signature = read_module_signature(signed.read_bytes())
    assert (signature.state, signature.signed, signature.problem) == (SIGNED, True, None)
    # What the kernel hashes is the module as it was before signing.
    assert signed.read_bytes()[:signature.payload_size] == module.read_bytes()
    signer = signature.signer
    assert (signer.issuer_cn, signer.issuer, signer.digest) == ('DKMS module signing key',
                                                                'CN=DKMS module signing key', 'sha256')
    assert signer.key_id == key.serial
    assert signer.matches(parse_certificate(key.der))
    assert not signer.matches(parse_certificate(signing_keys['second'].der))


def test_sign_file_with_key_id_names_the_subject_key_identifier(
        module: Path, signing_keys: dict[str, SigningKey], tmp_path: Path) -> None:
    key = signing_keys['second']
    signed = sign_module(module, key, tmp_path / 'skid.ko', digest='sha512', key_id=True)
    signer = read_module_signature(signed.read_bytes()).signer
    assert (signer.issuer, signer.serial, signer.digest) == (None, None, 'sha512')
    assert signer.key_id == key.skid
    assert signer.matches(parse_certificate(key.der))
    assert not signer.matches(parse_certificate(signing_keys['dkms'].der))


@pytest.mark.skipif(not find_command('modinfo'), reason='kmod (modinfo) is not installed')
def test_signer_and_key_id_are_what_modinfo_prints(signed: Path) -> None:
    fields = {}
    out = subprocess.run([find_command('modinfo'), str(signed)], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        key, sep, value = line.partition(':')
        if sep:
            fields[key.strip()] = value.strip()
    signer = read_module_signature(signed.read_bytes()).signer
    assert (signer.issuer_cn, signer.key_id, signer.digest) == (
        fields['signer'], fields['sig_key'].lower(), fields['sig_hashalgo'])


def test_cut_off_end_loses_the_magic_and_reads_as_unsigned(signed: Path) -> None:
    # The kernel finds no magic either: such a file is an unsigned module to it.
    assert read_module_signature(signed.read_bytes()[:-1]).state == UNSIGNED


def test_damaged_magic_reads_as_unsigned(signed: Path) -> None:
    data = bytearray(signed.read_bytes())
    data[-5] ^= 0x20
    assert read_module_signature(bytes(data)).state == UNSIGNED


@pytest.mark.parametrize('fields, problem', [
    ({'sig_len': 0xFFFFFFFF}, 'more than the file holds'),
    ({'algo': 1}, 'non-zero parameters'),
    ({'hash': 4}, 'non-zero parameters'),
    ({'signer_len': 3}, 'non-zero parameters'),
    ({'key_id_len': 8}, 'non-zero parameters'),
    ({'pad': b'\0\0\1'}, 'non-zero parameters'),
])
def test_header_the_kernel_rejects_is_invalid(signed: Path, fields: dict, problem: str) -> None:
    signature = read_module_signature(with_header(signed.read_bytes(), **fields))
    assert signature.state == INVALID
    assert problem in signature.problem
    assert signature.signers == []


def test_sig_len_reaching_the_header_is_invalid(signed: Path) -> None:
    data = signed.read_bytes()
    signature = read_module_signature(with_header(data, sig_len=len(data) - TRAILER))
    assert signature.state == INVALID


def test_truncated_trailer_is_invalid() -> None:
    assert read_module_signature(b'\0' * 5 + MODULE_SIG_MAGIC).state == INVALID


def test_legacy_signature_type_is_unsupported(signed: Path) -> None:
    signature = read_module_signature(with_header(signed.read_bytes(), id_type=1))
    assert (signature.state, signature.signed) == (UNSUPPORTED, True)
    assert 'X509' in signature.problem


def test_elf_length_is_what_the_loader_checks_as_elf(module: Path, signed: Path) -> None:
    """module_sig_check() strips the magic, then the trailer and the signature once the trailer
    passes mod_check_sig(): the ELF image is then the module sign-file was given."""
    plain, data = module.read_bytes(), signed.read_bytes()
    assert elf_length(plain) == len(plain)
    assert elf_length(data) == len(plain)
    # A legacy type (ENOPKG) or a header the kernel refuses: only the magic is gone.
    for header in (with_header(data, id_type=1), with_header(data, algo=1), with_header(data, sig_len=0xFFFFFFFF)):
        assert elf_length(header) == len(data) - len(MODULE_SIG_MAGIC)


def test_cut_blob_is_damaged(module: Path, signed: Path) -> None:
    payload = module.read_bytes()
    blob = signed.read_bytes()[len(payload):-TRAILER]
    signature = read_module_signature(appended(payload, blob[:-7]))
    assert (signature.state, signature.signed, signature.signers) == (DAMAGED, True, [])
    assert 'cannot be parsed' in signature.problem


def test_blob_with_a_wrong_length_is_damaged(module: Path, signed: Path) -> None:
    payload = module.read_bytes()
    blob = bytearray(signed.read_bytes()[len(payload):-TRAILER])
    blob[3] ^= 0x40  # the outer SEQUENCE's length (30 82 hi lo)
    assert read_module_signature(appended(payload, bytes(blob))).state == DAMAGED


def test_modules_signed_by_one_key_share_their_signer(ko_builder: KoBuilder, signed: Path,
                                                      signing_keys: dict[str, SigningKey], tmp_path: Path) -> None:
    """What one signature's signer fields say is read once; another module's signature value
    is still checked."""
    other = sign_module(ko_builder.build_ko(tmp_path / 'other', 'other'), signing_keys['dkms'], tmp_path / 'o.ko')
    known: dict[object, object] = {}
    first = read_module_signature(signed.read_bytes(), known)
    second = read_module_signature(other.read_bytes(), known)
    assert (first.state, second.state) == (SIGNED, SIGNED)
    # One signer read, one list of digest algorithms checked, and one layout kept.
    assert second.signer is first.signer and len(known) == 3 and len(known['layouts']) == 1
    assert second.values != first.values and second.values == read_module_signature(other.read_bytes()).values
    assert second.signer.matches(parse_certificate(signing_keys['dkms'].der))
    data = bytearray(other.read_bytes())
    value = len(data) - TRAILER - 256 - 4  # the RSA-2048 signature value's OCTET STRING header (04 82 01 00)
    assert data[value:value + 4] == b'\x04\x82\x01\x00'
    data[value] = 0x03
    damaged = read_module_signature(bytes(data), known)
    assert damaged.state == DAMAGED and damaged.problem == read_module_signature(bytes(data)).problem
    assert 'signature value' in damaged.problem


def cms_sign(key: SigningKey, payload: Path, tmp_path: Path, *options: str) -> bytes:
    """A CMS signature made by openssl with options sign-file does not use."""
    output = tmp_path / 'cms.der'
    subprocess.run([openssl(), 'cms', '-sign', '-binary', '-nocerts', '-outform', 'DER', '-md', 'sha256',
                    '-signer', str(key.certificate), '-keyform', 'PEM', '-inkey', str(key.key), '-in', str(payload),
                    '-out', str(output), *options], check=True, capture_output=True)
    return output.read_bytes()


def test_signed_attributes_are_invalid(module: Path, signing_keys: dict[str, SigningKey], tmp_path: Path) -> None:
    # The kernel refuses module signatures with authenticated attributes ("has authattrs").
    blob = cms_sign(signing_keys['dkms'], module, tmp_path)
    signature = read_module_signature(appended(module.read_bytes(), blob))
    assert signature.state == INVALID
    assert 'signed attributes' in signature.problem


def test_embedded_content_is_invalid(module: Path, signing_keys: dict[str, SigningKey], tmp_path: Path) -> None:
    blob = cms_sign(signing_keys['dkms'], module, tmp_path, '-noattr', '-nodetach')
    signature = read_module_signature(appended(module.read_bytes(), blob))
    assert signature.state == INVALID
    assert 'detached' in signature.problem


def test_openssl_cms_without_attributes_reads_like_sign_file(
        module: Path, signing_keys: dict[str, SigningKey], tmp_path: Path) -> None:
    blob = cms_sign(signing_keys['dkms'], module, tmp_path, '-noattr')
    signature = read_module_signature(appended(module.read_bytes(), blob))
    assert signature.state == SIGNED
    assert signature.signer.matches(parse_certificate(signing_keys['dkms'].der))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(blob=st.binary(max_size=300), header=st.binary(min_size=12, max_size=12))
def test_hostile_trailers_never_raise(blob: bytes, header: bytes) -> None:
    for data in (blob + header + MODULE_SIG_MAGIC,
                 appended(b'\x7fELF', blob)):
        signature = read_module_signature(data)
        assert signature.state in (SIGNED, INVALID, DAMAGED, UNSUPPORTED)
        assert signature.signed


def hand_made_blob() -> bytes:
    """A detached SignedData shaped as sign-file writes it: issuer "CN=T", serial 1, sha256, no attributes."""
    sha256 = der(0x30, der(0x06, bytes.fromhex('608648016503040201')))
    issuer = der(0x30, der(0x31, der(0x30, der(0x06, bytes.fromhex('550403')), der(0x0c, b'T'))))
    signer_info = der(0x30, der(0x02, b'\x01'), der(0x30, issuer, der(0x02, b'\x01')), sha256,
                      der(0x30, der(0x06, bytes.fromhex('2a864886f70d010101')), der(0x05)), der(0x04, b'\0' * 64))
    signed_data = der(0x30, der(0x02, b'\x01'), der(0x31, sha256), der(0x30, der(0x06, bytes.fromhex('2a864886f70d010701'))),
                      der(0x31, signer_info))
    return der(0x30, der(0x06, bytes.fromhex('2a864886f70d010702')), der(0xa0, signed_data))


HAND_MADE_BLOB = hand_made_blob()


def test_the_hand_made_blob_parses() -> None:
    signature = read_module_signature(appended(b'payload', HAND_MADE_BLOB))
    assert signature.state == SIGNED
    assert (signature.signer.issuer_cn, signature.signer.key_id, signature.signer.digest) == ('T', '01', 'sha256')


@settings(max_examples=300, deadline=None, derandomize=True)
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
@example(position=28498286266414716, value=2)   # sha256WithRSAEncryption made md2WithRSAEncryption
def test_any_byte_of_a_signature_changed_never_raises(position: int, value: int) -> None:
    blob = bytearray(HAND_MADE_BLOB)
    blob[position % len(blob)] = value
    signature = read_module_signature(appended(b'payload', bytes(blob)))
    # A changed byte may also name another algorithm, one the kernel's parser does not take.
    assert signature.state in (SIGNED, INVALID, DAMAGED, UNSUPPORTED)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_a_signature_read_like_one_before_reads_as_if_alone(position: int, value: int) -> None:
    """A layout kept from one signature gives another what a parse of it alone gives, whichever
    byte differs: in the signature value (the kept signer, the new value) or anywhere else."""
    known: dict[object, object] = {}
    assert read_module_signature(appended(b'payload', HAND_MADE_BLOB), known).state == SIGNED
    blob = bytearray(HAND_MADE_BLOB)
    blob[position % len(blob)] = value
    data = appended(b'payload', bytes(blob))
    alone, after = read_module_signature(data), read_module_signature(data, known)
    assert (after.state, after.problem, after.values, after.payload_size) == \
        (alone.state, alone.problem, alone.values, alone.payload_size)
    assert [(signer.issuer, signer.key_id, signer.digest, signer.rsa, signer.findable) for signer in after.signers] == \
        [(signer.issuer, signer.key_id, signer.digest, signer.rsa, signer.findable) for signer in alone.signers]


def test_signatures_read_keep_none_of_the_bytes_the_parse_skips() -> None:
    """What a run keeps of the signatures it read (``known``) does not grow with bytes no check reads:
    a SignedData's certificates field (up to MAX_MODULE_BYTES of a hostile module each) is skipped by
    the parse, and so must not stay in memory once its module is read."""
    import gc
    import tracemalloc
    sha256 = der(0x30, der(0x06, bytes.fromhex('608648016503040201')))
    issuer = der(0x30, der(0x31, der(0x30, der(0x06, bytes.fromhex('550403')), der(0x0c, b'T'))))
    known: dict[object, object] = {}
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for serial in range(1, 9):
            rsa = der(0x30, der(0x06, bytes.fromhex('2a864886f70d010101')), der(0x05))
            signer_info = der(0x30, der(0x02, b'\x01'), der(0x30, issuer, der(0x02, bytes([serial]))), sha256, rsa,
                              der(0x04, b'\1' * 256))
            signed_data = der(0x30, der(0x02, b'\x01'), der(0x31, sha256),
                              der(0x30, der(0x06, bytes.fromhex('2a864886f70d010701'))),
                              der(0xa0, der(0x30, bytes(1024 * 1024))), der(0x31, signer_info))
            blob = der(0x30, der(0x06, bytes.fromhex('2a864886f70d010702')), der(0xa0, signed_data))
            assert read_module_signature(appended(b'payload', blob), known).state == SIGNED
            del blob, signed_data
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 256 * 1024, '%d bytes kept of 8 signatures whose skipped certificates are 1 MiB each' % kept
