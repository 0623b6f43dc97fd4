# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The join: per kernel and package, is the package there when the kernel boots.

``gather_facts`` is the one entry point of ``kabi.dkms.dkms_facts``. The data runs one way:
the readers scan the files (kernels, dkms tree, module trees, .ko files, symvers); this file
matches files and weak links to the dkms builds they come from, hands every module file that
could load on a kernel to ``_loader.resolve`` (the loader's rules), and joins the decisions
into the ``ansible_facts['dkms']`` dictionary of the contract.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import gc
import os
import posixpath

from ansible_collections.kabi.dkms.plugins.module_utils._boot_policy import (
    dkms_certificate_fact, read_firmware_keys, read_signature_policy, signature_verdict)
from ansible_collections.kabi.dkms.plugins.module_utils._compare_ahead import CompareAhead
from ansible_collections.kabi.dkms.plugins.module_utils._dkms_tree import (
    dumps_tree, loads_tree, module_name, normalize_module_name, package_conf_facts, package_entries, read_locations,
    read_packages)
from ansible_collections.kabi.dkms.plugins.module_utils._kabi import SharedSymvers, vermagic_from_config
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import gather_kernels, let_go_of_config_texts, sort_releases
from ansible_collections.kabi.dkms.plugins.module_utils._kmod_program import read_kmod_program
from ansible_collections.kabi.dkms.plugins.module_utils._ko import (
    LOAD_ELFTOOLS, KoError, KoNotRead, KoReader, KoUnreadableHere)
from ansible_collections.kabi.dkms.plugins.module_utils._loader import (
    Decision, ExportTables, KernelABI, module_decompression, resolve)
from ansible_collections.kabi.dkms.plugins.module_utils._module_signature import DAMAGED
from ansible_collections.kabi.dkms.plugins.module_utils._module_tree import (
    UNTOLD, KernelTree, ModuleFile, dkms_install_dirs, read_depmod_config, shadowing_file)
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootPathError, remembered

SCHEMA_VERSION = 1
UNKNOWN_MODULE_LIST = 'which modules dkms.conf has dkms build for the kernel is not known: one may be missing'
COVERED_STATUSES = ('installed', 'weak', 'excluded')
# Which candidate describes a package on a kernel when several versions say different
# things: what provides it first, then what is most worth a human's attention.
STATUS_ORDER = ('installed', 'weak', 'rejected', 'broken', 'weak-incompatible', 'built', 'missing')
# What a module file the loader refuses is reported as: by the refusal, and for kABI by how
# the file came to the kernel (a native install for the wrong kernel is broken).
REFUSED = {('broken', 'installed'): 'broken', ('broken', 'weak'): 'broken',
           ('incompatible', 'installed'): 'broken', ('incompatible', 'weak'): 'weak-incompatible',
           ('rejected', 'installed'): 'rejected', ('rejected', 'weak'): 'rejected'}
_UNREAD = object()  # a value not read yet, where None is a value read
# Plain module files out of tree that keep the module busy while the compare worker reads the dkms
# tree (see _dkms_tree_read); with fewer it would mostly wait, and reads the tree itself.
READ_AHEAD_MIN = 32
_NO_GROUPS = {}     # weak_links_of's, for a package no link points at: never changed


class Provided:
    """A module file dkms made: which package, version and kernel it belongs to. ``differs``:
    the file is where dkms installed the build, but holds something else; ``untold``: this
    target cannot tell whether it is the build (see _module_tree.UNTOLD)."""

    __slots__ = ('package', 'version', 'kernel', 'module', 'differs', 'untold')

    def __init__(self, package, version, kernel, module, differs=False, untold=False):
        self.package = package
        self.version = version
        self.kernel = kernel
        self.module = module
        self.differs = differs
        self.untold = untold


class Candidate:
    """What one package version says about one kernel.

    ``files``: {module name: in-root path of the file the loader would load} for the modules
    that are present as installed copies or weak links, to be judged by ``_loader``. A candidate
    with files has the status package_status_of gives its modules (``_apply`` keeps it so).
    """

    __slots__ = ('status', 'version', 'provider_kernel', 'modules', 'files', 'uncertain', 'unknown_declared')

    def __init__(self, status, version, modules, provider_kernel=None, files=None, uncertain=(),
                 unknown_declared=False):
        self.status = status
        self.version = version
        self.modules = modules              # {module name: module fact}
        self.provider_kernel = provider_kernel
        self.files = files or {}
        self.uncertain = set(uncertain)     # modules whose status rests on a rule not checked
        # Which modules dkms.conf declares for the build's kernel is not known: a package that
        # loads as far as its modules go may still lack one (see _apply).
        self.unknown_declared = unknown_declared


def module_fact(status, path=None, target=None, shadowed_by=None, reason=None):
    return {'status': status, 'path': path, 'target': target, 'kabi': None, 'signature': None,
            'shadowed_by': shadowed_by, 'reason': reason}


def package_status_of(modules):
    """A package's status from its modules': all-or-nothing, the worst module decides."""
    statuses = {fact['status'] for fact in modules.values()}
    if len(statuses) == 1:  # most packages: one module, or modules that agree
        status = statuses.pop()
        return 'broken' if status == 'missing' else status
    if 'broken' in statuses or 'missing' in statuses:
        return 'broken'
    for status in ('weak-incompatible', 'rejected'):
        if status in statuses:
            return status
    return 'broken'


def _builds(tree):
    """``(package, version, build)`` of every dkms build of the DkmsTree ``tree``."""
    for package in tree.packages.values():
        for version in package.versions.values():
            for build in version.builds.values():
                yield package, version, build


def _installed(package, version, build, trees):
    """Whether dkms installed ``build`` of ``version`` into its kernel, one of ``trees``."""
    return package.installed.get(build.kernel, (None,))[0] == version.version and build.kernel in trees


def _byte_comparisons(tree, trees):
    """The (copy, build) path pairs _provided_files compares byte for byte (in installed_copy), each once."""
    pairs = {}
    for package, version, build in _builds(tree):
        if _installed(package, version, build, trees):
            for name in build.modules:
                pairs.update(dict.fromkeys(trees[build.kernel].byte_comparisons(version, name)))
    return list(pairs)


def _provided_files(rootfs, tree, trees, indexed):
    """{in-root canonical path: Provided} of every dkms build and installed copy (``indexed``:
    Context.indexed)."""
    provided = {}
    for package, version, build in _builds(tree):
        installed = _installed(package, version, build, trees)
        for name, path in build.modules.items():
            record = Provided(package.name, version.version, build.kernel, name)
            provided[_canonical(rootfs, path)] = record
            if installed:
                copy, same = trees[build.kernel].installed_copy(version, name, indexed)
                if copy and same is not False:
                    # An unreadable copy still names its weak links' owner; reading
                    # it for the verdict then reports the problem.
                    provided[_canonical(rootfs, copy)] = record if same is not UNTOLD else \
                        Provided(package.name, version.version, build.kernel, name, untold=True)
                elif copy and posixpath.dirname(copy) in dkms_install_dirs(trees[build.kernel].kernel.modules_dir,
                                                                           version.install_location(name)):
                    # Where dkms put the build, something else now: its weak links are
                    # broken, unless it is another package's build.
                    provided.setdefault(_canonical(rootfs, copy), Provided(
                        package.name, version.version, build.kernel, name, differs=True))
    return provided


def _canonical(rootfs, path):
    try:
        return rootfs.resolve(path)
    except RootPathError:
        return path


def _unbuilt(version, build, kernel_config):
    """Module names dkms.conf has dkms build for the build's kernel that the build lacks: they
    load nowhere (dkms up to 3.1.7 counts such a build unfinished, later ones say the built
    modules are missing); None when which names it declares for that kernel is not known.
    ``kernel_config``: the build kernel's config, on demand."""
    if version.conf is None:
        return ()   # no dkms.conf to read: the version is broken, and said so where it is read
    declared = version.conf.kernel_module_names(build.kernel, build.arch, kernel_config)
    # A tuple: kept for every kernel that asks, most of them the one empty tuple.
    return None if declared is None else tuple([name for name in declared if name not in build.modules])


def _installed_candidate(context, version, release):
    kernel_tree = context.trees[release]
    build = version.builds.get(release)
    if build is None or not build.modules:
        return Candidate('broken', version.version, {})
    modules = {}
    files = {}
    uncertain = set()
    for name, built_path in sorted(build.modules.items()):
        copy, same = kernel_tree.installed_copy(version, name, context.indexed)
        if copy is None:
            modules[name] = module_fact('broken', target=built_path, reason='no installed copy')
        elif same is False:
            modules[name] = module_fact('broken', copy, built_path, reason='differs from the dkms build')
        elif same is None:
            modules[name] = module_fact('broken', copy, built_path, reason='cannot be compared with the dkms build')
            uncertain.add(name)
        else:
            if same is UNTOLD:
                uncertain.add(name)
            # Another file of the name may be the one modprobe loads, as for a weak link.
            shadow, why, certain = context.shadowing(release, ModuleFile(name, copy, copy))
            if why and certain:
                modules[name] = module_fact('missing', copy, built_path, shadowed_by=shadow, reason=why)
                continue
            modules[name] = module_fact('installed', copy, built_path, reason=_reasons(
                'compressed otherwise than the dkms build, which this target cannot decompress to compare them'
                if same is UNTOLD else None, why))
            files[name] = copy
            if not certain:
                uncertain.add(name)
    unbuilt = context.unbuilt(version, build)
    for name in unbuilt or ():
        modules[name] = module_fact('broken', reason='declared in dkms.conf, but the build has no such module')
    return Candidate(package_status_of(modules), version.version, modules, files=files, uncertain=uncertain,
                     unknown_declared=unbuilt is None)


def _weak_candidates(context, package, release):
    """Candidates from the weak links of ``release`` that point at builds of ``package``."""
    groups, broken = context.weak_links_of(release, package.name)
    candidates = []
    for (version, provider), links in groups.items():
        modules = {}
        files = {}
        uncertain = set()
        build = package.versions[version].builds[provider]
        unbuilt = context.unbuilt(package.versions[version], build)
        for name in unbuilt or ():
            modules[name] = module_fact('missing', reason='declared in dkms.conf, but the build for %s has no such module'
                                        % provider)
        for name in sorted(build.modules):
            if name not in links:
                modules[name] = module_fact('missing', reason='no weak link')
                continue
            link, record = links[name]
            shadow, why, certain = context.shadowing(release, link)
            if link.problem or record.differs:  # a link to a copy that is not the build
                modules[name] = module_fact('broken', link.path, link.points_to, reason=link.problem or
                                            'points at a copy that differs from the dkms build')
            elif why and certain:
                modules[name] = module_fact('missing', link.path, link.points_to, shadowed_by=shadow, reason=why)
            else:
                if record.untold:   # or that may not be
                    why = _reasons('points at a copy this target cannot decompress to compare it with the dkms build', why)
                modules[name] = module_fact('weak', link.path, link.points_to, reason=why)
                files[name] = link.target
                if not certain or record.untold:
                    uncertain.add(name)
        candidates.append(Candidate(package_status_of(modules), version, modules, provider, files, uncertain,
                                    unbuilt is None))
    declared = dict((link.name, link) for link in broken if _declares(package, link.name)) if broken else None
    if declared:
        candidates.append(Candidate('broken', None, dict(
            (name, module_fact('broken', link.path, link.points_to, reason=link.problem)) for name, link in declared.items())))
    return candidates


def _declares(package, name):
    key = normalize_module_name(name)
    return any(key == normalize_module_name(declared)
               for version in package.versions.values() for declared in (version.module_names() or ()))


class Context:
    """Everything the join reads, shared by all kernels and packages."""

    def __init__(self, rootfs, warn, kernels, tree, trees, reader, kabi_check, boot_files):
        self.rootfs = rootfs
        self.warn = warn
        self.kernels = kernels
        self.trees = trees
        self.reader = reader
        self.kabi_check = kabi_check and reader.name is not None
        self._kmod = _UNREAD
        self.provided = _provided_files(rootfs, tree, trees, self.indexed)
        self._depmod = None     # depmod.d, read when a file's rank is first asked
        self._depmod_rules = {}
        self._links = (None, {})   # the last kernel's weak links by package (see weak_links_of)
        self._shadowing_reads = (None,)     # the last kernel and what shadowing_file reads of it (see shadowing)
        self._unbuilt = {}  # {Build: its _unbuilt}
        self._warned = set()
        self._file_names = {}   # {in-root path: normalized module name, or None}, see file_name
        self._files_read = (None, None)     # the last files decide read, and what it found (see _read_files)
        self.firmware = read_firmware_keys(rootfs, warn)
        self.boot_files = boot_files    # the boot files read once per root, see _kernels.grub_config
        self._policies = {}
        self._symvers = SharedSymvers()
        self._tables = ExportTables()
        self._signature_facts = {}
        self._signature_verdicts = {}

    def close(self):
        """Let go of what refers back to what keeps it (the modules read to their reader, the last
        symvers read to what the kernels share), so that all the run kept is freed as soon as the
        facts are made, not left to the cyclic garbage collector (see _collector_spaced), nor kept
        for a next run (the kernel configs' texts)."""
        self.reader.forget()
        self._symvers.last = None
        let_go_of_config_texts()

    def depmod_rules(self, release):
        """The KernelDepmod of ``release`` (worked out once per kernel)."""
        if self._depmod is None:
            self._depmod = read_depmod_config(self.rootfs, self.warn)
        return remembered(self._depmod_rules, release, lambda key: self._depmod.for_kernel(
            key, self.warn, self._kmod_version() if self._depmod.excludes else None))

    def _kmod_version(self):
        kmod = self.kmod()
        return kmod.version if kmod is not None else None

    def weak_links_of(self, release, package):
        """``(groups, broken)``: {(version, provider kernel): {module name: (link, Provided)}} of the
        weak links of ``release`` that point at builds of ``package`` (for a module name, the last
        link), and the kernel's broken links (they may be its). The kernel's links are sorted
        once; callers do not change what they get."""
        if self._links[0] != release:
            self._links = (release, self._sort_links(release))
        by_package, broken = self._links[1]
        return by_package.get(package, _NO_GROUPS), broken

    def shadowing(self, release, module_file):
        """shadowing_file of ``module_file`` (a WeakLink or a ModuleFile) on kernel ``release``: what it
        reads of the kernel is gathered once per kernel, when first asked, as the join takes one
        kernel at a time."""
        if self._shadowing_reads[0] != release:
            kernel_tree = self.trees[release]
            self._shadowing_reads = (release, self.kernels[release].modules_dir, self.depmod_rules(release),
                                     kernel_tree.module_files, kernel_tree.in_tree)
        # Unpacked here: a call with *args costs several plain ones.
        dummy, modules_dir, depmod, files, in_tree = self._shadowing_reads
        return shadowing_file(module_file, modules_dir, depmod, files, in_tree, self.indexed)

    def unbuilt(self, version, build):
        """_unbuilt of ``build`` of PackageVersion ``version``, worked out once: the build's kernel
        and each kernel that links its modules ask."""
        if build not in self._unbuilt:
            tree = self.trees.get(build.kernel)
            self._unbuilt[build] = _unbuilt(version, build, (lambda: tree.config) if tree is not None else None)
        return self._unbuilt[build]

    def _sort_links(self, release):
        by_package = {}
        broken = []
        for link in self.trees[release].weak_links:
            record = self.provided.get(link.target) if link.target else None
            if record is not None:
                by_package.setdefault(record.package, {}).setdefault(
                    (record.version, record.kernel), {})[record.module] = (link, record)
            elif link.problem:
                broken.append(link)
        return by_package, broken

    def signature_policy(self, release):
        """How ``release`` treats module signatures at its next boot (read once per kernel)."""
        return remembered(self._policies, release, lambda key: read_signature_policy(
            self.rootfs, release, self.kernels[release].modules_dir, self.trees[release].config, self.firmware,
            self.warn, self.boot_files))

    def kernel_abi(self, release, modules):
        """What the loader of ``release`` checks ``modules`` (ModuleInfo) against."""
        kernel_tree = self.trees[release]
        exports, damaged = kernel_tree.read_symvers(self._symvers)
        own = kernel_tree.own_module()
        vermagic = own.vermagic if own is not None and own.vermagic is not None \
            else vermagic_from_config(release, kernel_tree.config)
        allow = (kernel_tree.config or {}).get('CONFIG_MODULE_ALLOW_MISSING_NAMESPACE_IMPORTS') == 'y'
        # Which kmod decompresses a file, or hands it to the kernel, matters only for compressed ones.
        kmod = self.kmod() if any(info.compression for info in modules) else None
        policy = self.signature_policy(release)
        blacklist = policy.next_boot.values('module_blacklist') if policy.next_boot.params is not None else None
        return KernelABI(release, exports, damaged, vermagic, own, allow,
                         _signature_check(policy, self._signature_facts, self._signature_verdicts),
                         module_decompression(kernel_tree.config), kmod, kernel_tree.module_present, blacklist)

    def indexed(self, path):
        """Whether depmod indexes the module file ``path``: it is there, and compressed, if at
        all, in a format the root's kmod knows; None where no kmod program tells."""
        if not self.rootfs.isfile(path):
            return False
        if path.endswith('.ko'):
            return True
        kmod = self.kmod()
        return kmod.indexes(path) if kmod is not None else None

    def kmod(self):
        """The root's KmodProgram (read once per root)."""
        if self._kmod is _UNREAD:
            self._kmod = read_kmod_program(self.rootfs, self.warn)
        return self._kmod

    def decide(self, release, candidates):
        """{in-root path: Decision} of every module file the candidates would load on ``release``."""
        paths = sorted({path for candidate in candidates for path in candidate.files.values()})
        if not paths or not self.kabi_check:
            return dict((path, Decision(None, False, reason='module files not read (kabi_check is off)'
                                        if self.reader.name else 'no reader for module files'))
                        for path in paths)
        readable, unreadable, unread, names = self._read_files(paths)
        decisions = dict(unreadable)
        abi = self.kernel_abi(release, readable.values()) if readable else None
        if readable:
            # A file that was not read, or that modprobe may not be the one to load (its status
            # rests on a rule not checked): the in-tree module of its name may load.
            unsure = {path for candidate in candidates for name, path in candidate.files.items()
                      if name in candidate.uncertain}.union(unreadable)
            decisions.update(resolve(abi, readable, self._tables, unread,
                                     {names[path] for path in unsure if path in names}, names))
        for path, decision in sorted(decisions.items()):
            # A damaged symvers is one bad item, warned about when it was read.
            if path not in readable or (decision.refusal == 'broken' and not abi.exports_damaged):
                self._warn_once(path, decision.reason)
            elif readable[path].signature.state == DAMAGED:
                self._warn_once(path, readable[path].signature.problem)
        return decisions

    def _read_files(self, paths):
        """``(readable, unreadable, unread, names)`` of the module files ``paths`` (a sorted list):
        {path: ModuleInfo} of those read, {path: Decision} of the others, whether one was not read
        through (it may still load, and export what the others need), and {path: file_name} of
        those of a module name. The last call's, where it was for the same files: the kernels a
        weak link reaches load the files of the kernel it links from, and the reader answers
        each file alike every time (a snapshot's path resolves alike, its outcome is kept)."""
        if paths == self._files_read[0] and self.rootfs.snapshot:
            return self._files_read[1]
        readable = {}
        unreadable = {}
        unread = False
        for path in paths:
            try:
                readable[path] = self.reader.read(path)
            except KoUnreadableHere as exc:
                # Nothing wrong with the file that we know of: no verdict, still coverage.
                unreadable[path] = Decision(None, False, reason=str(exc))
                unread = True
            except KoError as exc:
                unreadable[path] = Decision('broken', False, reason=str(exc))
                unread = unread or isinstance(exc, KoNotRead)
        names = {path: self.file_name(path) for path in paths}
        names = {path: name for path, name in names.items() if name}
        self._files_read = (paths, (readable, unreadable, unread, names))
        return self._files_read[1]

    def file_name(self, path):
        """The normalized module name depmod indexes the file ``path`` by, whatever name= the
        module gives itself; None for a name that is no module's. Worked out once per path: the
        file a weak link leads to is judged on each kernel that links it."""
        name = self._file_names.get(path, _UNREAD)
        if name is _UNREAD:
            name = module_name(path[path.rfind('/') + 1:])
            name = self._file_names[path] = normalize_module_name(name) if name else None
        return name

    def _warn_once(self, path, reason):
        """One warning per unusable file, however many kernels look at it."""
        if path not in self._warned:
            self._warned.add(path)
            self.warn(reason if reason.startswith(path) else '%s: %s' % (path, reason))


def _signature_check(policy, facts, verdicts):
    """The loader's signature hook for one kernel's SignaturePolicy; ``facts`` keeps one of each
    signature fact (most modules of a host, on every kernel, say the same), its values as key;
    ``verdicts``, {SignaturePolicy.verdict_key: {ModuleSignature: what the hook said}}, keeps each
    signature's verdict for the kernels whose policies read alike (a weak link's file, on each)."""
    known = verdicts.setdefault(policy.verdict_key(), {})

    def check(info):
        verdict = known.get(info.signature)
        if verdict is None:
            fact, refused, reason, certain = signature_verdict(info.signature, policy)
            verdict = known[info.signature] = (facts.setdefault(tuple(fact.items()), fact),
                                               reason if refused else None, certain)
        return verdict
    return check


def _apply(candidate, decisions):
    """Module statuses after the loader's decisions; the candidate's status from them, worked
    out again where the loader refuses a module (see Candidate)."""
    refused = False
    for name, path in candidate.files.items():
        decision = decisions[path]
        fact = candidate.modules[name]
        fact['kabi'] = decision.kabi
        fact['signature'] = decision.signature
        # The loader's reason, after what the link's own lookup left open.
        fact['reason'] = _reasons(fact['reason'], decision.reason)
        if not decision.certain:
            candidate.uncertain.add(name)
        if decision.refusal is not None:    # does not load
            fact['status'] = REFUSED[(decision.refusal, fact['status'])]
            refused = True
    if refused:
        candidate.status = package_status_of(candidate.modules)
    if candidate.unknown_declared and candidate.status in ('installed', 'weak'):
        # Not covered is sure whatever dkms.conf declares; covered is not.
        for name, fact in candidate.modules.items():
            fact['reason'] = _reasons(fact['reason'], UNKNOWN_MODULE_LIST)
            candidate.uncertain.add(name)
    return candidate


def _reasons(*reasons):
    return '; '.join([reason for reason in reasons if reason]) or None


def _candidates(context, package, release):
    candidates = []
    installed = package.installed.get(release)
    if installed is not None:
        version = package.versions.get(installed[0])
        if version is None:
            candidates.append(Candidate('broken', installed[0], {}))
        else:
            candidates.append(_installed_candidate(context, version, release))
    candidates.extend(_weak_candidates(context, package, release))
    for version in package.versions.values():
        build = version.builds.get(release)
        if build is not None and (installed is None or installed[0] != version.version):
            modules = {name: module_fact('built', target=path) for name, path in sorted(build.modules.items())}
            candidates.append(Candidate('built', version.version, modules))
    return candidates


def _choose(candidates, ordered_versions):
    """The candidate that describes the package: best status, then newest version."""
    if len(candidates) < 2:
        return candidates[0] if candidates else None    # most pairs: nothing to weigh

    def key(candidate):
        version_rank = ordered_versions.index(candidate.version) if candidate.version in ordered_versions else -1
        return (STATUS_ORDER.index(candidate.status), -version_rank)
    return min(candidates, key=key)


def _verified(candidate, exclusion_known):
    """Whether every rule that could decide ``covered`` was checked.

    A provided package needs every module decided for certain; one that is not covered needs
    one certain reason (a module found wrong for sure, or nothing there to load).
    """
    if candidate.status in ('installed', 'weak'):
        return not candidate.uncertain
    if candidate.status in ('missing', 'built'):
        return exclusion_known
    if candidate.status == 'excluded' or not candidate.modules:
        return True
    return any(fact['status'] not in ('installed', 'weak') and name not in candidate.uncertain
               for name, fact in candidate.modules.items())


def package_on_kernel(context, package, release, arch, candidates):
    ordered = package.ordered_versions()
    chosen = _choose(candidates, ordered)
    exclusion_known = True
    if chosen is None or chosen.status not in ('installed', 'weak'):
        newest = package.newest()
        excluded = newest.conf.excludes(release, arch, lambda: context.trees[release].config) \
            if newest is not None and newest.conf is not None else False
        exclusion_known = excluded is not None
        if excluded:
            chosen = Candidate('excluded', None, {})
        elif chosen is None:
            names = (newest.module_names() if newest else None) or []
            chosen = Candidate('missing', None, dict((name, module_fact('missing')) for name in names))
    provided = chosen.status in ('installed', 'weak')
    verified = _verified(chosen, exclusion_known)
    if verified and chosen.status not in COVERED_STATUSES:
        # A copy in weak-updates/, or a directory linked there, may be what modprobe loads.
        unfollowed = context.trees[release].unfollowed(set(map(normalize_module_name, chosen.modules)))
        if unfollowed:
            verified = False
            for fact in chosen.modules.values():
                fact['reason'] = _reasons(fact['reason'], '%s may hold a module of the name, which depmod indexes '
                                          'and this does not follow (it reads links to builds there)' % unfollowed)
    return {
        'status': chosen.status,
        'covered': chosen.status in COVERED_STATUSES,
        'verified': verified,
        'version': chosen.version,
        'outdated': bool(provided and chosen.version != ordered[-1]),
        'provider_kernel': chosen.provider_kernel if chosen.status != 'installed' else None,
        'modules': chosen.modules,
    }


def kernel_packages(context, packages, release, arch):
    """{package name: package-on-kernel fact} of one kernel, every package's files judged together.

    An unexpected error (even MemoryError) costs only its package: a warning, and the pair
    reported broken, neither covered nor verified.
    """
    facts = {}
    candidates = {}
    for name in sorted(packages):
        try:
            candidates[name] = _candidates(context, packages[name], release)
        except Exception as exc:  # pylint: disable=broad-except
            facts[name] = _unexpected(context, name, release, exc)
    decisions = context.decide(release, [c for found in candidates.values() for c in found])
    for name, found in sorted(candidates.items()):
        try:
            facts[name] = package_on_kernel(context, packages[name], release, arch,
                                            [_apply(candidate, decisions) for candidate in found])
        except Exception as exc:  # pylint: disable=broad-except
            facts[name] = _unexpected(context, name, release, exc)
    return facts


def _unexpected(context, package, release, exc):
    context.warn('package %s on kernel %s: unexpected error (%s: %s); reported as broken'
                 % (package, release, type(exc).__name__, exc))
    return {'status': 'broken', 'covered': False, 'verified': False, 'version': None, 'outdated': False,
            'provider_kernel': None, 'modules': {}}


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
    for dummy_package, dummy_version, build in _builds(tree):
        return build.arch
    return os.uname()[4] if rootfs.root == '/' else None


# Container objects kept (net of those freed) between two runs of the cyclic garbage collector
# while the facts are gathered, against Python's 700.
COLLECTOR_THRESHOLD = 100000


def _collector_spaced(function):
    """``function`` run with Python's cyclic garbage collector run rarely, then as it was.

    The facts are built from trees of fresh dicts, lists and tuples that hold no cycles: at its
    usual pace the collector would walk them over and over as they grow (a tenth of the run on
    a host with thousands of weak links) and find nothing to free. It still runs after that
    many objects kept, so what does form cycles (pyelftools' ELFFile, for one) is freed.

    What is left when ``function`` returns (the facts; what the run kept has no cycles and is
    freed already, see Context.close) is moved to the collector's oldest generation as it is:
    else the first collection after it, at the usual pace again, would walk all of it, and the
    next one all of it again, for nothing. That thaws what a caller froze before (dkms_facts
    freezes what its imports made, and freezes all again before it returns the facts).
    """
    @functools.wraps(function)
    def spaced(*args, **kwargs):
        threshold = gc.get_threshold()
        if threshold[0]:    # 0: the caller turned automatic collection off
            gc.set_threshold(max(threshold[0], COLLECTOR_THRESHOLD), *threshold[1:])
        try:
            return function(*args, **kwargs)
        finally:
            if hasattr(gc, 'freeze'):   # Python 3.7: frozen, then thawed into the oldest generation
                gc.freeze()
                gc.unfreeze()
            gc.set_threshold(*threshold)
    return spaced


@_collector_spaced
def gather_facts(rootfs, warn, packages=None, kabi_check=True, reader=None, runner=None, root=None,
                 dkms_tree=None, source_tree=None, elftools=LOAD_ELFTOOLS):
    """The ``ansible_facts['dkms']`` dictionary for the system under ``rootfs``.

    ``root`` is reported as given (defaults to the resolved root); ``reader``, ``runner`` and
    ``elftools`` are the KoReader's.
    """
    boot_files = {}     # what the readers of the default kernel and of the command lines share
    kernels, running, default, default_source = gather_kernels(rootfs, warn, runner, boot_files)
    ko_reader = KoReader(rootfs, runner=runner, reader=reader, elftools=elftools, warn=warn)
    comparisons = CompareAhead(rootfs)
    trees = dict((release, KernelTree(rootfs, warn, kernel, ko_reader, comparisons.same_content))
                 for release, kernel in kernels.items())
    try:
        # kmod's commands are not run ahead.
        read_ahead = kabi_check and ko_reader.name == 'pyelftools'
        tree = _dkms_tree_read(rootfs, warn, trees, comparisons, ko_reader if read_ahead else None,
                               names=packages, dkms_tree=dkms_tree, source_tree=source_tree)
        if kabi_check and ko_reader.name is None:
            warn('no reader for .ko files: install pyelftools on the target (pip install pyelftools, or the '
                 'python3-pyelftools package) or kmod; weak links are reported without kABI verdicts')
        context = Context(rootfs, warn, kernels, tree, trees, ko_reader, kabi_check, boot_files)
        package_facts, kernel_facts, uncovered, summary = _joined(context, kernels, tree)
    finally:
        # Not as soon as the verdicts are taken: by now the worker's exit is long over.
        comparisons.close()
    facts = {
        'schema_version': SCHEMA_VERSION,
        'root': root or rootfs.root,
        'running_kernel': running,
        'default_kernel': default,
        'default_kernel_source': default_source,
        'kabi_reader': ko_reader.name,
        'dkms_certificate': dkms_certificate_fact(rootfs, context.firmware, warn),
        'packages': package_facts,
        'kernels': kernel_facts,
        'uncovered': uncovered,
        'summary': summary,
    }
    context.close()
    return facts


def _dkms_tree_read(rootfs, warn, trees, comparisons, ko_reader, names=None, dkms_tree=None, source_tree=None):
    """The DkmsTree (read_dkms_tree's), the installed copies compared ahead where a worker helps.

    With ``ko_reader`` (None: nothing is read ahead) and enough plain module files out of tree,
    the worker reads the tree while this process reads the kernels' weak links, then those files
    (those the join judges first, as a rule); else this process reads the weak links, then the
    tree. Then it reads the plain copies it has not read while the worker compares them.
    """
    locations = read_locations(rootfs, warn, dkms_tree, source_tree)

    def prepare():
        warnings = []
        tree = read_packages(rootfs, warnings.append, locations, names)
        return dumps_tree(tree, warnings), _byte_comparisons(tree, trees)

    # Where dkms installs copies as a rule, updates/ and extra/.
    ahead = [] if ko_reader is None else _plain_module_files(
        path for kernel_tree in trees.values() for paths in kernel_tree.out_of_tree.values() for path in paths)
    # Each package installed on each kernel, at most (of one module, as a rule): the copies to compare.
    tree_read_by_worker = len(ahead) >= READ_AHEAD_MIN and comparisons.start(
        prepare, package_entries(rootfs, locations[0]) * len(trees))
    _links_read(trees)
    handed = None
    if tree_read_by_worker:
        # No longer than the worker reads: what is not read by then is read when asked.
        ko_reader.read_ahead(ahead, stop=comparisons.ready)
        handed = comparisons.take_handover()
    if handed is not None:
        payload, pairs = handed
        tree, warnings = loads_tree(payload, rootfs, warn)
        for message in warnings:
            warn(message)
        comparing = True
    else:
        # (Where the worker handed nothing over, it is not started again: every pair is compared here.)
        tree = read_packages(rootfs, warn, locations, names)
        pairs = _byte_comparisons(tree, trees)
        comparing = comparisons.start(lambda: (b'', pairs), len(pairs))
    if comparing and ko_reader is not None:
        ko_reader.read_ahead(_plain_module_files(copy for copy, build in pairs))
    return tree


def _links_read(trees):
    """Every kernel's weak links read (KernelTree.read_links), each once, which the join asks for:
    where the worker reads the dkms tree, after the fork; their warnings before the dkms tree's,
    either way."""
    for kernel_tree in trees.values():
        kernel_tree.read_links()


def _plain_module_files(paths):
    """The plain ``.ko`` files of ``paths``, each once, to read ahead. Not compressed files: each is
    read whole (up to MAX_MODULE_BYTES), which a file the join never reads (one of no package, a
    copy other than the one it finds first) need not cost; the join reads those it asks for."""
    return list(dict.fromkeys(path for path in paths if path.endswith('.ko')))


def _joined(context, kernels, tree):
    """(package facts, kernel facts, uncovered pairs, summary): the join of every kernel with every package."""
    arch = _arch(context.rootfs, tree)
    package_facts = dict((name, _package_fact(tree.packages[name])) for name in sorted(tree.packages))
    kernel_facts = {}
    uncovered = []
    unverified = 0
    for release in sort_releases(kernels):
        kernel = kernels[release]
        fact = kernel.as_fact()
        fact['module_signatures'] = context.signature_policy(release).as_fact()
        fact['packages'] = kernel_packages(context, tree.packages, release, arch)
        for name, entry in sorted(fact['packages'].items()):
            if kernel.stale:
                continue
            unverified += not entry['verified']
            if not entry['covered']:
                uncovered.append({'kernel': release, 'package': name, 'version': package_facts[name]['newest'],
                                  'status': entry['status'], 'headers': kernel.headers})
        fact['covered'] = all(entry['covered'] for entry in fact['packages'].values())
        kernel_facts[release] = fact

    counted = [fact for fact in kernel_facts.values() if not fact['stale']]
    covered = sum(1 for fact in counted if fact['covered'])
    summary = {'kernels': len(counted), 'covered': covered, 'uncovered': len(counted) - covered,
               'packages': len(tree.packages), 'unverified': unverified}
    return package_facts, kernel_facts, uncovered, summary
