# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signature enforcement, trusted keys and per-module verdicts on test roots.

Modules are gcc-built ELF files signed by the kernel's sign-file with openssl keys; the
firmware state is efivarfs files; the command line comes from BLS entries or grubenv.
"""

from __future__ import annotations

import copy
import glob
import hashlib
import struct
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kabi.dkms.plugins.module_utils._boot_cmdline import (
    BootCmdline, read_next_boot_cmdline, split_cmdline)
from ansible_collections.kabi.dkms.plugins.module_utils._boot_policy import (
    FirmwareKeys, SignaturePolicy, dkms_certificate_fact, read_firmware_keys, read_signature_policy,
    signature_verdict)
from ansible_collections.kabi.dkms.plugins.module_utils._coverage import _signature_check
from ansible_collections.kabi.dkms.plugins.module_utils._efivars import (
    EFI_CERT_X509_SHA256, IMAGE_SECURITY_DATABASE, SHIM_LOCK)
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import parse_kconfig
from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoReader
from ansible_collections.kabi.dkms.plugins.module_utils._module_signature import (
    ModuleSignature, read_module_signature)
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS
from ansible_collections.kabi.dkms.plugins.module_utils._x509 import parse_certificate
from ansible_collections.kabi.dkms.tests.unit.grub_fixtures import rhel8_grub_cfg
from ansible_collections.kabi.dkms.tests.unit.ko_fixtures import KoBuilder
from ansible_collections.kabi.dkms.tests.unit.signing_fixtures import (
    EfiRoot, SigningKey, openssl, rsa_key, sign_module, signature_list, x509_lists)

RELEASE = '6.1.0-57-amd64'
MODULES_DIR = '/lib/modules/' + RELEASE
# IMA's arch policy on EFI: it enforces signatures under Secure Boot, and since 5.17 it is what
# tells load_uefi_certs() that Secure Boot is on, without which it reads no MOK list.
IMA_SECURE_BOOT = {'CONFIG_IMA': 'y', 'CONFIG_IMA_ARCH_POLICY': 'y', 'CONFIG_IMA_SECURE_AND_OR_TRUSTED_BOOT': 'y'}
# The options that decide it in Debian 6.1's config (see /usr/src/linux-headers-6.1.0-*-amd64/.config).
DEBIAN = {
    'CONFIG_MODULE_SIG': 'y', 'CONFIG_MODULE_SIG_ALL': 'y', 'CONFIG_MODULE_SIG_HASH': 'sha256',
    'CONFIG_SECURITY_LOCKDOWN_LSM': 'y', 'CONFIG_SECURITY_LOCKDOWN_LSM_EARLY': 'y',
    'CONFIG_LOCK_DOWN_KERNEL_FORCE_NONE': 'y', 'CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT': 'y',
    'CONFIG_INTEGRITY_PLATFORM_KEYRING': 'y', 'CONFIG_INTEGRITY_MACHINE_KEYRING': 'y', 'CONFIG_LOAD_UEFI_KEYS': 'y',
    **IMA_SECURE_BOOT,
}
# A mainline kernel: no lockdown under Secure Boot, no platform keyring for modules.
VANILLA = {'CONFIG_MODULE_SIG': 'y', 'CONFIG_INTEGRITY_PLATFORM_KEYRING': 'y', 'CONFIG_LOAD_UEFI_KEYS': 'y',
           'CONFIG_INTEGRITY_MACHINE_KEYRING': 'y'}
PLAIN_CMDLINE = BootCmdline(split_cmdline('root=/dev/vda1 ro quiet'), '/etc/default/grub')


class Warnings(list):
    def __call__(self, message: str) -> None:
        self.append(message)


@pytest.fixture(scope='module')
def modules(ko_builder: KoBuilder, signing_keys: dict[str, SigningKey],
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModuleSignature]:
    """Signatures of real modules: unsigned, signed by the dkms key, by the second key, and with -k."""
    directory = tmp_path_factory.mktemp('modules')
    module = ko_builder.build_ko(directory, 'hello')
    signed = {
        'dkms': sign_module(module, signing_keys['dkms'], directory / 'dkms.ko'),
        'second': sign_module(module, signing_keys['second'], directory / 'second.ko', digest='sha512'),
        'dkms_skid': sign_module(module, signing_keys['dkms'], directory / 'skid.ko', key_id=True),
    }
    result = {name: read_module_signature(path.read_bytes()) for name, path in signed.items()}
    result['unsigned'] = read_module_signature(module.read_bytes())
    damaged = bytearray(signed['dkms'].read_bytes())
    damaged[module.stat().st_size + 1] ^= 0x40  # the outer SEQUENCE's length octet
    result['damaged'] = read_module_signature(bytes(damaged))
    invalid = bytearray(signed['dkms'].read_bytes())
    invalid[-28 - 12] = 1  # algo
    result['invalid'] = read_module_signature(bytes(invalid))
    assert [result[name].state for name in ('damaged', 'invalid')] == ['damaged', 'invalid']
    return result


@pytest.fixture
def efi(tmp_path: Path) -> EfiRoot:
    return EfiRoot(tmp_path)


def policy(root: Path, config: dict | None | str = 'debian', warn: Warnings | None = None,
           release: str = RELEASE) -> SignaturePolicy:
    """The policy of ``release`` under ``root``; ``config`` 'debian' stands for DEBIAN."""
    config = dict(DEBIAN) if config == 'debian' else config
    warn = Warnings() if warn is None else warn
    fs = RootFS(str(root))
    return read_signature_policy(fs, release, '/lib/modules/' + release, config, read_firmware_keys(fs, warn), warn)


def with_cmdline(root: Path, options: str, release: str = RELEASE) -> None:
    entry = root / ('boot/loader/entries/machine-%s.conf' % release)
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text('title Debian\nversion %s\nlinux /vmlinuz-%s\noptions %s\n' % (release, release, options))


@pytest.fixture
def secure_boot(efi: EfiRoot, signing_keys: dict[str, SigningKey]) -> EfiRoot:
    """Secure Boot on, the dkms certificate enrolled, an ordinary command line."""
    efi.secure_boot(True)
    efi.mok_list([signing_keys['dkms'].der])
    with_cmdline(efi.root, 'root=/dev/vda1 ro quiet')
    return efi


def verdicts(kernel: SignaturePolicy, modules: dict[str, ModuleSignature]) -> dict[str, tuple]:
    """{module: (trusted, refused)}."""
    result = {}
    for name, signature in modules.items():
        fact, refused, reason, dummy = signature_verdict(signature, kernel)
        assert refused is False or reason, name
        result[name] = (fact['trusted'], refused)
    return result


def test_secure_boot_with_the_dkms_key_enrolled(secure_boot: EfiRoot, modules: dict, signing_keys: dict) -> None:
    kernel = policy(secure_boot.root)
    fact = kernel.as_fact()
    assert (fact['enforced'], fact['reason'], fact['secure_boot'], fact['lockdown']) == (
        True, 'secure_boot', True, 'integrity')
    assert [(key['subject'], key['source']) for key in fact['trusted_keys']] == [
        ('CN=DKMS module signing key', 'MokListRT')]
    assert fact['pending_keys'] == []
    assert verdicts(kernel, modules) == {
        'dkms': (True, False), 'dkms_skid': (True, False), 'second': (False, True), 'unsigned': (False, True),
        'damaged': (None, True), 'invalid': (False, True)}
    fact, refused, reason, dummy = signature_verdict(modules['dkms'], kernel)
    assert fact == {'signed': True, 'signer': 'DKMS module signing key', 'key_id': signing_keys['dkms'].serial,
                    'trusted': True}
    assert reason is None
    # sign-file -k names only the SKID: the signer's name comes from the certificate it matches.
    fact, refused, reason, dummy = signature_verdict(modules['dkms_skid'], kernel)
    assert (fact['signer'], fact['key_id']) == ('DKMS module signing key', signing_keys['dkms'].skid)


def test_secure_boot_without_the_dkms_key(efi: EfiRoot, modules: dict, signing_keys: dict) -> None:
    efi.secure_boot(True)
    efi.mok_list([signing_keys['second'].der])
    with_cmdline(efi.root, 'quiet')
    kernel = policy(efi.root)
    assert verdicts(kernel, modules)['dkms'] == (False, True)
    fact, refused, reason, dummy = signature_verdict(modules['dkms'], kernel)
    assert 'DKMS module signing key' in reason and 'no key the kernel trusts' in reason
    assert 'Secure Boot is on' in reason
    # The second key is an EC key: whether its ECDSA signature matches is not checked here, so
    # whether the kernel accepts the module is unknown.
    assert verdicts(kernel, modules)['second'] == (None, None)
    assert 'cannot be checked here' in signature_verdict(modules['second'], kernel)[2]


@pytest.mark.parametrize('digest', ['sha224', 'sha256', 'sha384', 'sha512'])
def test_a_trusted_signature_is_checked_against_the_modules_bytes(
        secure_boot: EfiRoot, ko_builder: KoBuilder, signing_keys: dict, tmp_path: Path, digest: str) -> None:
    # The kernel verifies the signature with the key it trusts (verify_signature()) and refuses a
    # module whose bytes or signature changed, whatever its policy (EKEYREJECTED).
    module = ko_builder.build_ko(tmp_path, 'hello')
    signed = sign_module(module, signing_keys['dkms'], tmp_path / 'signed.ko', digest=digest).read_bytes()
    payload, value = bytearray(signed), bytearray(signed)
    payload[100] ^= 0x01                                    # a byte of the module
    value[-28 - 12 - 20] ^= 0x01                            # a byte of the RSA signature value
    kernel = policy(secure_boot.root)
    assert signature_verdict(read_module_signature(signed), kernel)[:2] == (
        {'signed': True, 'signer': 'DKMS module signing key', 'key_id': signing_keys['dkms'].serial,
         'trusted': True}, False)
    for changed in (payload, value):
        fact, refused, reason, dummy = signature_verdict(read_module_signature(bytes(changed)), kernel)
        assert (fact['trusted'], refused) == (False, True)
        assert "does not match the module's bytes" in reason and 'whatever the policy' in reason


def test_signatures_this_reader_cannot_check_leave_the_verdict_unknown(
        secure_boot: EfiRoot, ko_builder: KoBuilder, signing_keys: dict, tmp_path: Path) -> None:
    module = ko_builder.build_ko(tmp_path, 'hello')
    signed = sign_module(module, signing_keys['dkms'], tmp_path / 'sha1.ko', digest='sha1').read_bytes()
    # SHA-1: newer kernels' PKCS#7 parsers refuse it, older ones take it.
    fact, refused, reason, dummy = signature_verdict(read_module_signature(signed), policy(secure_boot.root))
    assert (fact['trusted'], refused) == (None, None) and 'cannot be checked here' in reason


def test_rsa_named_with_its_hash_is_an_algorithm_the_kernel_does_not_take(
        secure_boot: EfiRoot, ko_builder: KoBuilder, signing_keys: dict, tmp_path: Path) -> None:
    # pkcs7_sig_note_pkey_algo() takes RSA as rsaEncryption only: sha256WithRSAEncryption is
    # ENOPKG, which the kernel treats as a key it lacks (refused only where it enforces).
    module = ko_builder.build_ko(tmp_path, 'hello')
    signed = sign_module(module, signing_keys['dkms'], tmp_path / 'signed.ko').read_bytes()
    rsa_encryption = bytes.fromhex('06092a864886f70d010101')
    assert signed.count(rsa_encryption) == 1
    renamed = signed.replace(rsa_encryption, rsa_encryption[:-1] + b'\x0b')
    signature = read_module_signature(renamed)
    assert signature.state == 'unsupported'
    assert signature_verdict(signature, policy(secure_boot.root))[:2] == (
        {'signed': True, 'signer': None, 'key_id': None, 'trusted': False}, True)


def test_an_unreadable_revocation_list_leaves_trusted_keys_unknown(
        efi: EfiRoot, modules: dict, signing_keys: dict) -> None:
    efi.secure_boot(False)
    with_cmdline(efi.root, 'module.sig_enforce=1')
    certs = efi.root / MODULES_DIR.lstrip('/') / 'build/certs'
    certs.mkdir(parents=True)
    (certs / 'signing_key.x509').write_bytes(signing_keys['dkms'].der)
    efi.write('dbx', IMAGE_SECURITY_DATABASE, b'\x01\x02')
    assert verdicts(policy(efi.root), modules)['dkms'] == (True, False)
    kernel = policy(efi.root, dict(DEBIAN, CONFIG_SYSTEM_REVOCATION_LIST='y'))
    assert verdicts(kernel, modules)['dkms'] == (None, None)
    assert 'revocation list' in signature_verdict(modules['dkms'], kernel)[2]
    # A key on that list makes the kernel refuse what it signed whatever the policy: not known
    # for an untrusted signer either, even where nothing is enforced.
    with_cmdline(efi.root, 'quiet')
    relaxed = policy(efi.root, dict(DEBIAN, CONFIG_SYSTEM_REVOCATION_LIST='y'))
    assert relaxed.enforced is False
    assert verdicts(relaxed, modules)['second'] == (None, None)
    assert verdicts(relaxed, modules)['unsigned'] == (False, False)


def test_signed_attributes_do_not_hide_an_algorithm_the_kernel_cannot_parse(
        ko_builder: KoBuilder, signing_keys: dict, tmp_path: Path) -> None:
    # openssl cms adds signed attributes (refused by pkcs7_verify(), whatever the policy); the
    # parser's ENOPKG for sha256WithRSAEncryption comes first (refused only where enforced).
    module = ko_builder.build_ko(tmp_path, 'hello')
    key = signing_keys['dkms']
    blob = subprocess.run([openssl(), 'cms', '-sign', '-binary', '-nocerts', '-md', 'sha256', '-outform', 'DER',
                           '-signer', str(key.certificate), '-inkey', str(key.key), '-in', str(module)],
                          check=True, capture_output=True).stdout

    def appended(signature: bytes) -> bytes:
        return module.read_bytes() + signature + struct.pack('>BBBBB3sI', 0, 0, 2, 0, 0, b'', len(signature)) + \
            b'~Module signature appended~\n'
    assert read_module_signature(appended(blob)).state == 'invalid'
    rsa_encryption = bytes.fromhex('06092a864886f70d010101')
    renamed = blob.replace(rsa_encryption, rsa_encryption[:-1] + b'\x0b')
    assert read_module_signature(appended(renamed)).state == 'unsupported'


def test_a_plain_module_file_is_hashed_only_when_a_trusted_signature_is_checked(
        secure_boot: EfiRoot, ko_builder: KoBuilder, signing_keys: dict, tmp_path: Path) -> None:
    module = ko_builder.build_ko(tmp_path / 'root', 'hello')
    sign_module(module, signing_keys['dkms'], tmp_path / 'root/signed.ko')
    info = KoReader(RootFS(str(tmp_path / 'root')), reader='pyelftools').read('/signed.ko')
    (tmp_path / 'root/signed.ko').unlink()      # read again only when asked: now it cannot be
    fact, refused, reason, dummy = signature_verdict(info.signature, policy(secure_boot.root))
    assert (fact['trusted'], refused) == (None, None) and 'cannot be checked here' in reason


def test_pending_enrollment_is_unknown_until_confirmed(secure_boot: EfiRoot, modules: dict,
                                                       signing_keys: dict) -> None:
    secure_boot.mok_list([])
    secure_boot.write('MokNew', SHIM_LOCK, x509_lists([signing_keys['dkms'].der]), attributes=0x7)
    kernel = policy(secure_boot.root)
    assert kernel.as_fact()['trusted_keys'] == []
    assert [key['serial'] for key in kernel.as_fact()['pending_keys']] == [signing_keys['dkms'].serial]
    fact, refused, reason, dummy = signature_verdict(modules['dkms'], kernel)
    assert (fact['trusted'], refused) == (None, None)
    assert 'MokNew' in reason
    assert verdicts(kernel, modules)['second'] == (False, True)


@pytest.mark.parametrize('setup', [
    lambda efi: efi.secure_boot(False),
    lambda efi: efi.secure_boot(True, setup_mode=True),
    lambda efi: (efi.secure_boot(True), efi.write('MokSBStateRT', SHIM_LOCK, b'\x01')),
])
def test_secure_boot_off_loads_everything_with_a_taint(secure_boot: EfiRoot, modules: dict, setup) -> None:
    setup(secure_boot)
    kernel = policy(secure_boot.root)
    fact = kernel.as_fact()
    assert (fact['enforced'], fact['reason'], fact['secure_boot'], fact['lockdown']) == (False, None, False, 'none')
    # Without Secure Boot the kernel does not load MOK keys: the dkms key is not trusted, yet nothing is refused.
    assert fact['trusted_keys'] == []
    assert verdicts(kernel, modules) == {
        'dkms': (False, False), 'dkms_skid': (False, False), 'second': (False, False), 'unsigned': (False, False),
        'damaged': (None, True), 'invalid': (False, True)}
    assert 'taints the kernel' in signature_verdict(modules['unsigned'], kernel)[2]


def test_non_volatile_mok_sb_state_does_not_turn_secure_boot_off(secure_boot: EfiRoot) -> None:
    # The EFI stub ignores MokSBState unless it is a volatile (runtime) copy set to 1.
    secure_boot.write('MokSBStateRT', SHIM_LOCK, b'\x01', attributes=0x7)
    assert policy(secure_boot.root).as_fact()['secure_boot'] is True


def test_sig_enforce_without_secure_boot(efi: EfiRoot, modules: dict, signing_keys: dict) -> None:
    efi.secure_boot(False)
    efi.mok_list([signing_keys['dkms'].der])
    with_cmdline(efi.root, 'ro module.sig_enforce=1')
    kernel = policy(efi.root)
    assert (kernel.enforced, kernel.reason) == (True, 'sig_enforce')
    # MOK keys are not loaded without Secure Boot: every DKMS module is refused.
    assert verdicts(kernel, modules)['dkms'] == (False, True)
    assert verdicts(kernel, modules)['unsigned'] == (False, True)


@pytest.mark.parametrize(('value', 'release', 'enforced'), [
    ('1', '4.18.0-553.el8_10.x86_64', True), ('Y', RELEASE, True), ('on', RELEASE, True), ('yes', RELEASE, True),
    # kstrtobool reads "true" from 5.19 on, "enable" only in some later kernels; an older kernel
    # ignores what it cannot read.
    ('true', '6.1.0-47-amd64', True), ('T', '5.19.0-1-generic', True), ('true', '5.14.0-427.el9.x86_64', None),
    ('enable', RELEASE, None), ('0', RELEASE, False), ('off', RELEASE, False), ('false', RELEASE, False),
    ('bogus', RELEASE, False),
])
def test_sig_enforce_values_as_kstrtobool_reads_them(efi: EfiRoot, value: str, release: str,
                                                     enforced: bool | None) -> None:
    efi.secure_boot(False)
    with_cmdline(efi.root, 'ro module.sig_enforce=%s' % value)
    fs = RootFS(str(efi.root))
    kernel = SignaturePolicy(dict(DEBIAN), read_next_boot_cmdline(fs, RELEASE, Warnings()),
                             read_firmware_keys(fs, Warnings()), release=release)
    assert (kernel.enforced, kernel.reason) == (enforced, 'sig_enforce' if enforced else None)
    if enforced is None:
        assert 'module.sig_enforce' in kernel.detail


def test_sig_enforce_from_grubenv_kernelopts_on_a_bios_machine(tmp_path: Path, modules: dict) -> None:
    (tmp_path / 'sys/firmware/acpi').mkdir(parents=True)
    entry = tmp_path / ('boot/loader/entries/m-%s.conf' % RELEASE)
    entry.parent.mkdir(parents=True)
    entry.write_text('linux /vmlinuz-%s\noptions $kernelopts\n' % RELEASE)
    env = tmp_path / 'boot/grub2/grubenv'
    env.parent.mkdir(parents=True)
    (tmp_path / 'boot/grub2/grub.cfg').write_text(rhel8_grub_cfg())
    env.write_text('# GRUB Environment Block\nkernelopts=root=/dev/vda1 module.sig_enforce\n')
    kernel = policy(tmp_path)
    fact = kernel.as_fact()
    assert (fact['enforced'], fact['reason'], fact['secure_boot'], fact['trusted_keys']) == (
        True, 'sig_enforce', False, [])
    assert verdicts(kernel, modules)['dkms'] == (False, True)
    env.write_text('# GRUB Environment Block\nkernelopts=root=/dev/vda1\n')
    kernel = policy(tmp_path)
    assert (kernel.enforced, verdicts(kernel, modules)['unsigned']) == (False, (False, False))


def test_an_image_without_efivars_is_unknown(tmp_path: Path, modules: dict) -> None:
    with_cmdline(tmp_path, 'quiet')
    kernel = policy(tmp_path)
    fact = kernel.as_fact()
    assert (fact['enforced'], fact['reason'], fact['secure_boot'], fact['lockdown'], fact['trusted_keys'],
            fact['pending_keys']) == (None, None, None, None, None, None)
    assert 'no EFI variables' in fact['detail']
    assert verdicts(kernel, modules) == {
        'dkms': (None, None), 'dkms_skid': (None, None), 'second': (None, None), 'unsigned': (False, None),
        'damaged': (None, True), 'invalid': (False, True)}
    # Another reason makes it definite even so.
    with_cmdline(tmp_path, 'module.sig_enforce=1')
    kernel = policy(tmp_path)
    assert (kernel.enforced, kernel.reason) == (True, 'sig_enforce')
    assert verdicts(kernel, modules)['unsigned'] == (False, True)
    assert verdicts(kernel, modules)['dkms'] == (None, None)


@pytest.mark.parametrize('config, reason, lockdown', [
    (dict(DEBIAN, CONFIG_MODULE_SIG_FORCE='y'), 'config', 'none'),
    (dict(DEBIAN, CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY='y'), 'lockdown', 'integrity'),
])
def test_config_enforces(efi: EfiRoot, modules: dict, config: dict, reason: str, lockdown: str) -> None:
    efi.secure_boot(False)
    with_cmdline(efi.root, 'quiet')
    kernel = policy(efi.root, config)
    assert (kernel.enforced, kernel.reason, kernel.lockdown) == (True, reason, lockdown)
    assert verdicts(kernel, modules)['unsigned'] == (False, True)


@pytest.mark.parametrize('options, enforced, lockdown', [
    ('lockdown=integrity', True, 'integrity'),
    ('lockdown=confidentiality lockdown=none', True, 'confidentiality'),
    ('lockdown=none', False, 'none'),
])
def test_lockdown_on_the_command_line(efi: EfiRoot, options: str, enforced: bool, lockdown: str) -> None:
    efi.secure_boot(False)
    with_cmdline(efi.root, options)
    kernel = policy(efi.root)
    assert (kernel.enforced, kernel.reason, kernel.lockdown) == (enforced, 'lockdown' if enforced else None, lockdown)
    assert policy(efi.root, dict(DEBIAN, CONFIG_SECURITY_LOCKDOWN_LSM='n')).lockdown == 'none'


def test_unknown_command_line(efi: EfiRoot, modules: dict) -> None:
    efi.secure_boot(False)
    kernel = policy(efi.root)
    assert (kernel.enforced, kernel.cmdline) == (None, None)
    assert 'command line is unknown' in kernel.detail
    assert verdicts(kernel, modules)['unsigned'] == (False, None)


@pytest.mark.parametrize(('values', 'enforced', 'lockdown'), [
    (('vt.handoff=7', ''), False, 'none'),                         # Ubuntu's $vt_handoff: nothing that counts
    (('module.sig_enforce=1', ''), None, 'none'),
    (('lockdown=integrity', ''), None, None),
])
def test_a_grub_variable_on_the_command_line(efi: EfiRoot, modules: dict, values: tuple, enforced: bool | None,
                                             lockdown: str | None) -> None:
    efi.secure_boot(False)
    grub_cfg = efi.root / 'boot/grub/grub.cfg'
    grub_cfg.parent.mkdir(parents=True, exist_ok=True)
    grub_cfg.write_text('function f {\n  if [ "$1" = 1 ]; then set extra="%s"; else set extra="%s"; fi\n}\n'
                        "menuentry 'Debian' {\n  f $mode\n  linux /vmlinuz-%s root=/dev/sda1 $extra\n}\n"
                        % (values + (RELEASE,)))
    kernel = policy(efi.root, config=dict(DEBIAN, CONFIG_SECURITY_LOCKDOWN_LSM='y'))
    assert (kernel.enforced, kernel.lockdown, kernel.cmdline) == (enforced, lockdown, '/boot/grub/grub.cfg')


def test_kernels_that_do_not_check_signatures(secure_boot: EfiRoot, modules: dict) -> None:
    kernel = policy(secure_boot.root, {'CONFIG_MODULES': 'y'})
    assert (kernel.enforced, kernel.reason) == (False, None)
    assert set(refused for trusted, refused in verdicts(kernel, modules).values()) == {False}


def test_no_kernel_config(secure_boot: EfiRoot, modules: dict) -> None:
    kernel = policy(secure_boot.root, None)
    assert (kernel.enforced, kernel.lockdown, kernel.as_fact()['trusted_keys']) == (None, None, None)
    assert verdicts(kernel, modules)['dkms'] == (None, None)
    assert verdicts(kernel, modules)['invalid'] == (False, None)


def test_blacklisted_certificate(secure_boot: EfiRoot, modules: dict, signing_keys: dict) -> None:
    tbs_hash = bytes.fromhex(parse_certificate(signing_keys['dkms'].der).tbs_sha256)
    secure_boot.write('MokListXRT', SHIM_LOCK, signature_list(EFI_CERT_X509_SHA256, [tbs_hash + b'\0' * 16]))
    kernel = policy(secure_boot.root)
    assert kernel.as_fact()['trusted_keys'] == []
    fact, refused, reason, dummy = signature_verdict(modules['dkms'], kernel)
    assert (fact['trusted'], refused) == (False, True)
    assert 'blacklisted' in reason


@pytest.mark.parametrize('revocation_list', [False, True])
@pytest.mark.parametrize('secure_boot_on', [True, False])
def test_an_x509_revocation_entry_counts_only_with_the_revocation_list(
        efi: EfiRoot, modules: dict, signing_keys: dict, revocation_list: bool, secure_boot_on: bool) -> None:
    # The kernel hands an EFI_CERT_X509 entry of dbx to its revocation list, which exists only with
    # CONFIG_SYSTEM_REVOCATION_LIST=y (Debian 12 leaves it out): then whatever the certificate signed
    # is refused, enforced or not; else the entry changes nothing.
    efi.secure_boot(secure_boot_on)
    efi.mok_list([signing_keys['dkms'].der])
    with_cmdline(efi.root, 'root=/dev/vda1 ro quiet')
    efi.write('dbx', IMAGE_SECURITY_DATABASE, x509_lists([signing_keys['dkms'].der]), attributes=0x27)
    config = dict(DEBIAN, CONFIG_SYSTEM_REVOCATION_LIST='y') if revocation_list else dict(DEBIAN)
    kernel = policy(efi.root, config)
    fact, refused, reason, dummy = signature_verdict(modules['dkms'], kernel)
    if revocation_list:
        assert (fact['trusted'], refused) == (False, True)
        assert 'revocation list' in reason and 'whatever the policy' in reason
    elif secure_boot_on:
        assert (fact['trusted'], refused) == (True, False)
    else:
        assert (fact['trusted'], refused) == (False, False)   # no MOK without Secure Boot: loads, taints
    assert verdicts(kernel, modules)['second'][1] is (True if secure_boot_on else False)


def test_unreadable_blacklist_makes_trust_unknown(secure_boot: EfiRoot, modules: dict) -> None:
    secure_boot.write('dbx', IMAGE_SECURITY_DATABASE, b'\x01\x02')
    warn = Warnings()
    kernel = policy(secure_boot.root, warn=warn)
    assert verdicts(kernel, modules)['dkms'] == (None, None)
    # A key in no list stays untrusted whatever the blacklist says.
    assert verdicts(kernel, modules)['second'] == (False, True)
    assert kernel.as_fact()['trusted_keys'] is None
    assert any('dbx' in message for message in warn)


def test_db_trusted_for_modules_only_by_distribution_kernels(efi: EfiRoot, modules: dict, signing_keys: dict) -> None:
    efi.secure_boot(True)
    efi.write('db', IMAGE_SECURITY_DATABASE, x509_lists([signing_keys['dkms'].der]), attributes=0x27)
    with_cmdline(efi.root, 'quiet')
    assert verdicts(policy(efi.root), modules)['dkms'] == (True, False)
    assert policy(efi.root).as_fact()['trusted_keys'][0]['source'] == 'db'
    # Mainline does not enforce under Secure Boot, and does not trust db for modules.
    assert verdicts(policy(efi.root, VANILLA), modules)['dkms'] == (False, False)
    efi.write('MokIgnoreDB', SHIM_LOCK, b'\x01')
    assert verdicts(policy(efi.root), modules)['dkms'] == (False, True)


def test_mainline_trusts_mok_only_through_the_machine_keyring(secure_boot: EfiRoot, modules: dict) -> None:
    enforcing = dict(VANILLA, CONFIG_MODULE_SIG_FORCE='y', **IMA_SECURE_BOOT)
    assert verdicts(policy(secure_boot.root, enforcing), modules)['dkms'] == (False, True)
    secure_boot.write('MokListTrustedRT', SHIM_LOCK, b'\x01')
    assert verdicts(policy(secure_boot.root, enforcing), modules)['dkms'] == (True, False)


@pytest.mark.parametrize('maximum', [False, True])
def test_a_ca_restricted_machine_keyring_takes_only_ca_certificates(
        secure_boot: EfiRoot, ko_builder: KoBuilder, signing_keys: dict, tmp_path: Path, maximum: bool) -> None:
    # CONFIG_INTEGRITY_CA_MACHINE_KEYRING: restrict_link_by_ca() keeps a MOK certificate out of the
    # machine keyring unless it is a CA with keyCertSign (and, with _MAX, without digitalSignature);
    # mainline then has it in the platform keyring, which it does not trust for modules.
    config = dict(VANILLA, CONFIG_MODULE_SIG_FORCE='y', CONFIG_INTEGRITY_CA_MACHINE_KEYRING='y', **IMA_SECURE_BOOT)
    if maximum:
        config['CONFIG_INTEGRITY_CA_MACHINE_KEYRING_MAX'] = 'y'
    machine_ca = rsa_key(tmp_path, 'ca', '/CN=Machine CA', ['keyUsage=critical,keyCertSign'])
    both = rsa_key(tmp_path, 'both', '/CN=Signing CA', ['keyUsage=critical,keyCertSign,digitalSignature'])
    secure_boot.mok_list([signing_keys['dkms'].der, machine_ca.der, both.der])
    secure_boot.write('MokListTrustedRT', SHIM_LOCK, b'\x01')
    module = ko_builder.build_ko(tmp_path, 'hello')
    signed = dict((key.certificate.stem, read_module_signature(sign_module(module, key, tmp_path / (
        key.certificate.stem + '.ko')).read_bytes())) for key in (signing_keys['dkms'], machine_ca, both))
    kernel = policy(secure_boot.root, config)
    assert verdicts(kernel, signed) == {'mok': (False, True), 'ca': (True, False),
                                        'both': (False, True) if maximum else (True, False)}
    # A distribution kernel trusts the platform keyring for modules: the restriction moves, not drops.
    assert verdicts(policy(secure_boot.root, dict(config, CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT='y')), signed)['mok'] == (True, False)


def test_mok_list_split_over_continuations(secure_boot: EfiRoot, modules: dict, signing_keys: dict) -> None:
    secure_boot.mok_list([signing_keys['second'].der])
    secure_boot.mok_list([signing_keys['dkms'].der], name='MokListRT1')
    kernel = policy(secure_boot.root)
    assert verdicts(kernel, modules)['dkms'] == (True, False)
    assert len(kernel.as_fact()['trusted_keys']) == 2


def test_damaged_mok_list_is_unknown_with_a_warning(secure_boot: EfiRoot, modules: dict) -> None:
    secure_boot.write('MokListRT', SHIM_LOCK, b'\x00' * 30)
    warn = Warnings()
    kernel = policy(secure_boot.root, warn=warn)
    assert verdicts(kernel, modules)['dkms'] == (None, None)
    assert verdicts(kernel, modules)['unsigned'] == (False, True)
    assert any(message.startswith('MokListRT') for message in warn)


def test_builtin_certificate_of_a_self_built_kernel(efi: EfiRoot, modules: dict, signing_keys: dict) -> None:
    efi.secure_boot(False)
    with_cmdline(efi.root, 'module.sig_enforce=1')
    certs = efi.root / MODULES_DIR.lstrip('/') / 'build/certs'
    certs.mkdir(parents=True)
    (certs / 'signing_key.x509').write_bytes(signing_keys['dkms'].der)
    kernel = policy(efi.root)
    assert verdicts(kernel, modules)['dkms'] == (True, False)
    assert kernel.as_fact()['trusted_keys'][0]['source'] == 'builtin'


def test_dkms_certificate_state(secure_boot: EfiRoot, signing_keys: dict) -> None:
    fs = RootFS(str(secure_boot.root))
    cert = secure_boot.root / 'var/lib/dkms/mok.pub'
    cert.parent.mkdir(parents=True)
    cert.write_bytes(signing_keys['dkms'].der)
    warn = Warnings()
    fact = dkms_certificate_fact(fs, read_firmware_keys(fs, warn), warn)
    assert fact == {'path': '/var/lib/dkms/mok.pub', 'subject': 'CN=DKMS module signing key',
                    'issuer': 'CN=DKMS module signing key', 'serial': signing_keys['dkms'].serial,
                    'skid': signing_keys['dkms'].skid, 'sha256': hashlib.sha256(signing_keys['dkms'].der).hexdigest(),
                    'enrolled': True, 'pending': False}
    # dkms regenerated its key: the new certificate is neither enrolled nor pending.
    other = secure_boot.root / 'etc/dkms/other.pem'
    other.parent.mkdir(parents=True)
    other.write_bytes(b'-----BEGIN CERTIFICATE-----\n' + __import__('base64').encodebytes(signing_keys['second'].der)
                      + b'-----END CERTIFICATE-----\n')
    fact = dkms_certificate_fact(fs, read_firmware_keys(fs, warn), warn, '/etc/dkms/other.pem')
    assert (fact['enrolled'], fact['pending']) == (False, False)
    assert dkms_certificate_fact(fs, FirmwareKeys(), warn)['enrolled'] is None
    assert dkms_certificate_fact(fs, read_firmware_keys(fs, warn), warn, '/nowhere') is None
    cert.write_bytes(b'garbage')
    assert dkms_certificate_fact(fs, read_firmware_keys(fs, warn), warn) is None
    assert warn and 'mok.pub' in warn[-1]


def debian_configs() -> list[str]:
    return sorted(glob.glob('/usr/src/linux-headers-6.1.*-amd64/.config'))


@pytest.mark.skipif(not debian_configs(), reason='no Debian 6.1 kernel headers installed')
def test_a_real_debian_config_enforces_under_secure_boot(secure_boot: EfiRoot, modules: dict) -> None:
    with open(debian_configs()[-1]) as handle:
        config = parse_kconfig(handle.read())
    kernel = policy(secure_boot.root, config)
    assert (kernel.enforced, kernel.reason, kernel.lockdown) == (True, 'secure_boot', 'integrity')
    assert verdicts(kernel, modules) == verdicts(policy(secure_boot.root, DEBIAN), modules)


# CentOS 8.3's 4.18 kernel: the lockdown patches from before the lockdown LSM, no IMA arch policy.
RHEL8 = {'CONFIG_MODULE_SIG': 'y', 'CONFIG_MODULE_SIG_ALL': 'y', 'CONFIG_LOCK_DOWN_KERNEL': 'y',
         'CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT': 'y', 'CONFIG_INTEGRITY_PLATFORM_KEYRING': 'y',
         'CONFIG_LOAD_UEFI_KEYS': 'y', 'CONFIG_LSM': 'yama,integrity,selinux,bpf'}
RHEL8_RELEASE = '4.18.0-240.1.1.el8_3.x86_64'


def test_lockdown_before_the_lsm_refuses_unsigned_modules_under_secure_boot(
        secure_boot: EfiRoot, modules: dict) -> None:
    # Its lock_down.c locks the kernel down under Secure Boot (CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT),
    # and module_sig_check() then refuses what is not validly signed (EPERM), with one level only.
    with_cmdline(secure_boot.root, 'quiet', RHEL8_RELEASE)
    kernel = policy(secure_boot.root, RHEL8, release=RHEL8_RELEASE)
    assert (kernel.enforced, kernel.reason, kernel.lockdown) == (True, 'secure_boot', 'confidentiality')
    assert verdicts(kernel, modules)['unsigned'] == (False, True)
    assert verdicts(kernel, modules)['dkms'] == (True, False)   # MOK keys: through the platform keyring
    secure_boot.secure_boot(False)
    kernel = policy(secure_boot.root, RHEL8, release=RHEL8_RELEASE)
    assert (kernel.enforced, kernel.lockdown) == (False, 'none')
    # Any "lockdown" on its command line locks it down, whatever the value.
    for options in ('lockdown', 'lockdown=none'):
        with_cmdline(secure_boot.root, options, RHEL8_RELEASE)
        kernel = policy(secure_boot.root, RHEL8, release=RHEL8_RELEASE)
        assert (kernel.enforced, kernel.reason, kernel.lockdown) == (True, 'lockdown', 'confidentiality'), options


def test_kernels_before_5_17_read_mok_keys_without_secure_boot(
        efi: EfiRoot, modules: dict, signing_keys: dict) -> None:
    # load_uefi_certs() skips MOK lists without Secure Boot since 5.17 only; a distribution may
    # have backported that: whether an older kernel trusts a MOK key then is not known.
    efi.secure_boot(False)
    efi.mok_list([signing_keys['dkms'].der])
    with_cmdline(efi.root, 'module.sig_enforce=1', RHEL8_RELEASE)
    kernel = policy(efi.root, RHEL8, release=RHEL8_RELEASE)
    assert (kernel.enforced, kernel.reason) == (True, 'sig_enforce')
    assert verdicts(kernel, modules)['dkms'] == (None, None)
    assert '5.17' in signature_verdict(modules['dkms'], kernel)[2]
    assert verdicts(kernel, modules)['unsigned'] == (False, True)
    with_cmdline(efi.root, 'module.sig_enforce=1')
    assert verdicts(policy(efi.root), modules)['dkms'] == (False, True)


def test_since_5_17_no_mok_key_without_imas_secure_boot_query(
        secure_boot: EfiRoot, modules: dict, signing_keys: dict) -> None:
    # load_uefi_certs() asks arch_ima_get_secureboot() before it reads MokListXRT and MokListRT;
    # without CONFIG_IMA_SECURE_AND_OR_TRUSTED_BOOT that is a stub which says Secure Boot is off.
    config = dict(DEBIAN, CONFIG_IMA='n', CONFIG_IMA_ARCH_POLICY='n', CONFIG_IMA_SECURE_AND_OR_TRUSTED_BOOT='n',
                  CONFIG_SYSTEM_REVOCATION_LIST='y')
    secure_boot.write('MokNew', SHIM_LOCK, x509_lists([signing_keys['second'].der]), attributes=0x7)
    kernel = policy(secure_boot.root, config)
    assert (kernel.enforced, kernel.reason) == (True, 'secure_boot')    # the lockdown still enforces
    assert verdicts(kernel, modules)['dkms'] == (False, True)
    assert kernel.as_fact()['trusted_keys'] == [] and kernel.as_fact()['pending_keys'] == []
    # Nor is MokListXRT read: its X.509 entry revokes nothing, here a db key.
    secure_boot.mok_list([])
    secure_boot.write('db', IMAGE_SECURITY_DATABASE, x509_lists([signing_keys['dkms'].der]), attributes=0x27)
    secure_boot.write('MokListXRT', SHIM_LOCK, x509_lists([signing_keys['dkms'].der]))
    assert verdicts(policy(secure_boot.root, config), modules)['dkms'] == (True, False)
    assert verdicts(policy(secure_boot.root, dict(DEBIAN, CONFIG_SYSTEM_REVOCATION_LIST='y')), modules)['dkms'] == (
        False, True)
    # 7.1 asks a Secure Boot query of its own, which the 6.12 and 6.18 stable lines took from a
    # release not known here.
    secure_boot.write('db', IMAGE_SECURITY_DATABASE, b'', attributes=0x27)
    secure_boot.write('MokListXRT', SHIM_LOCK, b'')
    secure_boot.mok_list([signing_keys['dkms'].der])
    for release, verdict in (('7.1.0-1-amd64', (True, False)), ('6.12.57+deb13-amd64', (None, None)),
                             ('6.18.3-arch1-1', (None, None)), ('6.13.2-1-default', (False, True))):
        with_cmdline(secure_boot.root, 'quiet', release)
        kernel = policy(secure_boot.root, config, release=release)
        assert verdicts(kernel, modules)['dkms'] == verdict, release
        if verdict == (None, None):
            assert 'CONFIG_IMA_SECURE_AND_OR_TRUSTED_BOOT' in signature_verdict(modules['dkms'], kernel)[2]
            assert kernel.as_fact()['trusted_keys'] is None
    # Before 5.17 the kernel reads them without asking.
    rhel8 = dict(RHEL8, CONFIG_SYSTEM_REVOCATION_LIST='y')
    with_cmdline(secure_boot.root, 'quiet', RHEL8_RELEASE)
    assert verdicts(policy(secure_boot.root, rhel8, release=RHEL8_RELEASE), modules)['dkms'] == (True, False)


def test_before_5_13_a_blacklist_may_not_keep_a_mok_key_out(
        secure_boot: EfiRoot, modules: dict, signing_keys: dict) -> None:
    # Before 5.10 the kernel read MokListRT before dbx, before 5.13 no MokListXRT at all.
    tbs_hash = bytes.fromhex(parse_certificate(signing_keys['dkms'].der).tbs_sha256)
    secure_boot.write('dbx', IMAGE_SECURITY_DATABASE, signature_list(EFI_CERT_X509_SHA256, [tbs_hash + b'\0' * 16]),
                      attributes=0x27)
    assert verdicts(policy(secure_boot.root), modules)['dkms'] == (False, True)
    with_cmdline(secure_boot.root, 'quiet', RHEL8_RELEASE)
    kernel = policy(secure_boot.root, RHEL8, release=RHEL8_RELEASE)
    assert verdicts(kernel, modules)['dkms'] == (None, None)
    assert 'blacklisted' in signature_verdict(modules['dkms'], kernel)[2]


def test_lockdown_before_the_lsm_from_the_2017_patches(secure_boot: EfiRoot, modules: dict) -> None:
    # Ubuntu 18.04's name for it; those kernels load UEFI and MOK keys by patches of their own,
    # whose keyrings are not modelled: what only they could trust is unknown.
    config = {'CONFIG_MODULE_SIG': 'y', 'CONFIG_LOCK_DOWN_KERNEL': 'y', 'CONFIG_EFI_SECURE_BOOT_LOCK_DOWN': 'y',
              'CONFIG_LOAD_UEFI_KEYS': 'y'}
    kernel = policy(secure_boot.root, config)
    assert (kernel.enforced, kernel.reason, kernel.lockdown) == (True, 'secure_boot', 'confidentiality')
    assert verdicts(kernel, modules)['unsigned'] == (False, True)
    assert verdicts(kernel, modules)['dkms'] == (None, None)
    assert 'before 5.4' in signature_verdict(modules['dkms'], kernel)[2]


@pytest.mark.parametrize(('options', 'lockdown'), [
    ('lockdown=integrity lsm=apparmor', 'none'),          # the LSM never initialized: lockdown does nothing
    ('lockdown=integrity lsm=lockdown,apparmor', 'integrity'),
    ('lockdown=integrity lsm=lockdown lsm=yama', 'none'),  # the last lsm= counts
    ('lockdown=integrity', 'integrity'),                   # CONFIG_LSM names it
])
def test_the_lsm_order_decides_a_lockdown_lsm_that_is_not_early(efi: EfiRoot, options: str, lockdown: str) -> None:
    efi.secure_boot(False)
    with_cmdline(efi.root, options)
    config = dict(VANILLA, CONFIG_SECURITY_LOCKDOWN_LSM='y', CONFIG_LSM='landlock,lockdown,yama,apparmor')
    kernel = policy(efi.root, config)
    assert (kernel.lockdown, kernel.enforced) == (lockdown, lockdown != 'none')
    # Early, it is initialized whatever lsm= says.
    assert policy(efi.root, dict(config, CONFIG_SECURITY_LOCKDOWN_LSM_EARLY='y')).lockdown == 'integrity'


def test_secure_boot_lockdown_waits_on_an_unknown_lsm_order(secure_boot: EfiRoot, modules: dict) -> None:
    config = dict(DEBIAN, CONFIG_SECURITY_LOCKDOWN_LSM_EARLY='n', CONFIG_IMA_ARCH_POLICY='n',
                  CONFIG_IMA_SECURE_AND_OR_TRUSTED_BOOT='n')
    # CONFIG_LSM's default names lockdown.
    assert (policy(secure_boot.root, config).enforced, policy(secure_boot.root, config).lockdown) == (True, 'integrity')
    (secure_boot.root / ('boot/loader/entries/machine-%s.conf' % RELEASE)).unlink()
    kernel = policy(secure_boot.root, config)
    assert (kernel.enforced, kernel.lockdown) == (None, None)    # an lsm= may leave it out
    assert 'lsm=' in kernel.detail
    assert verdicts(kernel, modules)['unsigned'] == (False, None)
    kernel = policy(secure_boot.root, dict(config, CONFIG_SECURITY_LOCKDOWN_LSM_EARLY='y'))
    # Locked down at least to integrity, maybe further by a lockdown= the command line may hold.
    assert (kernel.enforced, kernel.reason, kernel.lockdown) == (True, 'secure_boot', None)


@pytest.mark.parametrize(('options', 'config', 'release', 'runtime'), [
    ('quiet', {}, RELEASE, True),
    ('efi=noruntime', {}, RELEASE, False),
    ('noefi', {}, RELEASE, False),
    ('efi=debug,noruntime efi=runtime', {}, RELEASE, True),
    ('quiet', {'CONFIG_EFI_DISABLE_RUNTIME': 'y'}, RELEASE, False),     # PREEMPT_RT's default
    ('efi=runtime', {'CONFIG_EFI_DISABLE_RUNTIME': 'y'}, RELEASE, True),
    # efi=runtime came with the realtime patches, upstream in 5.16: an older kernel passes over it.
    ('noefi efi=runtime', {}, '5.10.0-30-amd64', False),
    ('quiet', {'CONFIG_PREEMPT_RT': 'y'}, '5.10.0-30-rt-amd64', False),
    ('efi=runtime', {'CONFIG_PREEMPT_RT': 'y'}, '5.10.0-30-rt-amd64', True),
])
def test_without_efi_runtime_services_no_firmware_key_is_read(
        secure_boot: EfiRoot, modules: dict, options: str, config: dict, release: str, runtime: bool) -> None:
    # load_uefi_certs() returns before reading db or any MOK list; Secure Boot, which the EFI stub
    # read from boot services, still locks the kernel down.
    with_cmdline(secure_boot.root, options, release)
    kernel = policy(secure_boot.root, dict(DEBIAN, **config), release=release)
    assert (kernel.enforced, kernel.secure_boot) == (True, True)
    assert verdicts(kernel, modules)['dkms'] == ((True, False) if runtime else (False, True))


def test_efi_runtime_services_unknown_with_the_command_line(secure_boot: EfiRoot, modules: dict) -> None:
    (secure_boot.root / ('boot/loader/entries/machine-%s.conf' % RELEASE)).unlink()
    kernel = policy(secure_boot.root)
    assert (kernel.enforced, kernel.reason) == (True, 'secure_boot')
    assert verdicts(kernel, modules)['dkms'] == (None, None)
    assert 'runtime services' in signature_verdict(modules['dkms'], kernel)[2]
    assert verdicts(kernel, modules)['unsigned'] == (False, True)


def test_a_pending_change_of_shim_validation(secure_boot: EfiRoot, modules: dict) -> None:
    # mokutil --disable-validation: if it is confirmed at the next boot, the EFI stub sees
    # MokSBStateRT = 1 and Secure Boot off; until then nothing Secure Boot decides is known.
    secure_boot.write('MokSB', SHIM_LOCK, b'\x00' * 8, attributes=0x7)
    kernel = policy(secure_boot.root)
    assert (kernel.secure_boot, kernel.enforced, kernel.lockdown) == (None, None, None)
    assert 'MokSB' in kernel.detail
    assert verdicts(kernel, modules)['unsigned'] == (False, None)
    # Without Secure Boot in the firmware it changes nothing.
    secure_boot.secure_boot(False)
    assert policy(secure_boot.root).secure_boot is False


@pytest.mark.parametrize('request_name', ['MokDel', 'MokXNew'])
def test_a_pending_removal_or_revocation_of_the_key(secure_boot: EfiRoot, modules: dict, signing_keys: dict,
                                                    request_name: str) -> None:
    secure_boot.mok_list([signing_keys['dkms'].der, signing_keys['second'].der])
    secure_boot.write(request_name, SHIM_LOCK, x509_lists([signing_keys['second'].der]), attributes=0x7)
    assert verdicts(policy(secure_boot.root), modules)['dkms'] == (True, False)
    if request_name == 'MokXNew':   # revoked by the hash of its TBSCertificate as well
        tbs_hash = bytes.fromhex(parse_certificate(signing_keys['dkms'].der).tbs_sha256)
        request = signature_list(EFI_CERT_X509_SHA256, [tbs_hash + b'\0' * 16])
    else:
        request = x509_lists([signing_keys['dkms'].der])
    secure_boot.write(request_name, SHIM_LOCK, request, attributes=0x7)
    kernel = policy(secure_boot.root)
    assert verdicts(kernel, modules)['dkms'] == (None, None)
    assert 'pending request' in signature_verdict(modules['dkms'], kernel)[2]
    assert kernel.as_fact()['trusted_keys'] is None
    # One that cannot be read may name it.
    warn = Warnings()
    secure_boot.write(request_name, SHIM_LOCK, b'\x01\x02', attributes=0x7)
    assert verdicts(policy(secure_boot.root, warn=warn), modules)['dkms'] == (None, None)
    assert any(message.startswith(request_name) for message in warn)


def test_a_pending_reset_of_the_mok_list(secure_boot: EfiRoot, modules: dict, signing_keys: dict) -> None:
    # mokutil --reset leaves MokAuth without MokNew: MokManager offers "Reset MOK".
    secure_boot.write('MokAuth', SHIM_LOCK, b'\0' * 32, attributes=0x7)
    kernel = policy(secure_boot.root)
    assert verdicts(kernel, modules)['dkms'] == (None, None)
    assert 'reset of the MOK list' in signature_verdict(modules['dkms'], kernel)[2]
    # With MokNew it is an enrollment, which removes nothing.
    secure_boot.write('MokNew', SHIM_LOCK, x509_lists([signing_keys['second'].der]), attributes=0x7)
    assert verdicts(policy(secure_boot.root), modules)['dkms'] == (True, False)


@pytest.mark.parametrize('request_name', ['MokXDel', 'MokXAuth'])
def test_a_pending_request_that_lifts_mokx_entries(secure_boot: EfiRoot, modules: dict, signing_keys: dict,
                                                   request_name: str) -> None:
    tbs_hash = bytes.fromhex(parse_certificate(signing_keys['dkms'].der).tbs_sha256)
    secure_boot.write('MokListXRT', SHIM_LOCK, signature_list(EFI_CERT_X509_SHA256, [tbs_hash + b'\0' * 16]))
    assert verdicts(policy(secure_boot.root), modules)['dkms'] == (False, True)
    secure_boot.write(request_name, SHIM_LOCK, b'\0' * 32, attributes=0x7)
    assert verdicts(policy(secure_boot.root), modules)['dkms'] == (None, None)
    # A revocation in dbx stays.
    secure_boot.write('MokListXRT', SHIM_LOCK, b'')
    secure_boot.write('dbx', IMAGE_SECURITY_DATABASE, signature_list(EFI_CERT_X509_SHA256, [tbs_hash + b'\0' * 16]),
                      attributes=0x27)
    assert verdicts(policy(secure_boot.root), modules)['dkms'] == (False, True)
    # So does one on the revocation list from dbx; one from MokListXRT may be lifted.
    secure_boot.write('dbx', IMAGE_SECURITY_DATABASE, b'', attributes=0x27)
    secure_boot.write('MokListXRT', SHIM_LOCK, x509_lists([signing_keys['dkms'].der]))
    config = dict(DEBIAN, CONFIG_SYSTEM_REVOCATION_LIST='y')
    assert verdicts(policy(secure_boot.root, config), modules)['dkms'] == (None, None)


def test_a_pending_change_of_mok_trust(secure_boot: EfiRoot, modules: dict) -> None:
    # mokutil --untrust-mok: mainline takes MOK keys into the machine keyring only with MokListTrustedRT.
    enforcing = dict(VANILLA, CONFIG_MODULE_SIG_FORCE='y', **IMA_SECURE_BOOT)
    secure_boot.write('MokListTrustedRT', SHIM_LOCK, b'\x01')
    secure_boot.write('MokListTrustedNew', SHIM_LOCK, b'\x00' * 8, attributes=0x7)
    assert verdicts(policy(secure_boot.root, enforcing), modules)['dkms'] == (None, None)
    # A distribution kernel trusts them through the platform keyring either way.
    assert verdicts(policy(secure_boot.root), modules)['dkms'] == (True, False)


def test_a_pending_change_of_db_use(efi: EfiRoot, modules: dict, signing_keys: dict) -> None:
    efi.secure_boot(True)
    efi.write('db', IMAGE_SECURITY_DATABASE, x509_lists([signing_keys['dkms'].der]), attributes=0x27)
    with_cmdline(efi.root, 'quiet')
    efi.write('MokDB', SHIM_LOCK, b'\x00' * 8, attributes=0x7)
    assert verdicts(policy(efi.root), modules)['dkms'] == (None, None)


def test_a_db_key_is_not_revoked_by_its_tbs_hash(efi: EfiRoot, modules: dict, signing_keys: dict) -> None:
    # db goes to the platform keyring before dbx and MokListXRT fill the blacklist, which is
    # consulted only as a key is added; a MOK key, added after them, is kept out.
    efi.secure_boot(True)
    efi.write('db', IMAGE_SECURITY_DATABASE, x509_lists([signing_keys['dkms'].der]), attributes=0x27)
    tbs_hash = bytes.fromhex(parse_certificate(signing_keys['dkms'].der).tbs_sha256)
    efi.write('dbx', IMAGE_SECURITY_DATABASE, signature_list(EFI_CERT_X509_SHA256, [tbs_hash + b'\0' * 16]),
              attributes=0x27)
    with_cmdline(efi.root, 'quiet')
    assert verdicts(policy(efi.root), modules)['dkms'] == (True, False)
    efi.write('db', IMAGE_SECURITY_DATABASE, b'', attributes=0x27)
    efi.mok_list([signing_keys['dkms'].der])
    assert verdicts(policy(efi.root), modules)['dkms'] == (False, True)


def test_keys_compiled_in_from_config_system_trusted_keys(efi: EfiRoot, modules: dict, signing_keys: dict,
                                                          tmp_path: Path) -> None:
    # certs/x509_certificate_list: CONFIG_SYSTEM_TRUSTED_KEYS's certificates, DER one after another.
    efi.secure_boot(False)
    with_cmdline(efi.root, 'module.sig_enforce=1')
    certs = efi.root / MODULES_DIR.lstrip('/') / 'build/certs'
    certs.mkdir(parents=True)
    other = rsa_key(tmp_path, 'other', '/CN=Other', [])
    (certs / 'x509_certificate_list').write_bytes(other.der + signing_keys['dkms'].der)
    kernel = policy(efi.root)
    assert verdicts(kernel, modules)['dkms'] == (True, False)
    assert [key['subject'] for key in kernel.as_fact()['trusted_keys']] == ['CN=Other', 'CN=DKMS module signing key']
    # The kernel stops where the framing breaks, keeping those before.
    (certs / 'x509_certificate_list').write_bytes(other.der + b'\x30\x82\x00')
    kernel = policy(efi.root)
    assert [key['subject'] for key in kernel.as_fact()['trusted_keys']] == ['CN=Other']
    assert verdicts(kernel, modules)['dkms'] == (False, True)
    # An entry it may take that this reader cannot parse: the keys compiled in are not all known.
    (certs / 'x509_certificate_list').write_bytes(other.der + b'\x30\x82\x00\x03\x02\x01\x01')
    warn = Warnings()
    kernel = policy(efi.root, warn=warn)
    assert kernel.as_fact()['trusted_keys'] is None
    assert verdicts(kernel, modules)['dkms'] == (None, None)
    assert any('x509_certificate_list' in message and 'bytes %d' % len(other.der) in message for message in warn)


@pytest.fixture(scope='module')
def policy_variants(tmp_path_factory: pytest.TempPathFactory, signing_keys: dict) -> list[SignaturePolicy]:
    """A Secure Boot policy that trusts no key, then copies of it that differ in one field that
    signature_verdict reads (a copy of a certificate counts as another one)."""
    efi = EfiRoot(tmp_path_factory.mktemp('efi'))
    efi.secure_boot(True)
    with_cmdline(efi.root, 'quiet')
    base = policy(efi.root)
    dkms = parse_certificate(signing_keys['dkms'].der)
    changes = [
        ('checked', False), ('checked', None), ('enforced', False), ('enforced', None), ('detail', 'another detail'),
        ('trusted', [(dkms, 'MokListRT')]), ('trusted', [(copy.copy(dkms), 'MokListRT')]),
        ('trusted', [(dkms, 'builtin')]), ('revoked', [(dkms, 'dbx')]), ('unsure', [(dkms, 'MokListRT', 'why')]),
        ('gaps', ['MokListRT cannot be read']), ('pending', [dkms]), ('rejected', [dkms]), ('rejected', None),
        ('maybe_rejected', [dkms])]
    variants = [base]
    for name, value in changes:
        variants.append(copy.copy(base))
        setattr(variants[-1], name, value)
    return variants


SIGNATURES = ('dkms', 'second', 'dkms_skid', 'unsigned', 'damaged', 'invalid')


def hook_answers(check, modules: dict) -> dict:
    return dict((name, check(SimpleNamespace(signature=signature))) for name, signature in modules.items())


def fresh_answers(kernel: SignaturePolicy, modules: dict) -> dict:
    """What the signature hook answers without verdicts kept from other kernels."""
    return hook_answers(_signature_check(kernel, {}, {}), modules)


def test_kernels_share_signature_verdicts_only_where_their_policies_read_alike(
        policy_variants: list, modules: dict) -> None:
    base, *variants = policy_variants
    expected = fresh_answers(base, modules)
    for variant in variants:
        answers = fresh_answers(variant, modules)
        assert answers != expected  # what the key must tell apart
        verdicts = {}
        assert hook_answers(_signature_check(base, {}, verdicts), modules) == expected
        assert hook_answers(_signature_check(variant, {}, verdicts), modules) == answers
    # An equal policy, another object (each kernel has its own): judged once for both.
    verdicts = {}
    first = hook_answers(_signature_check(base, {}, verdicts), modules)
    again = hook_answers(_signature_check(copy.copy(base), {}, verdicts), modules)
    assert len(verdicts) == 1 and all(first[name] is again[name] for name in modules)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 15), st.sampled_from(sorted(SIGNATURES))), max_size=40))
def test_kept_signature_verdicts_are_those_worked_out_afresh(policy_variants: list, modules: dict, asks: list) -> None:
    shared = {}
    checks = [_signature_check(kernel, {}, shared) for kernel in policy_variants]
    for index, name in asks:
        info = SimpleNamespace(signature=modules[name])
        assert checks[index](info) == _signature_check(policy_variants[index], {}, {})(info)
