# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a kernel checks module signatures at its next boot, and which keys it trusts.

Facts from here: each kernel's ``module_signatures`` (``enforced`` and its ``reason``:
``config`` for ``CONFIG_MODULE_SIG_FORCE``, ``sig_enforce`` for ``module.sig_enforce`` on the
next-boot command line, ``secure_boot`` for a kernel that enforces or locks down under
Secure Boot, ``lockdown`` for ``lockdown=`` or a forced lockdown; ``secure_boot``,
``lockdown``, ``cmdline``, ``trusted_keys``, ``pending_keys``), the dkms signing
certificate's ``enrolled``/``pending`` state, and the per-module ``signature`` verdict.

The kernel's rules (``module_sig_check``, the EFI stub's Secure Boot test, where
``load_uefi.c`` puts ``db`` and MOK certificates) are applied to what the files under
root say. What they cannot tell (no efivars in a disk image, no kernel config, a
command line that depends on shell logic, a shim request waiting for confirmation at the
next boot) is None: unknown, never a guess. Keys compiled into a kernel are read only from
its build tree (``certs/signing_key.x509`` and ``certs/x509_certificate_list``), where a
self-built kernel keeps them; a distribution kernel's build key signs only its own modules.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible_collections.kabi.dkms.plugins.module_utils._boot_cmdline import read_next_boot_cmdline
from ansible_collections.kabi.dkms.plugins.module_utils._efivars import (
    EFI_CERT_X509, EFI_CERT_X509_SHA256, EFI_GLOBAL_VARIABLE, EFI_VARIABLE_NON_VOLATILE, IMAGE_SECURITY_DATABASE,
    SHIM_LOCK, EfiVariableError, EfiVariables, parse_signature_lists)
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import release_at_least
from ansible_collections.kabi.dkms.plugins.module_utils._module_signature import (
    DAMAGED, INVALID, SIGNED, UNSIGNED)
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError, without_traceback
from ansible_collections.kabi.dkms.plugins.module_utils._x509 import (
    CertificateError, load_certificate_list, load_certificates)

DEFAULT_DKMS_CERTIFICATE = '/var/lib/dkms/mok.pub'
# What certs/system_certificates.S compiles in: the build's signing certificate, then those of
# CONFIG_SYSTEM_TRUSTED_KEYS (DER certificates one after another).
BUILTIN_CERTIFICATE = 'build/certs/signing_key.x509'
BUILTIN_CERTIFICATE_LIST = 'build/certs/x509_certificate_list'
CERTIFICATE_READ_LIMIT = 1024 * 1024
LOCKDOWN_LEVELS = ('none', 'integrity', 'confidentiality')
# A kernel config option that only distribution kernels have (Fedora's lockdown patches, carried
# by Debian, Ubuntu, RHEL and SUSE); the same patch sets make the platform keyring (UEFI db, and
# MOK certificates outside the machine keyring) trusted for modules. Mainline has neither.
DISTRO_LOCKDOWN_PATCH = 'CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT'
# The lockdown patches from before the lockdown LSM (5.4), in RHEL 8 and Ubuntu 18.04 kernels:
# one level, set by any "lockdown" on the command line, by CONFIG_LOCK_DOWN_MANDATORY, or under
# Secure Boot by one of the second options (the 2018 series, the 2017 one).
PRE_LSM_LOCKDOWN = 'CONFIG_LOCK_DOWN_KERNEL'
PRE_LSM_SECURE_BOOT_LOCKDOWN = (DISTRO_LOCKDOWN_PATCH, 'CONFIG_EFI_SECURE_BOOT_LOCK_DOWN')
# From 5.17 to 7.0 load_uefi_certs() reads MOK lists only when arch_ima_get_secureboot() says
# Secure Boot is on, and without this option (IMA's arch policy on EFI) that query is a stub that
# says off. 7.1 gave the integrity code a query of its own, which the 6.12 and 6.18 stable lines
# took in 2026 (from a release not known here).
SECURE_BOOT_QUERY = 'CONFIG_IMA_SECURE_AND_OR_TRUSTED_BOOT'
OWN_QUERY_BACKPORTED = ((6, 12), (6, 18))


# keyUsage bits (RFC 5280).
DIGITAL_SIGNATURE = 1 << 0
KEY_CERT_SIGN = 1 << 5


def _enabled(config, key):
    return config.get(key) == 'y'


def _bool_param(value, release):
    """kstrtobool as ``module.sig_enforce`` of kernel ``release`` reads it (a bare parameter is
    true; what it cannot read is ignored): True, False, or None where kernels differ: "true" from
    5.19 on, "enable" in some later ones."""
    if value is None or value[:1] in ('1', 'y', 'Y') or value[:2].lower() == 'on':
        return True
    if value[:1] in ('t', 'T'):
        return True if release_at_least(release, (5, 19)) else None
    return None if value[:1] in ('e', 'E') else False


class FirmwareKeys:
    """The UEFI and shim state of the machine, read once per root.

    ``secure_boot`` is what the kernel's EFI stub decides (True, False, None when unknown),
    ``secure_boot_detail`` why. Key lists are Certificates, revocation lists SignatureEntries;
    each is None when it cannot be read, empty when the firmware does not have it.
    ``mok_trusted`` and ``ignore_db`` are None when a request to change them waits for
    confirmation at the next boot; ``leaving`` holds the entries of pending requests that remove
    or revoke MOK keys (MokDel, MokXNew), None when one cannot be read; ``mok_reset``: a reset of
    the MOK list waits; ``mokx_lifting``: a request that takes entries off MokListXRT waits.
    """

    __slots__ = ('efi', 'secure_boot', 'secure_boot_detail', 'mok', 'mok_trusted', 'mok_revoked', 'db', 'dbx',
                 'pending', 'ignore_db', 'leaving', 'mok_reset', 'mokx_lifting')

    def __init__(self, efi=None, secure_boot=None, secure_boot_detail=None, mok=None, mok_trusted=None,
                 mok_revoked=None, db=None, dbx=None, pending=None, ignore_db=None, leaving=(), mok_reset=False,
                 mokx_lifting=False):
        self.efi = efi
        self.secure_boot = secure_boot
        self.secure_boot_detail = secure_boot_detail
        self.mok = mok
        self.mok_trusted = mok_trusted
        self.mok_revoked = mok_revoked
        self.db = db
        self.dbx = dbx
        self.pending = pending
        self.ignore_db = ignore_db
        self.leaving = leaving
        self.mok_reset = mok_reset
        self.mokx_lifting = mokx_lifting


def _secure_boot(variables):
    """(enabled, detail) as the EFI stub's efi_get_secureboot() decides; raises EfiVariableError."""
    secure_boot = variables.get_byte('SecureBoot', EFI_GLOBAL_VARIABLE)
    if secure_boot is None or secure_boot[1] == 0:
        return False, 'Secure Boot is off (SecureBoot %s)' % ('is absent' if secure_boot is None else '= 0')
    setup_mode = variables.get_byte('SetupMode', EFI_GLOBAL_VARIABLE)
    if setup_mode is None:
        return None, 'SecureBoot = 1 but SetupMode is absent'
    if setup_mode[1] == 1:
        return False, 'the firmware is in setup mode (SetupMode = 1)'
    if variables.has_shim_flag('MokSB'):
        return None, ('a change of shim\'s validation (mokutil --disable-validation or --enable-validation, MokSB) '
                      'waits for confirmation in MokManager at the next boot')
    shim_state = variables.get_byte('MokSBStateRT', SHIM_LOCK)
    if shim_state is not None and not shim_state[0] & EFI_VARIABLE_NON_VOLATILE and shim_state[1] == 1:
        return False, 'shim does not validate (MokSBStateRT = 1, mokutil --disable-validation)'
    return True, 'Secure Boot is on (SecureBoot = 1, SetupMode = 0)'


def _signature_entries(read, name, warn):
    """SignatureEntries of a key list variable: [] when absent, None when damaged (with a warning)."""
    try:
        data = read()
        return [] if data is None else parse_signature_lists(data)
    except EfiVariableError as exc:
        warn('%s: %s' % (name, exc))
        return None


def _x509_certificates(entries, name, warn):
    """The certificates of a key list; an entry that does not parse is skipped, as the kernel skips it."""
    if entries is None:
        return None
    certificates = []
    for entry in entries:
        if entry.type != EFI_CERT_X509:
            continue
        try:
            certificates.extend(load_certificates(entry.data))
        except CertificateError as exc:
            warn('%s: skipping an entry: %s' % (name, exc))
    return certificates


def read_firmware_keys(rootfs, warn):
    """FirmwareKeys of the machine under root; ``warn(msg)`` for each variable that cannot be read."""
    variables = EfiVariables(rootfs)
    if variables.available is False:
        return FirmwareKeys(False, False, 'the machine boots without EFI', [], False, [], [], [], [], False)
    if variables.available is None:
        return FirmwareKeys(secure_boot_detail='no EFI variables under root (a disk image has none, '
                                               'or efivarfs is not mounted)')

    try:
        secure_boot, detail = _secure_boot(variables)
    except EfiVariableError as exc:
        warn(str(exc))
        secure_boot, detail = None, 'the Secure Boot variables cannot be read: %s' % exc
    mok = _signature_entries(lambda: variables.shim_list('MokListRT'), 'MokListRT', warn)
    pending = _signature_entries(lambda: variables.data('MokNew', SHIM_LOCK), 'MokNew', warn)
    db = _signature_entries(lambda: variables.data('db', IMAGE_SECURITY_DATABASE), 'db', warn)
    leaving = []
    for request in ('MokDel', 'MokXNew'):
        entries = _signature_entries(lambda: variables.data(request, SHIM_LOCK), request, warn)
        leaving = None if entries is None or leaving is None else leaving + entries
    # What MokManager offers at the next boot (shim's enter_mok_menu()): mokutil --trust-mok or
    # --untrust-mok (MokListTrustedNew), --use-db or --ignore-db (MokDB), --reset (MokAuth without
    # MokNew), --mokx --delete (MokXDel) and --mokx --reset (MokXAuth without MokXNew).
    requested = variables.has_shim_flag
    return FirmwareKeys(
        efi=True, secure_boot=secure_boot, secure_boot_detail=detail,
        mok=_x509_certificates(mok, 'MokListRT', warn),
        mok_trusted=None if requested('MokListTrustedNew') else variables.has_shim_flag('MokListTrustedRT'),
        mok_revoked=_signature_entries(lambda: variables.shim_list('MokListXRT'), 'MokListXRT', warn),
        db=_x509_certificates(db, 'db', warn),
        dbx=_signature_entries(lambda: variables.data('dbx', IMAGE_SECURITY_DATABASE), 'dbx', warn),
        pending=_x509_certificates(pending, 'MokNew', warn),
        ignore_db=None if requested('MokDB') else variables.has_shim_flag('MokIgnoreDB'),
        leaving=leaving,
        mok_reset=requested('MokAuth') and not requested('MokNew'),
        mokx_lifting=requested('MokXDel') or (requested('MokXAuth') and not requested('MokXNew')))


def _is_revoked(certificate, entries):
    """Whether a blacklist (dbx, MokListXRT) names the certificate by its TBS hash (an
    EFI_CERT_X509_SHA256 entry: the hash, then the time of revocation): the kernel never loads
    such a key. An EFI_CERT_X509 entry goes to the revocation list instead (``rejected``)."""
    return any(entry.type == EFI_CERT_X509_SHA256 and entry.data[:32].hex() == certificate.tbs_sha256
               for entry in entries)


def _names(entries, certificate):
    """Whether a key list names the certificate, itself or by its TBS hash."""
    return _is_revoked(certificate, entries) or any(
        entry.type == EFI_CERT_X509 and entry.data == certificate.der for entry in entries)


class _TrustSet:
    """Certificates a kernel trusts for modules, those it would trust but are revoked, and gaps."""

    def __init__(self):
        self.trusted = []
        self.revoked = []
        # Certificates on the kernel's revocation list, whose signatures it refuses; None when
        # the lists it is made from cannot be read. ``maybe_rejected``: on it unless a pending
        # request clears MokListXRT.
        self.rejected = []
        self.maybe_rejected = []
        # (certificate, source, why): trusted unless something not known (a blacklist that cannot
        # be read, a request that waits for confirmation) keeps it out.
        self.unsure = []
        self.gaps = []
        # Whether the kernel reads MOK lists: True, False, a sentence why that is unknown, None
        # when nothing decided it.
        self.reads_mok = None

    def add(self, certificates, source, revocations, missing, doubt=None):
        """Add a key list, or note that it could not be read (``missing`` says why); ``doubt``
        (certificate -> a sentence or None) tells why one may not be trusted after all."""
        if certificates is None:
            self.gaps.append(missing)
            return
        for certificate in certificates:
            why = doubt(certificate) if doubt is not None else None
            if revocations is None:
                why = 'its certificate is in %s, but a blacklist is not readable' % source
            elif _is_revoked(certificate, revocations):
                self.revoked.append((certificate, source))
                continue
            if why:
                self.unsure.append((certificate, source, why))
            else:
                self.trusted.append((certificate, source))


# The realtime patch set, whose kernels start without EFI runtime services and take efi=runtime;
# both came upstream in 5.16 (CONFIG_EFI_DISABLE_RUNTIME).
REALTIME = ('CONFIG_PREEMPT_RT', 'CONFIG_PREEMPT_RT_FULL', 'CONFIG_PREEMPT_RT_BASE')


def _efi_runtime(config, cmdline, release):
    """Whether the kernel has EFI runtime services at its next boot, which load_uefi_certs()
    needs to read any key: off by default with CONFIG_EFI_DISABLE_RUNTIME or, before 5.16, in a
    realtime kernel, then as each noefi and efi=(no)runtime on the command line says, in order
    (efi=runtime only where the realtime patches or 5.16 brought it); None when that is unknown."""
    if cmdline.params is None or cmdline.values('efi') is None or cmdline.values('noefi') is None:
        return None
    upstream = release_at_least(release, (5, 16))
    realtime = any(_enabled(config, name) for name in REALTIME)
    if realtime and upstream is None and not _enabled(config, 'CONFIG_EFI_DISABLE_RUNTIME'):
        return None
    runtime = not (_enabled(config, 'CONFIG_EFI_DISABLE_RUNTIME') or (realtime and upstream is False))
    takes_runtime = realtime or upstream
    for name, value in cmdline.params:
        if name == 'noefi':
            runtime = False
        elif name == 'efi' and value is not None:
            options = value.split(',')
            if 'noruntime' in options:
                runtime = False
            if 'runtime' in options and not runtime:
                runtime = None if takes_runtime is None else takes_runtime
    return runtime


def _reads_mok_lists(config, secure_boot, release):
    """Whether load_uefi_certs() goes on to MokListXRT and MokListRT at the next boot (with
    Secure Boot known): True, False, or a sentence saying why that is unknown."""
    guarded = release_at_least(release, (5, 17))
    if not secure_boot:
        return False if guarded else ('Secure Boot is off, under which a kernel before 5.17 (without that change '
                                      'backported) still reads MOK keys')
    if _enabled(config, SECURE_BOOT_QUERY) or guarded is False or release_at_least(release, (7, 1)):
        return True
    if guarded and not any(release_at_least(release, line) and not release_at_least(release, (line[0], line[1] + 1))
                           for line in OWN_QUERY_BACKPORTED):
        return False
    return ('%s is not set, without which kernels from 5.17 to 7.0 never read MOK keys, unless they have 7.1\'s own '
            'Secure Boot query (the 6.12 and 6.18 stable kernels since 2026): whether this one does is not known'
            % SECURE_BOOT_QUERY)


def _add_mok_keys(keys, config, firmware, revocations, platform_for_modules, release):
    """Add MokListRT to ``keys`` as load_moklist_certs() and the keyring patches take it;
    ``revocations`` is dbx and MokListXRT as the kernel reads them (None: not readable)."""
    # The blacklists keep a MOK key out only where they are read first (5.10 on; MokListXRT
    # from 5.13; distributions backport both) and stay as they are.
    blacklists_first = release_at_least(release, (5, 13)) is True and firmware.secure_boot
    blacklisted = []
    if revocations is not None and (not blacklists_first or firmware.mokx_lifting):
        blacklisted = (firmware.dbx or []) + (firmware.mok_revoked or [])
        revocations = firmware.dbx if blacklists_first else []

    def doubt(certificate):
        if _is_revoked(certificate, blacklisted):
            return ('its certificate is blacklisted (dbx or MokListXRT), which keeps it out only where the kernel reads '
                    'the blacklists before MOK keys (5.13 on, or backported) and no pending request (mokutil --mokx '
                    '--delete or --reset) clears MokListXRT')
        if firmware.leaving is None:
            return 'a pending request to remove or revoke MOK keys (MokDel, MokXNew) cannot be read'
        if _names(firmware.leaving, certificate):
            return ('a pending request (mokutil --delete, or --mokx) removes or revokes its certificate if someone '
                    'confirms it in MokManager at the next boot')
        if firmware.mok_reset:
            return 'a pending reset of the MOK list (mokutil --reset) removes it if someone confirms it in MokManager ' \
                   'at the next boot'
        if not platform_for_modules and firmware.mok_trusted is None:
            return 'a pending request (mokutil --trust-mok or --untrust-mok, MokListTrustedNew) decides at the next ' \
                   'boot whether the kernel trusts MOK keys'
        return None if keys.reads_mok is True else keys.reads_mok

    mok = firmware.mok
    if mok is not None and not platform_for_modules and _enabled(config, 'CONFIG_INTEGRITY_CA_MACHINE_KEYRING'):
        # restrict_link_by_ca(): the machine keyring takes CA certificates that may sign
        # certificates (and with _MAX, not data); the others go to the platform keyring,
        # which mainline does not trust for modules.
        mok = [certificate for certificate in mok if certificate.ca and certificate.key_usage is not None
               and certificate.key_usage & KEY_CERT_SIGN and not (
                   _enabled(config, 'CONFIG_INTEGRITY_CA_MACHINE_KEYRING_MAX')
                   and certificate.key_usage & DIGITAL_SIGNATURE)]
    keys.add(mok, 'MokListRT', revocations, 'MokListRT is not readable', doubt)


def _trust_set(config, firmware, builtin, cmdline, release):
    """The _TrustSet of one kernel at its next boot (load_uefi.c and the keyring patches)."""
    keys = _TrustSet()
    keys.add(list(builtin), 'builtin', [], None)
    keys.gaps.extend(getattr(builtin, 'unread', ()))
    if firmware.efi is False:
        keys.reads_mok = False
        return keys
    if config is None:
        keys.gaps.append('the kernel config is not readable')
        return keys
    if firmware.efi is None:
        keys.gaps.append(firmware.secure_boot_detail)
        return keys
    if not _enabled(config, 'CONFIG_LOAD_UEFI_KEYS'):
        keys.reads_mok = False
        return keys
    platform_for_modules = _enabled(config, DISTRO_LOCKDOWN_PATCH)
    if not platform_for_modules and _enabled(config, PRE_LSM_LOCKDOWN):
        keys.gaps.append('which UEFI and MOK keys a kernel with the lockdown patches from before 5.4 and without '
                         '%s trusts for modules is not known' % DISTRO_LOCKDOWN_PATCH)
        return keys
    runtime = _efi_runtime(config, cmdline, release)
    if runtime is False:
        keys.reads_mok = False  # no db, dbx, MOK or MOKx at all
        return keys
    if runtime is None:
        keys.gaps.append('whether the kernel has EFI runtime services at its next boot (noefi, efi=noruntime or '
                         'efi=runtime on the command line, a realtime kernel) is unknown: without them it reads no key '
                         'from the firmware or shim')
        return keys
    if firmware.secure_boot is not None:
        keys.reads_mok = _reads_mok_lists(config, firmware.secure_boot, release)
    # MokListXRT is read with MokListRT, under Secure Boot only.
    reads_mokx = keys.reads_mok if firmware.secure_boot else False
    revocations = firmware.dbx
    if reads_mokx is not False and revocations is not None and firmware.mok_revoked is not None:
        revocations = revocations + firmware.mok_revoked
    elif reads_mokx is not False:
        revocations = None
    if _enabled(config, 'CONFIG_SYSTEM_REVOCATION_LIST'):
        # Without it the kernel's hook for X.509 entries does nothing; None: not readable.
        if reads_mokx is not False and (firmware.mokx_lifting or reads_mokx is not True):
            keys.rejected = None if firmware.mok_revoked is None else _x509_certificates(
                firmware.dbx, 'revocation list', lambda message: None)
            keys.maybe_rejected = _x509_certificates(firmware.mok_revoked, 'revocation list', lambda message: None) or []
        else:
            keys.rejected = _x509_certificates(revocations, 'revocation list', lambda message: None)
    if platform_for_modules and not firmware.ignore_db:
        # load_uefi_certs() adds db before it reads dbx and MokListXRT into the blacklist, which
        # keeps keys out only as they are added: no TBS hash there revokes a db key.
        keys.add(firmware.db, 'db', [], 'db is not readable', None if firmware.ignore_db is False else lambda dummy: (
            'a pending request (mokutil --ignore-db or --use-db, MokDB) decides at the next boot whether the '
            'kernel reads db'))
    machine = _enabled(config, 'CONFIG_INTEGRITY_MACHINE_KEYRING') and firmware.mok_trusted is not False
    if firmware.secure_boot is None:
        keys.gaps.append(firmware.secure_boot_detail)
    elif keys.reads_mok is not False and (platform_for_modules or machine):
        _add_mok_keys(keys, config, firmware, revocations, platform_for_modules, release)
    return keys


def _secure_boot_lockdown(config):
    """The config option with which the kernel locks itself down under Secure Boot, None without one."""
    if _enabled(config, 'CONFIG_SECURITY_LOCKDOWN_LSM'):
        return DISTRO_LOCKDOWN_PATCH if _enabled(config, DISTRO_LOCKDOWN_PATCH) else None
    if _enabled(config, PRE_LSM_LOCKDOWN):
        return next((name for name in PRE_LSM_SECURE_BOOT_LOCKDOWN if _enabled(config, name)), None)
    return None


def _lockdown_active(config, cmdline):
    """Whether a lockdown would take effect at the next boot: the lockdown LSM only where it is
    initialized, always with CONFIG_SECURITY_LOCKDOWN_LSM_EARLY, else when the LSM order (the
    last lsm= on the command line, or CONFIG_LSM) names it; None when the command line cannot
    tell. The lockdown that predates the LSM is no LSM."""
    if not _enabled(config, 'CONFIG_SECURITY_LOCKDOWN_LSM'):
        return _enabled(config, PRE_LSM_LOCKDOWN)
    if _enabled(config, 'CONFIG_SECURITY_LOCKDOWN_LSM_EARLY'):
        return True
    given = cmdline.values('lsm')
    if cmdline.params is None or given is None:
        return None
    orders = [value for value in given if value is not None]
    if orders:
        return 'lockdown' in orders[-1].split(',')
    # CONFIG_LSM names it by default in every kernel that has the LSM.
    order = config.get('CONFIG_LSM')
    return order is None or 'lockdown' in order.split(',')


def _lockdown(config, cmdline, firmware, active, secure_boot_lockdown):
    """The lockdown level at the next boot: a LOCKDOWN_LEVELS name, or None when unknown.
    ``active`` and ``secure_boot_lockdown`` are what _lockdown_active() and _secure_boot_lockdown()
    say. The lockdown that predates the LSM has one level, which restricts what both of the LSM's
    do: confidentiality."""
    if active is False:
        return 'none'
    requested = cmdline.values('lockdown')
    if _enabled(config, 'CONFIG_SECURITY_LOCKDOWN_LSM'):
        level = 0
        if _enabled(config, 'CONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY'):
            level = 2
        elif _enabled(config, 'CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY'):
            level = 1
        # lock_kernel_down() only raises the level: the highest request wins.
        for value in requested or ():
            if value in LOCKDOWN_LEVELS:
                level = max(level, LOCKDOWN_LEVELS.index(value))
        under_secure_boot = 1
    else:
        # lockdown_param() takes any "lockdown", whatever its value.
        level = 2 if requested or _enabled(config, 'CONFIG_LOCK_DOWN_MANDATORY') else 0
        under_secure_boot = 2
    if secure_boot_lockdown:
        if firmware.secure_boot:
            level = max(level, under_secure_boot)
        elif firmware.secure_boot is None and level < under_secure_boot:
            return None
    if (cmdline.params is None or requested is None) and level < 2:
        return None
    if active is None and level:
        return None
    return LOCKDOWN_LEVELS[level]


def _enforcement(config, cmdline, firmware, release):
    """(enforced, reason, lockdown, detail) of kernel ``release`` at its next boot, in module_sig_check()'s order."""
    if config is None:
        return None, None, None, 'the kernel config is not readable'
    secure_boot_lockdown = _secure_boot_lockdown(config)
    active = _lockdown_active(config, cmdline)
    lockdown = _lockdown(config, cmdline, firmware, active, secure_boot_lockdown)
    if not _enabled(config, 'CONFIG_MODULE_SIG'):
        return False, None, lockdown, 'CONFIG_MODULE_SIG is not set: the kernel does not check signatures'
    under_secure_boot = [name for name, enabled in (
        (secure_boot_lockdown, secure_boot_lockdown and active),
        ('CONFIG_IMA_ARCH_POLICY', _enabled(config, 'CONFIG_IMA_ARCH_POLICY'))) if enabled]
    if _enabled(config, 'CONFIG_MODULE_SIG_FORCE'):
        return True, 'config', lockdown, 'CONFIG_MODULE_SIG_FORCE=y'
    given = cmdline.values('module.sig_enforce')
    sig_enforce = [_bool_param(value, release) for value in given or ()]
    if True in sig_enforce:
        return True, 'sig_enforce', lockdown, 'module.sig_enforce on the command line (%s)' % cmdline.source
    if firmware.secure_boot and under_secure_boot:
        return True, 'secure_boot', lockdown, '%s, under which the kernel enforces signatures (%s)' % (
            firmware.secure_boot_detail, ', '.join(under_secure_boot))
    if firmware.secure_boot and secure_boot_lockdown and active is None:
        return None, None, lockdown, '%s, under which the kernel locks itself down (%s) if its lockdown LSM is ' \
            'initialized, which the command line\'s lsm= decides (%s)' % (
                firmware.secure_boot_detail, secure_boot_lockdown, cmdline.source)
    if lockdown in ('integrity', 'confidentiality'):
        return True, 'lockdown', lockdown, 'lockdown=%s' % lockdown
    if cmdline.params is None:
        return None, None, lockdown, 'the next-boot command line is unknown: %s' % cmdline.problem
    if given is None:
        return None, None, lockdown, 'a GRUB variable on the next-boot command line (%s) may give ' \
            'module.sig_enforce' % cmdline.source
    maybe_under_secure_boot = under_secure_boot or ([secure_boot_lockdown] if secure_boot_lockdown and active is None else [])
    if firmware.secure_boot is None and maybe_under_secure_boot:
        return None, None, lockdown, 'the kernel enforces signatures under Secure Boot (%s), and %s' % (
            ', '.join(maybe_under_secure_boot), firmware.secure_boot_detail)
    if None in sig_enforce:
        return None, None, lockdown, 'whether this kernel reads the module.sig_enforce value on the command line ' \
            '(%s) as true is unknown' % cmdline.source
    if lockdown is None:
        return None, None, lockdown, 'a GRUB variable on the next-boot command line (%s) may give lockdown' \
            % cmdline.source
    return False, None, lockdown, 'signatures are checked, not enforced: unsigned modules load and taint the kernel'


class SignaturePolicy:
    """How one kernel treats module signatures at its next boot: plain data, no I/O."""

    __slots__ = ('checked', 'enforced', 'reason', 'detail', 'secure_boot', 'lockdown', 'cmdline', 'next_boot',
                 'trusted', 'revoked', 'rejected', 'maybe_rejected', 'unsure', 'pending', 'gaps')

    def __init__(self, config, cmdline, firmware, builtin=(), release=None):
        self.checked = None if config is None else _enabled(config, 'CONFIG_MODULE_SIG')
        self.enforced, self.reason, self.lockdown, self.detail = _enforcement(config, cmdline, firmware, release)
        self.secure_boot = firmware.secure_boot
        self.cmdline = cmdline.source
        self.next_boot = cmdline    # the BootCmdline, for what else the loader reads of it
        keys = _trust_set(config, firmware, builtin, cmdline, release)
        self.trusted, self.revoked, self.unsure, self.gaps = keys.trusted, keys.revoked, keys.unsure, keys.gaps
        self.rejected, self.maybe_rejected = keys.rejected, keys.maybe_rejected
        # MokNew is enrolled at the next boot only if someone confirms it in MokManager; a kernel
        # that reads no MOK list (without Secure Boot, or a query that cannot see it) trusts none.
        self.pending = firmware.pending if firmware.secure_boot and keys.reads_mok is not False else (
            [] if firmware.secure_boot is False or keys.reads_mok is False else None)

    def as_fact(self):
        return {
            'enforced': self.enforced,
            'reason': self.reason,
            'detail': self.detail,
            'secure_boot': self.secure_boot,
            'lockdown': self.lockdown,
            'cmdline': self.cmdline,
            'trusted_keys': None if self.gaps or self.unsure else [
                dict(certificate.as_fact(), source=source) for certificate, source in self.trusted],
            'pending_keys': None if self.pending is None else [
                certificate.as_fact() for certificate in self.pending],
        }

    def verdict_key(self):
        """What signature_verdict and trust read of this policy: kernels whose policies give equal
        keys give each signature the same verdict. Certificates count as themselves (the firmware's
        are one set of objects for all kernels of a root), not as equal copies."""
        return (self.checked, self.enforced, self.detail, tuple(self.trusted), tuple(self.revoked), tuple(self.unsure),
                tuple(self.gaps), _listed(self.pending), _listed(self.rejected), _listed(self.maybe_rejected))

    def trust(self, signature):
        """(trusted: True/False/None, the matching Certificate or None, a sentence, whether the
        kernel refuses the module whatever its policy: True/False/None) for a signed module."""
        def signed_by(certificate):
            return any(signer.matches(certificate) for signer in signature.signers)

        # is_key_on_revocation_list(): refused when the signature verifies with a revoked key.
        revoked = signature.made_with(self.rejected) if self.rejected else False
        if revoked:
            certificate = next(filter(signed_by, self.rejected), None)
            return False, certificate, ('its certificate is on the kernel\'s revocation list (an X.509 entry in dbx '
                                        'or MokListXRT, CONFIG_SYSTEM_REVOCATION_LIST=y)'), True
        if self.maybe_rejected and signature.made_with(self.maybe_rejected) is not False:
            certificate = next(filter(signed_by, self.maybe_rejected), None)
            return None, certificate, ('its certificate may be on the kernel\'s revocation list (MokListXRT, which a '
                                       'pending request may clear at the next boot)'), None
        trusted, certificate, how = self._trusted(signed_by)
        if revoked is None or self.rejected is None:
            # A revoked key that signed it would make the kernel refuse it whatever the policy.
            return None, certificate, 'whether the kernel\'s revocation list (dbx, MokListXRT) names it is unknown', None
        return trusted, certificate, how, False

    def _trusted(self, signed_by):
        for certificate, source in self.trusted:
            if signed_by(certificate):
                return True, certificate, 'trusted through %s' % source
        for certificate, dummy in self.revoked:
            if signed_by(certificate):
                return False, certificate, 'its certificate is blacklisted (dbx or MokListXRT)'
        for certificate, dummy, why in self.unsure:
            if signed_by(certificate):
                return None, certificate, why
        certificate = next(filter(signed_by, self.pending or ()), None)
        if certificate is not None:
            return None, certificate, ('its certificate waits for MOK enrollment (MokNew): trusted only if the '
                                       'enrollment is confirmed in MokManager at the next boot')
        if self.gaps:
            return None, None, 'the keys the kernel trusts are not all readable: %s' % '; '.join(self.gaps)
        return False, None, 'no key the kernel trusts at its next boot matches it'


def _listed(certificates):
    return None if certificates is None else tuple(certificates)


class BuiltinKeys(list):
    """The certificates a kernel compiled in; ``unread`` says what could not be read of them."""

    def __init__(self):
        list.__init__(self)
        self.unread = []


def read_builtin_certificates(rootfs, modules_dir, warn):
    """BuiltinKeys of a self-built kernel, from its build tree; empty when there are none."""
    keys = BuiltinKeys()
    for name in (BUILTIN_CERTIFICATE, BUILTIN_CERTIFICATE_LIST):
        path = posixpath.join(modules_dir, name)
        if not rootfs.isfile(path):
            continue
        problem = None
        try:
            data = rootfs.read_bytes(path, CERTIFICATE_READ_LIMIT)
            if name == BUILTIN_CERTIFICATE:
                keys.extend(load_certificates(data))
            else:
                certificates, unreadable = load_certificate_list(data)
                keys.extend(certificates)
                if unreadable:
                    problem = 'the entries at bytes %s are not certificates this reader takes' % (
                        ', '.join(map(str, unreadable)))
        except (OSError, IOError, RootPathError, CertificateError) as exc:
            problem = without_traceback(exc)
        if problem:
            warn('%s: %s' % (path, problem))
            keys.unread.append('%s cannot all be read (%s): the keys the kernel compiled in are not all known'
                               % (path, problem))
    return keys


def read_signature_policy(rootfs, release, modules_dir, config, firmware, warn, boot_files=None):
    """The SignaturePolicy of kernel ``release``; ``config`` is its config dict or None,
    ``firmware`` the machine's FirmwareKeys (read_firmware_keys, once per root), ``boot_files``
    a dict kept for the kernels of one root."""
    cmdline = read_next_boot_cmdline(rootfs, release, warn, boot_files)
    return SignaturePolicy(config, cmdline, firmware, read_builtin_certificates(rootfs, modules_dir, warn), release)


def dkms_certificate_fact(rootfs, firmware, warn, path=None):
    """dkms's signing certificate and its MOK state, or None when the file does not exist.

    ``path`` is framework.conf's ``mok_certificate`` when set. ``enrolled``: in MokListRT
    (None when that is unknown); ``pending``: in MokNew, waiting for confirmation at boot.
    """
    path = path or DEFAULT_DKMS_CERTIFICATE
    if not rootfs.exists(path):
        return None
    try:
        certificate = load_certificates(rootfs.read_bytes(path, CERTIFICATE_READ_LIMIT))[0]
    except (OSError, IOError, RootPathError, CertificateError) as exc:
        warn('dkms signing certificate %s: %s' % (path, exc))
        return None

    def listed(certificates):
        if certificates is None:
            return None
        return any(other.der == certificate.der for other in certificates)

    return dict(certificate.as_fact(), path=path, enrolled=listed(firmware.mok), pending=listed(firmware.pending))


def _module_problem(signature, signer_name):
    if signature.state == UNSIGNED:
        return 'the module is not signed'
    if signature.state == SIGNED and signer_name:
        return 'signed by %s (key %s)' % (signer_name, signature.signer.key_id)
    if signature.state == SIGNED:
        return 'signed with key %s' % signature.signer.key_id
    return 'its signature is %s: %s' % (signature.state, signature.problem)


def signature_verdict(signature, policy):
    """The per-module ``signature`` fact and whether the kernel refuses the module at boot.

    Returns ``(fact, refused, reason, certain)``: ``fact`` is ``{signed, signer, key_id, trusted}``
    (``trusted`` None when unknown); ``refused`` True, False or None (unknown); ``reason`` a
    sentence when refused or unknown, or when the module loads but taints the kernel, else None;
    ``certain`` False when ``refused`` is None, and for a signature that cannot be parsed here:
    damaged evidence, counted as refused (the kernel refuses a signature its parser cannot read,
    EBADMSG, whatever the policy) but not known to be.
    """
    fact, refused, reason = _signature_verdict(signature, policy)
    return fact, refused, reason, refused is not None and signature.state != DAMAGED


def _signature_verdict(signature, policy):
    signer = signature.signer
    signer_name = signer and (signer.issuer_cn or signer.issuer)
    how = None
    fatal = False
    if signature.state == SIGNED:
        trusted, certificate, how, fatal = policy.trust(signature)
        signer_name = signer_name or (certificate.name if certificate is not None else None)
    else:
        trusted = None if signature.state == DAMAGED else False
    fact = {'signed': signature.signed, 'signer': signer_name, 'key_id': signer and signer.key_id,
            'trusted': trusted}
    what = _module_problem(signature, signer_name)
    if how and trusted is not True:
        what = '%s: %s' % (what, how)
    if policy.checked is False:
        return fact, False, None
    if fatal is None:
        return fact, None, what
    if trusted:
        # The kernel checks the signature itself with the key it trusts (verify_signature()), and
        # refuses a mismatch whatever its policy.
        matches = signature.verify([trusted_certificate for trusted_certificate, dummy in policy.trusted])
        if matches is False:
            fact['trusted'] = False
            return fact, True if policy.checked else None, ('%s: its signature does not match the module\'s bytes; '
                                                            'the kernel refuses it whatever the policy' % what)
        if matches is None:
            fact['trusted'] = None
            return fact, None, ('%s: its signature cannot be checked here (other than RSA with SHA-2 and a key of '
                                '2048 to 4096 bits, or the module cannot be read again)' % what)
    if signature.state == INVALID or fatal:
        return fact, True if policy.checked else None, '%s; the kernel refuses it whatever the policy' % what
    if signature.state == DAMAGED:
        return fact, True, ('%s; counted as refused: the kernel refuses a signature its parser cannot read, whatever '
                            'the policy (this reader takes DER, as sign-file writes it; the kernel takes BER too)' % what)
    if trusted:
        return fact, False, None
    if policy.enforced is False:
        return fact, False, '%s; it loads but taints the kernel (%s)' % (what, policy.detail)
    if policy.enforced and trusted is False:
        return fact, True, '%s; the kernel refuses it: %s' % (what, policy.detail)
    if policy.enforced:
        return fact, None, '%s; signatures are enforced: %s' % (what, policy.detail)
    return fact, None, '%s; whether signatures are enforced is unknown: %s' % (what, policy.detail)
