# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Will this kernel load this module file: every rule of the kernel's loader in one place.

The rules (kernel/module/main.c and version.c, kmod's depmod), checked in this order:

- the file is a relocatable ELF object for the kernel's ELF class, machine and byte order;
- the vermagic text after the first space matches the kernel's when the module has a
  ``__versions`` section (the whole string otherwise, the 6.14+ extended sections alone too);
- every imported (symbol, CRC), ``module_layout`` included, is exported by the kernel with
  the same CRC, or by another module that is itself loadable on that kernel: a sibling of
  the same package or a module of another DKMS package (checked by name: depmod resolves
  dependencies by name, and their CRCs come from the build that made them); a weak reference
  that nothing exports may stay unresolved;
- a GPL-only export is invisible to a module the loader taints proprietary: a license that
  is not GPL-compatible, a name on its list of offenders, or a symbol taken from a module it
  taints (inherit_taint); a symbol exported in a namespace needs the module to import that
  namespace, or for a ``module:`` namespace to be named in it (unless the kernel was built
  with CONFIG_MODULE_ALLOW_MISSING_NAMESPACE_IMPORTS);
- no symbol the module exports is exported already (verify_exported_symbols()): by the kernel
  image or an in-tree module it imports from (loaded first), which refuses the module; by
  another in-tree module, or another module judged with it, of another name, which refuses
  whichever of the two loads second;
- where the kernel enforces module signatures at boot, an unsigned module or one whose signer
  the kernel does not trust is refused.

Nothing here reads a file: the caller hands in what the kernel exports and what each module
file says about itself (``_ko.ModuleInfo``), and gets one ``Decision`` per file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
from operator import itemgetter
from types import MappingProxyType

from ansible_collections.kabi.dkms.plugins.module_utils._kabi import exports_of
from ansible_collections.kabi.dkms.plugins.module_utils._kernels import release_at_least

# license_is_gpl_compatible() in include/linux/license.h.
GPL_COMPATIBLE_LICENSES = frozenset(['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL',
                                     'Dual MIT/GPL', 'Dual MPL/GPL'])
# module_license_offenders in kernel/module/main.c: tainted proprietary whatever license they claim.
LICENSE_OFFENDERS = frozenset(['driverloader', 'lve'])
# How often one resolution works out the proprietary taint again after a refusal; past that, a
# taint taken from another module is left unknown (a hostile chain of refusals stays linear).
TAINT_RECOUNTS = 16
# xz stream header check types; the kernel's own decoder takes the first two only.
XZ_CHECK_NONE, XZ_CHECK_CRC32 = 0, 1
XZ_CHECKS = {4: 'CRC64', 10: 'SHA-256'}
# The kmod that first hands the kernel a module compressed as it decompresses (libkmod 09c9f8c).
KMOD_HANDS_OVER = (31,)
_NOTHING = frozenset()
# How many sets of providers (_SymbolResolution.providers) a table keeps for the next kernel: as
# many as _judged resolves on one kernel (every signature accepted, without the refused, without the
# surely refused).
KEPT_PROVIDERS = 3
# How many resolutions (_SymbolResolution.run) a table keeps for the next kernel: as many as _judged makes on one.
KEPT_RESOLUTIONS = 3
_NO_CRCS = _NO_EXPORTS = MappingProxyType({})
# What ExportTable.quick_crcs has for a symbol exported in a namespace: equal to no CRC.
_IN_A_NAMESPACE = object()


class KernelABI:
    """What one kernel's loader checks a module against; read by the caller, plain data here.

    ``exports``: {symbol: Export} of the kernel's symvers, or None when there is none to read;
    ``exports_damaged`` tells a symvers that exists but cannot be read from no symvers at all.
    ``vermagic``: the kernel's vermagic string or None. ``own``: ModuleInfo of one of the
    kernel's own modules (its ELF class, machine, byte order and struct module size) or None.
    ``signature_check``: ``fn(ModuleInfo) -> (signature fact, refusal reason or None, certain)``
    for a kernel whose signature policy is known, or None when nothing is checked.
    ``decompresses``: the format the kernel decompresses modules in itself (module_decompression()).
    ``kmod``: the system's kmod program (its ``version``, a tuple of ints, and ``features``,
    {name: built with it}), None when not known. ``module_present``: ``fn(symvers owner) -> True,
    False or None`` (unknown): whether modprobe finds the in-tree module a symbol of the symvers
    comes from, to load it first; None when that is not told (the symbol counts as there).
    ``module_blacklist``: the values the next-boot command line gives ``module_blacklist``, None
    when it is not known.
    """

    __slots__ = ('release', 'exports', 'exports_damaged', 'vermagic', 'own', 'allow_missing_namespaces',
                 'signature_check', 'decompresses', 'kmod', 'module_present', 'module_blacklist')

    def __init__(self, release, exports=None, exports_damaged=False, vermagic=None, own=None,
                 allow_missing_namespaces=False, signature_check=None, decompresses=False, kmod=None,
                 module_present=None, module_blacklist=None):
        self.release = release
        self.exports = exports
        self.exports_damaged = exports_damaged
        self.vermagic = vermagic
        self.own = own
        self.allow_missing_namespaces = allow_missing_namespaces
        self.signature_check = signature_check
        self.decompresses = decompresses
        self.kmod = kmod
        self.module_present = module_present
        self.module_blacklist = module_blacklist


class Verdict:
    """The kABI part of a decision: whether the symbols and vermagic let the module load."""

    __slots__ = ('missing', 'mismatched', 'namespaces', 'vermagic', 'unresolved', 'duplicates', 'contested',
                 '_fact')

    def __init__(self, missing, mismatched, namespaces, vermagic, unresolved=(), duplicates=(), contested=()):
        self.missing = missing          # imported symbols nobody on the kernel exports to this module
        self.mismatched = mismatched    # exported with another CRC
        self.namespaces = namespaces    # namespaces of imported symbols the module does not import
        self.vermagic = vermagic        # True/False, None when the kernel's is unknown
        # Symbols only a module whose exports could not be listed might provide.
        self.unresolved = list(unresolved)
        # Symbols it exports that the kernel image, or an in-tree module it imports from, exports too.
        self.duplicates = list(duplicates)
        # Symbols it exports that a module of another name may have exported first (see _exported_already).
        self.contested = list(contested)
        self._fact = None

    def contesting(self, symbols):
        """This verdict, with ``symbols`` contested too (a new one: verdicts are shared)."""
        return Verdict(self.missing, self.mismatched, self.namespaces, self.vermagic, self.unresolved,
                       self.duplicates, sorted(set(self.contested).union(symbols)))

    @property
    def compatible(self):
        return not self.missing and not self.mismatched and not self.namespaces and not self.duplicates \
            and self.vermagic is not False

    @property
    def certain(self):
        return self.vermagic is not None and not self.unresolved and not self.contested

    @property
    def surely_incompatible(self):
        """Whether what makes it incompatible holds whatever the unknowns are: not only symbols
        missing that a damaged symbol table might have called weak (also unresolved)."""
        return bool(self.mismatched or self.namespaces or self.duplicates or self.vermagic is False
                    or set(self.missing).difference(self.unresolved))

    def as_fact(self):
        """The ``kabi`` fact: one dictionary per verdict, however many module files it is for."""
        if self._fact is None:
            self._fact = {'compatible': self.compatible, 'missing': self.missing, 'mismatched': self.mismatched,
                          'namespaces': self.namespaces, 'duplicates': self.duplicates, 'vermagic': self.vermagic}
        return self._fact


class Decision:
    """Whether the kernel loads one module file, and if not, why.

    ``refusal`` is None when nothing refuses it, else ``broken`` (not a module for this
    kernel, or evidence that cannot be read: damage is never coverage), ``incompatible``
    (kABI or vermagic) or ``rejected`` (the signature check, or ``module_blacklist=``). ``certain`` is False when a
    rule that could decide it was not checked.
    """

    __slots__ = ('refusal', 'certain', 'kabi', 'signature', 'reason')

    def __init__(self, refusal, certain, kabi=None, signature=None, reason=None):
        self.refusal = refusal
        self.certain = certain
        self.kabi = kabi              # Verdict fact, None when the symbols were not checked
        self.signature = signature    # signature fact, None when not checked
        self.reason = reason          # why it does not load, or what could not be checked

    @property
    def loads(self):
        return self.refusal is None


def vermagic_suffix(vermagic):
    """The part of a vermagic string after the kernel release ('SMP preempt ...')."""
    return None if vermagic is None else vermagic.partition(' ')[2]


def vermagic_matches(module, kernel_vermagic, kernel_release):
    """True/False, or None when the kernel's vermagic is unknown."""
    if module.vermagic is None:
        return False
    if module.has_versions_section:
        expected = vermagic_suffix(kernel_vermagic)
        return None if expected is None else vermagic_suffix(module.vermagic) == expected
    if kernel_vermagic is not None:
        return module.vermagic == kernel_vermagic
    if kernel_release is not None:
        return module.vermagic.split(' ', 1)[0] == kernel_release
    return None


def _vermagic_read(kernel, modules):
    """What vermagic_matches reads of ``kernel`` for the ModuleInfo ``modules``: the part of its
    vermagic after the release where each has a ``__versions`` section or no vermagic (most often),
    else the whole, and the release. Kernels alike in it give each module the same outcome."""
    if all(info.has_versions_section or info.vermagic is None for info in modules):
        return vermagic_suffix(kernel.vermagic)
    return kernel.vermagic, kernel.release


def proprietary(module):
    """Whether the loader taints the ModuleInfo ``module`` proprietary by itself: a license that
    is not GPL-compatible, or a name the kernel knows to claim one falsely."""
    return module.license not in GPL_COMPATIBLE_LICENSES or module.name in LICENSE_OFFENDERS


def _owner_name(export):
    """The module name of what exports ``export`` ('vmlinux' for the kernel image), None when unknown."""
    return _in_tree_name(export.owner) if export is not None and export.owner else None


def _exported_already(module, table):
    """(duplicates, contested) of ``module``'s exports (verify_exported_symbols(): the loader
    refuses a module exporting a symbol it finds in the kernel or a module already loaded).

    ``duplicates``: exported by the kernel image, or by an in-tree module the module imports from
    (modprobe loads that one first). ``contested``: exported by another in-tree module, which
    refuses whichever of the two loads second (also one that may not be there to load); or a
    duplicate the module's symbol table cannot confirm, since ``__ksymtab_strings`` holds
    namespace names too. In-tree modules that do not load (see ExportTables._unloaded) export nothing.
    """
    own = _module_name(module)
    flagged = {}     # {symbol: name of its other owner}
    for symbol in table.exported(module.exports or ()):
        name = _owner_name(table.export(symbol))
        if name is not None and name != own:
            flagged[symbol] = name
    maybe = table.unsure.intersection(module.exports or ())
    if not flagged and not maybe:
        return [], []
    depended = set(_owner_name(table.export(symbol)) for symbol in module.imports)
    duplicates, contested = [], []
    for symbol, name in flagged.items():
        labelled = _labelled(module, symbol)
        if labelled is False:
            continue    # a namespace name, not an export
        certain = labelled and (name == 'vmlinux' or name in depended)
        (duplicates if certain else contested).append(symbol)
    contested.extend(symbol for symbol in maybe if _labelled(module, symbol) is not False)
    return sorted(duplicates), sorted(contested)


def _module_name(info):
    return info.name.replace('-', '_') if info.name else None


def _identity(info):
    """What makes files one module: its name (only one file of a name loads), else the file itself."""
    return _module_name(info) or info


def _exported_under_two_names(modules):
    """{symbol: [ModuleInfo exporting it]} of the symbols two of ``modules`` export."""
    first, shared = {}, {}
    for info in modules:
        identity = _identity(info)
        for symbol in info.exports or ():
            if first.setdefault(symbol, identity) != identity:
                shared[symbol] = []
    if shared:
        for info in modules:
            for symbol in shared.keys() & set(info.exports or ()):
                shared[symbol].append(info)
    return shared


def _labelled(info, symbol):
    """Whether ``info``'s symbol table labels ``symbol`` an export: True, False, or None when it cannot tell."""
    symbol_table = info.symbol_table() if info.symbol_table is not None else None
    if symbol_table is None or symbol_table.exported is None:
        return None
    return symbol in symbol_table.exported


def _namespace_granted(namespace, module):
    """Whether the loader lets ``module`` use a symbol exported in ``namespace``: True, False, or
    None when kernel versions differ on it."""
    if not namespace.startswith('module:'):
        return namespace in module.import_ns
    # 6.16+: exported to the modules the names match ("kvm,kvm-*": a trailing * globs), "-" and
    # "_" alike in later kernels, and later still to in-tree modules alone, which no DKMS build
    # is; MODULE_IMPORT_NS cannot grant these.
    if module.name is None:
        return None
    matches = set()
    for fold in (lambda text: text, lambda text: text.replace('-', '_')):
        name = fold(module.name)
        for pattern in namespace[len('module:'):].split(','):
            stem = fold(pattern[:-1] if pattern.endswith('*') else pattern)
            matches.add(name.startswith(stem) if pattern.endswith('*') else name == stem)
    return None if True in matches else False


class ExportTable:
    """The kernel's exports of the symbols some modules import, in the shapes the checks use:
    a module's CRCs are compared with theirs as one tuple, its imports with the sets at once.

    ``passed`` holds the modules (ModuleInfo, not changed once read) found to import nothing
    but what the table exports as imported, none of it restricted: shared by the kernels that
    share the table (``ExportTables``), they are not checked again. Their verdicts are
    ``clean``, one per outcome of the vermagic check. ``offers``: the _Offer of each set of
    modules that export symbols the table lacks, shared alike.
    """

    __slots__ = ('exports', 'gone', 'imports', 'absent', 'unsure', 'restricted', 'allow_missing_namespaces', 'crcs',
                 '_gpl_only', 'namespaces', 'passed', 'clean', 'offers', 'providers', 'quick', 'resolutions',
                 'judged')

    def __init__(self, exports, absent, allow_missing_namespaces, imports=None, unsure=frozenset(),
                 restricted=_NO_EXPORTS, gone=_NOTHING):
        self.exports = exports      # {symbol: Export} of the symbols asked for that symvers lists
        self.gone = gone            # those of them whose in-tree module does not load (see export)
        self.imports = imports      # the symbols asked for as imports (None: all): only theirs are checked
        self.absent = absent        # the others: only modules may provide these
        self.unsure = unsure        # those of them exported by an in-tree module that may not be there
        self.restricted = restricted    # and {symbol: Export} of those a replacement may restrict alike
        self.allow_missing_namespaces = allow_missing_namespaces
        self.crcs = {}          # symbol -> CRC
        self.namespaces = {}    # symbol -> namespace a module must import
        # The imports' CRCs and namespaces (``imports``: those asked for as imports, all by default);
        # only the namespaces of those a replacement may restrict.
        for symbol, export in exports.items():
            if symbol not in gone and (imports is None or symbol in imports):
                self.crcs[symbol] = export.crc
                self._keep_namespace(symbol, export)
        for symbol, export in self._restricted_imports():
            self._keep_namespace(symbol, export)
        self._gpl_only = None   # see gpl_only
        self.passed = set()
        self.clean = {}     # vermagic check outcome -> Verdict
        self.offers = {}    # frozenset of ModuleInfo -> _Offer
        # The {key: ModuleInfo} last resolved on the table, and {loadable keys: _SymbolResolution.providers}
        # of them, up to KEPT_PROVIDERS: the kernels that share the table judge the same files.
        self.providers = (None, {})
        self.quick = None   # see quick_crcs
        self.resolutions = []   # see _resolved
        self.judged = []    # see _judged

    def _restricted_imports(self):
        """(symbol, Export) of the imports a replacement may restrict as their in-tree module did."""
        return ((symbol, export) for symbol, export in self.restricted.items()
                if self.imports is None or symbol in self.imports)

    @property
    def gpl_only(self):
        """The set of imports exported GPL-only, or that a replacement may restrict so: made when a
        module that may be tainted proprietary is first judged (most kernels judge none)."""
        if self._gpl_only is None:
            self._gpl_only = set(symbol for symbol, export in itertools.chain(
                zip(self.crcs, map(self.exports.__getitem__, self.crcs)), self._restricted_imports()) if export.gpl_only)
        return self._gpl_only

    def _keep_namespace(self, symbol, export):
        # A kernel that allows missing imports still keeps module: namespaces, in later versions.
        if export.namespace and (not self.allow_missing_namespaces or export.namespace.startswith('module:')):
            self.namespaces[symbol] = export.namespace

    def export(self, symbol):
        """The kernel's Export of ``symbol``, None where it has none that loads."""
        return None if symbol in self.gone else self.exports.get(symbol)

    def exported(self, symbols):
        """The set of those of ``symbols`` the kernel has an Export of that loads: few, if any, of
        a module's exports, found without a look at each."""
        return self.exports.keys() & itertools.filterfalse(self.gone.__contains__, symbols)

    def quick_crcs(self, offer):
        """{symbol: CRC} that judge compares a module's imports with as one tuple: the table's CRC,
        else the one ``offer`` (an _Offer, or None) tells, and for a symbol in a namespace a value no
        CRC equals (the module is then checked symbol by symbol); made once for the table and for
        each of its offers."""
        holder = offer if offer is not None and offer.crcs else self
        if holder.quick is None:
            if holder is self and not self.namespaces:
                holder.quick = self.crcs
            else:
                quick = dict(offer.crcs) if holder is offer else {}
                quick.update(self.crcs)
                quick.update(dict.fromkeys(self.namespaces, _IN_A_NAMESPACE))
                holder.quick = quick
        return holder.quick

    def clean_verdict(self, vermagic):
        """The verdict on a module in ``passed`` whose vermagic check gave ``vermagic``."""
        verdict = self.clean.get(vermagic)
        if verdict is None:
            verdict = self.clean[vermagic] = Verdict([], [], [], vermagic)
        return verdict


class ExportTables:
    """The table of the kernel judged last, taken over by the next kernel whose exports of the
    same symbols are the same: kernels of one kABI stream (what weak-updates relies on) export
    what modules import alike, and then the checks their modules passed hold for both. So are
    the symbols the last kernel's modules import, for the next kernel that loads the same files."""

    __slots__ = ('last', 'modules', 'symbols', 'shared', 'replaced', 'owned', 'unloaded')

    def __init__(self):
        self.last = None
        self.modules = ()           # the ModuleInfo of the last looked_up_by call
        self.symbols = (_NOTHING, _NOTHING)     # and what they import and export
        self.shared = {}            # and _exported_under_two_names of them
        # {name: True, or None} of the module files resolve() judges on a kernel: their in-tree
        # namesakes never load (modprobe takes the file of the name that depmod ranks first), or
        # may not (a file that could not be read: depmod may leave it out)
        self.replaced = {}
        self.owned = (None, {})     # an exports dict and its exports by in-tree module (see _by_owner)
        # The exports dict, the answers for its in-tree modules and the _unloaded of the last kernel:
        # kernels that answer alike share one (gone, unsure, restricted).
        self.unloaded = (None, (), None)

    def looked_up_by(self, modules):
        """(imports, wanted): frozensets of the symbols the ModuleInfo ``modules`` (a tuple) import,
        and of those they import or export (an export the kernel has already refuses its module),
        worked out again only for other modules than the last call's: every kernel a weak link
        reaches loads the very files the link's own kernel does."""
        if modules != self.modules:
            self.modules = modules
            imports = frozenset().union(*(info.imports for info in modules))
            exports = frozenset().union(*(info.exports or () for info in modules))
            self.symbols = (imports, imports | exports if exports - imports else imports)
            # Each module lists an export once: as many exports as distinct ones, none is shared.
            self.shared = _exported_under_two_names(modules) \
                if sum(len(info.exports or ()) for info in modules) > len(exports) else {}
        return self.symbols

    def table(self, kernel, imports, wanted=None):
        """The ExportTable of ``kernel`` for the set ``imports`` and ``wanted``, the imports and the
        symbols modules export (the kernel's own exports of these refuse them); only imports are
        ever absent."""
        exports = exports_of(kernel.exports, imports if wanted is None else wanted)
        gone, unsure, restricted = self._unloaded(exports, kernel)
        last = self.last
        if last is not None and last.allow_missing_namespaces == kernel.allow_missing_namespaces \
                and (last.exports, last.imports, last.gone, last.unsure, last.restricted) \
                == (exports, imports, gone, unsure, restricted):
            # Compared as a tuple: the same objects, as kernels of one kABI stream give, are equal at once.
            return last
        absent = imports.difference(exports).union(gone.intersection(imports)) if gone else imports.difference(exports)
        last = self.last = ExportTable(exports, absent, kernel.allow_missing_namespaces, imports, unsure, restricted, gone)
        return last

    def _unloaded(self, exports, kernel):
        """(gone, unsure, restricted): the symbols of ``exports`` ({symbol: Export}) that in-tree
        modules export which are not loaded before a module that needs them (the loader's "Unknown
        symbol": find_symbol() looks only in the kernel image and the modules loaded), those of them
        whose module may not be, and {symbol: Export} of those that a module judged here may export
        in their stead, GPL-only or in a namespace there. Such a module is one modprobe does not find
        (KernelABI.module_present), one ``module_blacklist=`` names, or one a module judged here
        replaces by name (``replaced``: modprobe loads that one, whose own exports count)."""
        if kernel.module_present is None and not kernel.module_blacklist and not self.replaced:
            return _NOTHING, _NOTHING, _NO_EXPORTS
        if self.owned[0] is not exports:
            self.owned = (exports, _by_owner(exports))
        owned = self.owned[1]
        answers = tuple([(_in_tree_module_loads(kernel, owner, name, self.replaced), name in self.replaced)
                         for owner, (name, dummy, dummy) in owned.items()])
        if self.unloaded[0] is exports and self.unloaded[1] == answers:
            return self.unloaded[2]
        gone, unsure, restricted = [], [], {}
        for (dummy, symbols, restrictable), (loads, is_replaced) in zip(owned.values(), answers):
            if loads is not True:
                gone += symbols
                if loads is None:
                    unsure += symbols
                # What the replacement exports them with, this module cannot tell (only its CRCs): the in-tree
                # module's restrictions may be kept, as a replacement built from the same source keeps them.
                if is_replaced:
                    restricted.update(restrictable)
        result = (frozenset(gone), frozenset(unsure), restricted or _NO_EXPORTS)
        self.unloaded = (exports, answers, result)
        return result


def _by_owner(exports):
    """{in-tree module (symvers' owner path): (its module name, the symbols of ``exports`` it exports,
    {symbol: Export} of those GPL-only or in a namespace)}; the kernel image's exports are left out."""
    owned = {}
    for symbol, export in exports.items():
        owner = export.owner
        if owner and owner != 'vmlinux':
            if owner not in owned:
                owned[owner] = (_in_tree_name(owner), [], {})
            dummy, symbols, restrictable = owned[owner]
            symbols.append(symbol)
            if export.gpl_only or export.namespace:
                restrictable[symbol] = export
    return owned


def _in_tree_name(owner):
    """The module name of symvers' owner path ('drivers/media/v4l2-core/videodev')."""
    return owner[owner.rfind('/') + 1:].replace('-', '_')


def _in_tree_module_loads(kernel, owner, name, replaced):
    """Whether the in-tree module ``owner`` (symvers' path, 'drivers/media/v4l2-core/videodev'),
    named ``name``, is loaded before what needs its symbols: True, False, or None when that is not known."""
    if name in replaced:
        return False if replaced[name] else None
    blacklisted = _blacklisted_name(kernel, name)
    if blacklisted:
        return False if blacklisted[1] else None
    return True if kernel.module_present is None else kernel.module_present(owner)


def judge(module, kernel, provided=frozenset(), unknown_providers=False, table=None, tainted=False):
    """Verdict for the ModuleInfo ``module`` on KernelABI ``kernel`` (whose exports are known).

    ``provided``: symbols that modules loadable on the kernel export (anything ``in`` can ask;
    a _ProvidedTo also tells whether they export them with the CRC asked for).
    ``unknown_providers``: some loadable module's exports could not be listed, so a symbol
    found nowhere else is unresolved rather than missing. ``table``: an ExportTable of the
    kernel holding at least the module's imports (made here when not given). ``tainted``: the
    module takes symbols from a module the loader taints proprietary, and so is tainted too
    (inherit_taint()); None when that depends on which of the modules exporting a symbol loads.
    """
    if table is None:
        imports = frozenset(module.imports)
        table = ExportTables().table(kernel, imports, imports.union(module.exports or ()))
    vermagic = vermagic_matches(module, kernel.vermagic, kernel.release)
    offer = provided.offer if isinstance(provided, _ProvidedTo) else None
    if module in table.passed or (tainted is False and offer is not None and module in offer.passed):
        return table.clean_verdict(vermagic)
    if offer is not None and module.exports and table.absent.intersection(module.imports).intersection(module.exports):
        offer = None    # imports from modules pass by the CRCs they offer, where the module is not one of them
    if offer is None:
        return _judged_symbols(module, vermagic, provided, unknown_providers, table, tainted, offer)
    # The module's providers are then the offer's, whichever module file it is: so is the verdict,
    # on every kernel that shares the table (ExportTables) and the offer.
    key = (module, tainted, unknown_providers, vermagic)
    verdict = offer.verdicts.get(key)
    if verdict is None:
        verdict = offer.verdicts[key] = _judged_symbols(module, vermagic, provided, unknown_providers, table, tainted,
                                                        offer)
    return verdict


def _judged_symbols(module, vermagic, provided, unknown_providers, table, tainted, offer):
    """judge's verdict, as the table and what ``provided`` (and its ``offer``, or None) tell."""
    # A GPL-only export is not offered to a module tainted proprietary: by its license, or by
    # what it takes from a proprietary module (either order of the two fails to load).
    hidden = table.gpl_only if tainted or proprietary(module) else _NOTHING
    undecided = table.gpl_only if tainted is None and not hidden else _NOTHING
    imports = module.imports
    duplicates, contested = _exported_already(module, table) if module.exports else ((), ())
    # Each import's CRC in the kernel's table, else the one its providers offer, none in a namespace.
    if _looked_up(table.quick_crcs(offer), imports) == module.crcs \
            and (not hidden or hidden.isdisjoint(imports)) and (not undecided or undecided.isdisjoint(imports)) \
            and not duplicates and not contested:
        # What most modules come to: every import exported as imported, none restricted.
        if table.absent.isdisjoint(imports):
            table.passed.add(module)    # by the kernel alone
        elif tainted is False and offer is not None:
            offer.passed.add(module)
        return table.clean_verdict(vermagic)
    missing, mismatched, namespaces, unresolved = set(), set(), set(), set()
    for symbol, crc in zip(imports, module.crcs):
        exported = table.crcs.get(symbol)
        if exported is None:
            if symbol not in provided:
                (unresolved if unknown_providers or symbol in table.unsure else missing).add(symbol)
            else:
                # Checked against the exporting module's CRC (resolve_symbol()).
                agrees = provided.agrees(symbol, crc) if isinstance(provided, _ProvidedTo) else True
                if agrees is False:
                    mismatched.add(symbol)
                elif agrees is None or symbol in hidden or symbol in undecided or symbol in table.namespaces \
                        and _namespace_granted(table.namespaces[symbol], module) is not True:
                    # Restricted in the in-tree module (ExportTable.restricted): maybe in the replacement too.
                    unresolved.add(symbol)
        elif exported != crc:
            mismatched.add(symbol)
        # Only an import the kernel exports with the same CRC is checked further.
        elif symbol in hidden:
            missing.add(symbol)  # the loader's "Unknown symbol"
        elif symbol in undecided:
            unresolved.add(symbol)
        elif symbol in table.namespaces:
            granted = _namespace_granted(table.namespaces[symbol], module)
            if granted is False and not table.allow_missing_namespaces:
                namespaces.add(table.namespaces[symbol])
            elif not granted:
                unresolved.add(symbol)
    if missing and module.symbol_table is not None:
        # simplify_symbols(): a weak reference the loader finds nothing for stays unresolved.
        symbol_table = module.symbol_table()
        if symbol_table is None:
            unresolved |= missing
            missing = set()
        elif symbol_table.weak_undefined is None:
            unresolved |= missing   # damaged: still missing, never coverage, but not known to be
        else:
            missing -= symbol_table.weak_undefined
    return Verdict(sorted(missing), sorted(mismatched), sorted(namespaces), vermagic, sorted(unresolved),
                   duplicates, contested)


def _looked_up(table, symbols):
    """``tuple(map(table.get, symbols))`` of the dict ``table``: where it holds every one of two
    symbols or more (most modules' imports), taken by an itemgetter, without a call per symbol."""
    if len(symbols) > 1:
        try:
            return itemgetter(*symbols)(table)
        except KeyError:
            pass
    return tuple(map(table.get, symbols))


def foreign_elf(kernel, module):
    """Why ``module`` cannot be a module for this kernel's machine, or None.

    The kernel's ELF class, machine and byte order come from one of its own modules; a kernel
    with none to read is not judged on this.
    """
    own = kernel.own
    if own is None or (module.elf_class, module.machine, module.little_endian) == \
            (own.elf_class, own.machine, own.little_endian):
        return None     # the usual case, told without a look at each
    for label, mine, theirs in (('ELF class', module.elf_class, own.elf_class),
                                ('machine', module.machine, own.machine),
                                ('byte order', module.little_endian, own.little_endian)):
        if mine is not None and theirs is not None and mine != theirs:
            return '%s %s, the kernel has %s' % (label, mine, theirs)
    return None


def other_struct_module(kernel, module):
    """Why ``module``'s struct module is not the kernel's, or None: modpost gives each module a
    copy as large as the kernel it builds against has it (a kernel of another configuration,
    BTF on or off, has another size). Judged against one of the kernel's own modules: a kernel
    with none to read, or a module without one, is not judged on this (see resolve)."""
    theirs = kernel.own.this_module_size if kernel.own is not None else None
    mine = module.this_module_size
    if mine is None or theirs is None or mine == theirs:
        return None
    return 'its struct module (.gnu.linkonce.this_module) is %d bytes, the kernel\'s %d: it was built against ' \
        'another configuration of the kernel' % (mine, theirs)


def module_decompression(config):
    """The format ('gzip', 'xz', 'zstd') a kernel of ``config`` (its config dict, None when unknown)
    decompresses modules in itself (CONFIG_MODULE_DECOMPRESS, one format), False for none, None
    when that is not known."""
    if config is None:
        return None
    if config.get('CONFIG_MODULE_DECOMPRESS') != 'y':
        return False
    return next((name for name in ('gzip', 'xz', 'zstd') if config.get('CONFIG_MODULE_COMPRESS_' + name.upper()) == 'y'),
                False)


def _decompressed_by(kernel, module):
    """Who decompresses ``module`` as the system loads it: 'kernel' (kmod 31 and later hand it a
    file in the format it decompresses itself), 'kmod', 'nobody' (kmod was built without the
    format: its depmod leaves such a file out of modules.dep, so neither modprobe nor udev finds
    it), None for a plain file, or where the kmod or the kernel's config does not tell."""
    compression = module.compression
    built = _built_with(kernel.kmod, compression) if compression else None
    if built is None:
        return None
    if not built:
        return 'nobody'
    if _hands_over(kernel.kmod) and kernel.decompresses in (compression, None):
        return 'kernel' if kernel.decompresses == compression else None
    return 'kmod'


def _hands_over(kmod):
    """Whether ``kmod`` hands the kernel a file compressed as it decompresses; None when not known."""
    return None if kmod is None else kmod.version >= KMOD_HANDS_OVER


def _built_with(kmod, compression):
    """Whether ``kmod`` was built with ``compression``, None when not known."""
    return None if kmod is None else kmod.knows(compression)


def _compression_refusal(kernel, module):
    """(reason, certain) of the system not loading ``module`` for how it is compressed, or None."""
    if module.compression is None:
        return None     # a plain file
    who = _decompressed_by(kernel, module)
    if who == 'nobody':
        return '%s: its depmod leaves the file out of modules.dep, so neither modprobe nor udev finds it' \
            % _without(kernel, module), True
    lacking = xz_check_the_kernel_lacks(module)
    if not lacking or kernel.decompresses != 'xz' or who == 'kmod' or _hands_over(kernel.kmod) is False:
        return None     # an older kmod never hands the kernel the file: whether it reads it, see _unchecked_rule
    # The kernel's own xz decoder checks CRC32 or nothing (lib/xz has no CRC64, nor SHA-256:
    # XZ_OPTIONS_ERROR); kmod 31 and later fail with it, older ones built with xz decompress the
    # file themselves. Where the kernel's config is not known, see _unchecked_rule.
    if who is None:
        return ('%s: kmod %d and later hand the file to the kernel, which refuses it; older ones decompress it, '
                'and which kmod loads modules here is not known' % (lacking, KMOD_HANDS_OVER[0]), False)
    return '%s: kmod %s hands the file to the kernel, which refuses it' % (lacking, _kmod_version(kernel)), True


def _without(kernel, module):
    return 'compressed with %s, which kmod %s was built without' % (module.compression, _kmod_version(kernel))


def _kmod_version(kernel):
    return '.'.join(map(str, kernel.kmod.version))


def xz_check_the_kernel_lacks(module):
    """Why the kernel's own xz decoder cannot take ``module``'s xz check, or None when it can."""
    if module.xz_check in (None, XZ_CHECK_NONE, XZ_CHECK_CRC32):
        return None
    return 'compressed with xz and a %s check, which the kernel\'s own xz decoder lacks' \
        % XZ_CHECKS.get(module.xz_check, 'type %d' % module.xz_check)


def _why_not(verdict):
    parts = []
    for label, symbols in (('missing symbols', verdict.missing), ('CRCs differ', verdict.mismatched),
                           ('namespaces not imported', verdict.namespaces),
                           ('exports symbols the kernel exports already', verdict.duplicates)):
        if symbols:
            parts.append('%s: %s' % (label, ', '.join(symbols)))
    if verdict.vermagic is False:
        parts.append('vermagic differs from the kernel\'s')
    return '; '.join(parts)


def _unchecked(verdict):
    if verdict is None:
        return 'the kernel has no symvers to check against'
    if verdict.vermagic is None:
        return 'the kernel\'s vermagic is unknown'
    if verdict.contested:
        return 'exports symbols that another module exports too (an in-tree module, or one judged on this ' \
            'kernel, of another name: whichever of the two loads second is refused), or that the kernel ' \
            'exports where the module\'s symbol table cannot tell its exports from namespace names: %s' \
            % ', '.join(verdict.contested)
    return 'cannot tell whether the loader offers the module these symbols (exported by no module read, while ' \
        'some module\'s exports cannot be listed or its file could not be read; by an in-tree module modules.dep does ' \
        'not list, where its file is there or none of the kernel\'s own modules is listed; GPL-only where a module it takes symbols from may be ' \
        'proprietary; or in a module namespace): %s' % ', '.join(verdict.unresolved)


class _ProvidedTo:
    """The symbols loadable modules other than ``key`` export, asked one symbol at a time."""

    __slots__ = ('providers', 'key', 'modules', 'offer')

    def __init__(self, providers, key, modules, offer):
        self.providers = providers
        self.key = key
        self.modules = modules
        self.offer = offer      # the _Offer of the loadable modules

    def __contains__(self, symbol):
        holders = self.providers.get(symbol)
        return bool(holders) and (len(holders) > 1 or self.key not in holders)

    def agrees(self, symbol, crc):
        """Whether the modules that provide ``symbol`` export it with ``crc``, as check_version()
        compares it with the exporting module's own CRC: True, False, or None when that cannot be
        told (or they differ: whichever loads first decides)."""
        holders = self.providers.get(symbol, ())
        told = self.offer.crcs.get(symbol)
        if told is not None and self.key not in holders:
            return told == crc  # the offer is of these providers: all that export it tell this CRC
        answers = set(_exports_with(self.modules[holder], symbol, crc) for holder in holders if holder != self.key)
        return answers.pop() if len(answers) == 1 else None


def _exports_with(info, symbol, crc):
    """Whether module ``info`` exports ``symbol`` with ``crc``: True also for a module built
    without CRCs (check_version() lets any import through), None when its symbol table cannot tell."""
    crcs = info.export_crcs()
    if crcs is None:
        return None
    if not crcs:
        return True
    exported = crcs.get(symbol)
    return None if exported is None else exported == crc


class _Offer:
    """What a set of modules offers in symbols a kernel's table lacks, for judge's quick way:
    ``crcs``, for each such symbol that all of them exporting it export with one CRC they tell,
    that CRC (an import with it passes check_version() whichever of them loads; any other case
    judge checks symbol by symbol); ``passed``, the modules, not tainted by others, found to
    import nothing but what the table and ``crcs`` have as imported, none of it restricted;
    ``verdicts``, judge's verdicts on the modules it is offered to, by (ModuleInfo, taint,
    unknown providers, vermagic check outcome); ``quick``, its table's ExportTable.quick_crcs with it."""

    __slots__ = ('crcs', 'passed', 'verdicts', 'quick')

    def __init__(self, table, providers):
        told = {}   # symbol -> the CRC its exporters tell, None where one tells none or they differ
        for info in providers:
            crcs = info.export_crcs() or _NO_CRCS
            for symbol in table.absent.intersection(info.exports):
                crc = crcs.get(symbol)
                if told.setdefault(symbol, crc) != crc:
                    told[symbol] = None
        self.crcs = dict((symbol, crc) for symbol, crc in told.items() if crc is not None)
        self.passed = set()
        self.verdicts = {}
        self.quick = None   # see ExportTable.quick_crcs


def _kept_providers(table, modules, loadable):
    """_SymbolResolution.providers of the keys ``loadable`` of ``modules`` on ``table``: those the
    table keeps for them (ExportTable.providers), else made and kept; callers copy before a change."""
    if table.providers[0] != modules:
        table.providers = (dict(modules), {})
    kept = table.providers[1].get(loadable)
    if kept is None:
        kept = {}
        for key in loadable:
            alone = frozenset([key])
            for symbol in table.absent.intersection(modules[key].exports or ()):
                holders = kept.get(symbol)
                kept[symbol] = alone if holders is None else holders | alone
        if len(table.providers[1]) == KEPT_PROVIDERS:
            table.providers[1].clear()
        table.providers[1][loadable] = kept
    return kept


class _SymbolResolution:
    """The fixed point of "loads only if what it imports is exported by something that loads"."""

    def __init__(self, kernel, table, modules, refused, shared=None, unread=False):
        self.kernel = kernel
        self.shared = shared or {}  # see ExportTables.shared
        self.table = table
        self.modules = modules
        self.loadable = set(modules) - refused
        # Of the symbols modules import, judge asks modules only for those the kernel lacks.
        # Such a symbol -> frozenset of the keys of loadable modules exporting it: most have one,
        # and the symbols of one module share its set (a set each would be most of the memory here).
        self.providers = {}
        self.providers_kept = False     # whether they are the table's (see ExportTable.providers), not to change
        self._importers = None    # see importers
        self.unlisted = set(key for key in self.loadable if modules[key].exports is None)
        self.unread = unread      # some module files judged with these could not be read
        self.taints = None        # the modules tainted proprietary, for sure and maybe (see _taint)
        self.recounts = 0
        self.own_taint = None     # the modules tainted proprietary by themselves
        self._offer = None        # see offer
        if not table.absent:
            return  # the usual case: the kernel exports every symbol imported, none is asked of modules
        self.providers, self.providers_kept = _kept_providers(table, modules, frozenset(self.loadable)), True

    @property
    def importers(self):
        """{symbol the kernel lacks: keys of the modules importing it}, made when a refusal or a
        taint first asks."""
        if self._importers is None:
            self._importers = {}
            for key, info in self.modules.items():
                for symbol in self.table.absent.intersection(info.imports):
                    self._importers.setdefault(symbol, set()).add(key)
        return self._importers

    def offer(self):
        """The _Offer of the loadable modules that export symbols the kernel lacks (kept by the
        table, for every kernel that shares it)."""
        if self._offer is None:
            # Modules share one set of keys for their symbols: each set is taken once.
            providers = frozenset(self.modules[key] for key in set().union(*set(self.providers.values())))
            self._offer = self.table.offers.get(providers)
            if self._offer is None:
                self._offer = self.table.offers[providers] = _Offer(self.table, providers)
        return self._offer

    def _verdict(self, key):
        return judge(self.modules[key], self.kernel, _ProvidedTo(self.providers, key, self.modules, self.offer()),
                     self.unread or bool(self.unlisted and self.unlisted - set([key])), self.table, self._taint(key))

    def _taint(self, key):
        """Whether the loader taints module ``key`` proprietary (True/False): by itself, or since
        a symbol it imports comes from a loadable module it taints (inherit_taint(), in turn, since
        5.9); None when only some of the modules exporting such a symbol are tainted, or the
        kernel may predate the rule."""
        if self.own_taint is None:
            self.own_taint = set(key for key, info in self.modules.items() if proprietary(info)) \
                if self.providers else set()
        if not self.own_taint:
            return False    # nothing can pass a taint on: only its own license can taint it
        if self.taints is None:
            self.taints = (self._spread_taint(all), self._spread_taint(any))
        tainted, maybe = self.taints
        if key in self.own_taint:
            return True
        if key not in maybe:
            return False
        return True if key in tainted and release_at_least(self.kernel.release, (5, 9)) else None

    def _recount_taint(self):
        """After a refusal: the taint worked out again, or once that has been done often enough,
        only what modules carry by themselves is kept certain."""
        if self.taints is None or not self.own_taint:
            return
        self.recounts += 1
        self.taints = None if self.recounts <= TAINT_RECOUNTS else (self.own_taint, self.taints[1])

    def _spread_taint(self, rule):
        """The modules tainted proprietary by themselves, and those whose absent imports ``rule``
        (all, any) of their exporters taint, to the fixed point: each tainted module once."""
        tainted = set(self.own_taint)
        pending = [key for key in tainted if key in self.loadable]
        while pending:
            source = pending.pop()
            for symbol in self.table.absent.intersection(self.modules[source].exports or ()):
                for key in self.importers.get(symbol, ()):
                    holders = self.providers.get(symbol, set()) - set([key])
                    if key not in tainted and holders and rule(holder in tainted for holder in holders):
                        tainted.add(key)
                        if key in self.loadable:
                            pending.append(key)
        return tainted

    def run(self):
        """{key: Verdict}; ``missing`` lists every symbol the loader would miss at the fixed point."""
        verdicts = dict((key, self._verdict(key)) for key in self.modules)
        refused = sorted(key for key, verdict in verdicts.items() if not verdict.compatible and key in self.loadable)
        while refused:
            key = refused.pop()
            if key not in self.loadable:
                continue
            self.loadable.discard(key)
            self._recount_taint()
            affected = set()
            if key in self.unlisted:
                self.unlisted.discard(key)
                affected = set(self.loadable)
            exported = self.table.absent.intersection(self.modules[key].exports or ())
            if exported and self.providers_kept:
                self.providers, self.providers_kept = dict(self.providers), False
            for symbol in exported:
                self.providers[symbol] = self.providers[symbol].difference([key])
                self._offer = None
                # Its importers may now miss the symbol, or no longer take the taint with it.
                affected |= self.importers.get(symbol, set())
            for other in sorted(affected & self.loadable):
                verdicts[other] = self._verdict(other)
                if not verdicts[other].compatible:
                    refused.append(other)
        # Judged once more against what finally loads, so no list depends on the order of names.
        for key in self.modules:
            if key not in self.loadable:
                verdicts[key] = self._verdict(key)
        for key, symbols in self._rivals().items():
            verdicts[key] = verdicts[key].contesting(symbols)
        return verdicts

    def _rivals(self):
        """{key: symbols} a loadable module exports that a loadable module of another name exports
        too: find_symbol() searches every live module, so whichever loads second is refused."""
        rivals = {}
        if not self.shared:
            return rivals
        # The keys of each loadable ModuleInfo: a file reached by two paths is read once.
        keys = {}
        for key in self.loadable:
            keys.setdefault(self.modules[key], []).append(key)
        for symbol, holders in self.shared.items():
            holders = [info for info in holders if info in keys and _labelled(info, symbol) is not False]
            if len(set(map(_identity, holders))) > 1:
                for key in itertools.chain.from_iterable(map(keys.get, holders)):
                    rivals.setdefault(key, set()).add(symbol)
        return rivals


def resolve(kernel, modules, tables=None, unread=False, unsure_names=(), file_names=None):
    """{key: Decision} for ``modules`` ({key: ModuleInfo}), every module file that could be
    loaded on KernelABI ``kernel``, of every package, judged together (``tables``: the
    ExportTables of the run's kernels; ``unread``: files that may load were not read, so a
    symbol nothing here exports may be theirs; ``unsure_names``: module names of files that
    modprobe may or may not take before the in-tree module of the name, which may then load:
    files that could not be read, or of which modprobe may load another; ``file_names``: {key:
    the name depmod indexes the key's file by, its file name}, where not the module's own)."""
    decisions = {}
    candidates = {}
    tables = tables or ExportTables()
    # modprobe takes any file of these names before the in-tree one, also one the kernel
    # refuses; not one compressed in a format depmod was built without, which it leaves out.
    tables.replaced = {}
    for key, info in modules.items():
        name = (file_names or {}).get(key) or _module_name(info)
        if name and _decompressed_by(kernel, info) != 'nobody':
            tables.replaced[name] = None if info.compression and \
                _built_with(kernel.kmod, info.compression) is None else True
    tables.replaced.update(dict.fromkeys(unsure_names))
    # Since 6.4 the loader refuses a struct module of another size (ENOEXEC, "section size must
    # match the kernel's built struct module size"), after the signature check; older ones load
    # it, with only the module_layout CRC to tell (modversions), and read its fields where they
    # are not. Such a module, or one whose xz check the kernel may not take, is refused, not
    # certainly, where every other rule lets it load; what needs it loads only as far as it does.
    checks_struct = release_at_least(kernel.release, (6, 4)) is True
    doubts = {}
    for key, info in modules.items():
        compressed = _compression_refusal(kernel, info)
        if compressed and compressed[1]:
            # The file is decompressed before anything in it is read.
            decisions[key] = Decision('broken', True, None, _refused_early(kernel, info)[0], compressed[0])
            continue
        foreign = foreign_elf(kernel, info)
        if foreign:
            decisions[key] = Decision('broken', True, reason='not a module for this kernel: %s' % foreign)
            continue
        other = other_struct_module(kernel, info)
        if other and checks_struct:
            signature, refusal, certain = _refused_early(kernel, info)
            decisions[key] = Decision('rejected', True, None, signature, refusal) if refusal and certain else \
                Decision('incompatible', True, None, signature, other)
            continue
        candidates[key] = info
        # (refusal, reason) of what may refuse a module that loads by every other rule: None
        # for a rule that could not be checked
        doubts[key] = ('incompatible', other) if other else ('broken', compressed[0]) if compressed else \
            _unchecked_rule(kernel, info, checks_struct)
    judged = _judged(kernel, candidates, tables, unread)
    for key, doubt in doubts.items():
        if doubt and judged[key].loads and (doubt[0] or judged[key].certain):  # else it tells why already
            judged[key] = Decision(doubt[0], False, judged[key].kabi, judged[key].signature, doubt[1])
    _spread_doubts(kernel, candidates, judged, tables, unread)
    decisions.update(judged)
    return decisions


# How many modules, in all, may be judged again without those that may not load: one round per
# link of a chain of modules that take symbols from each other (real packages keep them short),
# up to DOUBT_ROUNDS, fewer where there are very many modules.
DOUBT_ROUNDS = 8
DOUBT_WORK = 4000


def _spread_doubts(kernel, candidates, judged, tables, unread):
    """Make not certain, in ``judged`` ({key: Decision} of ``candidates``), what loads or is refused
    only as long as modules that may not load do: judged again without them, and again without
    what that leaves uncertain, until nothing more is; past the rounds, whatever takes a symbol
    the last of them export, or may export, is not certain either."""
    # Refused, not certainly, or loading, not certainly: either way others may not have their exports.
    doubtful = {key for key, decision in judged.items() if not decision.certain}
    excluded = set()
    for dummy in range(min(DOUBT_ROUNDS, DOUBT_WORK // max(len(candidates), 1))):
        excluded |= doubtful
        remaining = {key: info for key, info in candidates.items() if key not in excluded}
        if not doubtful or not remaining:
            return
        strict = _judged(kernel, remaining, tables, unread)
        doubtful = set()
        for key, decision in strict.items():
            if judged[key].certain and (decision.loads != judged[key].loads or not decision.certain):
                # A refusal tells its own reason; what loads only with them tells what it needs.
                judged[key] = _doubted(judged[key], 'loads only if modules that may not load do; without them: %s'
                                       % decision.reason)
                if judged[key].loads:
                    doubtful.add(key)
    if doubtful:
        _doubt_what_imports_from(kernel, doubtful, excluded | doubtful, candidates, judged, tables or ExportTables())


def _doubt_what_imports_from(kernel, sources, reached, candidates, judged, tables):
    """Make not certain whatever takes a symbol the kernel lacks that the modules ``sources``
    export, or that what takes one exports in turn, followed through the symbols (a module whose
    exports are not known may export any of them); ``reached``: modules not to look at again."""
    imports, wanted = tables.looked_up_by(tuple(candidates.values()))
    absent = imports if kernel.exports is None else tables.table(kernel, imports, wanted).absent
    importers = {}
    for key, info in candidates.items():
        for symbol in absent.intersection(info.imports):
            importers.setdefault(symbol, set()).add(key)
    reached = set(reached)
    pending = list(sources)
    while pending:
        exports = candidates[pending.pop()].exports
        offered = absent if exports is None else absent.intersection(exports)
        for key in set().union(*(importers.get(symbol, ()) for symbol in offered)) - reached:
            reached.add(key)
            pending.append(key)
            if judged[key].certain:
                judged[key] = _doubted(judged[key], 'may take symbols from modules that may not load, through more '
                                       'of them than are followed')


def _doubted(decision, reason):
    """``decision`` not certain, with ``reason`` where it tells none: a new Decision (_judged hands
    the same ones to the kernels it judges alike)."""
    return Decision(decision.refusal, False, decision.kabi, decision.signature, decision.reason or reason)


def _unchecked_rule(kernel, info, checks_struct):
    """(None, what the loader checks of ``info`` that is not known here), or None."""
    if checks_struct and (kernel.own is None or kernel.own.this_module_size is None) \
            and info.this_module_size is not None:
        return None, 'the size of the kernel\'s struct module is not known (none of its own modules could be ' \
            'read), which the loader checks'
    if info.compression is None or _decompressed_by(kernel, info) is not None:
        return None     # a plain file, or one that is known to load or not
    if _built_with(kernel.kmod, info.compression) is None:
        return None, 'compressed with %s, and which formats the system\'s kmod decompresses is not known' \
            % info.compression
    # Built with the format, kmod 31 or later: the kernel may be handed the file.
    lacking = xz_check_the_kernel_lacks(info)
    if lacking:
        return None, lacking + ', and whether the kernel decompresses modules itself is not known'
    return None


def _judged(kernel, candidates, tables, unread=False):
    """{key: Decision} of the modules ``candidates`` that are not refused for what they are (see resolve),
    a dict callers may change (not its Decisions)."""
    signatures = {key: _refused_early(kernel, info) for key, info in candidates.items()}
    table = None
    if kernel.exports is None:
        verdicts = loaded = surely_loaded = dict.fromkeys(candidates)
    else:
        # kABI alone, as if every signature were accepted; then what really loads, where modules
        # the kernel refuses before linking them export nothing to the others.
        tables = tables or ExportTables()
        table = tables.table(kernel, *tables.looked_up_by(tuple(candidates.values())))
        verdicts = _resolved(kernel, table, candidates, set(), tables.shared, unread)
        refused = set(key for key, (dummy, refusal, dummy) in signatures.items() if refusal)
        loaded = _resolved(kernel, table, candidates, refused, tables.shared, unread) if refused else verdicts
        # What a module needs from a refusal that is not certain, it is not certain to miss.
        surely_refused = set(key for key in refused if signatures[key][2])
        surely_loaded = loaded if surely_refused == refused else _resolved(
            kernel, table, candidates, surely_refused, tables.shared, unread)
        # The decisions follow from these alone: a kernel that shares the table and the resolutions
        # (a weak link's, judging the same files) takes those of a kernel before where its signatures
        # and symvers' damage are alike.
        for kept in table.judged:
            if kept[0] is verdicts and kept[1] is loaded and kept[2] is surely_loaded \
                    and kept[3] == signatures and kept[4] == kernel.exports_damaged:
                return dict(kept[5])
    decisions = {}
    for key, verdict in verdicts.items():
        signature, refusal, signature_certain = signatures[key]
        kabi = verdict.as_fact() if verdict is not None else None
        if verdict is not None and not verdict.compatible:
            decisions[key] = Decision('incompatible', verdict.surely_incompatible, kabi, signature, _why_not(verdict))
        elif refusal:
            decisions[key] = Decision('rejected', signature_certain, kabi, signature, refusal)
        elif verdict is not None and not loaded[key].compatible:
            decisions[key] = Decision('rejected', not surely_loaded[key].compatible, kabi, signature,
                                      'needs %s from modules the kernel refuses (their signature, or module_blacklist=)'
                                      % ', '.join(loaded[key].missing))
        elif verdict is None and kernel.exports_damaged:
            decisions[key] = Decision('broken', False, None, signature, 'the kernel\'s symvers cannot be read')
        else:
            # Loads by kABI as far as both resolutions tell: with every signature accepted, and without the refused.
            # (Both None without a symvers; most often one Verdict, which the kernels share.)
            other = loaded[key]
            if verdict is None or not verdict.certain:
                unchecked = _unchecked(verdict)
            elif other is not verdict and (other is None or not other.certain):
                unchecked = _unchecked(other)
            else:
                unchecked = None
            if not signature_certain:
                unchecked = unchecked or 'whether the kernel accepts its signature is unknown'
            decisions[key] = Decision(None, unchecked is None, kabi, signature, unchecked)
    if table is not None:
        if len(table.judged) == KEPT_RESOLUTIONS:
            del table.judged[0]
        table.judged.append((verdicts, loaded, surely_loaded, signatures, kernel.exports_damaged, dict(decisions)))
    return decisions


def _resolved(kernel, table, modules, refused, shared, unread):
    """``_SymbolResolution(kernel, table, modules, refused, shared, unread).run()``, a dict callers
    do not change: the one ``table`` keeps of a kernel before, where it was made for the same
    modules alike. A resolution reads the kernel only in each module's vermagic check and in
    whether taints pass on (release 5.9), and every kernel that shares the table judges the same files."""
    alike = (frozenset(refused), unread, release_at_least(kernel.release, (5, 9)),
             _vermagic_read(kernel, modules.values()))
    for kept in table.resolutions:
        if kept[0] == alike and kept[1] is shared and kept[2] == modules:
            return kept[3]
    verdicts = _SymbolResolution(kernel, table, modules, refused, shared, unread).run()
    if len(table.resolutions) == KEPT_RESOLUTIONS:
        del table.resolutions[0]
    table.resolutions.append((alike, shared, dict(modules), verdicts))
    return verdicts


def _refused_early(kernel, info):
    """(signature fact, refusal or None, certain) of one module on the kernel: the checks
    load_module() makes before it links anything, the signature's and then blacklisted()."""
    signature, refusal, certain = (None, None, False) if kernel.signature_check is None \
        else kernel.signature_check(info)
    if refusal and certain:
        return signature, refusal, certain
    blacklisted = _blacklisted_name(kernel, info.name)
    if blacklisted:
        return signature, blacklisted[0], blacklisted[1]
    return signature, refusal, certain


# The longest value a charp parameter takes (param_set_charp(): a longer one leaves it as it was).
CHARP_MAX = 1024


def _blacklisted_name(kernel, name):
    """(why, certain) when ``module_blacklist=`` on the next-boot command line refuses the
    module ``name`` (EPERM: "Module ... is blacklisted"), else None. The kernel keeps the last
    value it takes and compares each of its comma-separated names with the module's name
    exactly; kernels before 4.8 may not have the parameter."""
    if not kernel.module_blacklist:
        return None
    given = [value for value in kernel.module_blacklist if value is not None and len(value) <= CHARP_MAX]
    if not given or name is None or name not in given[-1].split(','):
        return None
    return 'module_blacklist=%s on the next-boot command line names it' % given[-1], \
        release_at_least(kernel.release, (4, 8)) is True
