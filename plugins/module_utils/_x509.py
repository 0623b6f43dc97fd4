# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 certificates (DER or PEM), read far enough to tell which one signed a module.

Facts from here: each certificate's ``subject``, ``issuer``, ``serial``, ``skid`` and
``sha256`` (in ``module_signatures.trusted_keys``, ``pending_keys`` and the dkms
certificate), and the ``tbs_sha256`` the UEFI and MOK blacklists name certificates by.
Standard library only. An RSA key is read too, so that a module's PKCS#1 v1.5 signature
can be checked against the certificate that the kernel would take for it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import re

from ansible_collections.kabi.dkms.plugins.module_utils._der import (
    INTEGER, OCTET_STRING, SEQUENCE, DerError, colon_hex, common_name, decode, name_attributes, name_text,
    object_identifier, serial_text)
from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern

SUBJECT_KEY_IDENTIFIER = '2.5.29.14'
KEY_USAGE = '2.5.29.15'
BASIC_CONSTRAINTS = '2.5.29.19'
BOOLEAN = 0x01
RSA_ENCRYPTION = '1.2.840.113549.1.1.1'
# RSA key sizes every kernel takes (rsa_check_key_length(); 512 to 1536 bits not in FIPS mode).
RSA_KEY_BITS = frozenset([2048, 3072, 4096])
BIT_STRING = 0x03
# The DigestInfo DER that precedes each digest in an RSA PKCS#1 v1.5 signature (RFC 8017, 9.2),
# for the hashes every kernel with module signing takes (SHA-1 left out: newer kernels refuse it).
DIGEST_INFO_PREFIXES = dict((name, bytes.fromhex(prefix)) for name, prefix in (
    ('sha224', '302d300d06096086480165030402040500041c'),
    ('sha256', '3031300d060960864801650304020105000420'),
    ('sha384', '3041300d060960864801650304020205000430'),
    ('sha512', '3051300d060960864801650304020305000440'),
))
VERSION_TAG = 0xa0
EXTENSIONS_TAG = 0xa3
_PEM_BLOCK = LazyPattern(br'-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----(.*?)-----END (?:X509 |TRUSTED )?CERTIFICATE-----',
                         re.DOTALL)


class CertificateError(ValueError):
    """Bytes that are not a certificate this reader understands."""


class Certificate:
    """What identifies one X.509 certificate to the kernel's key matching."""

    __slots__ = ('der', 'subject', 'subject_cn', 'issuer', 'issuer_cn', 'issuer_der', 'serial', 'skid', 'sha256',
                 'tbs_sha256', 'rsa_key', 'ca', 'key_usage')

    def __init__(self, der, subject, subject_cn, issuer, issuer_cn, issuer_der, serial, skid, tbs_sha256,
                 rsa_key=None, ca=False, key_usage=None):
        self.der = der
        self.subject = subject
        self.subject_cn = subject_cn
        self.issuer = issuer
        self.issuer_cn = issuer_cn
        # The issuer Name's whole DER and the serial's content octets, compared as bytes like the kernel does.
        self.issuer_der = issuer_der
        self.serial = serial
        self.skid = skid
        self.sha256 = hashlib.sha256(der).hexdigest()
        self.tbs_sha256 = tbs_sha256
        # (modulus, public exponent) of an RSA key, None for any other kind.
        self.rsa_key = rsa_key
        # basicConstraints cA, and the keyUsage bits (bit 0 digitalSignature ... bit 5
        # keyCertSign; None without the extension): what the kernel's key restrictions look at.
        self.ca = ca
        self.key_usage = key_usage

    def verifies(self, digest_name, digest, signature):
        """Whether ``signature`` is this key's RSA PKCS#1 v1.5 signature of ``digest``, made with
        the hash ``digest_name``: True, False, or None when this reader checks neither the key nor
        the hash (not RSA, or a hash without a known DigestInfo)."""
        prefix = DIGEST_INFO_PREFIXES.get(digest_name)
        if self.rsa_key is None or prefix is None:
            return None
        modulus, exponent = self.rsa_key
        size = (modulus.bit_length() + 7) // 8
        if size * 8 not in RSA_KEY_BITS:
            return None     # a size the kernel refuses, or takes only outside FIPS mode
        value = int.from_bytes(signature, 'big')
        if len(signature) != size or value >= modulus:
            return False    # the kernel's RSA verification takes a value of the key's size alone
        padding = size - len(prefix) - len(digest) - 3
        expected = b'\x00\x01' + b'\xff' * padding + b'\x00' + prefix + digest
        return padding >= 8 and pow(value, exponent, modulus).to_bytes(size, 'big') == expected

    @property
    def name(self):
        """The subject's commonName, else the whole subject."""
        return self.subject_cn or self.subject

    def as_fact(self):
        return {
            'subject': self.subject,
            'issuer': self.issuer,
            'serial': serial_text(self.serial),
            'skid': colon_hex(self.skid) if self.skid is not None else None,
            'sha256': self.sha256,
        }

    def __repr__(self):
        return 'Certificate(subject=%r, serial=%s)' % (self.subject, serial_text(self.serial))


def _extensions(extensions):
    """(subject key identifier or None, basicConstraints cA, keyUsage bits or None)."""
    skid, ca, key_usage = None, False, None
    for extension in extensions.children('extensions'):
        fields = extension.expect(SEQUENCE, 'extension').children('extension')
        if len(fields) < 2:
            continue
        name = object_identifier(fields[0])
        value = fields[-1].expect(OCTET_STRING, 'extension value').content
        if name == SUBJECT_KEY_IDENTIFIER and skid is None:
            skid = decode(value, 'subject key identifier').expect(OCTET_STRING, 'subject key identifier').content
        elif name == BASIC_CONSTRAINTS:
            constraints = decode(value, 'basic constraints').expect(SEQUENCE, 'basic constraints').children(
                'basic constraints')
            ca = bool(constraints) and constraints[0].tag == BOOLEAN and constraints[0].content not in (b'', b'\0')
        elif name == KEY_USAGE:
            bits = decode(value, 'key usage').expect(BIT_STRING, 'key usage').content[1:]
            # DER bit strings start with the most significant bit: bit 0 is 0x80 of the first octet.
            key_usage = sum(1 << index for index in range(len(bits) * 8) if bits[index // 8] & (0x80 >> index % 8))
    return skid, ca, key_usage


def _rsa_key(public_key_info):
    """(modulus, exponent) of a SubjectPublicKeyInfo holding an RSA key, else None."""
    try:
        algorithm, key = public_key_info.expect(SEQUENCE, 'subjectPublicKeyInfo').children('subjectPublicKeyInfo')
        algorithm = algorithm.expect(SEQUENCE, 'algorithm').children('algorithm')
        if not algorithm or object_identifier(algorithm[0]) != RSA_ENCRYPTION:
            return None
        bits = key.expect(BIT_STRING, 'public key').content
        if bits[:1] != b'\0':
            return None
        numbers = decode(bits[1:], 'RSA public key').expect(SEQUENCE, 'RSA public key').children('RSA public key')
        modulus, exponent = (int.from_bytes(number.expect(INTEGER, 'RSA number').content, 'big')
                             for number in numbers)
    except (DerError, ValueError):
        return None     # matching by name needs no key: only the signature check is left unknown
    return (modulus, exponent) if modulus > 0 and exponent > 0 else None


def parse_certificate(der):
    """The Certificate in ``der`` (exactly one DER certificate); raises CertificateError."""
    try:
        outer = decode(der, 'certificate').expect(SEQUENCE, 'certificate').children('certificate')
        if len(outer) != 3:
            raise DerError('a certificate has 3 fields, this one %d' % len(outer))
        tbs = outer[0].expect(SEQUENCE, 'tbsCertificate')
        fields = tbs.children('tbsCertificate')
        if fields and fields[0].tag == VERSION_TAG:
            fields = fields[1:]
        if len(fields) < 6:
            raise DerError('tbsCertificate has %d fields, at least 6 expected' % len(fields))
        serial = fields[0].expect(INTEGER, 'serial number').content
        issuer = name_attributes(fields[2])
        subject = name_attributes(fields[4])
        skid, ca, key_usage = None, False, None
        for field in fields[6:]:
            if field.tag == EXTENSIONS_TAG:
                extensions = field.children('extensions')
                if len(extensions) != 1:
                    raise DerError('extensions wrapper holds %d elements' % len(extensions))
                skid, ca, key_usage = _extensions(extensions[0].expect(SEQUENCE, 'extensions'))
    except DerError as exc:
        raise CertificateError('not an X.509 certificate: %s' % exc)
    if not serial:
        raise CertificateError('not an X.509 certificate: empty serial number')
    return Certificate(der, name_text(subject), common_name(subject), name_text(issuer), common_name(issuer),
                       fields[2].encoded, serial, skid, hashlib.sha256(tbs.encoded).hexdigest(), _rsa_key(fields[5]),
                       ca, key_usage)


def load_certificate_list(data):
    """``(certificates, unreadable)`` of a kernel's certs/x509_certificate_list as the kernel's
    load_certificate_list() walks it: each entry a SEQUENCE with a two-byte length, up to the
    first whose framing fails; ``unreadable``: the offsets of entries this reader cannot parse,
    which the kernel may take or pass over."""
    certificates, unreadable = [], []
    offset = 0
    while len(data) - offset >= 4:
        head = bytearray(data[offset:offset + 4])
        # The kernel's own test: it gives up only when neither byte is what a SEQUENCE starts with.
        if head[0] != 0x30 and head[1] != 0x82:
            break
        end = offset + 4 + (head[2] << 8 | head[3])
        if end > len(data):
            break
        try:
            certificates.append(parse_certificate(data[offset:end]))
        except CertificateError:
            unreadable.append(offset)
        offset = end
    return certificates, unreadable


def load_certificates(data):
    """Every certificate of a DER file or a PEM file (one or more blocks); raises CertificateError."""
    if b'-----BEGIN' not in data:
        return [parse_certificate(data)]
    blocks = _PEM_BLOCK.findall(data)
    if not blocks:
        raise CertificateError('PEM data without a CERTIFICATE block')
    certificates = []
    for block in blocks:
        try:
            der = base64.b64decode(b''.join(block.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CertificateError('PEM block is not base64: %s' % exc)
        certificates.append(parse_certificate(der))
    return certificates
