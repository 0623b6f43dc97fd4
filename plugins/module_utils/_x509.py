# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""X.509 certificates (DER or PEM), read far enough to tell which one signed a module.

Facts from here: each certificate's ``subject``, ``issuer``, ``serial``, ``skid`` and
``sha256`` (in ``module_signatures.trusted_keys``, ``pending_keys`` and the dkms
certificate), and the ``tbs_sha256`` the UEFI and MOK blacklists name certificates by.
Standard library only; nothing is verified cryptographically.
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

SUBJECT_KEY_IDENTIFIER = '2.5.29.14'
VERSION_TAG = 0xa0
EXTENSIONS_TAG = 0xa3
_PEM_BLOCK = re.compile(br'-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----(.*?)-----END (?:X509 |TRUSTED )?CERTIFICATE-----',
                        re.DOTALL)


class CertificateError(ValueError):
    """Bytes that are not a certificate this reader understands."""


class Certificate:
    """What identifies one X.509 certificate to the kernel's key matching."""

    __slots__ = ('der', 'subject', 'subject_cn', 'issuer', 'issuer_cn', 'issuer_der', 'serial', 'skid', 'sha256',
                 'tbs_sha256')

    def __init__(self, der, subject, subject_cn, issuer, issuer_cn, issuer_der, serial, skid, tbs_sha256):
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


def _subject_key_identifier(extensions):
    for extension in extensions.children('extensions'):
        fields = extension.expect(SEQUENCE, 'extension').children('extension')
        if len(fields) < 2 or object_identifier(fields[0]) != SUBJECT_KEY_IDENTIFIER:
            continue
        value = fields[-1].expect(OCTET_STRING, 'extension value')
        return decode(value.content, 'subject key identifier').expect(OCTET_STRING, 'subject key identifier').content
    return None


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
        skid = None
        for field in fields[6:]:
            if field.tag == EXTENSIONS_TAG:
                extensions = field.children('extensions')
                if len(extensions) != 1:
                    raise DerError('extensions wrapper holds %d elements' % len(extensions))
                skid = _subject_key_identifier(extensions[0].expect(SEQUENCE, 'extensions'))
    except DerError as exc:
        raise CertificateError('not an X.509 certificate: %s' % exc)
    if not serial:
        raise CertificateError('not an X.509 certificate: empty serial number')
    return Certificate(der, name_text(subject), common_name(subject), name_text(issuer), common_name(issuer),
                       fields[2].encoded, serial, skid, hashlib.sha256(tbs.encoded).hexdigest())


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
