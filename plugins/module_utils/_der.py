# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A minimal, bounded DER reader: enough ASN.1 for X.509 certificates and CMS SignedData.

No fact comes from this file directly; the certificate and module-signature readers use it.
Every length is checked against the bytes that hold it, every element read advances, a
constructed element holds at most MAX_CHILDREN, and nothing is allocated beyond slices of the
input: hostile DER raises DerError, never loops.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii

SEQUENCE = 0x30
SET = 0x31
INTEGER = 0x02
OCTET_STRING = 0x04
OBJECT_IDENTIFIER = 0x06
CONSTRUCTED = 0x20
# Lengths of more than four octets would describe more than 4 GiB: never a certificate or signature.
MAX_LENGTH_OCTETS = 4
# Elements of one constructed element: a certificate's or signature's have tens at most. Each
# element read is an object some fifty times the size of its two smallest bytes.
MAX_CHILDREN = 1024
# An OID arc of 32 base-128 octets holds 224 bits; the longest in use (2.25, a UUID) needs 19.
MAX_ARC_OCTETS = 32

# Attribute types of distinguished names, by the short names OpenSSL prints.
NAME_ATTRIBUTES = {
    '2.5.4.3': 'CN',
    '2.5.4.4': 'SN',
    '2.5.4.5': 'serialNumber',
    '2.5.4.6': 'C',
    '2.5.4.7': 'L',
    '2.5.4.8': 'ST',
    '2.5.4.10': 'O',
    '2.5.4.11': 'OU',
    '2.5.4.12': 'title',
    '2.5.4.42': 'GN',
    '1.2.840.113549.1.9.1': 'emailAddress',
    '0.9.2342.19200300.100.1.1': 'UID',
    '0.9.2342.19200300.100.1.25': 'DC',
}
COMMON_NAME = '2.5.4.3'
# String types of directory names and how their content octets decode.
_STRING_CODECS = {
    0x0c: 'utf-8',        # UTF8String
    0x13: 'ascii',        # PrintableString
    0x14: 'latin-1',      # TeletexString, read as Latin-1 like the kernel's x509 parser
    0x16: 'ascii',        # IA5String
    0x1e: 'utf-16-be',    # BMPString
    0x1c: 'utf-32-be',    # UniversalString
}


class DerError(ValueError):
    """Bytes that are not the DER this reader expects; the message says where."""


class Element:
    """One DER element of ``data``: its tag, where its header starts, and its content bounds."""

    __slots__ = ('data', 'tag', 'start', 'body', 'end')

    def __init__(self, data, tag, start, body, end):
        self.data = data
        self.tag = tag
        self.start = start
        self.body = body
        self.end = end

    @property
    def content(self):
        return self.data[self.body:self.end]

    @property
    def encoded(self):
        """The whole element, tag and length included."""
        return self.data[self.start:self.end]

    def expect(self, tag, what):
        if self.tag != tag:
            raise DerError('%s: expected tag 0x%02x at byte %d, found 0x%02x' % (what, tag, self.start, self.tag))
        return self

    def children(self, what='element'):
        """The elements inside a constructed element, in order: at most MAX_CHILDREN."""
        if not self.tag & CONSTRUCTED:
            raise DerError('%s at byte %d is not constructed' % (what, self.start))
        items = []
        offset = self.body
        while offset < self.end:
            if len(items) == MAX_CHILDREN:
                raise DerError('%s at byte %d holds more than %d elements' % (what, self.start, MAX_CHILDREN))
            item = read_element(self.data, offset, self.end)
            items.append(item)
            offset = item.end
        return items

    def __repr__(self):
        return 'Element(tag=0x%02x, start=%d, body=%d, end=%d)' % (self.tag, self.start, self.body, self.end)


def read_element(data, offset, end):
    """The element starting at ``offset`` that must end by ``end``; raises DerError."""
    if offset + 2 > end:
        raise DerError('truncated element header at byte %d' % offset)
    tag = data[offset]
    if tag & 0x1f == 0x1f:
        raise DerError('multi-byte tag at byte %d' % offset)
    length = data[offset + 1]
    body = offset + 2
    if length & 0x80:
        count = length & 0x7f
        if count == 0:
            raise DerError('indefinite length at byte %d (not DER)' % offset)
        if count > MAX_LENGTH_OCTETS:
            raise DerError('length of %d octets at byte %d' % (count, offset))
        if body + count > end:
            raise DerError('truncated length at byte %d' % offset)
        length = int.from_bytes(data[body:body + count], 'big')
        body += count
    if length > end - body:
        raise DerError('element at byte %d claims %d bytes, %d remain' % (offset, length, end - body))
    return Element(data, tag, offset, body, body + length)


def decode(data, what='DER data'):
    """The single element that ``data`` holds exactly; raises DerError."""
    element = read_element(data, 0, len(data))
    if element.end != len(data):
        raise DerError('%s: %d bytes follow the outer element' % (what, len(data) - element.end))
    return element


def object_identifier(element):
    """Dotted text of an OBJECT IDENTIFIER element; one with an arc of more than MAX_ARC_OCTETS
    octets as ``#`` and the element's hex, as no OID this collection knows: printing such an arc
    in decimal takes time that grows with its square (Python 3.11 and later refuse it)."""
    element.expect(OBJECT_IDENTIFIER, 'object identifier')
    content = element.content
    if not content or content[-1] & 0x80:
        raise DerError('malformed object identifier at byte %d' % element.start)
    arcs = []
    value = 0
    octets = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7f)
        octets += 1
        if octets > MAX_ARC_OCTETS:
            return '#' + binascii.hexlify(element.encoded).decode('ascii')
        if not byte & 0x80:
            arcs.append(value)
            value = 0
            octets = 0
    first = min(arcs[0] // 40, 2)
    return '.'.join(str(arc) for arc in [first, arcs[0] - 40 * first] + arcs[1:])


def _string_value(element):
    codec = _STRING_CODECS.get(element.tag)
    if codec is None:
        return '#' + binascii.hexlify(element.encoded).decode('ascii')
    try:
        return element.content.decode(codec)
    except UnicodeError:
        return element.content.decode('latin-1')


def name_attributes(element):
    """(attribute OID, text) pairs of an X.501 Name, in encoded order."""
    element.expect(SEQUENCE, 'name')
    pairs = []
    for rdn in element.children('name'):
        rdn.expect(SET, 'relative distinguished name')
        for attribute in rdn.children('relative distinguished name'):
            fields = attribute.expect(SEQUENCE, 'name attribute').children('name attribute')
            if len(fields) != 2:
                raise DerError('name attribute at byte %d has %d fields' % (attribute.start, len(fields)))
            pairs.append((object_identifier(fields[0]), _string_value(fields[1])))
    return pairs


def name_text(pairs):
    """``C=DE, O=Example, CN=Signer``: the attributes in encoded order, commas in values escaped."""
    return ', '.join('%s=%s' % (NAME_ATTRIBUTES.get(oid, oid), value.replace('\\', '\\\\').replace(',', '\\,'))
                     for oid, value in pairs)


def common_name(pairs):
    """The last commonName of a Name (the most specific), or None."""
    names = [value for oid, value in pairs if oid == COMMON_NAME]
    return names[-1] if names else None


def colon_hex(raw):
    """``19:2d:7c``: bytes as lowercase hex pairs, the way modinfo and openssl print key ids."""
    text = binascii.hexlify(raw).decode('ascii')
    return ':'.join(text[index:index + 2] for index in range(0, len(text), 2))


def serial_text(raw):
    """A serial number's content octets as colon hex, without the sign octet DER adds."""
    stripped = raw.lstrip(b'\0') or b'\0'
    return colon_hex(stripped)
