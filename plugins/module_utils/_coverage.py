# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The join: per kernel and package, is the package there when the kernel boots.

``gather_facts`` is the one entry point of ``kabi.dkms.dkms_facts``: it calls the readers
(kernels, dkms tree, module trees, .ko files, symvers), asks for kABI verdicts, and joins
everything into the ``ansible_facts['dkms']`` dictionary of the contract.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath

from ansible_collections.kabi.dkms.plugins.module_utils._dkms_tree import (
    MODULE_SUFFIXES, normalize_module_name, package_conf_facts, read_dkms_tree, split_module_suffix)
from ansible_collections.kabi.dkms.plugins.module_utils._kabi import (
    SymversError, judge, read_symvers, vermagic_from_config)
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import gather_kernels, read_kernel_config, sort_releases
from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoError, KoReader, KoUnreadableHere
from ansible_collections.kabi.dkms.plugins.module_utils._module_tree import (
    OUT_OF_TREE_DIRS, read_in_tree_names, read_out_of_tree, read_search_order, read_weak_links, shadowing_file)
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError, remembered

SCHEMA_VERSION = 1
COVERED_STATUSES = ('installed', 'weak', 'excluded')
# Which candidate describes a package on a kernel when several versions say different
# things: what provides it first, then what is most worth a human's attention.
STATUS_ORDER = ('installed', 'weak', 'broken', 'weak-incompatible', 'built', 'missing')


class Provided:
    """A module file dkms made: which package, version and kernel it belongs to."""

    __slots__ = ('package', 'version', 'kernel', 'module')

    def __init__(self, package, version, kernel, module):
        self.package = package
        self.version = version
        self.kernel = kernel
        self.module = module


class Candidate:
    """What one package version says about one kernel."""

    __slots__ = ('status', 'version', 'provider_kernel', 'modules')

    def __init__(self, status, version, modules, provider_kernel=None):
        self.status = status
        self.version = version
        self.modules = modules              # {module name: module fact}
        self.provider_kernel = provider_kernel


def module_fact(status, path=None, target=None, kabi=None, shadowed_by=None):
    return {'status': status, 'path': path, 'target': target, 'kabi': kabi, 'shadowed_by': shadowed_by}


def package_status_of(modules):
    """A package's status from its modules' (weak links are all-or-nothing)."""
    statuses = set(fact['status'] for fact in modules.values())
    if statuses == set(['weak']):
        return 'weak'
    if 'broken' in statuses or 'missing' in statuses:
        return 'broken'
    return 'weak-incompatible'


class KernelTree:
    """The module tree of one kernel: weak links and out-of-tree files; in-tree names and the
    headers' config on demand."""

    def __init__(self, rootfs, warn, kernel):
        self.rootfs = rootfs
        self.warn = warn
        self.kernel = kernel
        self.weak_links = read_weak_links(rootfs, warn, kernel.modules_dir)
        self.out_of_tree = read_out_of_tree(rootfs, warn, kernel.modules_dir)
        self._in_tree = None
        self._config = False  # not read yet; None once read means the headers have no config
        self._copies = {}

    @property
    def in_tree(self):
        if self._in_tree is None:
            self._in_tree = read_in_tree_names(self.rootfs, self.kernel.modules_dir)
        return self._in_tree

    @property
    def config(self):
        if self._config is False:
            self._config = read_kernel_config(self.rootfs, self.kernel.modules_dir)
        return self._config

    def installed_copy(self, version, name):
        """``(path, same)`` of the copy in this kernel's tree of module ``name`` as dkms built it
        for this kernel from PackageVersion ``version``.

        The copy is looked for in updates/ and extra/, and where the module's
        DEST_MODULE_LOCATION puts it (such as ``/kernel/drivers/video``).
        ``same`` is True when the bytes match (or dkms compressed the copy on install, so
        only the name can be compared cheaply), False when they differ, None when the copy
        cannot be read; ``path`` is None when there is no copy. Compared once per file.
        """
        return remembered(self._copies, (version.name, version.version, name),
                          lambda key: self._find_copy(version, name))

    def _find_copy(self, version, name):
        built_path = version.builds[self.kernel.release].modules[name]
        location = version.install_location(name)
        candidates = list(self.out_of_tree.get(normalize_module_name(name), ()))
        if location and location.split('/')[1] not in OUT_OF_TREE_DIRS:  # those are read whole
            stem = posixpath.join(self.kernel.modules_dir, location.lstrip('/'), name)
            candidates += [stem + suffix for suffix in MODULE_SUFFIXES
                           if stem + suffix not in candidates and self.rootfs.isfile(stem + suffix)]
        found = (None, False)
        for path in candidates:
            if split_module_suffix(path)[1] != split_module_suffix(built_path)[1]:
                return path, True
            try:
                if self.rootfs.same_content(path, built_path):
                    return path, True
                found = found if found[0] else (path, False)
            except (OSError, RootPathError) as exc:
                self.warn('cannot compare %s with %s: %s' % (path, built_path, exc))
                found = (path, None)
        return found


class KabiJudge:
    """kABI verdicts for weak links; each kernel's symvers and vermagic read once, lazily."""

    def __init__(self, rootfs, warn, reader, kernels, trees):
        self.rootfs = rootfs
        self.warn = warn
        self.reader = reader
        self.kernels = kernels
        self.trees = trees
        self._exports = {}
        self._in_tree = {}

    def exports(self, release):
        """The kernel's Symvers, or None (with a warning) when it has none to read."""
        return remembered(self._exports, release, self._read_exports)

    def _read_exports(self, release):
        symvers = self.kernels[release].symvers
        if symvers is None:
            self.warn('kernel %s has no symvers file: its weak links cannot be kABI-checked' % release)
            return None
        try:
            return read_symvers(self.rootfs, symvers)
        except SymversError as exc:
            self.warn(str(exc))
            return None

    def vermagic(self, release):
        """The kernel's vermagic: from one of its own modules, else from its headers."""
        in_tree = self.in_tree_module(release)
        if in_tree is not None and in_tree.vermagic is not None:
            return in_tree.vermagic
        return vermagic_from_config(release, self.trees[release].config)

    def in_tree_module(self, release):
        """ModuleInfo of one of the kernel's own modules, or None; read once per kernel."""
        return remembered(self._in_tree, release, self._read_in_tree_module)

    def _read_in_tree_module(self, release):
        kernel = self.kernels[release]
        for relative in sorted(self.trees[kernel.release].in_tree.values())[:3]:
            stem = split_module_suffix(posixpath.join(kernel.modules_dir, relative))[0]
            for suffix in MODULE_SUFFIXES:
                if self.rootfs.isfile(stem + suffix):
                    try:
                        return self.reader.read(stem + suffix)
                    except KoError:
                        break
        return None

    def foreign_elf(self, release, info):
        """Why ``info`` cannot be a module for this kernel's machine, or None.

        The kernel's ELF class, machine and byte order come from one of its own modules;
        a kernel with none to read is not judged on this.
        """
        own = self.in_tree_module(release)
        if own is None:
            return None
        for label, mine, theirs in (('ELF class', info.elf_class, own.elf_class),
                                    ('machine', info.machine, own.machine),
                                    ('byte order', info.little_endian, own.little_endian)):
            if mine is not None and theirs is not None and mine != theirs:
                return '%s %s, the kernel has %s' % (label, mine, theirs)
        return None

    def verdict(self, release, info, siblings, provider_release):
        """Verdict fact for ModuleInfo ``info`` on ``release``, or None when unknowable.

        ``siblings``: ModuleInfo of the package's other modules available on the kernel.
        Their exports are accepted by name; when a reader cannot list exports (kmod), a
        symbol the provider kernel does not export either is accepted while a sibling
        loads, since it can only have come from outside that kernel.
        """
        exports = self.exports(release)
        if exports is None:
            return None
        sibling_exports = set()
        unknown_exports = False
        for sibling in siblings:
            if sibling.exports is None:
                unknown_exports = True
            else:
                sibling_exports.update(sibling.exports)
        if unknown_exports and provider_release in self.kernels:
            provider = self.exports(provider_release) or {}
            sibling_exports.update(symbol for symbol, _crc in info.versions
                                   if symbol not in exports and symbol not in provider)
        verdict = judge(info, exports, self.vermagic(release), sibling_exports, release)
        if verdict.namespaces and (self.trees[release].config or {}).get(
                'CONFIG_MODULE_ALLOW_MISSING_NAMESPACE_IMPORTS') == 'y':
            verdict.namespaces = []  # such a kernel loads the module with a warning
        return verdict.as_fact()


def _provided_files(rootfs, tree, trees):
    """{in-root canonical path: Provided} of every dkms build and installed copy."""
    provided = {}
    for package in tree.packages.values():
        for version in package.versions.values():
            for build in version.builds.values():
                for name, path in build.modules.items():
                    record = Provided(package.name, version.version, build.kernel, name)
                    provided[_canonical(rootfs, path)] = record
                    installed_version = package.installed.get(build.kernel, (None,))[0]
                    if installed_version == version.version and build.kernel in trees:
                        copy, same = trees[build.kernel].installed_copy(version, name)
                        if copy and same is not False:
                            # An unreadable copy still names its weak links' owner; reading
                            # it for the verdict then reports the problem.
                            provided[_canonical(rootfs, copy)] = record
    return provided


def _canonical(rootfs, path):
    try:
        return rootfs.resolve(path)
    except RootPathError:
        return path


def _installed_candidate(package, version, release, kernel_tree):
    build = version.builds.get(release)
    if build is None or not build.modules:
        return Candidate('broken', version.version, {})
    modules = {}
    for name, built_path in sorted(build.modules.items()):
        copy, same = kernel_tree.installed_copy(version, name)
        modules[name] = module_fact('installed' if copy and same else 'broken', path=copy, target=built_path)
    status = 'installed' if all(m['status'] == 'installed' for m in modules.values()) else 'broken'
    return Candidate(status, version.version, modules)


def _weak_candidates(context, package, release):
    """Candidates from the weak links of ``release`` that point at builds of ``package``."""
    kernel_tree = context.trees[release]
    groups = {}
    for link in kernel_tree.weak_links:
        record = context.provided.get(link.target) if link.target else None
        if record is not None and record.package == package.name:
            groups.setdefault((record.version, record.kernel), {})[record.module] = link
        elif record is None and link.problem and _declares(package, link.name):
            groups.setdefault((None, None), {})[link.name] = link
    candidates = []
    for (version, provider), links in groups.items():
        if version is None:
            modules = dict((name, module_fact('broken', link.path, link.points_to)) for name, link in links.items())
            candidates.append(Candidate('broken', None, modules))
            continue
        expected = sorted(package.versions[version].builds[provider].modules)
        modules = context.judge_links(release, provider, expected, links)
        candidates.append(Candidate(package_status_of(modules), version, modules, provider))
    return candidates


def _declares(package, name):
    key = normalize_module_name(name)
    return any(key == normalize_module_name(declared)
               for version in package.versions.values() for declared in (version.module_names() or ()))


class Context:
    """Everything the join reads, shared by all kernels and packages."""

    def __init__(self, rootfs, warn, kernels, tree, trees, reader, kabi_check):
        self.rootfs = rootfs
        self.warn = warn
        self.kernels = kernels
        self.trees = trees
        self.reader = reader
        self.kabi_check = kabi_check and reader.name is not None
        self.provided = _provided_files(rootfs, tree, trees)
        self.search = read_search_order(rootfs, warn) if any(t.weak_links for t in trees.values()) else ()
        self.judge = KabiJudge(rootfs, warn, reader, kernels, trees)

    def judge_links(self, release, provider, expected, links):
        """Module facts for the weak links of one build on one kernel."""
        kernel_tree = self.trees[release]
        modules = {}
        infos = {}
        for name in expected:
            link = links.get(name)
            if link is None:
                modules[name] = module_fact('missing')
                continue
            shadow = shadowing_file(link, self.kernels[release].modules_dir, self.search,
                                    kernel_tree.out_of_tree, kernel_tree.in_tree)
            if link.problem or shadow:
                modules[name] = module_fact('broken' if link.problem else 'missing', link.path, link.points_to,
                                            shadowed_by=shadow)
                continue
            modules[name] = module_fact('weak', link.path, link.points_to)
            if self.kabi_check:
                try:
                    infos[name] = self.reader.read(link.target)
                    foreign = self.judge.foreign_elf(release, infos[name])
                    if foreign:
                        raise KoError('%s: %s' % (link.target, foreign))
                except KoUnreadableHere as exc:
                    # Nothing wrong with the file that we know of: no verdict, still coverage.
                    self.warn('weak link %s: %s' % (link.path, exc))
                except KoError as exc:
                    self.warn('weak link %s: %s' % (link.path, exc))
                    modules[name]['status'] = 'broken'
        # A sibling's exports count only while the sibling itself loads, so judge until no
        # verdict changes (weak-modules repeats its depmod run the same way).
        loadable = set(name for name in infos if modules[name]['status'] == 'weak')
        changed = True
        while changed:
            changed = False
            for name in sorted(loadable):
                siblings = [infos[other] for other in sorted(loadable) if other != name]
                verdict = self.judge.verdict(release, infos[name], siblings, provider)
                modules[name]['kabi'] = verdict
                if verdict is not None and not verdict['compatible']:
                    modules[name]['status'] = 'weak-incompatible'
                    loadable.discard(name)
                    changed = True
        return modules


def _candidates(context, package, release):
    kernel_tree = context.trees[release]
    candidates = []
    installed = package.installed.get(release)
    if installed is not None:
        version = package.versions.get(installed[0])
        if version is None:
            candidates.append(Candidate('broken', installed[0], {}))
        else:
            candidates.append(_installed_candidate(package, version, release, kernel_tree))
    candidates.extend(_weak_candidates(context, package, release))
    for version in package.versions.values():
        build = version.builds.get(release)
        if build is not None and (installed is None or installed[0] != version.version):
            modules = dict((name, module_fact('built', target=path)) for name, path in sorted(build.modules.items()))
            candidates.append(Candidate('built', version.version, modules))
    return candidates


def _choose(candidates, ordered_versions):
    """The candidate that describes the package: best status, then newest version."""
    def key(candidate):
        version_rank = ordered_versions.index(candidate.version) if candidate.version in ordered_versions else -1
        return (STATUS_ORDER.index(candidate.status), -version_rank)
    return min(candidates, key=key) if candidates else None


def package_on_kernel(context, package, release, arch):
    ordered = package.ordered_versions()
    newest = package.newest()
    chosen = _choose(_candidates(context, package, release), ordered)
    if chosen is None or chosen.status not in ('installed', 'weak'):
        excluded = newest.conf.excludes(release, arch, lambda: context.trees[release].config) \
            if newest is not None and newest.conf is not None else None
        if excluded:
            chosen = Candidate('excluded', None, {})
    if chosen is None:
        names = (newest.module_names() if newest else None) or []
        chosen = Candidate('missing', None, dict((name, module_fact('missing')) for name in names))
    provided = chosen.status in ('installed', 'weak')
    return {
        'status': chosen.status,
        'covered': chosen.status in COVERED_STATUSES,
        'version': chosen.version,
        'outdated': bool(provided and chosen.version != ordered[-1]),
        'provider_kernel': chosen.provider_kernel if chosen.status != 'installed' else None,
        'modules': chosen.modules,
    }


def _package_fact(package):
    ordered = package.ordered_versions()
    fact = {
        'versions': ordered,
        'newest': ordered[-1] if ordered else None,
        'broken_versions': [v for v in ordered if package.versions[v].broken],
    }
    fact.update(package_conf_facts(package))
    return fact


def _arch(rootfs, tree):
    for package in tree.packages.values():
        for version in package.versions.values():
            for build in version.builds.values():
                return build.arch
    return os.uname()[4] if rootfs.root == '/' else None


def gather_facts(rootfs, warn, packages=None, kabi_check=True, reader=None, runner=None, root=None,
                 dkms_tree=None, source_tree=None):
    """The ``ansible_facts['dkms']`` dictionary for the system under ``rootfs``.

    ``root`` is reported as given (defaults to the resolved root).
    """
    kernels, running, default, default_source = gather_kernels(rootfs, warn, runner)
    tree = read_dkms_tree(rootfs, warn, names=packages, dkms_tree=dkms_tree, source_tree=source_tree)
    trees = dict((release, KernelTree(rootfs, warn, kernel)) for release, kernel in kernels.items())
    ko_reader = KoReader(rootfs, runner=runner, reader=reader)
    if kabi_check and ko_reader.name is None:
        warn('no reader for .ko files: install pyelftools on the target (pip install pyelftools, or the '
             'python3-pyelftools package) or kmod; weak links are reported without kABI verdicts')
    context = Context(rootfs, warn, kernels, tree, trees, ko_reader, kabi_check)
    arch = _arch(rootfs, tree)

    package_facts = dict((name, _package_fact(tree.packages[name])) for name in sorted(tree.packages))
    kernel_facts = {}
    uncovered = []
    for release in sort_releases(kernels):
        kernel = kernels[release]
        fact = kernel.as_fact()
        fact['packages'] = {}
        for name in sorted(tree.packages):
            package = tree.packages[name]
            entry = package_on_kernel(context, package, release, arch)
            fact['packages'][name] = entry
            if not entry['covered'] and not kernel.stale:
                uncovered.append({'kernel': release, 'package': name, 'version': package_facts[name]['newest'],
                                  'status': entry['status'], 'headers': kernel.headers})
        fact['covered'] = all(entry['covered'] for entry in fact['packages'].values())
        kernel_facts[release] = fact

    counted = [fact for fact in kernel_facts.values() if not fact['stale']]
    covered = sum(1 for fact in counted if fact['covered'])
    return {
        'schema_version': SCHEMA_VERSION,
        'root': root or rootfs.root,
        'running_kernel': running,
        'default_kernel': default,
        'default_kernel_source': default_source,
        'kabi_reader': ko_reader.name,
        'packages': package_facts,
        'kernels': kernel_facts,
        'uncovered': uncovered,
        'summary': {'kernels': len(counted), 'covered': covered, 'uncovered': len(counted) - covered,
                    'packages': len(tree.packages)},
    }
