# -*- coding: utf-8 -*-
# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The command line a kernel gets at its next boot, read from the boot loader's files.

Facts from here: ``module_signatures.cmdline`` (the file that told) and, through the boot
policy, the ``sig_enforce`` and ``lockdown`` reasons. Where systemd-boot is the boot loader
that starts (see _kernels.systemd_boot_starts): the options of its entry that starts the kernel
(every ``options`` line joined), else what kernel-install writes into a new entry
(``/etc/kernel/cmdline``, ``/usr/lib/kernel/cmdline``, else the running command line). Else
these sources, the first that names the kernel or exists decides: the BLS entries that boot the
kernel (``options``, with ``$var`` taken from the GRUB environment block, e.g. ``$kernelopts`` on RHEL 8), the first ``linux``
line of the generated ``grub.cfg`` that boots it (Debian, Ubuntu), ``/etc/default/grub`` with
``/etc/default/grub.d/*.cfg`` (``GRUB_CMDLINE_LINUX`` and ``GRUB_CMDLINE_LINUX_DEFAULT``,
as Debian's grub-mkconfig joins them: what the next ``update-grub`` writes for a kernel
``grub.cfg`` does not list yet), ``/etc/kernel/cmdline`` (what kernel-install uses).
A line that depends on what cannot be read statically is unknown, never guessed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import posixpath

from ansible_collections.kabi.dkms.plugins.module_utils._grub_menu import boot_variable_values
from ansible_collections.kabi.dkms.plugins.module_utils._grub_script import line_words
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import (
    BLS_ENTRIES_DIR, IMAGE_NAMES, bls_entries, default_menu_entry, grub_config, grub_files, grub_lists_bls_entries,
    systemd_boot_entry_release, systemd_boot_starts)
from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError, remembered
from ansible_collections.kabi.dkms.plugins.module_utils._shell_vars import UNKNOWN, parse_shell_vars

DEFAULT_GRUB = '/etc/default/grub'
DEFAULT_GRUB_DIR = '/etc/default/grub.d'
KERNEL_CMDLINE = '/etc/kernel/cmdline'
KERNEL_INSTALL_CMDLINES = (KERNEL_CMDLINE, '/usr/lib/kernel/cmdline')
LOADER_ENTRY_PLUGINS = ('/etc/kernel/install.d/90-loaderentry.install', '/usr/lib/kernel/install.d/90-loaderentry.install')
# How 257's plugin drops comment lines from the command line file.
_DROPS_COMMENTS = "grep -Gv '^\\s*#'"
GRUB_CMDLINE_VARIABLES = ('GRUB_CMDLINE_LINUX', 'GRUB_CMDLINE_LINUX_DEFAULT')
READ_LIMIT = 64 * 1024
# More command lines than GRUB variables' values are tried for.
MAX_CHOICES = 64
# GRUB variables followed through grub.cfg per root, each at the cost of reading it twice (real
# command lines use up to three: $kernelopts $tuned_params, $vt_handoff); fewer for a large grub.cfg,
# so that they read no more text than this in all.
MAX_VARIABLES = 16
MAX_VARIABLES_TEXT = 32 * 1024 * 1024
# The kernel's isspace() in ASCII (Python's also takes \x1c-\x1f).
_KERNEL_SPACE = ' \t\n\v\f\r'
_BRACES_OR_VARIABLE = LazyPattern(r'[${}]')
_GRUB_NAME = LazyPattern(r'^[A-Za-z_][A-Za-z0-9_]*$')
_GRUB_VARIABLE = LazyPattern(r'\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))')
# A function's or an entry's parameters ($1, $@...) and translated text ($"..."): not followed.
_GRUB_PARAMETER = LazyPattern(r'\$(?:\{?[0-9@*#?]|")')
# What GRUB's quoting and word splitting, and the kernel's, may read otherwise: GRUB builds differ
# in how they quote such an argument for the kernel.
_QUOTING = LazyPattern(r'[\'"\\*?\t\n\r\f\v]')


class BootCmdline:
    """The parameters of a next-boot command line: ``params`` is a list of (name, value or None)
    pairs, or None when the line is unknown (then ``problem`` says why); ``source`` names the file;
    ``unsure``: the names (dashes as underscores) of parameters a GRUB variable may give or not,
    left out of ``params``."""

    __slots__ = ('params', 'source', 'problem', 'unsure')

    def __init__(self, params, source, problem=None, unsure=frozenset()):
        self.params = params
        self.source = source
        self.problem = problem
        self.unsure = unsure

    def values(self, name):
        """Every value given to parameter ``name`` (None for a bare ``name``); dashes match
        underscores. None when they are unsure."""
        wanted = name.replace('-', '_')
        if wanted in self.unsure:
            return None
        return [value for key, value in self.params or () if key.replace('-', '_') == wanted]

    def __repr__(self):
        return 'BootCmdline(%r, source=%r, problem=%r, unsure=%r)' % (
            self.params, self.source, self.problem, sorted(self.unsure))


def split_cmdline(text):
    """(name, value or None) pairs of a command line, split like the kernel's ``next_arg``:
    whitespace separates, double quotes group and are dropped, a bare ``--`` ends the kernel's part."""
    params = []
    index, size = 0, len(text)
    while index < size:
        while index < size and text[index] in _KERNEL_SPACE:
            index += 1
        start, quoted = index, False
        while index < size and (quoted or text[index] not in _KERNEL_SPACE):
            if text[index] == '"':
                quoted = not quoted
            index += 1
        token = text[start:index].replace('"', '')
        if token == '--':
            break
        if token:
            name, sep, value = token.partition('=')
            params.append((name, value if sep else None))
    return params


def _read_text(rootfs, path, limit=READ_LIMIT):
    """Text of a boot file; None when absent; raises OSError or RootPathError when unreadable."""
    if not rootfs.exists(path):
        return None
    return rootfs.read_text(path, limit)


def _grub_pieces(text):
    """``('text', text)`` and ``('variable', name)`` pieces of a linux line's arguments."""
    pieces, at = [], 0
    for found in _GRUB_VARIABLE.finditer(text):
        pieces += [('text', text[at:found.start()]), ('variable', found.group(1) or found.group(2))]
        at = found.end()
    return pieces + [('text', text[at:])]


def _blscfg_pieces(options):
    """The pieces of a BLS ``options`` line as Fedora's blscfg expands it (``expand_val``): a ``$``
    and the ASCII letters, digits and underscores after it name a variable, which gives its value
    and a blank (nothing when unset), and one blank after the name is dropped. A piece ends at
    each ``$`` and after each name; one of a single character is dropped where the line ends or a
    ``$`` follows it. Variable pieces with a name that is no GRUB variable's (``${x}``, ``$$``)
    are ``('unnamed', name)``."""
    pieces, start, in_name = [], 0, False
    for at, char in enumerate(options):
        # blscfg compares where a piece starts with the character before this one (the first
        # character at the first): equal, it drops that piece of one character.
        if char == '$':
            if start != max(at - 1, 0):
                pieces.append(('variable' if in_name else 'text', options[start:at]))
            in_name, start = True, at + 1
        elif in_name and not (char.isalnum() and ord(char) < 128 or char == '_'):   # str.isascii: Python 3.7
            pieces.append(('variable', options[start:at]))
            in_name, start = False, at + 1 if char == ' ' else at
    if start != max(len(options) - 1, 0):
        pieces.append(('variable' if in_name else 'text', options[start:]))
    return [('unnamed', text) if kind == 'variable' and not _GRUB_NAME.match(text) else (kind, text)
            for kind, text in pieces]


def _expanded(pieces, values, bls):
    """The text of ``pieces`` with the variables' ``values`` (None: unset); ``bls``: as blscfg
    writes them, a value followed by a blank."""
    return ''.join(text if kind == 'text' else '' if values[text] is None else values[text] + ' ' if bls
                   else values[text] for kind, text in pieces if kind != 'unnamed')


def _blscfg_params(text):
    """The parameters of what blscfg wrote on an entry's linux line, None when GRUB would read it
    otherwise than as plain words (quotes, escapes, braces, a comment, a variable left in it)."""
    words = line_words(text)
    if words is None or words != text.split() or any(_QUOTING.search(word) or _BRACES_OR_VARIABLE.search(word)
                                                     for word in words):
        return None
    return split_cmdline(' '.join(words))


def _with_grub_variables(rootfs, text, source, what, warn, cache, bls=False):
    """The BootCmdline of ``text`` once its GRUB variables are expanded with each value grub.cfg
    may give them where it is read (``bls``: a BLS entry's options, where blscfg expands them),
    the environment block's included: the parameters that differ between them are unsure;
    unknown when one cannot be told."""
    if _GRUB_PARAMETER.search(text):
        return BootCmdline(None, source, "%s use GRUB's parameters ($1, $@...) or translated text, which are not "
                           'followed' % what)
    pieces = _blscfg_pieces(text) if bls else _grub_pieces(text)
    if any(kind == 'unnamed' for kind, name in pieces):
        return BootCmdline(None, source, "%s use a $ that blscfg does not expand as GRUB's scripts do" % what)
    names = sorted(set(name for kind, name in pieces if kind == 'variable'))
    followed = cache.setdefault(('followed',), set())
    limit = min(MAX_VARIABLES, MAX_VARIABLES_TEXT // (2 * len(grub_config(rootfs, warn, cache)[1] or ' ')))
    if names and len(followed.union(names)) > limit:
        return BootCmdline(None, source, '%s use GRUB variables past the %d followed through this grub.cfg'
                           % (what, limit))
    followed.update(names)
    choices, unresolved = [], []
    for name in names:
        values = remembered(cache, ('values', name, bls), lambda key: _grub_cfg_values(rootfs, key[1], bls, warn, cache))
        if values is None or any(value and _QUOTING.search(value) for value in values):
            unresolved.append(name)
        else:
            choices.append([(name, value) for value in values])
    if unresolved:
        return BootCmdline(None, source, '%s use %s, which grub.cfg and the GRUB environment block it loads do '
                           'not set for sure' % (what, ', '.join('$' + name for name in unresolved)))
    count = 1
    for values in choices:
        count *= len(values)
    if count > MAX_CHOICES:
        return BootCmdline(None, source, '%s use GRUB variables that grub.cfg gives more than %d values in all'
                           % (what, MAX_CHOICES))
    candidates = []
    for chosen in itertools.product(*choices):
        values = dict(chosen)
        if bls and all(kind == 'variable' and values[name] is None for kind, name in pieces):
            # Options that expand to nothing at all (unset variables) give way to $default_kernelopts.
            return BootCmdline(None, source, '%s may expand to nothing, when blscfg takes $default_kernelopts instead'
                               % what)
        line = _expanded(pieces, values, bls)
        params = _blscfg_params(line) if bls else split_cmdline(line)
        if params is None:
            return BootCmdline(None, source, '%s expand to a line GRUB reads otherwise than as plain words: %.60s'
                               % (what, line))
        candidates.append(params)
    return _agreed(candidates, source)


def _grub_cfg_values(rootfs, name, bls, warn, cache):
    """Every value grub.cfg may give GRUB variable ``name`` where a kernel's arguments read it
    (sorted), None when not told."""
    path, text, dummy = grub_config(rootfs, warn, cache)
    if text is None:
        return None
    environment, prefix_file = grub_files(rootfs, path, warn, cache)
    return boot_variable_values(text, name, environment, prefix_file, bls)


def _agreed(candidates, source):
    """The BootCmdline of what command lines ``candidates`` (parameter lists) say alike: the
    parameters whose values differ between them are unsure."""
    tables = []
    for params in candidates:
        table = {}
        for key, value in params:
            table.setdefault(key.replace('-', '_'), []).append(value)
        tables.append(table)
    names = set(name for table in tables for name in table)
    unsure = frozenset(name for name in names if len(set(tuple(table.get(name, ())) for table in tables)) > 1)
    return BootCmdline([(key, value) for key, value in candidates[0] if key.replace('-', '_') not in unsure],
                       source, unsure=unsure)


def _bls_entries_by_release(rootfs, warn, cache):
    """{release: [(entry id, BlsEntry) of the BLS entries that boot it, by id]}; those that cannot
    be read under the release None."""
    found = {}
    for entry_id, entry in sorted(bls_entries(rootfs, warn, cache).items()):
        found.setdefault(entry.release() if entry is not None else None, []).append((entry_id, entry))
    return found


def _blscfg_options(entry):
    """The options blscfg gives a BLS entry (``$default_kernelopts`` without its own), None
    when its reading of the file finds another kernel, or none."""
    if entry.blscfg.get('linux', '').strip() != entry.lines['linux'][0]:
        return None
    return entry.blscfg.get('options', '$default_kernelopts')


def _from_bls(rootfs, release, warn, cache):
    path, dummy, menu = grub_config(rootfs, warn, cache)
    if path is not None and not grub_lists_bls_entries(rootfs, warn, cache):
        return None     # grub.cfg unread (told below), or its menu its own (GRUB_ENABLE_BLSCFG=false)
    by_release = remembered(cache, ('bls', 'by release'), lambda key: _bls_entries_by_release(rootfs, warn, cache))
    entries = by_release.get(release)
    if any(entry is None for dummy, entry in by_release.get(None, ())):
        return BootCmdline(None, BLS_ENTRIES_DIR, 'a boot entry cannot be read, which may be one of %s' % release)
    if not entries:
        return None
    source = posixpath.join(BLS_ENTRIES_DIR, entries[0][0] + '.conf')
    if any('efi' in entry.blscfg for dummy, entry in entries):
        # RHEL 10's and Fedora 45's GRUB chainload such an entry (a unified kernel image).
        return BootCmdline(None, source, 'a boot entry of %s has an efi line, which some GRUBs start instead' % release)
    if menu is not None and _menu_entries_of(menu, release, cache):
        return BootCmdline(None, path, "grub.cfg has entries of its own that start %s, beside its boot entry's" % release)
    if any(len(entry.lines.get('options', ())) > 1 for dummy, entry in entries):
        # systemd-boot joins them; GRUB's blscfg reads the first.
        return BootCmdline(None, source, 'a boot entry of %s has several options lines, which boot loaders read '
                           'differently' % release)
    lines = set(_blscfg_options(entry) if 'linux' in entry.lines else None for dummy, entry in entries)
    if None in lines:
        return BootCmdline(None, source, "GRUB's blscfg does not read a boot entry of %s as one that starts it (no "
                           'linux line before a blank line or a line without a value)' % release)
    if len(lines) > 1:
        return BootCmdline(None, source, '%d boot entries start %s with different options' % (len(entries), release))
    return _with_grub_variables(rootfs, lines.pop(), source, 'the options', warn, cache, bls=True)


def _from_systemd_boot(rootfs, loader, release):
    """The options of the entry of SystemdBoot ``loader`` that starts ``release`` next (its
    default, where that starts it; else every entry that does, alike); None where it lists none
    (the next kernel-install writes one, see _from_kernel_install)."""
    if loader.entries is None:
        return BootCmdline(None, None, "systemd-boot's entries cannot be told: %s" % loader.problem)
    images = [entry for entry in loader.entries if entry.kind == 'uki']
    if images:
        # A unified kernel image carries its own command line, and its kernel is not read.
        return BootCmdline(None, images[0].path, 'systemd-boot lists a unified kernel image, which may start %s with a '
                           'command line of its own' % release)
    if loader.adds_to_cmdline(rootfs):
        return BootCmdline(None, None, "the firmware's SMBIOS strings add to the command line systemd-boot passes")
    default = loader.default
    entries = [default] if default is not None and systemd_boot_entry_release(default) == release else \
        [entry for entry in loader.entries if entry.kind == 'linux' and systemd_boot_entry_release(entry) == release]
    if not entries:
        return None
    if len(set(entry.options for entry in entries)) > 1:
        return BootCmdline(None, entries[0].path, '%d systemd-boot entries start %s with different options'
                           % (len(entries), release))
    return BootCmdline(split_cmdline(entries[0].options or ''), entries[0].path)


def _from_kernel_install(rootfs):
    """What kernel-install's loader entry plugin writes into a new entry's options: the first of
    /etc/kernel/cmdline and /usr/lib/kernel/cmdline, else the running command line (on the running
    system). Its plugin up to 256 keeps lines that begin with ``#``; 257's drops them."""
    for path in KERNEL_INSTALL_CMDLINES:
        if not rootfs.isfile(path):
            continue    # kernel-install reads the first that is a file
        text = _read_text(rootfs, path)
        if any(line.lstrip().startswith('#') for line in text.splitlines()):
            # kernel-install runs /etc's plugin of a name in place of /usr/lib's.
            plugin = next((found for found in (_read_text(rootfs, candidate) for candidate in LOADER_ENTRY_PLUGINS)
                           if found is not None), None)
            if not plugin:
                return BootCmdline(None, path, 'it has comment lines, which kernel-install keeps or drops by its '
                                   'version, and its loader entry plugin is not there to tell')
            if _DROPS_COMMENTS in plugin:
                text = '\n'.join(line for line in text.splitlines() if not line.lstrip().startswith('#'))
        return BootCmdline(split_cmdline(' '.join(text.split())), path)
    if rootfs.root == '/':
        text = _read_text(rootfs, '/proc/cmdline')
        if text is not None:
            # Less what the boot loader added for this boot.
            return BootCmdline([(key, value) for key, value in split_cmdline(text)
                                if value is None or key not in ('BOOT_IMAGE', 'initrd')], '/proc/cmdline')
    return BootCmdline(None, None, 'kernel-install writes the command line of the running system (/proc/cmdline), '
                       'which a root other than / does not tell')


def _menu_entries_of(menu, release, cache):
    """The entries of GrubMenu ``menu`` (grub.cfg's) that start kernel ``release``, in the menu's
    order (an entry whose image is not told, not text, is out of sight); indexed once per root."""
    by_image = remembered(cache, ('grub.cfg', 'entries by image'), lambda key: _entries_by_image(menu))
    images = set('%s-%s' % (name, release) for name in IMAGE_NAMES)
    return [entry for image, entry in by_image.get(release, ()) if image in images]


def _entries_by_image(menu):
    """``{release: [(image file name, entry)]}`` of a menu's entries, the release the part of the
    file name after the first dash."""
    found = {}
    for entry in menu.leaves():
        if isinstance(entry.image, str):
            image = posixpath.basename(entry.image)
            found.setdefault(image.partition('-')[2], []).append((image, entry))
    return found


def _from_grub_cfg(rootfs, release, warn, cache):
    """The arguments of the linux command of the entry GRUB's menu starts by default where it
    boots ``release``, else of the first entry that does."""
    path, text, menu = grub_config(rootfs, warn, cache)
    if path is not None and text is None:
        return BootCmdline(None, path, 'it cannot be read')
    if menu is None:
        return None
    environment, prefix_file = grub_files(rootfs, path, warn, cache)
    hidden = remembered(cache, ('grub.cfg', 'out of sight'), lambda key: menu.out_of_sight(environment, prefix_file))
    entries = _menu_entries_of(menu, release, cache)
    if not entries:
        # Not in grub.cfg (yet): what update-grub will write, unless an entry out of sight may start it.
        return BootCmdline(None, path, 'an entry GRUB may start it with is out of sight (a file or script grub.cfg '
                           'runs, an entry the reading cannot follow)') if hidden else None
    default = default_menu_entry(rootfs, path, menu, warn, cache)[0]
    if default is None and (hidden or len(set(tuple(entry.arguments) for entry in entries)) > 1):
        # Which entry GRUB starts is not told: it may be any that starts the kernel.
        return BootCmdline(None, path, 'which entry GRUB starts is not told, and the entries that may start the '
                           'kernel give it other arguments, or may be out of sight')
    arguments = (default if default in entries else entries[0]).arguments
    if any(_QUOTING.search(word) for word in arguments):
        return BootCmdline(None, path, 'its linux line holds quotes, escapes or patterns, which GRUB builds '
                           'hand to the kernel differently')
    return _with_grub_variables(rootfs, ' '.join(arguments), path, 'its arguments', warn, cache)


def _from_default_grub(rootfs):
    text = _read_text(rootfs, DEFAULT_GRUB)
    if text is None:
        return None
    variables = parse_shell_vars(text)
    opaque = variables.opaque
    try:
        extra = [name for name in rootfs.listdir(DEFAULT_GRUB_DIR) if name.endswith('.cfg')]
    except (OSError, RootPathError):
        extra = []
    for name in extra:
        more = _read_text(rootfs, posixpath.join(DEFAULT_GRUB_DIR, name))
        if more is not None:
            variables = parse_shell_vars(more, variables.scalars)
            opaque = opaque or variables.opaque
    values = [variables.get(name) for name in GRUB_CMDLINE_VARIABLES]
    if opaque or UNKNOWN in values:
        return BootCmdline(None, DEFAULT_GRUB, 'GRUB_CMDLINE_LINUX depends on shell logic')
    return BootCmdline(split_cmdline(' '.join(value or '' for value in values)), DEFAULT_GRUB)


def _from_kernel_cmdline(rootfs):
    text = _read_text(rootfs, KERNEL_CMDLINE)
    if text is None:
        return None
    lines = [line for line in text.splitlines() if not line.lstrip().startswith('#')]
    return BootCmdline(split_cmdline(' '.join(lines)), KERNEL_CMDLINE)


def read_next_boot_cmdline(rootfs, release, warn, cache=None):
    """The BootCmdline kernel ``release`` boots with next; ``params`` None when it is unknown.
    ``cache``: a dict kept for the kernels of one root (what grub.cfg tells of all of them)."""
    cache = {} if cache is None else cache
    try:
        loader, starts = systemd_boot_starts(rootfs, warn, cache)
    except (OSError, IOError, RootPathError) as exc:
        return BootCmdline(None, None, 'cannot read the boot configuration: %s' % (getattr(exc, 'strerror', None) or exc))
    if starts is None:
        return BootCmdline(None, None, "systemd-boot and GRUB are both there, and the firmware's boot options do not "
                           'tell which starts')
    if starts:
        readers = (lambda: _from_systemd_boot(rootfs, loader, release), lambda: _from_kernel_install(rootfs))
    else:
        readers = (lambda: _from_bls(rootfs, release, warn, cache), lambda: _from_grub_cfg(rootfs, release, warn, cache),
                   lambda: _from_default_grub(rootfs), lambda: _from_kernel_cmdline(rootfs))
    for reader in readers:
        try:
            found = reader()
        except (OSError, IOError, RootPathError) as exc:
            return BootCmdline(None, None, 'cannot read the boot configuration: %s'
                               % (getattr(exc, 'strerror', None) or exc))
        if found is not None:
            return found
    return BootCmdline(None, None, 'no boot loader configuration names the command line '
                       '(no BLS entry, %s or %s)' % (DEFAULT_GRUB, KERNEL_CMDLINE))
