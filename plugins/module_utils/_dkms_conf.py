# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""dkms.conf as the installed dkms reads it, without running it.

dkms (``read_conf`` and ``safe_source`` in its script) unsets its variables, sources
dkms.conf and the admin's overrides each in a subshell, and carries only its own variables
out: each element is printed as ``NAME[i]="value"`` with ``echo`` (unquoted, so runs of
blanks become one space) and the printout is sourced again, so ``$``, backquote, ``\\`` and
``"`` inside a value are read a second time. It then counts module records, fills defaults
and rejects values. Those rules changed between versions; the ones followed here:

=========  ==================================================================================
3.0.11     PACKAGE_NAME (not the -m name) is the default module name, with one record only;
           BUILD_EXCLUSIVE_KERNEL_MIN/_MAX/_CONFIG; zero records is no longer an error
3.1.5      one trailing CR is stripped from every value
3.1.7      AUTOINSTALL must be yes/no/empty (any case); duplicate module names are errors
3.2.0      NO_WEAK_MODULES and BUILD_DEPENDS_REBUILD too; OBSOLETE_BY sets KERNEL_MAX
3.2.2      records are counted by the highest index, not by the number of elements
3.3.0      BUILD_EXCLUSIVE_*[i] per module: excluded when no module may be built
=========  ==================================================================================

Debian 12's 3.0.10 (3.0.10-8+deb12u1) reads BUILD_EXCLUSIVE_CONFIG as 3.0.11 does, and
names a lone record without BUILT_MODULE_NAME after PACKAGE_NAME (3.0.10's rule, 3.0.11's
name): a version is known by its script's version line, these backports by the variables the
script carries and by the line that names the record. When the target's dkms version is
unknown, a value is given only when every version reads it the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError
from ansible_collections.kabi.dkms.plugins.module_utils._shell_vars import DECIMAL_INDEX_LIMIT, UNKNOWN, parse_shell_vars
from ansible_collections.kabi.dkms.plugins.module_utils._vercmp import compare_releases

DKMS_SCRIPTS = ('/usr/sbin/dkms', '/usr/bin/dkms', '/sbin/dkms')
DEST_MODULE_LOCATION_PREFIXES = ('/kernel', '/updates', '/extra')
# The first version of each rule above, and one before them all: enough to try every reading.
RULE_VERSIONS = ((3, 0, 10), (3, 0, 11), (3, 1, 5), (3, 1, 7), (3, 2, 0), (3, 2, 2), (3, 3, 0))
EXCLUSIVE_KEYS = ('KERNEL', 'ARCH', 'KERNEL_MIN', 'KERNEL_MAX', 'CONFIG')
# Each BUILD_EXCLUSIVE_* variable, and its rule's name in the facts.
_EXCLUSIVE_VARIABLES = tuple(('BUILD_EXCLUSIVE_' + key, key.lower()) for key in EXCLUSIVE_KEYS)
_VERSION_ECHO = re.compile(r'echo \$?"dkms-([0-9]+(?:\.[0-9]+)+)')
_SCRIPT_LIMIT = 1024 * 1024
# The list of variables the script carries out of dkms.conf.
_CARRIED_VARIABLES = re.compile(r'dkms_conf_variables="([^"]*)"')
# Where a script before 3.0.11 names a record after PACKAGE_NAME, rather than the -m name ($module).
_PACKAGE_NAME_DEFAULT = re.compile(r'built_module_name\[\$index\]=\$\{?PACKAGE_NAME\}?\s*$', re.M)
_BLANK_RUNS = LazyPattern(r'[ \t\n]+')
# Module records a dkms.conf is read for: dkms 3.2.2 and later check every index up to the highest
# any array sets, which a hostile file can put past a billion. No real package comes near.
MAX_RECORDS = 4096
# What in a value dkms's printout and its reading back may change (see _carried): a blank run
# other than one space, a CR, and what double quotes do not keep as it is.
_REPRINT_MAY_CHANGE = re.compile(r'[\t\n\r"$`\\]|  ')
# What dkms's safe_source runs to print the variables of the file it sourced.
_PRINTING_COMMANDS = frozenset(('echo', 'eval', 'set', 'grep', 'cut'))
# The variables dkms carries out of a sourced dkms.conf, in the order it prints them.
_CONF_VARIABLES_3_0_10 = tuple(
    'CLEAN PACKAGE_NAME PACKAGE_VERSION POST_ADD POST_BUILD POST_INSTALL POST_REMOVE PRE_BUILD '
    'PRE_INSTALL BUILD_DEPENDS BUILD_EXCLUSIVE_KERNEL BUILD_EXCLUSIVE_ARCH build_exclude OBSOLETE_BY MAKE '
    'MAKE_MATCH PATCH PATCH_MATCH patch_array BUILT_MODULE_NAME built_module_name BUILT_MODULE_LOCATION '
    'built_module_location DEST_MODULE_NAME dest_module_name DEST_MODULE_LOCATION dest_module_location '
    'STRIP strip AUTOINSTALL NO_WEAK_MODULES'.split())
# Debian's 3.0.10 with BUILD_EXCLUSIVE_CONFIG backported, after BUILD_EXCLUSIVE_ARCH.
_CONF_VARIABLES_3_0_10_CONFIG = _CONF_VARIABLES_3_0_10[:_CONF_VARIABLES_3_0_10.index('BUILD_EXCLUSIVE_ARCH') + 1] + (
    'BUILD_EXCLUSIVE_CONFIG',) + _CONF_VARIABLES_3_0_10[_CONF_VARIABLES_3_0_10.index('BUILD_EXCLUSIVE_ARCH') + 1:]
_CONF_VARIABLES = tuple(
    'PACKAGE_NAME PACKAGE_VERSION POST_ADD POST_BUILD POST_INSTALL POST_REMOVE PRE_BUILD PRE_INSTALL '
    'BUILD_DEPENDS BUILD_EXCLUSIVE_ARCH BUILD_EXCLUSIVE_CONFIG BUILD_EXCLUSIVE_KERNEL '
    'BUILD_EXCLUSIVE_KERNEL_MIN BUILD_EXCLUSIVE_KERNEL_MAX build_exclude OBSOLETE_BY MAKE MAKE_MATCH PATCH '
    'PATCH_MATCH patch_array BUILT_MODULE_NAME built_module_name BUILT_MODULE_LOCATION built_module_location '
    'DEST_MODULE_NAME dest_module_name DEST_MODULE_LOCATION dest_module_location STRIP strip AUTOINSTALL '
    'NO_WEAK_MODULES BUILD_DEPENDS_REBUILD CLEAN'.split())
# BUILD_DEPENDS_REBUILD came with 3.2.0.
_CONF_VARIABLES_3_0_11 = tuple(name for name in _CONF_VARIABLES if name != 'BUILD_DEPENDS_REBUILD')
# What dkms has made readonly when it sources a file, its own globals and safe_source's list of
# variables to print (assigning one ends the sourcing); dkms_framework_post_transaction since 3.2.
SOURCING_READONLY = ('export_envs', 'dkms_conf_variables', 'dkms_framework_nonsigning_variables',
                     'dkms_framework_signing_variables', 'mv_re')
# Variables dkms has set when it sources the file, per kernel.
KERNEL_PRESETS = ('kernelver', 'arch', 'kernel_source_dir', 'kernel_config')
# The kernel's config, where files source it, unquoted or in double quotes: the headers' .config,
# read as the kernel's config; the kernel package's copy in /boot (lttng-modules sources it where
# the headers have none), which may not be there to source, so its options are only unknown.
_HEADERS_CONFIG = LazyPattern(r'^("?)(\$\{?kernel_source_dir\}?/\.config|/lib/modules/\$\{?kernelver\}?/build/\.config)\1$')
_BOOT_CONFIG = LazyPattern(r'^("?)/boot/config-\$\{?kernelver\}?\1$')


class DkmsVersion(tuple):
    """A dkms version, compared as its tuple of numbers, and what a distribution backported to
    it before 3.0.11 brought it: whether its script reads BUILD_EXCLUSIVE_CONFIG, and whether it
    names a lone record after PACKAGE_NAME."""

    def __new__(cls, parts, exclusive_config=False, package_name_default=False):
        version = tuple.__new__(cls, parts)
        version.exclusive_config = exclusive_config
        version.package_name_default = package_name_default
        return version


def reads_exclusive_config(version):
    """Whether dkms ``version`` (a tuple, or a DkmsVersion) applies BUILD_EXCLUSIVE_CONFIG."""
    return version >= (3, 0, 11) or getattr(version, 'exclusive_config', False)


def names_record_after_package(version):
    """Whether dkms ``version`` names a lone record without BUILT_MODULE_NAME after PACKAGE_NAME
    (3.0.11 and later name one only when it is the only record, in their own way)."""
    return getattr(version, 'package_name_default', False)


def read_dkms_version(rootfs, warn):
    """The target's dkms version as a DkmsVersion, from a bounded read of its script; None when unknown."""
    for path in DKMS_SCRIPTS:
        if not rootfs.isfile(path):
            continue
        try:
            text = rootfs.read_text(path, limit=_SCRIPT_LIMIT)
        except (OSError, RootPathError) as exc:
            warn('cannot read %s for its version: %s' % (path, exc))
            continue
        match = _VERSION_ECHO.search(text)
        if match:
            carried = _CARRIED_VARIABLES.search(text)
            return DkmsVersion((int(part) for part in match.group(1).split('.')),
                               bool(carried) and 'BUILD_EXCLUSIVE_CONFIG' in carried.group(1).split(),
                               _PACKAGE_NAME_DEFAULT.search(text) is not None)
        warn('%s does not say which dkms version it is' % path)
    return None


def conf_variables(version):
    """The variables dkms ``version`` carries out of a sourced conf file, in its order."""
    if version < (3, 0, 11) and reads_exclusive_config(version):
        return _CONF_VARIABLES_3_0_10_CONFIG
    if version < (3, 0, 11):
        return _CONF_VARIABLES_3_0_10
    return _CONF_VARIABLES if version >= (3, 2, 0) else _CONF_VARIABLES_3_0_11


def _carrying_keys(variables, versions, has_overrides):
    """What decides the values each version carries out of the file read as ``variables``.

    Without overrides: the variables it prints that the file sets, in its order (a value is read
    back with those printed before it), and whether it strips a CR (None for every version when
    they differ there and no value ends in one).
    An override is read with the names the version unsets: then its whole list decides.
    """
    lists = [conf_variables(version) for version in versions]
    strips_cr = [version >= (3, 1, 5) for version in versions]
    if has_overrides:
        return list(zip(lists, strips_cr))
    assigned = variables.assigned()
    # Three lists of some forty names, each shared by several versions: each filtered once.
    printed = dict((names, names if assigned is None else tuple(filter(assigned.__contains__, names)))
                   for names in set(lists))
    # Versions on either side of 3.1.5 read alike where no value ends in a CR: one key for them.
    if len(set(strips_cr)) > 1 and not any(
            value is not UNKNOWN and value.endswith('\r')
            for elements in (variables.get_array(name) for name in set().union(*printed.values()))
            if elements not in (None, UNKNOWN) for value in elements.values()):
        strips_cr = [None] * len(versions)
    return [(printed[names], strips) for names, strips in zip(lists, strips_cr)]


class Reading:
    """What one dkms version makes of the conf files: its variables, records and errors."""

    def __init__(self, version, values, module):
        self.version = version
        self.values = values    # {name: {index: value or UNKNOWN}} or UNKNOWN per name
        self.module = module    # the package name dkms was given (-m)
        self.errors = []        # why dkms rejects the file; None in the list: a check it cannot tell
        self.records = self._records()
        for name in ('PACKAGE_NAME', 'PACKAGE_VERSION'):
            value = self.scalar(name)
            if value is UNKNOWN:
                self.errors.append(None)
            elif not value:
                self.errors.append("no '%s' directive" % name)
        self.autoinstall = self._flag('AUTOINSTALL', (3, 1, 7))
        self.no_weak_modules = self._flag('NO_WEAK_MODULES', (3, 2, 0))
        self._flag('BUILD_DEPENDS_REBUILD', (3, 2, 0))

    def array(self, name):
        """{index: value} of a variable; UNKNOWN when any element is (what dkms does with the
        others may depend on it)."""
        elements = self.values.get(name, {})
        return UNKNOWN if elements is UNKNOWN or UNKNOWN in elements.values() else elements

    def scalar(self, name):
        elements = self.array(name)
        return elements if elements is UNKNOWN else elements.get(0)

    def _records(self):
        """[(built name, dest name, dest location)] by record, or None when not static."""
        arrays = [self.array(name) for name in
                  ('BUILT_MODULE_NAME', 'BUILT_MODULE_LOCATION', 'DEST_MODULE_NAME', 'DEST_MODULE_LOCATION')]
        if any(elements is UNKNOWN for elements in arrays):
            self.errors.append(None)
            return None
        if self.version >= (3, 2, 2):
            count = max([max(elements) + 1 for elements in arrays if elements] or [0])
        else:
            count = max(len(elements) for elements in arrays)
        if count > MAX_RECORDS:
            self.errors.append(None)
            return None
        built_names, _locations, dest_names, dest_locations = arrays
        records = []
        for index in range(count):
            built = built_names.get(index) or ''
            if not built:
                if self.version < (3, 0, 11):
                    named = self.scalar('PACKAGE_NAME') if names_record_after_package(self.version) else self.module
                    built = (named or '') if len(dest_locations) == 1 else ''
                elif count == 1:
                    built = self.scalar('PACKAGE_NAME') or ''
            dest = dest_names.get(index) or built
            location = dest_locations.get(index) or ''
            if UNKNOWN in (built, dest, location):
                self.errors.append(None)
                return None
            self._check_record(index, built, dest, location)
            records.append((built, dest, location))
        if count == 0 and self.version < (3, 0, 11):
            self.errors.append("no 'DEST_MODULE_LOCATION' directive")
        if self.version >= (3, 1, 7):
            self._check_duplicates(records)
        return records

    def _check_record(self, index, built, dest, location):
        if not built:
            self.errors.append("no 'BUILT_MODULE_NAME' for record #%d" % index)
        for label, name in (('BUILT_MODULE_NAME', built), ('DEST_MODULE_NAME', dest)):
            if name.endswith(('.o', '.ko')):
                self.errors.append("'%s' %r ends in '.o' or '.ko' (record #%d)" % (label, name, index))
        if not location:
            self.errors.append("no 'DEST_MODULE_LOCATION' for record #%d" % index)
        elif not location.startswith(DEST_MODULE_LOCATION_PREFIXES):
            self.errors.append("'DEST_MODULE_LOCATION' %r does not begin with /kernel, /updates or /extra "
                               "(record #%d)" % (location, index))

    def _check_duplicates(self, records):
        built = []
        for index, record in enumerate(records):
            location = self.array('BUILT_MODULE_LOCATION').get(index) or ''
            built.append(location + ('/' if location and not location.endswith('/') else '') + record[0])
        for label, names in (('BUILT_MODULE_NAME', built), ('DEST_MODULE_NAME', [r[1] for r in records])):
            if len(set(names)) != len(names):
                self.errors.append('duplicate module in %s' % label)

    def _flag(self, name, checked_since):
        """A yes/no variable: True/False, or None when unknown; an error when this version refuses it."""
        value = self.scalar(name)
        if value is UNKNOWN:
            self.errors.append(None)
            return None
        value = value or ''
        if self.version < checked_since:
            return bool(value)  # older dkms only asks whether it is empty ("no" counts as yes)
        if value.lower() in ('', 'yes', 'no'):
            return value.lower() == 'yes'
        self.errors.append('unsupported %s value %r' % (name, value))
        return False

    def exclusive_rules(self):
        """{KEY: {index: value}} of the BUILD_EXCLUSIVE_* this version knows, or None when not static."""
        keys = EXCLUSIVE_KEYS if self.version >= (3, 0, 11) else \
            ('KERNEL', 'ARCH', 'CONFIG') if reads_exclusive_config(self.version) else ('KERNEL', 'ARCH')
        rules = dict((key, self.array('BUILD_EXCLUSIVE_' + key)) for key in keys)
        if any(value is UNKNOWN for value in rules.values()):
            return None
        obsolete_by = self.scalar('OBSOLETE_BY')
        if self.version >= (3, 2, 0) and obsolete_by and not rules['KERNEL_MAX'].get(0):
            if obsolete_by is UNKNOWN:
                return None
            if self.version < (3, 3, 0) or not any(rules['KERNEL_MAX'].values()):
                rules['KERNEL_MAX'] = dict(rules['KERNEL_MAX'])
                rules['KERNEL_MAX'][0] = obsolete_by
        return rules


def _read_files(texts, versions, context, source):
    """The conf files as each dkms version sources them, one after the other: [Reading].

    dkms.conf itself is parsed once: dkms unsets its variables before it, so every version
    starts it alike; each version then prints and re-reads what it carries out.
    """
    first = parse_shell_vars(texts[0], context, unset=_CONF_VARIABLES, source=source, readonly=SOURCING_READONLY)
    readings = []
    # Versions that carry the same values the same way read the same values: once for them all
    # (one object, so that questions about the values alone are asked once too).
    carried = {}
    for version, key in zip(versions, _carrying_keys(first, versions, len(texts) > 1)):
        if key not in carried:
            carried[key] = _carried_from_files(first, texts[1:], key, context, source)
        readings.append(Reading(version, carried[key], context['module']))
    return readings


def _carried_from_files(first, overrides, key, context, source):
    """``key``: the names printed and whether a CR is stripped, as _carrying_keys gives them (with
    overrides, the version's whole list)."""
    names, strips_cr = key
    values = _carried(first, names, strips_cr, context)
    for text in overrides:
        # An override starts from dkms's variables and what the files before it left.
        preset = dict(context)
        preset.update(values)
        variables = parse_shell_vars(text, preset, unset=[n for n in names if n not in values], source=source,
                                     readonly=SOURCING_READONLY)
        values = _carried(variables, names, strips_cr, context)
    return values


def _carried(variables, names, strips_cr, context):
    """{name: {index: value}} of what dkms prints of ``names`` (in that order) after a file and
    reads back.

    dkms prints ``NAME[i]="value"`` for each element by an unquoted ``eval echo``, so a value's
    blank runs become one space, and sources the printout whole: a quote or a backslash a value
    leaves open runs on into the lines after it, as bash reads them. An element whose value is not
    known is printed as one that cannot be told either, and taken to hold no quote or backslash
    of its own: what a dkms.conf computes (a version, a path, a number) has none.
    """
    arrays = [(name, variables.get_array(name)) for name in names]
    if _printout_changes(variables):
        return dict((name, UNKNOWN) for name, elements in arrays if elements is not None)
    if _printed_as_is([elements for dummy, elements in arrays if elements]):
        # What most files hold: nothing the printout would change. Most arrays hold one element: no order to make.
        return dict((name, dict(sorted(elements.items())) if len(elements) > 1 else dict(elements))
                    for name, elements in arrays if elements)
    lines, unknown = [], []
    for variable, elements in arrays:
        if elements is UNKNOWN:
            unknown.append(variable)
        for index, value in sorted(elements.items()) if elements not in (None, UNKNOWN) else ():
            if value is UNKNOWN:
                lines.append('%s[%d]=$(:)' % (variable, index))
                continue
            if strips_cr and value.endswith('\r'):
                value = value[:-1]
            lines.append('%s[%d]="%s"' % (variable, index, _BLANK_RUNS.sub(' ', value)))
    reread = parse_shell_vars('\n'.join(lines) + '\n', context, unset=names)
    values = dict((name, UNKNOWN) for name in unknown)
    for name in names:
        elements = reread.get_array(name)
        if elements is not None and name not in values:
            values[name] = elements
    return values


def _printed_as_is(arrays):
    """Whether the arrays' ``NAME[i]="value"`` lines read back as the same elements: every value
    known and plain, every index one its decimal text gives back."""
    values = []
    for elements in arrays:
        if elements is UNKNOWN or max(elements) >= DECIMAL_INDEX_LIMIT:
            return False
        values.extend(elements.values())
    # One search for them all: NUL, which it does not match, keeps any two values from forming a match.
    return UNKNOWN not in values and not _REPRINT_MAY_CHANGE.search('\0'.join(values))


def _printout_changes(variables):
    """Whether the file changes what dkms's printing of its variables does: word splitting by
    another IFS, or a function named like a command it runs."""
    separators = variables.get('IFS')
    return separators not in (None, ' \t\n') or bool(variables.functions & _PRINTING_COMMANDS)


class DkmsConf:
    """What dkms.conf (and the overrides) say, as the target's dkms reads them without running them.

    Every value is the same for all dkms versions the target may have, or None (unknown).
    """

    def __init__(self, texts, name, version_string, dkms_version=None, trees=None, kernel_texts=None, warn=None):
        """``texts``: dkms.conf and the overrides for every kernel; ``trees``: dkms's dkms_tree,
        source_tree and install_tree; ``kernel_texts(release, arch)``: the overrides for one kernel;
        ``warn``: where a rule that cannot be checked is told."""
        self.warn = warn
        self.texts = texts
        self.name = name
        self.version_string = version_string
        self.dkms_version = dkms_version
        self.trees = trees or {}
        self.kernel_texts = kernel_texts or _no_texts
        self.readings = self._read(texts, dict((key, UNKNOWN) for key in KERNEL_PRESETS),
                                   _config_source(None))
        self._kernel_readings = {}
        self._module_names = {}     # {(release, arch): kernel_module_names}

    def __getstate__(self):
        """What is read, without what binds it to the process that read it (see _dkms_tree.loads_tree)."""
        state = dict(self.__dict__)
        state.update(warn=None, kernel_texts=None)
        return state

    def bind(self, warn, kernel_texts=None):
        """Tell warnings to ``warn`` and read the overrides for one kernel with ``kernel_texts``
        (as __init__ takes them) from now on."""
        self.warn = warn
        self.kernel_texts = kernel_texts or _no_texts

    def _versions(self):
        return [self.dkms_version] if self.dkms_version else list(RULE_VERSIONS)

    def _read(self, texts, presets, source):
        context = dict(presets, module=self.name, module_version=self.version_string, **self.trees)
        return _read_files(texts, self._versions(), context, source)

    def _agreed(self, get, by_values=False):
        """What ``get`` gives for every reading, or None when they differ or it is unknown.

        ``by_values``: ``get`` looks at the values alone, so readings that share them (versions
        that carry them alike) are asked once.
        """
        readings = self.readings
        if by_values and len(readings) > 1:
            readings = list(dict((id(reading.values), reading) for reading in readings).values())
        values = [get(reading) for reading in readings]
        return values[0] if values.count(values[0]) == len(values) and values[0] is not UNKNOWN else None

    @property
    def autoinstall(self):
        """True/False as dkms autoinstall decides, or None when shell logic decides it."""
        return self._agreed(lambda r: r.autoinstall)

    @property
    def no_weak_modules(self):
        return self._agreed(lambda r: r.no_weak_modules)

    def dest_module_names(self):
        """Installed module names by record, or None when not static."""
        return self._agreed(lambda r: None if r.records is None else [record[1] for record in r.records])

    def kernel_module_names(self, release, arch, kernel_config=None):
        """The names dkms builds and installs for ``release`` (DEST_MODULE_NAME, else
        BUILT_MODULE_NAME), as the kernel's readings agree on them; None when unknown. From 3.3.0
        a module whose own BUILD_EXCLUSIVE_* rules the kernel fails is not built for it.
        ``kernel_config``: as ``excludes`` takes it."""
        key = (release, arch)
        if key not in self._module_names:
            names = [_built_names(reading, release, arch, kernel_config, self.warn)
                     for reading in self.kernel_readings(release, arch, kernel_config)]
            self._module_names[key] = names[0] if names and all(found == names[0] for found in names) else None
        return self._module_names[key]

    def dest_module_locations(self):
        """{installed module name: normalized DEST_MODULE_LOCATION} of the records a static read tells."""
        records = self._agreed(lambda r: r.records) or []
        found = {}
        for _built, dest, location in records:
            location = posixpath.normpath('/' + location.lstrip('/')) if location else ''
            if location.startswith(DEST_MODULE_LOCATION_PREFIXES) and dest:
                found[dest] = location
        return found

    @property
    def build_depends(self):
        """BUILD_DEPENDS as a list, or None when not static."""
        return self._agreed(lambda r: _element_list(r.array('BUILD_DEPENDS')), by_values=True)

    @property
    def obsolete_by(self):
        return self._agreed(lambda r: r.scalar('OBSOLETE_BY') or None, by_values=True)

    def build_exclusive(self):
        """The BUILD_EXCLUSIVE_* rules as written ({rule: value, ...}: null when unset), or None."""
        def written(reading):
            rules = {}
            for name, rule in _EXCLUSIVE_VARIABLES:
                # Most files set none of them: one the values lack is unset, null without a look.
                value = _element_list(reading.array(name)) if name in reading.values else ()
                if value is None:
                    return UNKNOWN
                rules[rule] = (value[0] if len(value) == 1 else value) if value else None
            return rules
        return self._agreed(written, by_values=True)

    def valid(self):
        """False when the target's dkms rejects this dkms.conf, True when it takes it, None when unknown."""
        return self._agreed(lambda r: UNKNOWN if None in r.errors else not r.errors)

    def errors(self):
        """Why dkms rejects the file: what the target's version says (or, its version unknown, any version)."""
        return sorted(set(error for reading in self.readings for error in reading.errors if error is not None))

    def kernel_readings(self, release, arch, kernel_config=None):
        """The readings with the kernel's presets, when the files use them; else the package's."""
        mentions = any(any(preset in text for preset in KERNEL_PRESETS) for text in self.texts)
        extra = self.kernel_texts(release, arch)
        if not mentions and not extra:
            return self.readings
        key = (release, arch)
        if key not in self._kernel_readings:
            config = kernel_config() if kernel_config else None
            presets = {'kernelver': release, 'arch': arch if arch else UNKNOWN,
                       'kernel_source_dir': '/lib/modules/%s/build' % release,
                       'kernel_config': '/lib/modules/%s/build/.config' % release}
            self._kernel_readings[key] = self._read(self.texts + extra, presets, _config_source(config))
        return self._kernel_readings[key]

    def excludes(self, release, arch, kernel_config=None):
        """Whether BUILD_EXCLUSIVE_* rules ``release`` out: True, False or None (unknown).

        ``kernel_config`` is a callable returning the kernel's config as a dict
        (CONFIG_X -> value) or None; it is only called when needed.
        """
        readings = self.kernel_readings(release, arch, kernel_config)
        verdicts = [_excluded(reading, release, arch, kernel_config, self.warn) for reading in readings]
        return verdicts[0] if all(v == verdicts[0] for v in verdicts) else None


def _no_texts(release, arch):
    return []


def _element_list(elements):
    if elements is UNKNOWN or UNKNOWN in elements.values():
        return None
    return [elements[index] for index in sorted(elements)]


def _config_source(config):
    """The ``source`` callback of the shell reader: a ``.`` of the kernel's config is data (its
    options unknown where the config is not given, or may not be there)."""
    def source(raw):
        if _HEADERS_CONFIG.match(raw):
            return 'CONFIG_' if config is None else config
        return 'CONFIG_' if _BOOT_CONFIG.match(raw) else None
    return source


def _excluded(reading, release, arch, kernel_config, warn):
    """Whether this reading's rules exclude the kernel.

    dkms 3.3 checks the rules per module, each module against the package-wide rules (element 0)
    and its own: module 0's own are the package-wide ones, so while there is a module record,
    the package is excluded exactly when the package-wide rules exclude it. With no record
    it counts no directive and excludes nothing.
    """
    if reading.version < (3, 3, 0):
        # Before 3.3 dkms only ever sets build_exclude, never clears it: one the file sets excludes.
        carried = reading.scalar('build_exclude')
        if carried is UNKNOWN:
            return None
        if carried:
            return True
    rules = reading.exclusive_rules()
    if rules is None:
        return None
    if reading.version >= (3, 3, 0) and reading.records is not None and not reading.records:
        return False
    return _rule_out(dict((key, values.get(0)) for key, values in rules.items()), release, arch, kernel_config, warn)


def _built_names(reading, release, arch, kernel_config, warn):
    """The sorted names of the records this reading builds for the kernel, None when unknown."""
    if reading.records is None:
        return None
    # From 3.3.0 each module but the first may have rules of its own (the first's are the package's).
    rules = reading.exclusive_rules() if reading.version >= (3, 3, 0) and len(reading.records) > 1 else {}
    if rules is None:
        return None
    names = set()
    for index, record in enumerate(reading.records):
        own = dict((key, values.get(index)) for key, values in rules.items()) if index else {}
        excluded = _rule_out(own, release, arch, kernel_config, warn) if any(own.values()) else False
        if excluded is None:
            return None
        if not excluded:
            names.add(record[1])
    return sorted(names)


def _rule_out(rules, release, arch, kernel_config, warn):
    """True when these rules rule ``release`` out, False when not, None when unknown."""
    unknown = False
    for key, text in (('KERNEL', release), ('ARCH', arch)):
        pattern = rules.get(key)
        if not pattern or text is None:
            unknown = unknown or (pattern and text is None)
            continue
        # Imported only here: few packages have a pattern, and the matcher is a sizeable module to compile.
        from ansible_collections.kabi.dkms.plugins.module_utils._ere import EreError, EreUnsupported, ere_search
        try:
            if not ere_search(pattern, text):
                return True
        except EreError:
            return True  # bash's `! [[ x =~ bad ]]` is true: an invalid pattern excludes every kernel
        except EreUnsupported as exc:
            if warn:
                warn('BUILD_EXCLUSIVE_%s %r cannot be matched here: %s' % (key, pattern, exc))
            unknown = True
    if rules.get('KERNEL_MIN') and compare_releases(release, rules['KERNEL_MIN']) < 0:
        return True
    if rules.get('KERNEL_MAX') and compare_releases(release, rules['KERNEL_MAX']) > 0:
        return True
    if rules.get('CONFIG'):
        config = kernel_config() if kernel_config else None
        if config is None:
            return None
        for option in rules['CONFIG'].split():
            wanted = not option.startswith('!')
            if (config.get(option.lstrip('!'), '')[:1] in ('y', 'm')) != wanted:
                return True
    return None if unknown else False
