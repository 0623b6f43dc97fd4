# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The signature appended to a kernel module, read from the module's uncompressed bytes.

Facts from here: a module's ``signature.signed``, ``signature.signer`` (the issuer's
commonName, as ``modinfo`` shows it) and ``signature.key_id`` (the serial number, or the
subject key identifier of a module signed with ``sign-file -k``), and whether the
signature is damaged. Layout, from the end of the file: the PKCS#7/CMS SignedData DER,
a 12-byte ``struct module_signature`` (big-endian ``sig_len`` last) and the 28-byte magic.
The checks are the kernel's own (``mod_check_sig``, the PKCS#7 parser's rules for module
signatures), so a signature the kernel refuses whatever the policy is ``invalid``, and one
this reader cannot parse is ``damaged``: unknown, never trusted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hashlib
import struct

from ansible_collections.kabi.dkms.plugins.module_utils._der import (
    INTEGER, OBJECT_IDENTIFIER, OCTET_STRING, SEQUENCE, SET, DerError, colon_hex, common_name, decode,
    name_attributes, name_text, object_identifier, serial_text)
from ansible_collections.kabi.dkms.plugins.module_utils._x509 import DIGEST_INFO_PREFIXES

MODULE_SIG_MAGIC = b'~Module signature appended~\n'
# struct module_signature: algo, hash, id_type, signer_len, key_id_len, __pad[3], __be32 sig_len.
SIGNATURE_INFO = struct.Struct('>BBBBB3sI')
PKEY_ID_PKCS7 = 2
ID_TYPES = {0: 'PGP', 1: 'X509', 2: 'PKCS#7'}
SIGNED_DATA = '1.2.840.113549.1.7.2'
DATA = '1.2.840.113549.1.7.1'
ISSUER_AND_SERIAL_TAG = SEQUENCE
SUBJECT_KEY_IDENTIFIER_TAG = 0x80
SIGNED_ATTRIBUTES_TAG = 0xa0
DIGESTS = {
    '1.3.14.3.2.26': 'sha1',
    '2.16.840.1.101.3.4.2.4': 'sha224',
    '2.16.840.1.101.3.4.2.1': 'sha256',
    '2.16.840.1.101.3.4.2.2': 'sha384',
    '2.16.840.1.101.3.4.2.3': 'sha512',
    '2.16.840.1.101.3.4.2.8': 'sha3-256',
    '2.16.840.1.101.3.4.2.9': 'sha3-384',
    '2.16.840.1.101.3.4.2.10': 'sha3-512',
    '1.2.156.10197.1.401': 'sm3',
}

# The kernel's PKCS#7 parser (pkcs7_sig_note_pkey_algo()) takes RSA only as rsaEncryption, as
# sign-file writes it; the sha*WithRSAEncryption forms are ENOPKG, like a key type it lacks.
RSA_ENCRYPTION = '1.2.840.113549.1.1.1'
RSA_WITH_DIGEST = frozenset('1.2.840.113549.1.1.%d' % number for number in (2, 3, 4, 5, 11, 12, 13, 14))

# States of a module's signature.
UNSIGNED = 'unsigned'        # no trailer: the kernel sees an unsigned module
SIGNED = 'signed'            # a PKCS#7 signature whose signer is known
UNSUPPORTED = 'unsupported'  # a legacy id_type or algorithm: the kernel treats it like a missing key (ENOPKG)
INVALID = 'invalid'          # the kernel refuses it whatever the policy (EBADMSG, authattrs)
DAMAGED = 'damaged'          # cannot be parsed here: unknown, never trusted


class SignerId:
    """How one SignerInfo names its key: issuer and serial number, or a subject key identifier."""

    __slots__ = ('issuer_der', 'issuer', 'issuer_cn', 'serial', 'skid', 'digest', 'rsa', 'key_id', 'findable')

    def __init__(self, issuer_der=None, issuer=None, issuer_cn=None, serial=None, skid=None, digest=None, rsa=True,
                 findable=True):
        self.issuer_der = issuer_der
        self.issuer = issuer
        self.issuer_cn = issuer_cn
        self.serial = serial
        self.skid = skid
        self.digest = digest
        self.rsa = rsa      # an RSA PKCS#1 v1.5 signature (the only kind checked here)
        # False when the SignerInfo's version names the other form of identifier than it holds:
        # the kernel makes the key's id from the form the version names, finds none (ENOKEY).
        self.findable = findable
        # The serial number (what ``modinfo`` prints as ``sig_key``), else the subject key
        # identifier: in every module's signature fact, on every kernel, so made once.
        self.key_id = serial_text(serial) if serial is not None else colon_hex(skid) if skid is not None else None

    def matches(self, certificate):
        """Whether ``certificate`` is the key this signer names, compared as the kernel does (raw bytes)."""
        if not self.findable:
            return False
        if self.skid is not None:
            return certificate.skid == self.skid
        return certificate.serial == self.serial and certificate.issuer_der == self.issuer_der

    def __repr__(self):
        return 'SignerId(issuer=%r, key_id=%s)' % (self.issuer, self.key_id)


class ModuleSignature:
    """What a module's appended signature says: its state, its signers and why it is not usable."""

    __slots__ = ('state', 'problem', 'signers', 'values', 'payload_size', 'digest_of', '_checked')

    def __init__(self, state, problem=None, signers=None, payload_size=None, values=None):
        self.state = state
        # A sentence for invalid, damaged and unsupported signatures.
        self.problem = problem
        self.signers = list(signers or [])
        self.values = list(values or [])    # each signer's signature value
        # Bytes the signature covers (the module without its signature); None when unsigned or damaged.
        self.payload_size = payload_size
        # ``digest_of(hash name)``: the digest of those bytes for a hash checked here, else None
        # (also when they cannot be read again).
        self.digest_of = None
        self._checked = {}      # {(certificate's SHA-256, signature value): what _verify() said}

    def verify(self, certificates):
        """What pkcs7_validate_trust() makes of the signers ``certificates`` name: False when a
        signature does not match the module's bytes (the kernel stops there), True when one does
        and none fails, None when one cannot be checked here (not RSA, a hash or key size not
        checked here, bytes that cannot be read again) or none of them signed it."""
        return _combined(self._outcomes(certificates), None)

    def made_with(self, certificates):
        """The same for revoked keys (is_key_on_revocation_list()), where no signer they name is
        False: a revocation counts only when every such signature matches."""
        return _combined(self._outcomes(certificates), False)

    def _outcomes(self, certificates):
        outcomes = set()
        for signer, value in zip(self.signers, self.values):
            for certificate in certificates:
                if signer.matches(certificate):
                    outcomes.add(self._verify(signer, value, certificate))
                    break
        return outcomes

    def _verify(self, signer, value, certificate):
        key = (certificate.sha256, value)
        if key not in self._checked:
            digest = self.digest_of(signer.digest) if signer.rsa and self.digest_of is not None else None
            self._checked[key] = None if digest is None else certificate.verifies(signer.digest, digest, value)
        return self._checked[key]

    @property
    def signed(self):
        return self.state != UNSIGNED

    @property
    def signer(self):
        """The first SignerInfo's id (the one ``modinfo`` shows), or None."""
        return self.signers[0] if self.signers else None

    def __repr__(self):
        return 'ModuleSignature(%r, problem=%r, signers=%r)' % (self.state, self.problem, self.signers)


def _combined(outcomes, nobody):
    """pkcs7_validate_trust() over per-signer outcomes: a mismatch decides, then an unknown;
    ``nobody`` when no signer was checked."""
    if not outcomes:
        return nobody
    return False if False in outcomes else None if None in outcomes else True


class _Invalid(Exception):
    """A signature the kernel's own checks refuse."""


class _Unsupported(Exception):
    """A signature the kernel's parser cannot take (ENOPKG)."""


# What _signer_id gives for a SignerInfo with signed attributes (refused once all are parsed).
_SIGNED_ATTRIBUTES = object()


def _version(field, what):
    """The one-octet version INTEGER the kernel's PKCS#7 parser takes: 1 or 3; raises _Invalid."""
    content = field.expect(INTEGER, what).content
    if content not in (b'\x01', b'\x03'):
        raise _Invalid('the %s is %s; the kernel takes 1 or 3' % (what, '0x' + binascii.hexlify(content[:8]).decode()))
    return content[0]


def _check_digest_algorithms(field):
    """The SignedData's digestAlgorithms as the kernel's grammar has them: a SET or SEQUENCE of
    AlgorithmIdentifiers (an OID, then optional parameters); raises DerError."""
    if field.tag not in (SET, SEQUENCE):
        raise DerError('digest algorithms: expected a SET or SEQUENCE at byte %d, found 0x%02x' % (field.start, field.tag))
    for algorithm in field.children('digest algorithms'):
        parts = algorithm.expect(SEQUENCE, 'digest algorithm').children('digest algorithm')
        if not 1 <= len(parts) <= 2:
            raise DerError('digest algorithm at byte %d has %d fields' % (algorithm.start, len(parts)))
        object_identifier(parts[0])


def _signer_id(info, version, known):
    """(SignerId, signature value's element) of one SignerInfo of a SignedData of ``version``;
    raises _Invalid, _Unsupported or DerError. ``known``: {bytes of the fields before the
    signature value: SignerId} of SignerInfos read before, filled here."""
    fields = info.expect(SEQUENCE, 'SignerInfo').children('SignerInfo')
    if len(fields) < 5:
        raise DerError('SignerInfo has %d fields, at least 5 expected' % len(fields))
    # pkcs7_note_signerinfo_version(): a version 1 SignerInfo only in a version 1 SignedData,
    # a version 3 one only in another (EBADMSG).
    signer_version = _version(fields[0], 'SignerInfo version')
    if (signer_version == 1) != (version == 1):
        raise _Invalid('the SignerInfo version does not match the SignedData version')
    if fields[3].tag == SIGNED_ATTRIBUTES_TAG:
        if len(fields) < 6:
            raise DerError('SignerInfo has %d fields, at least 6 expected' % len(fields))
        _signature_algorithm(fields[4])
        return _SIGNED_ATTRIBUTES, None
    # Modules signed by one key differ only in the signature value: the rest is read once.
    signer_fields = info.data[fields[0].start:fields[3].end]
    signer = known.get(signer_fields)
    if signer is None:
        signer = known[signer_fields] = _read_signer_id(fields, signer_version)
    return signer, fields[4].expect(OCTET_STRING, 'signature value')


def _signature_algorithm(field):
    """The OID of a SignerInfo's signatureAlgorithm (None when it has none); raises _Unsupported
    for RSA named with its hash, which the kernel's parser does not take."""
    algorithm = field.expect(SEQUENCE, 'signature algorithm').children('signature algorithm')
    algorithm = object_identifier(algorithm[0]) if algorithm and algorithm[0].tag == OBJECT_IDENTIFIER else None
    if algorithm in RSA_WITH_DIGEST:
        raise _Unsupported('the signature algorithm %s is not one the kernel\'s PKCS#7 parser takes' % algorithm)
    return algorithm


def _read_signer_id(fields, version):
    sid = fields[1]
    digest_fields = fields[2].expect(SEQUENCE, 'digest algorithm').children('digest algorithm')
    if not digest_fields:
        raise DerError('empty digest algorithm')
    digest = object_identifier(digest_fields[0])
    rsa = _signature_algorithm(fields[3]) == RSA_ENCRYPTION
    digest = DIGESTS.get(digest, digest)
    # A version 3 SignerInfo's key is found by its subject key identifier, a version 1 one's by
    # issuer and serial number (pkcs7_note_signed_info()).
    by_skid = version == 3
    if sid.tag == SUBJECT_KEY_IDENTIFIER_TAG:
        return SignerId(skid=sid.content, digest=digest, rsa=rsa, findable=by_skid)
    parts = sid.expect(ISSUER_AND_SERIAL_TAG, 'signer identifier').children('issuerAndSerialNumber')
    if len(parts) != 2:
        raise DerError('issuerAndSerialNumber has %d fields' % len(parts))
    issuer = name_attributes(parts[0])
    serial = parts[1].expect(INTEGER, 'serial number').content
    if not serial:
        raise DerError('empty serial number')
    return SignerId(issuer_der=parts[0].encoded, issuer=name_text(issuer), issuer_cn=common_name(issuer),
                    serial=serial, digest=digest, rsa=rsa, findable=not by_skid)


# Layouts of SignedData kept per run (see _read_like): a host's modules are signed by a few keys,
# and what sign-file writes around the signature values is some hundreds of bytes (a hostile
# SignedData may carry megabytes the parse skips, such as certificates: never kept).
LAYOUTS_KEPT = 8
LAYOUT_BYTES_KEPT = 4096


def parse_pkcs7_signers(blob, known):
    """(SignerId, signature value) of each SignerInfo of a detached PKCS#7 SignedData as
    sign-file writes it; raises _Invalid or DerError.
    ``known``: see _signer_id; it also keeps the digest algorithm lists found sound, and the
    layouts of the SignedData parsed (see _read_like)."""
    signers = _read_like(blob, known)
    if signers is None:
        elements = _parse_pkcs7_signers(blob, known)
        spans = [(element.body, element.end) for dummy, element in elements]
        layouts = known.setdefault('layouts', {})
        if len(layouts) < LAYOUTS_KEPT and len(blob) - sum(end - start for start, end in spans) <= LAYOUT_BYTES_KEPT:
            layouts.setdefault((len(blob), _outside(blob, spans)), ([signer for signer, dummy in elements], spans))
        signers = [(signer, element.content) for signer, element in elements]
    return signers


def _read_like(blob, known):
    """The signers of ``blob`` where it differs from a SignedData parsed before only in the bytes
    of its signature values, else None: the parse reads nothing of those but where they end, so
    it comes to the same SignerIds. Modules signed by one key differ only there."""
    for (size, outside), (signers, spans) in known.get('layouts', {}).items():
        if size == len(blob) and _outside(blob, spans) == outside:
            return [(signer, blob[start:end]) for signer, (start, end) in zip(signers, spans)]
    return None


def _outside(blob, spans):
    """The bytes of ``blob`` outside ``spans`` ((start, end) in order), joined."""
    starts = [0] + [end for dummy, end in spans]
    ends = [start for start, dummy in spans] + [len(blob)]
    return b''.join(blob[start:end] for start, end in zip(starts, ends))


def _parse_pkcs7_signers(blob, known):
    """(SignerId, signature value's element) of each SignerInfo of ``blob``: see parse_pkcs7_signers."""
    content_info = decode(blob, 'PKCS#7 message').expect(SEQUENCE, 'ContentInfo').children('ContentInfo')
    if len(content_info) != 2:
        raise DerError('ContentInfo has %d fields' % len(content_info))
    if object_identifier(content_info[0]) != SIGNED_DATA:
        raise _Invalid('the PKCS#7 message is not SignedData')
    wrapper = content_info[1].children('SignedData wrapper')
    if len(wrapper) != 1:
        raise DerError('SignedData wrapper holds %d elements' % len(wrapper))
    signed_data = wrapper[0].expect(SEQUENCE, 'SignedData').children('SignedData')
    if len(signed_data) < 4:
        raise DerError('SignedData has %d fields' % len(signed_data))
    # pkcs7_note_signeddata_version() refuses other versions (EINVAL).
    version = _version(signed_data[0], 'SignedData version')
    # Modules signed by one key list the same digest algorithms: checked once.
    if ('digest algorithms', signed_data[1].encoded) not in known:
        _check_digest_algorithms(signed_data[1])
        known[('digest algorithms', signed_data[1].encoded)] = True
    content = signed_data[2].expect(SEQUENCE, 'encapsulated content').children('encapsulated content')
    infos = signed_data[-1].expect(SET, 'SignerInfos').children('SignerInfos')
    if not infos:
        raise DerError('no SignerInfo')
    # The parser refuses an algorithm it lacks (ENOPKG) before pkcs7_verify() looks at the
    # content and the signed attributes.
    signers = [_signer_id(info, version, known) for info in infos]
    if not content or content[0].tag != OBJECT_IDENTIFIER or object_identifier(content[0]) != DATA:
        raise _Invalid('the signed content type is not data')
    if len(content) > 1:
        raise _Invalid('the signature embeds its content; a module signature is detached')
    if any(signer is _SIGNED_ATTRIBUTES for signer, dummy in signers):
        raise _Invalid('the signature has signed attributes, which the kernel refuses for modules')
    return signers


def _checked_trailer(data):
    """(payload size, where struct module_signature ends) of a module's uncompressed bytes whose
    signature trailer passes the kernel's checks (mod_check_sig(): the order and the rules are
    the kernel's), else the ModuleSignature they come to: unsigned, invalid or unsupported."""
    if not data.endswith(MODULE_SIG_MAGIC):
        return ModuleSignature(UNSIGNED)
    end = len(data) - len(MODULE_SIG_MAGIC)
    if end < SIGNATURE_INFO.size:
        return ModuleSignature(INVALID, 'the signature trailer is truncated')
    algo, digest, id_type, signer_len, key_id_len, pad, sig_len = SIGNATURE_INFO.unpack(
        data[end - SIGNATURE_INFO.size:end])
    if sig_len >= end - SIGNATURE_INFO.size:
        return ModuleSignature(INVALID, 'the signature claims %d bytes, more than the file holds' % sig_len)
    if id_type != PKEY_ID_PKCS7:
        return ModuleSignature(UNSUPPORTED, 'the signature is of type %s, not PKCS#7'
                               % ID_TYPES.get(id_type, id_type))
    if algo or digest or signer_len or key_id_len or pad != b'\0\0\0':
        return ModuleSignature(INVALID, 'the signature header has non-zero parameters')
    return end - SIGNATURE_INFO.size - sig_len, end


def elf_length(data):
    """How many of a module's uncompressed bytes the kernel's loader checks as its ELF image: a
    kernel that checks signatures (CONFIG_MODULE_SIG, every distribution's) strips the magic
    first, then the trailer and the signature once the trailer passes (module_sig_check())."""
    trailer = _checked_trailer(data)
    if not isinstance(trailer, ModuleSignature):
        return trailer[0]
    return len(data) - (len(MODULE_SIG_MAGIC) if trailer.state != UNSIGNED else 0)


def read_module_signature(data, known=None, reread=None):
    """The ModuleSignature of a module's uncompressed bytes (the whole file as the kernel gets it).

    ``known``: {signer fields: SignerId} of signatures read before, filled here, so modules
    signed by one key share one SignerId. ``reread((hash name, size))``: the digest of the first
    ``size`` bytes of the file, read again when a check asks for it; without it ``data`` is bytes
    in memory, hashed now for the signers' hashes (the bytes are not kept).
    """
    trailer = _checked_trailer(data)
    if isinstance(trailer, ModuleSignature):
        return trailer
    payload_size, end = trailer
    try:
        signers = parse_pkcs7_signers(bytes(data[payload_size:end - SIGNATURE_INFO.size]),
                                      {} if known is None else known)
    except _Invalid as exc:
        return ModuleSignature(INVALID, str(exc), payload_size=payload_size)
    except _Unsupported as exc:
        return ModuleSignature(UNSUPPORTED, str(exc))
    except DerError as exc:
        return ModuleSignature(DAMAGED, 'the PKCS#7 signature cannot be parsed: %s' % exc)
    signature = ModuleSignature(SIGNED, signers=[signer for signer, dummy in signers], payload_size=payload_size,
                                values=[value for dummy, value in signers])
    if reread is not None:
        signature.digest_of = lambda name: reread((name, payload_size)) if name in DIGEST_INFO_PREFIXES else None
    else:
        payload = memoryview(data)[:payload_size]
        names = set(signer.digest for signer, dummy in signers if signer.rsa and signer.digest in DIGEST_INFO_PREFIXES)
        signature.digest_of = dict((name, hashlib.new(name, payload).digest()) for name in names).get
    return signature
