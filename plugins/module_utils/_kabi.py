# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""kABI verdicts: will a module built for one kernel load on another.

The loader's rules (kernel/module/version.c, kmod's depmod): the vermagic text after the
first space must match when the module has symbol versions (the whole string otherwise),
and every (symbol, CRC) the module imports, ``module_layout`` included, must be exported
by the target kernel with the same CRC, or by a module that is also available there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import io

from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError


class SymversError(Exception):
    """A symvers file that cannot be read or decompressed."""


def parse_symvers(text):
    """{symbol: crc} of a Module.symvers/symvers text; malformed lines are skipped."""
    exports = {}
    for line in text.splitlines():
        fields = line.split('\t')
        if len(fields) < 2:
            fields = line.split()
            if len(fields) < 2:
                continue
        try:
            exports[fields[1]] = int(fields[0], 16) & 0xffffffff
        except ValueError:
            continue
    return exports


def read_symvers(rootfs, path):
    """Parse the symvers file at the in-root ``path`` (plain, .gz or .xz)."""
    try:
        data = rootfs.read_bytes(path)
    except (OSError, RootPathError) as exc:
        raise SymversError('cannot read %s: %s' % (path, exc))
    try:
        if data[:2] == b'\x1f\x8b':
            data = gzip.GzipFile(fileobj=io.BytesIO(data)).read()
        elif data[:6] == b'\xfd7zXZ\x00':
            import lzma
            data = lzma.decompress(data)
    except Exception as exc:  # gzip/lzma raise several unrelated types on corrupt input
        raise SymversError('cannot decompress %s: %s' % (path, exc))
    return parse_symvers(data.decode('utf-8', 'replace'))


def vermagic_suffix(vermagic):
    """The part of a vermagic string after the kernel release ('SMP preempt ...')."""
    if vermagic is None:
        return None
    parts = vermagic.split(' ', 1)
    return parts[1] if len(parts) > 1 else ''


class Verdict:
    """Whether one module loads on one kernel, and why not."""

    __slots__ = ('missing', 'mismatched', 'vermagic')

    def __init__(self, missing, mismatched, vermagic):
        self.missing = missing          # imported symbols nobody on the kernel exports
        self.mismatched = mismatched    # exported with another CRC
        self.vermagic = vermagic        # True/False, None when the kernel's is unknown

    @property
    def compatible(self):
        return not self.missing and not self.mismatched and self.vermagic is not False

    def as_fact(self):
        return {'compatible': self.compatible, 'missing': self.missing,
                'mismatched': self.mismatched, 'vermagic': self.vermagic}


def judge(module, kernel_exports, kernel_vermagic, sibling_exports=None, kernel_release=None):
    """Verdict for the ModuleInfo ``module`` on a kernel.

    ``kernel_exports``: {symbol: crc} of the kernel's symvers. ``kernel_vermagic``: an
    in-tree module's vermagic string of that kernel, or None when unknown.
    ``sibling_exports``: symbols exported by modules of the same package that are
    available on the kernel too; their CRCs come from the same build, so names suffice.
    ``kernel_release``: compared with the whole vermagic of modules without versions.
    """
    sibling_exports = sibling_exports or frozenset()
    missing, mismatched = [], []
    for symbol, crc in module.versions:
        if symbol in kernel_exports:
            if kernel_exports[symbol] != crc:
                mismatched.append(symbol)
        elif symbol not in sibling_exports:
            missing.append(symbol)
    return Verdict(sorted(set(missing)), sorted(set(mismatched)),
                   _vermagic_matches(module, kernel_vermagic, kernel_release))


def _vermagic_matches(module, kernel_vermagic, kernel_release):
    if module.vermagic is None:
        return False
    if module.has_versions:
        expected = vermagic_suffix(kernel_vermagic)
        return None if expected is None else vermagic_suffix(module.vermagic) == expected
    if kernel_vermagic is not None:
        return module.vermagic == kernel_vermagic
    if kernel_release is not None:
        return module.vermagic.split(' ', 1)[0] == kernel_release
    return None


def vermagic_from_config(release, config):
    """A kernel's vermagic from its headers' config, for kernels with no module to read.

    Mirrors include/linux/vermagic.h for architectures without an arch-specific part
    (x86_64); returns None where the string cannot be derived (RANDSTRUCT seeds, other
    architectures), so the check is reported as unknown instead of guessed.
    """
    if config is None or config.get('CONFIG_X86_64') != 'y' or config.get('CONFIG_RANDSTRUCT') == 'y' \
            or config.get('CONFIG_GCC_PLUGIN_RANDSTRUCT') == 'y':
        return None
    words = [release]
    if config.get('CONFIG_SMP') == 'y':
        words.append('SMP')
    if config.get('CONFIG_PREEMPT_RT') == 'y':
        words.append('preempt_rt')
    elif config.get('CONFIG_PREEMPT_BUILD') == 'y' or config.get('CONFIG_PREEMPT') == 'y':
        words.append('preempt')
    if config.get('CONFIG_MODULE_UNLOAD') == 'y':
        words.append('mod_unload')
    if config.get('CONFIG_MODVERSIONS') == 'y':
        words.append('modversions')
    return ' '.join(words) + ' '


def parse_kconfig(text):
    """{CONFIG_X: value} of a .config or include/config/auto.conf text."""
    config = {}
    for line in text.splitlines():
        if line.startswith('CONFIG_') and '=' in line:
            key, value = line.split('=', 1)
            config[key] = value.strip().strip('"')
    return config
