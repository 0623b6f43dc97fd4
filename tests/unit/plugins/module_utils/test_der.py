# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bounded DER reader: lengths checked, hostile input refused, never a loop."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._der import (
    DerError, Element, colon_hex, decode, name_attributes, name_text, object_identifier, serial_text)
from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import der


def test_long_form_lengths() -> None:
    element = decode(der(0x04, b'x' * 300))
    assert (element.tag, element.body, len(element.content)) == (0x04, 4, 300)
    assert element.encoded[:4] == bytes([0x04, 0x82, 0x01, 0x2c])


@pytest.mark.parametrize('data, message', [
    (b'\x30', 'truncated element header'),
    (b'\x30\x80\x00\x00', 'indefinite length'),
    (b'\x30\x85\x00\x00\x00\x00\x01', 'length of 5 octets'),
    (b'\x30\x82\x01', 'truncated length'),
    (b'\x30\x05\x02\x01', 'claims 5 bytes, 2 remain'),
    (b'\x30\x84\xff\xff\xff\xff', 'claims 4294967295 bytes'),
    (b'\x1f\x01\x00', 'multi-byte tag'),
    (b'\x04\x00\x00', '1 bytes follow'),
])
def test_hostile_headers_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(DerError, match=message):
        decode(data)


def test_children_of_a_primitive_are_refused() -> None:
    with pytest.raises(DerError, match='not constructed'):
        decode(der(0x04, b'ab')).children()


def test_a_child_running_past_its_parent_is_refused() -> None:
    # The inner OCTET STRING claims 3 bytes; its SEQUENCE holds 2 after the header.
    sequence = decode(b'\x30\x04\x04\x03ab')
    with pytest.raises(DerError, match='claims 3 bytes, 2 remain'):
        sequence.children()


@pytest.mark.parametrize('encoded, dotted', [
    ('2a864886f70d010702', '1.2.840.113549.1.7.2'),
    ('608648016503040201', '2.16.840.1.101.3.4.2.1'),
    ('550403', '2.5.4.3'),
    ('0992268993f22c640119', '0.9.2342.19200300.100.1.25'),
    ('8837', '2.999'),
])
def test_object_identifiers(encoded: str, dotted: str) -> None:
    assert object_identifier(decode(der(0x06, bytes.fromhex(encoded)))) == dotted


@pytest.mark.parametrize('content', [b'', b'\x2a\x86'])
def test_malformed_object_identifiers(content: bytes) -> None:
    with pytest.raises(DerError, match='malformed object identifier'):
        object_identifier(decode(der(0x06, content)))


def base128(value: int) -> bytes:
    octets = [value & 0x7f]
    while value > 0x7f:
        value >>= 7
        octets.append(0x80 | (value & 0x7f))
    return bytes(reversed(octets))


def test_a_uuid_arc_is_printed_in_decimal() -> None:
    uuid = 0xf81d4fae7dec11d0a76500a0c91e6bf6
    assert object_identifier(decode(der(0x06, b'\x69' + base128(uuid)))) == '2.25.%d' % uuid


def test_an_arc_too_long_to_print_is_shown_as_hex() -> None:
    # 2,000 octets: over 4,300 decimal digits, which Python 3.11 and later refuse to print.
    encoded = der(0x06, b'\x2a' + b'\xff' * 1999 + b'\x7f')
    assert object_identifier(decode(encoded)) == '#' + encoded.hex()


def test_children_are_bounded() -> None:
    with pytest.raises(DerError, match='more than 1024 elements'):
        decode(der(0x31, b'\x05\x00' * 1025)).children('SignerInfos')
    assert len(decode(der(0x31, b'\x05\x00' * 1024)).children()) == 1024


def attribute(oid: str, tag: int, value: bytes) -> bytes:
    return der(0x31, der(0x30, der(0x06, bytes.fromhex(oid)), der(tag, value)))


def test_names_in_encoded_order_with_their_string_types() -> None:
    name = der(0x30, attribute('550406', 0x13, b'DE'), attribute('55040a', 0x0c, 'Comma, Ünïcode'.encode()),
               attribute('550403', 0x1e, 'BMP'.encode('utf-16-be')), attribute('2a03', 0x04, b'\x01'))
    pairs = name_attributes(decode(name))
    assert name_text(pairs) == 'C=DE, O=Comma\\, Ünïcode, CN=BMP, 1.2.3=#040101'


def test_serials_and_key_ids_print_like_openssl() -> None:
    assert serial_text(b'\x00\x8f\x01') == '8f:01'
    assert serial_text(b'\x00') == '00'
    assert colon_hex(b'\xbe\xad') == 'be:ad'


def walk(element: Element, budget: list[int]) -> None:
    """Every element below ``element``; ``budget`` bounds the work to the input's size."""
    budget[0] -= 1
    assert budget[0] >= 0
    if element.tag & 0x20:
        for child in element.children():
            assert element.body <= child.start < child.end <= element.end
            walk(child, budget)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_within_bounds(data: bytes) -> None:
    try:
        walk(decode(data), [len(data)])
    except DerError:
        pass
