# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dkms tree (``/var/lib/dkms``) and each package's dkms.conf, read as files.

Layout (dkms 2.x and 3.x)::

    DKMS_TREE/M/V/source -> SOURCE_TREE/M-V          registered ("added")
    DKMS_TREE/M/V/KVER/ARCH/module/NAME.ko[.xz]      built for KVER
    DKMS_TREE/M/kernel-KVER-ARCH -> V/KVER/ARCH       installed for KVER

``dkms status`` is never run or parsed: its format changed four times and it is slow.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import pickle
import posixpath
import re
import stat

from ansible_collections.kabi.dkms.plugins.module_utils import _dkms_conf, _shell_vars
from ansible_collections.kabi.dkms.plugins.module_utils._dkms_conf import DkmsConf, read_dkms_version
from ansible_collections.kabi.dkms.plugins.module_utils._lazy_re import LazyPattern
from ansible_collections.kabi.dkms.plugins.module_utils._vercmp import compare_releases
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError, is_absent, is_text
from ansible_collections.kabi.dkms.plugins.module_utils._shell_vars import UNKNOWN, parse_shell_vars

DEFAULT_DKMS_TREE = '/var/lib/dkms'
DEFAULT_SOURCE_TREE = '/usr/src'
DEFAULT_INSTALL_TREE = '/lib/modules'
MODULE_SUFFIXES = ('.ko', '.ko.gz', '.ko.xz', '.ko.zst')
# dkms keeps the log of a build that failed (or never finished) in the package version's build/.
FAILED_BUILD_LOG = 'build/make.log'
LOG_TAIL_BYTES = 4096
LOG_TAIL_LINES = 20
_LOG_HEADER = LazyPattern(r'make\.log for \S+ for kernel (\S+) \(([^)\s]*)\)')
ETC_DKMS = '/etc/dkms'
FRAMEWORK_CONF = '/etc/dkms/framework.conf'
# dkms's own framework.conf is some 3 KiB of comments.
FRAMEWORK_CONF_LIMIT = 1024 * 1024
# System directories whose entries are no dkms packages: a dkms_tree naming one is a mistake.
NOT_DKMS_TREES = frozenset(['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/opt', '/proc',
                            '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/usr/lib', '/usr/local',
                            '/usr/src', '/var', '/var/lib'])
_KERNEL_LINK = re.compile(r'^kernel-(.+)-([^-]+)$')


def split_module_suffix(path):
    """``(path without the suffix, suffix)`` of a ``.ko*`` file, ``(path, '')`` for other files."""
    if path.endswith(MODULE_SUFFIXES):  # told in C for the other files, without a look at each suffix
        for suffix in MODULE_SUFFIXES:
            if path.endswith(suffix) and len(path) > len(suffix):
                return path[:-len(suffix)], suffix
    return path, ''


def module_name(filename):
    """Module name of a ``.ko*`` file name, or None for other files."""
    stem, suffix = split_module_suffix(filename)
    return stem if suffix else None


def normalize_module_name(name):
    """The kernel treats '-' and '_' in module names as the same character."""
    return name.replace('-', '_')


def _version_key_pep440():
    try:
        from packaging.version import InvalidVersion, Version
    except Exception:  # packaging is optional on targets
        return None, None
    return Version, InvalidVersion


def sort_versions(versions):
    """Package versions oldest first.

    PEP 440 order (``packaging``) when every version parses as PEP 440 and ``packaging``
    is importable; otherwise rpm-style segment order, which agrees with PEP 440 for plain
    dotted numbers such as ``550.54.14``.
    """
    versions = list(versions)
    if len(versions) < 2:
        return versions  # nothing to order: spare the import of packaging
    version_class, invalid = _version_key_pep440()
    if version_class is not None:
        try:
            return sorted(versions, key=lambda v: (version_class(v), v))
        except invalid:
            pass
    import functools
    return sorted(versions, key=functools.cmp_to_key(compare_releases))


class Build:
    """One package version built for one kernel and architecture."""

    __slots__ = ('kernel', 'arch', 'path', 'modules')

    def __init__(self, kernel, arch, path, modules):
        self.kernel = kernel
        self.arch = arch
        self.path = path          # in-root path of the build's module/ directory
        self.modules = modules    # {module name: in-root path of the built file}


class PackageVersion:
    """One registered version of a package."""

    __slots__ = ('name', 'version', 'source', 'broken', 'conf', 'builds', 'failed_build')

    def __init__(self, name, version, source, broken, conf, builds, failed_build=None):
        self.name = name
        self.version = version
        self.source = source      # in-root path of the source directory, or None
        self.broken = broken      # source link dangling or missing
        self.conf = conf          # DkmsConf, or None when dkms.conf cannot be read
        self.builds = builds      # {kernel release: Build}
        self.failed_build = failed_build  # fact dict of the build dkms left unfinished, or None

    def install_location(self, module):
        """Where dkms.conf asks ``module`` to be installed (``/kernel/drivers/video``), or None.

        dkms installs into updates/ or extra/ on the distributions it knows from os-release
        (the first word of ID_LIKE, else ID: debian, ubuntu, arch, suse, fedora, rhel, and
        centos since dkms 3.4.2) and into DEST_MODULE_LOCATION everywhere else: Gentoo,
        Alpine, or Amazon Linux 2 (ID_LIKE "centos rhel fedora") with an older dkms.
        """
        return self.conf.dest_module_locations().get(module) if self.conf else None

    def module_names(self):
        """Installed module names: the builds are authoritative, dkms.conf otherwise."""
        names = set()
        for build in self.builds.values():
            names.update(build.modules)
        if names:
            return sorted(names)
        declared = self.conf.dest_module_names() if self.conf else None
        return sorted(declared) if declared is not None else None


class Package:
    """A DKMS package: its versions and the kernels it is installed for."""

    __slots__ = ('name', 'versions', 'installed', '_ordered')

    def __init__(self, name, versions, installed):
        self.name = name
        self.versions = versions      # {version: PackageVersion}
        self.installed = installed    # {kernel release: (version, arch)} from kernel-K-ARCH links
        self._ordered = None

    def ordered_versions(self):
        """Registered versions, oldest first (sorted once: the facts ask for every kernel)."""
        if self._ordered is None:
            self._ordered = sort_versions(self.versions)
        return list(self._ordered)

    def newest(self):
        """The PackageVersion of the newest registered version, or None."""
        return self.versions[self._ordered[-1]] if self.ordered_versions() else None


def package_conf_facts(package):
    """The part of a package's fact that dkms.conf and the dkms tree's build logs tell.

    Read from the newest version, as dkms autoinstall does; each value is None where a static
    read cannot know it. ``failed_builds``: every version's build that dkms left unfinished.
    """
    newest = package.newest()
    conf = newest.conf if newest is not None else None
    failed = []
    for version in package.ordered_versions():
        build = package.versions[version].failed_build
        if build is not None:
            failed.append(dict(build, version=version))
    return {
        'autoinstall': conf.autoinstall if conf is not None else None,
        'modules': newest.module_names() if newest is not None else None,
        'build_depends': conf.build_depends if conf is not None else None,
        'no_weak_modules': conf.no_weak_modules if conf is not None else None,
        'obsolete_by': conf.obsolete_by if conf is not None else None,
        'build_exclusive': conf.build_exclusive() if conf is not None else None,
        'dkms_conf': {
            'path': posixpath.join(newest.source, 'dkms.conf') if conf is not None else None,
            'dkms_version': '.'.join(str(part) for part in conf.dkms_version) if conf and conf.dkms_version else None,
            'valid': conf.valid() if conf is not None else None,
            'errors': conf.errors() if conf is not None else [],
        },
        'failed_builds': failed,
    }


class DkmsTree:
    """Locations and packages of one dkms tree."""

    def __init__(self, dkms_tree, source_tree, install_tree, packages, etc_names=None):
        self.dkms_tree = dkms_tree
        self.source_tree = source_tree
        self.install_tree = install_tree
        self.packages = packages      # {name: Package}
        self.etc_names = etc_names    # as _etc_dkms_names gave them, for the overrides of each kernel


def dumps_tree(tree, warnings):
    """The DkmsTree ``tree`` and the warnings its reading gave, as bytes for ``loads_tree`` in
    another process (the compare worker reads the tree while its parent reads modules)."""
    return pickle.dumps((tree, warnings), pickle.HIGHEST_PROTOCOL)


# What a tree is made of: loads_tree makes nothing else, whatever the bytes say.
_TREE_CLASSES = {
    __name__: ('DkmsTree', 'Package', 'PackageVersion', 'Build'),
    _dkms_conf.__name__: ('DkmsConf', 'Reading', 'DkmsVersion'),
    _shell_vars.__name__: ('UNKNOWN',),
}


class _TreeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if name not in _TREE_CLASSES.get(module, ()):
            raise pickle.UnpicklingError('not part of a dkms tree: %s.%s' % (module, name))
        return pickle.Unpickler.find_class(self, module, name)


def loads_tree(data, rootfs, warn):
    """``(DkmsTree, warnings)`` of what dumps_tree gave, each dkms.conf bound to ``rootfs`` and
    ``warn`` as read_dkms_tree binds it (the warnings are the caller's to tell)."""
    tree, warnings = _TreeUnpickler(io.BytesIO(data)).load()
    for package in tree.packages.values():
        for version in package.versions.values():
            if version.conf is not None:
                version.conf.bind(warn, _kernel_overrides(rootfs, warn, package.name, version.version, tree.etc_names))
    return tree, warnings


def _framework_files(rootfs, warn):
    """framework.conf and framework.conf.d/*.conf as far as they exist; an /etc/dkms that cannot
    be read is one warning."""
    try:
        names = rootfs.listdir(ETC_DKMS)
    except (OSError, RootPathError) as exc:
        if not is_absent(exc):
            warn('cannot read /etc/dkms: %s; dkms\'s default locations are used' % exc)
        return []
    files = [FRAMEWORK_CONF] if 'framework.conf' in names else []
    if 'framework.conf.d' in names:
        files += ['/etc/dkms/framework.conf.d/' + name
                  for name in _listdir(rootfs, warn, '/etc/dkms/framework.conf.d') if name.endswith('.conf')]
    return files


def read_locations(rootfs, warn, dkms_tree=None, source_tree=None, install_tree=None):
    """The dkms, source and install trees, honouring /etc/dkms/framework.conf[.d].

    Explicit arguments win, as dkms's own --dkmstree/--sourcetree/--installtree do. A file
    that exists but cannot be read, and a dkms_tree that cannot be one (``/``, ``/usr``, a
    relative path), are warned about; the defaults stand in for them.
    """
    text = []
    for path in _framework_files(rootfs, warn):
        try:
            text.append(rootfs.read_text(path, FRAMEWORK_CONF_LIMIT))
        except (OSError, RootPathError) as exc:
            if not is_absent(exc):
                warn('cannot read %s: %s' % (path, exc))
    variables = parse_shell_vars('\n'.join(text))
    found = {}
    for key, default in (('dkms_tree', DEFAULT_DKMS_TREE), ('source_tree', DEFAULT_SOURCE_TREE),
                         ('install_tree', DEFAULT_INSTALL_TREE)):
        value = variables.get(key)
        if value is UNKNOWN:
            warn('%s in %s is not static; using %s' % (key, FRAMEWORK_CONF, default))
            value = None
        elif key == 'dkms_tree' and value and (not value.startswith('/')
                                               or posixpath.normpath(value) in NOT_DKMS_TREES):
            warn('dkms_tree=%s in %s cannot be a dkms tree; using %s' % (value, FRAMEWORK_CONF, default))
            value = None
        found[key] = value or default
    return (dkms_tree or found['dkms_tree'], source_tree or found['source_tree'],
            install_tree or found['install_tree'])


def _etc_dkms_names(rootfs):
    """The names in /etc/dkms (none when it does not exist), or None when it cannot be listed.

    Listed once, so that the overrides a package does not have (most of them) cost no look-up.
    """
    try:
        return frozenset(rootfs.listdir(ETC_DKMS))
    except (OSError, RootPathError) as exc:
        return frozenset() if is_absent(exc) else None


def _override_exists(rootfs, path, etc_names):
    """Whether the conf file ``path`` in /etc/dkms exists; ``etc_names`` as _etc_dkms_names gives them."""
    name = path[len(ETC_DKMS) + 1:]
    if etc_names is not None and '/' not in name and name not in etc_names:
        return False
    return rootfs.isfile(path)


def _read_conf_texts(rootfs, warn, paths, required=None, etc_names=None):
    """The texts of ``required`` and of the conf files among ``paths`` (in /etc/dkms) that exist;
    None when one cannot be read."""
    texts = []
    for path in ([required] if required else []) + paths:
        if path != required and not _override_exists(rootfs, path, etc_names):
            continue
        try:
            texts.append(rootfs.read_text(path, limit=1024 * 1024))
        except (OSError, RootPathError) as exc:
            warn('cannot read %s: %s' % (path, exc))
            return None
    return texts


def _may_have_overrides(name, etc_names):
    """Whether /etc/dkms (``etc_names`` as _etc_dkms_names gives them) may hold an override of
    package ``name``: each one's name is NAME.conf or NAME-...conf. Most packages have none, and
    then no override's name need be made, for the package nor for each kernel."""
    return etc_names is None or any(entry.startswith((name + '.', name + '-')) for entry in etc_names)


def _read_conf(rootfs, warn, name, version, source, dkms_version=None, trees=None, etc_names=None):
    """dkms.conf and the admin's overrides in /etc/dkms, in the order dkms sources them."""
    kernel_texts = _kernel_overrides(rootfs, warn, name, version, etc_names)     # None: no override of the package
    texts = _read_conf_texts(rootfs, warn, ['/etc/dkms/%s.conf' % name, '/etc/dkms/%s-%s.conf' % (name, version)]
                             if kernel_texts else [], posixpath.join(source, 'dkms.conf'), etc_names)
    if texts is None:
        return None
    return DkmsConf(texts, name, version, dkms_version, trees, kernel_texts, warn)


def _kernel_overrides(rootfs, warn, name, version, etc_names):
    """``kernel_texts(release, arch)`` of DkmsConf: the admin's overrides of the package version
    for one kernel; None where /etc/dkms holds none of the package's."""
    if not _may_have_overrides(name, etc_names):
        return None

    def kernel_texts(release, arch):
        paths = ['/etc/dkms/%s-%s-%s.conf' % (name, version, release),
                 '/etc/dkms/%s-%s-%s-%s.conf' % (name, version, release, arch),
                 '/etc/dkms/%s--%s.conf' % (name, release), '/etc/dkms/%s--%s-%s.conf' % (name, release, arch)]
        return _read_conf_texts(rootfs, warn, paths, etc_names=etc_names) or []
    return kernel_texts


def _read_failed_build(rootfs, warn, version_dir):
    """The build dkms left in ``build/``: it removes that directory once a build succeeds."""
    path = posixpath.join(version_dir, FAILED_BUILD_LOG)
    if not rootfs.isfile(path):
        return None
    try:
        with rootfs.open(path) as handle:
            head = handle.read(512).decode('utf-8', 'replace')
            size = handle.seek(0, 2)
            handle.seek(max(size - LOG_TAIL_BYTES, 0))
            tail = handle.read(LOG_TAIL_BYTES).decode('utf-8', 'replace')
    except (OSError, RootPathError) as exc:
        warn('cannot read %s: %s' % (path, exc))
        return None
    header = _LOG_HEADER.search(head.split('\n', 1)[0])
    lines = tail.splitlines()
    if size > LOG_TAIL_BYTES:
        lines = lines[1:]  # the first one is cut
    return {'kernel': header.group(1) if header else None, 'arch': header.group(2) if header else None,
            'log': path, 'tail': lines[-LOG_TAIL_LINES:]}


def _read_builds(rootfs, warn, version_dir, entries):
    """The builds among ``entries``, the listing of ``version_dir`` (names joined as read_package joins them)."""
    builds = {}
    for kernel in entries:
        if not kernel[:1].isdigit():
            continue
        kernel_dir = version_dir + '/' + kernel
        for arch in _listdir(rootfs, warn, kernel_dir):
            module_dir = kernel_dir + '/' + arch + '/module'
            modules = {}
            for filename in _listdir(rootfs, warn, module_dir, only_if_dir=True) or []:
                name = module_name(filename)
                if name:
                    modules[name] = module_dir + '/' + filename
            if modules:
                # An empty module/ is a build dkms never finished (killed, or make failed).
                builds[kernel] = Build(kernel, arch, module_dir, modules)
    return builds


def _read_installed(rootfs, warn, package_dir, entries):
    installed = {}
    for entry in entries:
        match = _KERNEL_LINK.match(entry)
        if not match:
            continue
        path = package_dir + '/' + entry
        try:
            target = rootfs.readlink(path)
        except (OSError, RootPathError) as exc:
            warn('cannot read the dkms install link %s: %s' % (path, exc))
            continue
        # Relative "V/KVER/ARCH" normally; older dkms wrote absolute paths.
        absolute = target if target.startswith('/') else package_dir + '/' + target
        parts = [p for p in posixpath.normpath(absolute).split('/') if p]
        base = [p for p in package_dir.split('/') if p]
        if parts[:len(base)] != base or len(parts) <= len(base):
            warn('dkms install link %s points outside its package: %s' % (path, target))
            continue
        installed[match.group(1)] = (parts[len(base)], match.group(2))
    return installed


def _listdir(rootfs, warn, path, only_if_dir=False):
    """Entries of a directory of the dkms tree; names that are not valid UTF-8 are skipped with
    a warning, since no fact can carry them. ``only_if_dir``: None for a path that is no
    directory, which is no error (asked only when the listing fails: one lookup for a directory)."""
    try:
        names = rootfs.listdir(path)
    except (OSError, RootPathError) as exc:
        if only_if_dir and not rootfs.isdir(path):
            return None
        warn('cannot list %s: %s' % (path, exc))
        return []
    texts = [name for name in names if is_text(name)]
    if len(texts) < len(names):
        for name in names:
            if not is_text(name):
                warn('skipping %r in %s: the name is not valid UTF-8' % (name, path))
    return texts


def _source_directory(rootfs, source_link):
    """The in-root directory the version's source link leads to, or None (dangling, a loop,
    no directory): one lookup tells both."""
    try:
        resolved, kind = rootfs.lookup(source_link)
    except RootPathError:
        return None
    return resolved if kind == stat.S_IFDIR else None


def read_package(rootfs, warn, dkms_tree, name, dkms_version=None, trees=None, etc_names=None):
    """One package of the dkms tree, or None when ``name`` is no directory there; ``dkms_version``
    and ``trees`` as DkmsConf takes them, ``etc_names`` as _etc_dkms_names gives them (None: each
    override is looked up)."""
    package_dir = posixpath.join(dkms_tree, name)
    entries = _listdir(rootfs, warn, package_dir, only_if_dir=True)
    if entries is None:
        return None
    versions = {}
    for version in entries:
        # Below the package's directory, names from listings are joined by a slash: none is empty
        # or holds one, so posixpath.join would give the same paths, at a higher cost.
        version_dir = package_dir + '/' + version
        if version.startswith('kernel-') or version == 'original_module':
            continue
        version_entries = _listdir(rootfs, warn, version_dir, only_if_dir=True)
        if version_entries is None:
            continue
        source = _source_directory(rootfs, version_dir + '/source')
        conf = _read_conf(rootfs, warn, name, version, source, dkms_version, trees, etc_names) if source else None
        builds = _read_builds(rootfs, warn, version_dir, version_entries)
        # No build/ in the listing: no failed build to look for (an empty listing may be one that failed).
        failed = _read_failed_build(rootfs, warn, version_dir) \
            if 'build' in version_entries or not version_entries else None
        versions[version] = PackageVersion(name, version, source, source is None, conf, builds, failed)
    return Package(name, versions, _read_installed(rootfs, warn, package_dir, entries))


def _read_package_guarded(rootfs, warn, dkms_tree, name, dkms_version, trees, etc_names):
    """read_package, where an unexpected error costs only this package: it is reported with
    nothing registered or installed, so never covered. None when ``name`` is no package directory."""
    try:
        return read_package(rootfs, warn, dkms_tree, name, dkms_version, trees, etc_names)
    except MemoryError:
        warn('package %s: ran out of memory while reading it; reported as having nothing' % name)
    except Exception as exc:  # pylint: disable=broad-except
        warn('package %s: unexpected error while reading it (%s: %s); reported as having nothing'
             % (name, type(exc).__name__, exc))
    return Package(name, {}, {})


def read_dkms_tree(rootfs, warn, names=None, dkms_tree=None, source_tree=None, install_tree=None):
    """Every package of the dkms tree (or only ``names``)."""
    return read_packages(rootfs, warn, read_locations(rootfs, warn, dkms_tree, source_tree, install_tree), names)


def package_entries(rootfs, dkms_tree):
    """How many entries the dkms tree ``dkms_tree`` holds, each a package as a rule; 0 when it
    cannot be listed (read_packages tells why)."""
    try:
        return len(rootfs.listdir(dkms_tree))
    except (OSError, RootPathError):
        return 0


def read_packages(rootfs, warn, locations, names=None):
    """Every package (or only ``names``) of the dkms tree at ``locations``, the dkms, source and
    install trees as read_locations gives them."""
    dkms_tree, source_tree, install_tree = locations
    packages = {}
    etc_names = None
    if rootfs.isdir(dkms_tree):
        dkms_version = read_dkms_version(rootfs, warn)
        trees = {'dkms_tree': dkms_tree, 'source_tree': source_tree, 'install_tree': install_tree}
        etc_names = _etc_dkms_names(rootfs)
        for name in _listdir(rootfs, warn, dkms_tree):
            if names is not None and name not in names:
                continue
            package = _read_package_guarded(rootfs, warn, dkms_tree, name, dkms_version, trees, etc_names)
            if package is not None:
                packages[name] = package
    else:
        # No dkms tree is a host without dkms; one that cannot be listed hides every package.
        try:
            if rootfs.lookup(dkms_tree)[1] is not None:
                warn('the dkms tree %s is not a directory: no package can be read' % dkms_tree)
        except RootPathError as exc:
            warn('the dkms tree cannot be read (%s): no package can be read' % exc)
    return DkmsTree(dkms_tree, source_tree, install_tree, packages, etc_names)
