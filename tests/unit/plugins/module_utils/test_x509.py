# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 certificates made by openssl, read by the standard-library reader."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._x509 import (
    CertificateError, load_certificate_list, load_certificates, parse_certificate)
from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import SigningKey, openssl, rsa_key


def pem(key: SigningKey) -> bytes:
    return subprocess.run([openssl(), 'x509', '-inform', 'DER', '-in', str(key.certificate), '-outform', 'PEM'],
                          check=True, capture_output=True).stdout


def tbs_certificate(key: SigningKey, tmp_path: Path) -> bytes:
    """The TBSCertificate as openssl cuts it out (the certificate SEQUENCE's first element)."""
    output = tmp_path / 'tbs.der'
    subprocess.run([openssl(), 'asn1parse', '-inform', 'DER', '-in', str(key.certificate), '-strparse', '4',
                    '-noout', '-out', str(output)], check=True, capture_output=True)
    return output.read_bytes()


@pytest.mark.parametrize('digest', ['sha256', 'sha512'])
def test_an_rsa_key_checks_what_openssl_signed(signing_keys: dict[str, SigningKey], tmp_path: Path,
                                               digest: str) -> None:
    key = signing_keys['dkms']
    certificate = parse_certificate(key.der)
    assert certificate.rsa_key is not None
    modulus = key.openssl_field('-modulus').strip().split('=', 1)[1]
    assert certificate.rsa_key[0] == int(modulus, 16)
    data = tmp_path / 'data'
    data.write_bytes(b'module bytes\n' * 100)
    signature = subprocess.run([openssl(), 'dgst', '-' + digest, '-sign', str(key.key), str(data)],
                               check=True, capture_output=True).stdout
    digest_value = hashlib.new(digest, data.read_bytes()).digest()
    assert certificate.verifies(digest, digest_value, signature) is True
    assert certificate.verifies(digest, hashlib.new(digest, b'other').digest(), signature) is False
    assert certificate.verifies(digest, digest_value, signature[:-1] + bytes([signature[-1] ^ 1])) is False
    # The kernel takes a value of the key's size alone, even one whose leading zeros were dropped.
    assert certificate.verifies(digest, digest_value, signature[1:]) is False
    assert certificate.verifies(digest, digest_value, b'\0' + signature) is False
    assert certificate.verifies('sha3-256', digest_value, signature) is None
    # The kernel takes RSA keys of 2048 to 4096 bits (shorter ones outside FIPS mode only).
    small = SigningKey(tmp_path, 'small', '/CN=Small', ['-newkey', 'rsa:1024'])
    small_signature = subprocess.run([openssl(), 'dgst', '-' + digest, '-sign', str(small.key), str(data)],
                                     check=True, capture_output=True).stdout
    assert parse_certificate(small.der).verifies(digest, digest_value, small_signature) is None
    # An EC key is matched by name only: its signatures are not checked here.
    assert parse_certificate(signing_keys['second'].der).rsa_key is None
    assert parse_certificate(signing_keys['second'].der).verifies(digest, digest_value, signature) is None


def test_ca_and_key_usage(signing_keys: dict[str, SigningKey], tmp_path: Path) -> None:
    # openssl req -x509 marks the certificate a CA and adds no keyUsage, as dkms's MOK is.
    dkms = parse_certificate(signing_keys['dkms'].der)
    assert (dkms.ca, dkms.key_usage) == (True, None)
    signer = rsa_key(tmp_path, 'ca', '/CN=Machine CA', ['keyUsage=critical,keyCertSign,digitalSignature'])
    assert (parse_certificate(signer.der).ca, parse_certificate(signer.der).key_usage) == (True, 0b100001)
    leaf = rsa_key(tmp_path, 'leaf', '/CN=Leaf', ['basicConstraints=critical,CA:FALSE', 'keyUsage=digitalSignature'])
    assert (parse_certificate(leaf.der).ca, parse_certificate(leaf.der).key_usage) == (False, 1)


def test_what_openssl_prints(signing_keys: dict[str, SigningKey], tmp_path: Path) -> None:
    for key in signing_keys.values():
        certificate = parse_certificate(key.der)
        fact = certificate.as_fact()
        assert fact['serial'] == key.serial
        assert fact['skid'] == key.skid
        assert fact['sha256'] == hashlib.sha256(key.der).hexdigest()
        assert certificate.tbs_sha256 == hashlib.sha256(tbs_certificate(key, tmp_path)).hexdigest()
        assert certificate.subject == certificate.issuer
    second = parse_certificate(signing_keys['second'].der)
    assert (second.subject, second.name) == ('O=Second Org, CN=Second signing key', 'Second signing key')


def test_pem_blocks(signing_keys: dict[str, SigningKey]) -> None:
    bundle = b'comment\n' + pem(signing_keys['dkms']) + pem(signing_keys['second'])
    assert [certificate.der for certificate in load_certificates(bundle)] == [
        signing_keys['dkms'].der, signing_keys['second'].der]
    assert load_certificates(signing_keys['dkms'].der)[0].der == signing_keys['dkms'].der


def test_a_kernels_certificate_list(signing_keys: dict[str, SigningKey]) -> None:
    # DER certificates one after another (extract-cert's output), walked as the kernel's
    # load_certificate_list() walks it: an entry that is no certificate is passed over, a broken
    # frame ends the list.
    dkms, second = signing_keys['dkms'].der, signing_keys['second'].der
    assert [certificate.der for certificate in load_certificate_list(dkms + second)[0]] == [dkms, second]
    assert load_certificate_list(b'') == ([], [])
    not_one = b'\x30\x82\x00\x03\x02\x01\x01'
    certificates, unreadable = load_certificate_list(dkms + not_one + second)
    assert ([certificate.der for certificate in certificates], unreadable) == ([dkms, second], [len(dkms)])
    # A frame longer than what is left, or fewer than 4 bytes: the end.
    assert [c.der for c in load_certificate_list(dkms + b'\x30\x82\xff\xff' + second)[0]] == [dkms]
    assert [c.der for c in load_certificate_list(dkms + b'\x30\x82\x00')[0]] == [dkms]


def test_certificate_without_subject_key_identifier_and_with_utf8_names(tmp_path: Path) -> None:
    key = rsa_key(tmp_path, 'plain', '/C=DE/O=Comma, Inc./CN=Ünïcode signer', ['subjectKeyIdentifier=none'])
    certificate = parse_certificate(key.der)
    assert certificate.skid is None
    assert certificate.as_fact()['skid'] is None
    assert certificate.subject == 'C=DE, O=Comma\\, Inc., CN=Ünïcode signer'
    assert certificate.name == 'Ünïcode signer'


@pytest.mark.parametrize('mangle', [
    lambda der: der[:-1],
    lambda der: der + b'\0',
    lambda der: b'\x31' + der[1:],
    lambda der: der[:4] + b'\x04' + der[5:],
])
def test_damaged_certificates(signing_keys: dict[str, SigningKey], mangle) -> None:
    with pytest.raises(CertificateError, match='not an X.509 certificate'):
        parse_certificate(mangle(signing_keys['dkms'].der))


def test_pem_that_is_not_base64(signing_keys: dict[str, SigningKey]) -> None:
    with pytest.raises(CertificateError, match='base64'):
        load_certificates(b'-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n')
    with pytest.raises(CertificateError, match='without a CERTIFICATE block'):
        load_certificates(b'-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n')


@settings(max_examples=300, deadline=None, derandomize=True)
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_any_byte_of_a_certificate_changed_parses_or_raises(
        signing_keys: dict[str, SigningKey], position: int, value: int) -> None:
    der = bytearray(signing_keys['second'].der)
    der[position % len(der)] = value
    try:
        certificate = parse_certificate(bytes(der))
    except CertificateError:
        return
    assert certificate.der == bytes(der)
