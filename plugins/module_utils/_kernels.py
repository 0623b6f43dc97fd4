# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel finder: which kernels exist under a root, and what is known about each.

A directory under ``/lib/modules`` does not prove a kernel is installed: purging a kernel
package leaves ``updates/``, ``weak-updates/`` and ``modules.*`` behind. So every kernel
directory is judged by its evidence (image, in-tree modules, headers), and the kernel the
next boot uses is found the way the boot loader tooling finds it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import itertools
import os
import posixpath
import re
import stat
import sys
from collections.abc import Mapping

from ansible_collections.kabi.dkms.plugins.module_utils._commands import find_command
from ansible_collections.kabi.dkms.plugins.module_utils._blscfg import (
    EFI_GRUB, FEDORA30_GRUB, GRUBS, RHEL8_GRUB, RHEL9_GRUB, listing_orders, started_entry)
from ansible_collections.kabi.dkms.plugins.module_utils._efivars import EFI_DIR, EfiVariables
from ansible_collections.kabi.dkms.plugins.module_utils._grub_menu import (
    PASSWORD_VARIABLE, bls_default_value, parse_grub_menu, parse_grubenv)
from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import (
    RootPathError, has_other_line_ends, is_absent, is_text, remembered)
from ansible_collections.kabi.dkms.plugins.module_utils._uefi_boot import ESP_MOUNTS, find_loaders, next_program
from ansible_collections.kabi.dkms.plugins.module_utils._vercmp import compare_releases

# Both places kmod looks for module trees; with merged /usr they are one directory.
MODULE_BASES = ('/lib/modules', '/usr/lib/modules')
# Kernel image names: vmlinuz on most architectures, vmlinux (ppc64) and Image (arm64) on SUSE.
IMAGE_NAMES = ('vmlinuz', 'vmlinux', 'Image')
IN_TREE_FILES = ('modules.order', 'modules.builtin')
# The grub.cfg beside each grubenv, in the same order: what GRUB runs, so what it reads of grubenv.
GRUB_CONFIG_PATHS = ('/boot/grub2/grub.cfg', '/boot/grub/grub.cfg')
# The distribution release, whose GRUB lists BLS entries its own way.
OS_RELEASE_PATHS = ('/etc/os-release', '/usr/lib/os-release')
_PLATFORM_ID = LazyPattern(r'^PLATFORM_ID=(["\']?)platform:([a-z0-9]+)\1[ \t]*$', re.MULTILINE)
# Where a grub.cfg runs blscfg, and where it defines a menu entry.
_BLSCFG_LINE = LazyPattern(r'^[ \t]*blscfg\b', re.MULTILINE)
_ENTRY_LINE = LazyPattern(r'^[ \t]*(?:menuentry|submenu)\b', re.MULTILINE)
# user.cfg as grub2-setpassword writes it: one literal assignment of a PBKDF2 hash.
_PASSWORD_FILE = LazyPattern(r'\A(?:%s=grub\.pbkdf2\.[A-Za-z0-9.]+\n?)+\Z' % PASSWORD_VARIABLE)
# Links followed one to the next in GRUB's directory, as GRUB's file systems follow them.
MAX_GRUB_LINKS = 8
EFI_SYSTEM_PARTITION = '/boot/efi'
# The EFI system partition's vendor directories (RHEL 7 and 8 on EFI keep their only grub.cfg, and
# the grubenv /boot/grub2 links to, in /boot/efi/EFI/redhat).
EFI_VENDORS_DIR = EFI_SYSTEM_PARTITION + '/EFI'
# The EFI system partition's grub.cfg where it only hands over to /boot's, line by line: open an
# encrypted device, find the device (into $root or $dev, with hints such as lvmid/...), set $prefix
# (SUSE also its btrfs flag), export it, load a module; the last line runs $prefix/grub.cfg.
_STUB_LINE = LazyPattern(r"""^(?:search(?:\s+(?:--[a-z-]+|--set=(?:root|dev)|-[a-z]|[\w.:,()/-]+))+
                        |search\.(?:fs_uuid|fs_label|file)\s+\S+\s+(?:root|dev)(?:\s+[\w.:,()/-]+)*
                        |cryptomount\s+(?:-u\s+)?[\w-]+
                        |set\s+(?:prefix=\(\$\{?(?:root|dev)\}?\)'?(?:/boot)?/grub2?'?|btrfs_relative_path="?\w+"?)
                        |export\s+(?:\$prefix|\$\{prefix\}|prefix)
                        |insmod\s+\w+)$""", re.VERBOSE)
_HANDS_OVER = LazyPattern(r'^(?:configfile|source)\s+"?(?:\$prefix|\$\{prefix\})/grub\.cfg"?$')
# grub.cfg lists every kernel (a few KiB each on Debian, with its recovery entries).
GRUB_CONFIG_LIMIT = 4 * 1024 * 1024
BLS_ENTRIES_DIR = '/boot/loader/entries'
# What systemd-boot reads, where the EFI system partition is mounted (/boot/efi on Pop!_OS, /efi,
# /boot itself): its loader.conf and its entries.
SYSTEMD_BOOT_FILES = tuple('%s/loader/%s' % (esp, name) for esp in ESP_MOUNTS for name in ('loader.conf', 'entries'))
# Boot loader files are small (grubenv is 1 KiB); a larger one is not what it claims to be.
READ_LIMIT = 64 * 1024
# A distribution kernel's .config is about 300 KiB.
CONFIG_LIMIT = 4 * 1024 * 1024


def release_at_least(release, version):
    """Whether kernel ``release`` ('6.1.0-47-amd64') is upstream ``version`` ((5, 19)) or later;
    None when the release does not begin with major.minor."""
    parts = (release or '').split('.', 2)
    try:
        return (int(parts[0]), int(''.join(itertools.takewhile(str.isdigit, parts[1])))) >= version
    except (IndexError, ValueError):
        return None


_release_key = functools.cmp_to_key(compare_releases)


def sort_releases(releases):
    """Releases oldest first; releases rpm deems equal (``1.0`` and ``1_0``) in text order."""
    return sorted(releases, key=lambda release: (_release_key(release), release))


class Kernel:
    """What is known about one kernel release: plain data, no I/O."""

    __slots__ = ('release', 'modules_dir', 'installed', 'headers', 'running', 'default',
                 'symvers', 'image')

    def __init__(self, release, modules_dir, installed=False, headers=False,
                 running=False, default=False, symvers=None, image=None):
        self.release = release
        self.modules_dir = modules_dir
        self.installed = installed
        self.image = image      # the kernel image found (in /boot or the module directory), or None
        self.headers = headers
        self.running = running
        self.default = default
        self.symvers = symvers

    @property
    def stale(self):
        """A leftover directory: no image, no in-tree modules, no headers."""
        return not (self.installed or self.headers)

    def as_fact(self):
        return {
            'installed': self.installed,
            'stale': self.stale,
            'headers': self.headers,
            'running': self.running,
            'default': self.default,
            'symvers': self.symvers,
        }

    def __repr__(self):
        return 'Kernel(%r, %r, installed=%r, headers=%r, running=%r, default=%r, symvers=%r)' % (
            self.release, self.modules_dir, self.installed, self.headers, self.running,
            self.default, self.symvers)


def _first_file(rootfs, paths):
    for path in paths:
        if rootfs.isfile(path):
            return path
    return None


def inspect_kernel(rootfs, release, modules_dir):
    """A Kernel for the directory ``modules_dir``, judged by the evidence under root."""
    image = _first_file(rootfs, ['/boot/%s-%s' % (name, release) for name in IMAGE_NAMES]
                        + [posixpath.join(modules_dir, name) for name in IMAGE_NAMES])
    in_tree = (rootfs.isdir(posixpath.join(modules_dir, 'kernel'))
               or _first_file(rootfs, [posixpath.join(modules_dir, name)
                                       for name in IN_TREE_FILES]) is not None)
    symvers = _first_file(rootfs, [
        '/boot/symvers-%s.gz' % release,
        '/boot/symvers-%s.xz' % release,
        posixpath.join(modules_dir, 'symvers.gz'),
        posixpath.join(modules_dir, 'symvers.xz'),
        posixpath.join(modules_dir, 'build', 'Module.symvers'),
    ])
    return Kernel(
        release, modules_dir,
        installed=image is not None or in_tree,
        headers=rootfs.isdir(posixpath.join(modules_dir, 'build', 'include')),
        symvers=symvers,
        image=image,
    )


def _module_dirs(rootfs, warn):
    """(release, in-root directory) for every kernel directory, each base read once."""
    seen_bases = set()
    for base in MODULE_BASES:
        try:
            resolved = rootfs.resolve(base)
        except RootPathError as exc:
            warn('cannot resolve %s: %s' % (base, exc))
            continue
        if resolved in seen_bases or not rootfs.isdir(base):
            continue
        seen_bases.add(resolved)
        try:
            names = rootfs.listdir(base)
        except (OSError, RootPathError) as exc:
            warn('cannot list %s: %s' % (base, exc))
            continue
        for name in names:
            path = posixpath.join(base, name)
            # Files, dangling links and links that loop are not kernels.
            if not rootfs.isdir(path):
                continue
            if not is_text(name):
                warn('skipping %r under %s: the name does not decode as %s'
                     % (name, base, sys.getfilesystemencoding()))
                continue
            try:
                rootfs.listdir(path)
            except (OSError, RootPathError) as exc:
                # Without reading it, nothing can be said about the kernel.
                warn('cannot read %s: %s' % (path, exc))
                continue
            yield name, path


def find_kernels(rootfs, warn):
    """Every kernel directory under root, as ``{release: Kernel}``.

    ``warn(msg)`` is called once for each item that cannot be read. When both module
    bases hold the same release as separate directories, an installed one wins over a
    leftover, then ``/lib/modules`` over ``/usr/lib/modules``.
    """
    kernels = {}
    for release, modules_dir in _module_dirs(rootfs, warn):
        kernel = inspect_kernel(rootfs, release, modules_dir)
        known = kernels.get(release)
        if known is None or (kernel.installed and not known.installed):
            kernels[release] = kernel
    return kernels


def running_release(rootfs):
    """The running kernel's release; None when root is not the running system."""
    if rootfs.root != '/':
        return None
    return os.uname().release


def _release_from_image(path):
    """``K`` from a kernel image path such as ``/boot/vmlinuz-K``, else None."""
    name = posixpath.basename(path.strip())
    for image in IMAGE_NAMES:
        if name.startswith(image + '-') and len(name) > len(image) + 1:
            return name[len(image) + 1:]
    return None


def _read_small_text(rootfs, path, warn, limit=READ_LIMIT):
    """Text of a small boot loader file, or None when it cannot be read (a warning unless it
    is simply not there)."""
    try:
        return rootfs.read_text(path, limit)
    except (OSError, RootPathError) as exc:
        if not is_absent(exc):
            warn('cannot read %s: %s' % (path, exc))
        return None


def _grubby_default(runner):
    grubby = find_command('grubby')
    if grubby is None:
        return None
    try:
        rc, out, dummy = runner([grubby, '--default-kernel'])
    except OSError:
        return None
    return _release_from_image(out) if rc == 0 and out.strip() else None


def read_grubenv(rootfs, path, warn):
    """The variables of a GRUB environment block (none when it is not there, or not one), None
    when it cannot be read (a warning)."""
    text = _read_small_text(rootfs, path, warn)
    if text is None:
        return {} if file_state(rootfs, path) == 'missing' else None
    return parse_grubenv(text)


def read_grub_config(rootfs, warn):
    """``(path, text)`` of the grub.cfg GRUB runs, ``(None, None)`` without one; the text is None
    when it is there but cannot be read, or which one runs is not told (a warning each).

    That is the first of GRUB_CONFIG_PATHS, unless the EFI system partition's vendor directories
    hold one that is more than a stub handing over to it (``configfile``): then, on a machine
    booted with EFI, or when there is no other, the one of the EFI system partition (RHEL 7 and 8
    keep their only grub.cfg there; an old one in /boot/grub2 does not run).
    """
    standard = next((path for path in GRUB_CONFIG_PATHS if file_state(rootfs, path) != 'missing'), None)
    vendors = _efi_grub_configs(rootfs)
    # /sys/firmware/efi is there only on a machine booted with EFI, efivarfs mounted or not.
    booted_with_efi = True if rootfs.isdir(EFI_DIR) else EfiVariables(rootfs).available
    if vendors is None and booted_with_efi is not False:
        warn('which grub.cfg GRUB runs is not told: %s cannot be listed' % EFI_VENDORS_DIR)
        return EFI_VENDORS_DIR, None
    if vendors and booted_with_efi is not False and (booted_with_efi or standard is None):
        if len(vendors) > 1:
            warn('which grub.cfg GRUB runs is not told: the EFI system partition has %d (%s)'
                 % (len(vendors), ', '.join(vendors)))
            return vendors[0], None
        return vendors[0], _read_small_text(rootfs, vendors[0], warn, GRUB_CONFIG_LIMIT)
    if vendors and booted_with_efi is None:
        warn('which grub.cfg GRUB runs is not told: %s, or %s on the EFI system partition (how the machine boots '
             'is not told)' % (standard, ', '.join(vendors)))
        return standard, None
    if standard is None:
        return None, None
    return standard, _read_small_text(rootfs, standard, warn, GRUB_CONFIG_LIMIT)


def grub_config(rootfs, warn, cache):
    """``read_grub_config`` and the GrubMenu of the text (None without one, see parse_grub_menu)
    as ``(path, text, menu)``, read once per root: ``cache`` is a dict kept for the boot files of
    one root, which the readers of the default kernel and of its command line share."""
    return remembered(cache, 'grub.cfg', lambda key: _read_grub_menu(rootfs, warn))


def _read_grub_menu(rootfs, warn):
    path, text = read_grub_config(rootfs, warn)
    return path, text, parse_grub_menu(text) if text else None


def grub_files(rootfs, grub_path, warn, cache):
    """``grub_directory`` of the directory of ``grub_path``, once per root (see grub_config)."""
    return remembered(cache, 'grub directory', lambda key: grub_directory(rootfs, posixpath.dirname(grub_path), warn))


def bls_entries(rootfs, warn, cache):
    """``read_bls_entries``, once per root (see grub_config)."""
    return remembered(cache, 'bls entries', lambda key: read_bls_entries(rootfs, warn))


def _efi_grub_configs(rootfs):
    """The grub.cfg files of the EFI system partition's vendor directories that are more than a
    stub (see ``_is_stub``); None when the directory is there but cannot be listed."""
    try:
        vendors = rootfs.listdir(EFI_VENDORS_DIR)
    except (OSError, RootPathError) as exc:
        return [] if is_absent(exc) else None
    found = []
    for name in vendors:
        path = posixpath.join(EFI_VENDORS_DIR, name, 'grub.cfg')
        if file_state(rootfs, path) == 'missing':
            continue
        text = _read_small_text(rootfs, path, lambda message: None, READ_LIMIT)
        if text is None or not _is_stub(text):
            found.append(path)
    return found


def _is_stub(text):
    """Whether a grub.cfg only finds /boot's and hands over to it, line by line as Fedora's,
    RHEL 9's, Debian's and SUSE's on the EFI system partition do, and nothing else."""
    lines = [line.strip() for line in text.split('\n') if line.strip() and not line.lstrip().startswith('#')]
    return bool(lines) and _HANDS_OVER.match(lines[-1]) is not None and \
        all(_STUB_LINE.match(line) for line in lines[:-1])


def grub_directory(rootfs, directory, warn):
    """``(environment, file state)`` of GRUB's directory (``$prefix``) ``directory``: the
    variables of its grubenv (``read_grubenv``), and a function that tells ``file_state`` of
    a file there by name, ``'password'`` for what grub2-setpassword writes (user.cfg, which
    RHEL's grub.cfg sources: it only sets GRUB2_PASSWORD). A file GRUB may not find as Linux
    does is not told (None): a link to another directory may lead onto another file system
    (the EFI system partition, / from a /boot of its own), which GRUB's drivers cannot follow,
    and GRUB reads an absolute one from the root of /boot's."""
    def reachable(name):
        path = posixpath.join(directory, name)
        for dummy in range(MAX_GRUB_LINKS):
            try:
                if not rootfs.islink(path):
                    return path
                target = rootfs.readlink(path)
            except (OSError, RootPathError):
                return path     # what is wrong with it is told when it is read
            if '/' in target:
                return None
            path = posixpath.join(directory, target)
        return None

    def state(name):
        path = reachable(name)
        found = file_state(rootfs, path) if path else None
        if found == 'present' and _PASSWORD_FILE.match(_read_small_text(rootfs, path, lambda message: None) or ''):
            return 'password'
        return None if found == 'other' else found     # what GRUB's tests make of a directory is not followed

    grubenv = reachable('grubenv')
    return read_grubenv(rootfs, grubenv, warn) if grubenv else None, state


def default_menu_entry(rootfs, grub_path, menu, warn, cache):
    """``(MenuEntry or None, from grubenv, why not told)`` of the entry GRUB's menu (the GrubMenu
    of ``grub_path``) starts by default: ``from grubenv`` when the environment block's next_entry
    or saved_entry names it; the entry None when that cannot be told for sure, and why. Once per
    root: ``cache`` as for grub_config."""
    return remembered(cache, 'default menu entry', lambda key: _default_menu_entry(rootfs, grub_path, menu, warn, cache))


def _default_menu_entry(rootfs, grub_path, menu, warn, cache):
    directory = posixpath.dirname(grub_path)
    value, from_grubenv, certain = menu.default_value(*grub_files(rootfs, grub_path, warn, cache))
    # Only Debian's GRUB keeps its files in /boot/grub: elsewhere Red Hat's may be the one that reads the default.
    entry, known = menu.default_entry(value, red_hat_too=directory != '/boot/grub') if certain else (None, False)
    if known:
        return entry, from_grubenv, None
    return None, False, menu.reason or (
        'its default depends on what grub.cfg does out of sight (a condition, a function, a sourced file)'
        if not certain else 'the entry it names may be another one (a condition, a variable in a title)')


def _menu_default(rootfs, grub_path, menu, kernels, warn, cache):
    """``(release, source)`` of the kernel the entry GRUB's menu starts by default boots:
    ``grubenv`` when the environment block's next_entry or saved_entry names the entry, else
    ``grub``; ``(None, None)`` when that entry boots no kernel under root, or cannot be told
    for sure (a warning says why)."""
    entry, from_grubenv, problem = default_menu_entry(rootfs, grub_path, menu, warn, cache)
    if problem:
        warn('%s: which entry GRUB starts next is not told: %s' % (grub_path, problem))
    release = _release_from_image(entry.image) if entry and entry.image else None
    if release in kernels:
        return release, 'grubenv' if from_grubenv else 'grub'
    return None, None


def file_state(rootfs, path):
    """``'missing'`` (a dangling link too), ``'empty'`` or ``'present'`` of a regular file,
    ``'other'`` for what is no regular file (a directory, a FIFO), None when it cannot be told."""
    try:
        found = rootfs.stat(path)
    except (OSError, RootPathError) as exc:
        return 'missing' if is_absent(exc) else None
    if not stat.S_ISREG(found.st_mode):
        return 'other'
    return 'present' if found.st_size else 'empty'


def read_bls_entries(rootfs, warn):
    """``{entry id: BlsEntry}`` of the BLS entries under root; None for a file that is there but
    cannot be read (a warning), and ``{'': None}`` when the directory cannot be listed. What is no
    file (a directory, a FIFO, a dangling link) GRUB cannot open either, and lists nothing for."""
    try:
        names = rootfs.listdir(BLS_ENTRIES_DIR)
    except (OSError, RootPathError) as exc:
        if is_absent(exc):
            return {}
        warn('cannot list %s: %s' % (BLS_ENTRIES_DIR, exc))
        return {'': None}   # entries that may be there, none of them read
    entries = {}
    for name in names:
        if not name.endswith('.conf') or name.startswith('.'):
            continue
        path = posixpath.join(BLS_ENTRIES_DIR, name)
        state = file_state(rootfs, path)
        if state in ('missing', 'other'):
            continue
        text = _read_small_text(rootfs, path, warn) if state is not None else None
        entries[name[:-len('.conf')]] = BlsEntry(text) if text is not None else None
    return entries


class BlsEntry(object):
    """A BLS entry file as boot loaders read it: ``lines``, ``{key: [values in file order]}`` of
    every line that has a value (systemd-boot reads them all); ``blscfg``, ``{key: its first
    value}`` as GRUB's blscfg reads the file: each line up to a NUL, carriage returns dropped,
    leading blanks and ``#`` lines skipped, the key cut at the first space (else tab) and the
    blanks after it, and no line read past one with nothing after its key (a blank line)."""

    def __init__(self, text):
        self.lines = {}
        for line in text.splitlines():
            words = line.strip().split(None, 1)
            if len(words) == 2 and not words[0].startswith('#'):
                self.lines.setdefault(words[0], []).append(words[1].strip())
        self.blscfg = {}
        for line in text.split('\n'):
            line = line.split('\0', 1)[0].replace('\r', '').lstrip(' \t')     # C strings
            if line.startswith('#'):
                continue
            cut = line.find(' ') if ' ' in line else line.find('\t')
            if cut < 0 or cut == len(line) - 1:
                break
            key, value = line[:cut], line[cut + 1:].lstrip(' \t')
            if key not in self.blscfg:
                # The same text as the first line's, most often: kept once.
                same = self.lines.get(key, [None])[0]
                self.blscfg[key] = same if same == value else value

    def release(self):
        """The kernel release the entry boots (every line read), or None."""
        return _entry_release(self.lines.get('linux', [None])[0], self.lines.get('version', [None])[0])

    def blscfg_release(self):
        """The kernel release GRUB's blscfg has the entry boot, or None; blscfg lists no entry
        without a ``linux`` key."""
        return _entry_release(self.blscfg.get('linux', '').strip(), self.blscfg.get('version', '').strip())


def _entry_release(linux, version):
    release = _release_from_image(linux) if linux else None
    # systemd-boot's layout (/MACHINE-ID/K/linux) names the kernel only in `version`.
    return release or version or None


def grub_lists_bls_entries(rootfs, warn, cache):
    """Whether the grub.cfg GRUB runs is read and runs blscfg, which lists the BLS entries (RHEL 8
    and later, Fedora; not with GRUB_ENABLE_BLSCFG=false); once per root (see grub_config)."""
    text = grub_config(rootfs, warn, cache)[1]
    return remembered(cache, 'lists BLS entries', lambda key: text is not None and _BLSCFG_LINE.search(text) is not None)


def _bls_default(rootfs, grub_path, text, menu, entries, kernels, warn, cache):
    """``(release, source)`` of the kernel the entry GRUB starts by default boots, where grub.cfg
    lists BLS entries (``entries``: the BlsEntry of each, see read_bls_entries): ``grubenv`` when
    the environment block names the entry, else ``bls`` (``grub`` for an entry of grub.cfg's
    own); ``(None, None)`` when that entry boots no kernel under root (a rescue entry, one left by
    a removed kernel), or cannot be told for sure."""
    if grub_path is None or None in entries.values():
        # Without a grub.cfg another boot loader (systemd-boot) picks one by rules of its own; an
        # entry that cannot be read may be the one.
        return None, None
    value, from_grubenv, certain = bls_default_value(text, *grub_files(rootfs, grub_path, warn, cache))
    blscfg = _BLSCFG_LINE.search(text)
    if not certain or blscfg is None or _ENTRY_LINE.search(text, 0, blscfg.start()) is not None:
        return None, None   # the default not told, or grub.cfg may list entries of its own first
    fields = dict((entry_id, entry.blscfg) for entry_id, entry in entries.items())
    if any('.conf' in entry_id for entry_id, found in fields.items() if 'linux' in found):
        return None, None   # blscfg never ends its search for ".conf" in such a name
    orders = listing_orders(fields, _red_hat_grubs(rootfs, warn)).values()
    # GRUB's own entries come after the BLS ones (30_uefi-firmware's, 40_custom's): the entry
    # started is told when it is the same whether the entries in conditions are there or not.
    own = menu.entries if menu is not None else []
    variants = (own, [entry for entry in own if not entry.conditional])
    started = set(started_entry(order, fields, own_entries, value) for order in orders for own_entries in variants)
    if len(started) != 1 or None in started:
        return None, None
    what, named = started.pop()
    from_value = named and from_grubenv
    if isinstance(what, str):
        release, source = entries[what].blscfg_release(), 'grubenv' if from_value else 'bls'
    else:   # an entry of grub.cfg's own
        image = what.image if what.children is None else None
        release, source = _release_from_image(image) if isinstance(image, str) else None, 'grubenv' if from_value else 'grub'
    return (release, source) if release in kernels else (None, None)


def _red_hat_grubs(rootfs, warn):
    """The GRUBs (see _blscfg.GRUBS) that may run, as os-release's last PLATFORM_ID tells: RHEL 8's
    (and its rebuilds'), RHEL 9's, RHEL 10's or Fedora's of that release; any of them when it
    does not tell."""
    text = None
    for path in OS_RELEASE_PATHS:
        text = _read_small_text(rootfs, path, warn)
        if text is not None:
            break
    found = _PLATFORM_ID.findall(text or '')
    platform = found[-1][1] if found else ''
    fedora = int(platform[1:]) if platform[:1] == 'f' and platform[1:].isdigit() else None
    if platform == 'el8' or fedora in (28, 29):
        return (RHEL8_GRUB,)
    if fedora == 30:
        return (FEDORA30_GRUB,)
    if platform == 'el9' or fedora is not None and 31 <= fedora < 45:
        return (RHEL9_GRUB,)
    if platform == 'el10':
        return (RHEL9_GRUB, EFI_GRUB)   # 10.0's, and the later ones'
    if fedora is not None and fedora >= 45:
        return (EFI_GRUB,)
    return GRUBS


def find_default(rootfs, kernels, runner=None, warn=None, cache=None):
    """The kernel the next boot uses and how it was found: ``(release, source)``.

    Sources: ``systemd-boot`` where it is the boot loader that starts (see systemd_boot_starts and
    _systemd_boot), else ``grubby`` (only on the running system, through ``runner(argv) -> (rc,
    stdout, stderr)``, when it names a release in ``kernels``), else where grub.cfg lists BLS entries
    (Red Hat's blscfg): ``grubenv`` (the environment block's
    ``next_entry``, or its ``saved_entry`` where grub.cfg boots it, names the entry), ``bls``
    (the entry grub.cfg's ``default`` names, or the first listed). Else a grub.cfg menu decides:
    ``grubenv`` (next_entry or saved_entry naming a menu entry), ``grub`` (the entry its
    ``default`` names, or its first). Without a grub.cfg, BLS entries or systemd-boot's files,
    ``newest`` (the newest installed kernel with an image; the newest installed one when no
    image is found).
    ``(None, None)`` when nothing tells, or the default entry boots no kernel under root or
    cannot be told for sure (grub.cfg unreadable or without a menu, too many entries, an entry in
    a condition counted past, BLS entries or systemd-boot's files without a loader whose choice
    is read).
    ``warn(msg)`` hears of boot loader files that exist but cannot be read; ``cache`` as for
    grub_config.
    """
    warn = warn or (lambda message: None)
    cache = {} if cache is None else cache
    entries = bls_entries(rootfs, warn, cache)
    grub_path, text, menu = grub_config(rootfs, warn, cache)
    loader, starts = systemd_boot_starts(rootfs, warn, cache)
    if loader is not None and starts is None:
        warn('systemd-boot: which kernel starts next is not told: %s is there too, and %s' % (
            grub_path, "the firmware's boot options (BootNext, BootOrder) do not tell which of the two it starts"
            if loader.loaders else 'its loader cannot be read: %s' % loader.problem))
        return None, None
    if starts:
        return _systemd_boot_release(loader.default, loader.problem, kernels, warn)
    if runner is not None and rootfs.root == '/':
        release = _grubby_default(runner)
        if release in kernels:
            return release, 'grubby'
    if grub_path is not None and text is None:
        return None, None   # GRUB's menu is there, unread
    if entries and (grub_path is None or grub_lists_bls_entries(rootfs, warn, cache)):
        return _bls_default(rootfs, grub_path, text, menu, entries, kernels, warn, cache)
    if menu is not None:
        return _menu_default(rootfs, grub_path, menu, kernels, warn, cache)
    if grub_path is not None:
        return None, None   # a grub.cfg without a menu: GRUB stops at its prompt
    if any(rootfs.exists(path) for path in SYSTEMD_BOOT_FILES):
        return None, None   # systemd-boot (on the EFI system partition) picks one by rules of its own
    installed = [release for release, kernel in kernels.items() if kernel.installed]
    # GRUB's menu lists images: in-tree modules left behind by a removed image boot nothing.
    bootable = [release for release in installed if kernels[release].image] or installed
    if bootable:
        return sort_releases(bootable)[-1], 'newest'
    return None, None


def systemd_boot_starts(rootfs, warn, cache):
    """``(SystemdBoot or None, starts)``: what systemd-boot's files tell (see read_systemd_boot),
    and whether it is the boot loader that starts next: True without a grub.cfg, else as the
    firmware's boot options tell (switching to systemd-boot leaves GRUB's files behind); False
    without it or where GRUB starts; None when not told. Once per root (see grub_config)."""
    def decide(_key):
        found = find_loaders(rootfs, warn)
        if found == ([], None):
            return None, False
        # Imported only where systemd-boot is installed: AnsiballZ compiles what a module imports
        # on every run, and most hosts never need its reader.
        from ansible_collections.kabi.dkms.plugins.module_utils._systemd_boot import read_systemd_boot
        reading = read_systemd_boot(rootfs, warn, found)
        if reading is None:
            return None, False
        if grub_config(rootfs, warn, cache)[0] is None:
            return reading, True
        program, version = next_program(rootfs, reading.loaders[0].esp, reading.loaders[0].arch) if reading.loaders else (None, None)
        if program == 'systemd-boot' and version not in [loader.version for loader in reading.loaders]:
            return reading, None    # another copy of it (shim's second stage), whose rules may differ
        return reading, {'systemd-boot': True, 'grub': False}.get(program)
    return remembered(cache, 'systemd-boot', decide)


def systemd_boot_entry_release(entry):
    """The kernel release a systemd-boot Entry boots, or None."""
    return _entry_release(entry.linux, entry.version) or entry.image_release


def _systemd_boot_release(entry, problem, kernels, warn):
    release = systemd_boot_entry_release(entry) if entry is not None else None
    if release in kernels:
        return release, 'systemd-boot'
    if problem is None:
        problem = 'its entry %s boots %s' % (entry.id, 'kernel %s, not installed under root' % release
                                             if release else 'a kernel it does not name (no version line, an image '
                                             'named without its release)')
    warn('systemd-boot: which kernel it starts next is not told: %s' % problem)
    return None, None


def gather_kernels(rootfs, warn, runner=None, cache=None):
    """The kernel finder in one call: ``(kernels, running, default, default_source)``.

    ``kernels`` is ``{release: Kernel}`` with ``running`` and ``default`` set; ``running``
    is reported even when the running kernel has no module directory under root. ``cache`` as
    for grub_config.
    """
    kernels = find_kernels(rootfs, warn)
    running = running_release(rootfs)
    default, source = find_default(rootfs, kernels, runner, warn, cache)
    if running in kernels:
        kernels[running].running = True
    if default is not None:
        kernels[default].default = True
    return kernels, running, default, source


def parse_kconfig(text):
    """{CONFIG_X: value} of a .config or include/config/auto.conf text."""
    config = {}
    for line in text.splitlines():
        if line.startswith('CONFIG_') and '=' in line:
            key, value = line.split('=', 1)
            config[key] = value.strip().strip('"')
    return config


_ABSENT = object()
_UNASKED = object()     # what KernelConfig answers an option it has not looked for yet
# A line parse_kconfig reads as an option, and one it may (each after the newline before it).
_OPTION_LINE = re.compile('\nCONFIG_[^\n]*=')
# [(KernelConfig, its text)] of the configs that hold their text, the one asked last at the end:
# two, a kernel's and the one its weak links were built for, asked in turn (each some 250 KiB).
_WHOLE = []
WHOLE_KEPT = 2


class KernelConfigGone(Exception):
    """A config let go that cannot be read again, or that is not what it was when first read."""


def _digest(text):
    """What tells two config texts apart, for a tenth of a SHA-256's cost: Python's hash, keyed at
    random in each process (unless PYTHONHASHSEED fixes it), so no file can be made to match."""
    return len(text), hash(text)


class KernelConfig(Mapping):
    """``parse_kconfig`` of a config text, read one option at a time.

    A distribution kernel's config sets 6,000 to 10,000 options, and a host has one per kernel;
    the facts' rules ask each kernel for about 10, while they judge it. Parsed whole, every kernel
    would cost some 5 ms and 0.6 MiB for the run: each option asked for is found in the text
    instead, by its last line, as ``parse_kconfig`` keeps it, and its value kept. Only the configs
    asked last (WHOLE_KEPT) hold their text, so a host of many kernels does not keep them all: one
    let go reads its file again (``reread()`` gives the text, or raises OSError or RootPathError)
    when it is asked what it was not asked before, which is rare, rather than keep a copy; a text
    read again that is not the one first read (by its hash) is refused (KernelConfigGone). Only a
    dkms.conf that sources the config (or anything that lists the options) has them all parsed.
    """

    def __init__(self, text, reread):
        self._reread = reread
        self._digest = _digest(text)    # what is read again must be this text: answers come from one
        self._answers = {}
        self._table = None
        held = self._hold(text)    # a config is asked for its options soon after it is read
        for config, other in _WHOLE[:-1]:
            if other == held:
                # The configs of one kernel build (a kABI stream's updates) are one text: each
                # option is found once for all of them.
                self._answers = config._answers
                break

    def _hold(self, text):
        """Keep ``text`` as the config asked last, letting go of the one asked longest ago."""
        if has_other_line_ends(text):
            text = '\n'.join(text.splitlines())
        _WHOLE.append((self, '\n' + text))     # each line after a newline
        if len(_WHOLE) > WHOLE_KEPT:
            del _WHOLE[0]
        return _WHOLE[-1][1]

    def _text(self):
        """The text, read again when it was let go; raises KernelConfigGone when it cannot be."""
        for index, (config, text) in enumerate(_WHOLE):
            if config is self:
                _WHOLE.append(_WHOLE.pop(index))
                return text
        try:
            text = self._reread()
        except (OSError, RootPathError) as exc:
            raise KernelConfigGone('its kernel config cannot be read again: %s' % exc)
        if _digest(text) != self._digest:
            # Rewritten meanwhile (a package update), or caught half-written.
            raise KernelConfigGone('its kernel config changed since it was first read')
        return self._hold(text)

    def hold(self):
        """Hold the text as the config asked last, read again if it was let go; raises
        KernelConfigGone when it cannot be."""
        self._text()

    def get(self, key, default=None):
        if self._table is not None:
            return self._table.get(key, default)
        value = self._answers.get(key, _UNASKED)
        if value is _UNASKED:
            value = self._answers[key] = self._find(key)
        return default if value is _ABSENT else value

    def _find(self, key):
        """The value of ``key`` on its last line, _ABSENT when no line sets it."""
        if not isinstance(key, str) or not key.startswith('CONFIG_') or '=' in key or key.splitlines() != [key]:
            return _ABSENT  # no line's text before its first "=" is such a key
        text = self._text()
        at = text.rfind('\n%s=' % key)
        if at < 0:
            return _ABSENT
        start = at + len(key) + 2
        end = text.find('\n', start)
        return text[start:end if end >= 0 else len(text)].strip().strip('"')

    def __bool__(self):
        # Whether any line sets an option, without parsing them all.
        return bool(self._table) if self._table is not None else _OPTION_LINE.search(self._text()) is not None

    def __getitem__(self, key):
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def __contains__(self, key):
        return self.get(key, _ABSENT) is not _ABSENT

    # Nothing changes it from outside, and a copy would read the file again.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def _all(self):
        if self._table is None:
            self._table = parse_kconfig(self._text())
        return self._table

    def __iter__(self):
        return iter(self._all())

    def __len__(self):
        return len(self._all())


def let_go_of_config_texts():
    """Let go of the config texts kept (see KernelConfig), and so of what reads them again: a
    run that has made its facts keeps none. A config asked later reads its file again."""
    del _WHOLE[:]


def read_kernel_config(rootfs, warn, modules_dir):
    """The kernel's config, or None: from its headers (build/.config, else
    include/config/auto.conf), else where the kernel package keeps it (/boot/config-K; Fedora
    and RHEL also /lib/modules/K/config), so kernels without headers have one too. Read again from
    the same file when a config let go is asked for more.

    ``warn(msg)`` hears of a config that exists but cannot be read (too large, not a file).
    """
    release = posixpath.basename(modules_dir.rstrip('/'))
    for path in (posixpath.join(modules_dir, 'build/.config'),
                 posixpath.join(modules_dir, 'build/include/config/auto.conf'),
                 '/boot/config-%s' % release, posixpath.join(modules_dir, 'config')):
        read = functools.partial(rootfs.read_text, path, CONFIG_LIMIT)
        try:
            return KernelConfig(read(), read)
        except (OSError, RootPathError) as exc:
            if not is_absent(exc):
                warn('cannot read %s: %s' % (path, exc))
    return None
