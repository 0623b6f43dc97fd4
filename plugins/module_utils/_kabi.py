# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a kernel offers its modules: the symvers table (symbol, CRC, GPL-only, namespace) and
the vermagic its headers' config implies. The rules that use them are in ``_loader``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import math
import re
from collections import namedtuple
from collections.abc import Mapping
from operator import add, and_, is_, itemgetter

from ansible_collections.kabi.dkms.plugins.module_utils._ko import KoError, decompress
from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import LINE_ENDS, RootPathError, has_other_line_ends


# A distribution kernel's Module.symvers holds 25,000 to 40,000 exports in 2 to 4 MiB.
SYMVERS_LIMIT = 8 * 1024 * 1024


class SymversError(Exception):
    """A symvers file that cannot be read or decompressed."""


class Export(namedtuple('Export', ['crc', 'gpl_only', 'namespace', 'owner'])):
    """One symbol a kernel exports: its CRC (low 32 bits), GPL-only or not, its namespace or None,
    and what exports it (the symvers module column: ``vmlinux`` for the kernel image, else the
    in-tree module's path without ``.ko``; None when the line does not say)."""

    __slots__ = ()


# The owner may be left out (Python 3.6 namedtuples take no ``defaults``).
Export.__new__.__defaults__ = (None,)


def _export(crc_text, columns):
    """The Export of one symvers line: its CRC text and the columns after the symbol.

    Raises ValueError for a CRC that is not hex.
    """
    return _EXPORT_NEW(Export, (int(crc_text, 16) & 0xffffffff,) + _described(columns))


# Export's own constructor, without the frame of the one namedtuple writes.
_EXPORT_NEW = tuple.__new__


def _described(columns):
    """(GPL-only, namespace, owner) from the columns after a symbol: "module, kind, namespace"
    (the namespace since 5.4, absent before); 5.4 to 5.8 before a stable fix wrote "namespace,
    module, kind", so the kind column is found by its EXPORT_ prefix, and the module is the
    column before it."""
    if len(columns) > 1 and columns[1].startswith('EXPORT_') and not columns[0].startswith('EXPORT_'):
        # "module, kind[, namespace]": every kernel since 5.9 and before 5.4.
        return (columns[1].endswith('_GPL'), (columns[2].strip() or None) if len(columns) > 2 else None,
                _owner(columns[0]))
    for index, column in enumerate(columns[:3]):
        if column.startswith('EXPORT_'):
            namespace = columns[0] if index == 2 else ''.join(columns[index + 1:index + 2])
            return column.endswith('_GPL'), namespace.strip() or None, _owner(columns[index - 1]) if index else None
    return False, None, _owner(columns[0]) if columns else None


# {module column: itself}: one string per module a kernel's exports name (a few thousand), up to
# this many, so a hostile symvers cannot make the run keep one per line.
_OWNERS = {}
_OWNERS_KEPT = 65536


def _owner(column):
    """The module column as one shared string per module, or None when it is empty."""
    column = column.strip()
    if not column:
        return None
    owner = _OWNERS.get(column)
    if owner is None:
        owner = column
        if len(_OWNERS) < _OWNERS_KEPT:
            _OWNERS[column] = column
    return owner


# What ends a line for str.splitlines; a real symvers has only "\n".
_LINE_END = re.compile('\r\n|[%s]' % LINE_ENDS)


def _line_pieces(text, piece=256 * 1024):
    """``text.splitlines()`` as lists of some 4,000 lines, so a symvers of 25,000 lines or more
    is never split into strings all at once, whatever ends its lines."""
    start = 0
    while start < len(text):
        end = _LINE_END.search(text, start + piece)
        end = len(text) if end is None else end.end()
        yield text[start:end].splitlines()
        start = end


def _lines(text):
    """The lines of ``text`` (``splitlines``), one piece at a time."""
    return itertools.chain.from_iterable(_line_pieces(text))


def _cut(lines):
    """(fields, separator, line) of each of ``lines`` with two columns or more, in order.

    Columns are tab-separated (a line without a tab: whitespace-separated). ``fields`` holds the
    CRC, the symbol and, when there is more, the rest of the line, which ``separator`` cuts into
    the other columns: those are read only when asked, by ``_fields_export``.
    """
    for line in lines:
        fields = line.split('\t', 2)
        separator = '\t'
        if len(fields) < 2:
            fields = line.split(None, 2)
            separator = None
            if len(fields) < 2:
                continue
        yield fields, separator, line


def _symbol_lines(text):
    """(symbol, line) of each line with two columns or more, in file order."""
    return ((fields[1], line) for fields, dummy, line in _cut(_lines(text)))


def _fields_export(fields, separator):
    """The Export of a line ``_cut`` cut; ValueError for a CRC that is not hex. Only the three
    columns ``_export`` reads are cut off the rest of the line, however many it has."""
    return _export(fields[0], fields[2].split(separator, 3) if len(fields) > 2 else [])


def _line_export(line):
    """The Export of one line ``_symbol_lines`` yields; ValueError for a CRC that is not hex."""
    for fields, separator, dummy in _cut((line,)):
        return _fields_export(fields, separator)
    raise ValueError('not a symvers line: %r' % line)


# How many different column texts after the symbol one pass over lines keeps the meaning of:
# a kernel's exports have a few thousand (one per module and kind), a hostile file one per line.
_DESCRIBED_KEPT = 16384


class _Meanings(dict):
    """{columns after a symbol: their ``_described``}, up to _DESCRIBED_KEPT of them, for the
    lines a pass has read. The columns are keyed by their text, cut at tabs; by (their text,)
    when cut at whitespace (in a line without a tab: the same text in a tab-separated line
    means something else); by None when there are none."""

    __slots__ = ()

    def __missing__(self, rest):
        if rest is None:
            meaning = _described([])
        else:
            meaning = _described(rest[0].split(None, 3) if isinstance(rest, tuple) else rest.split('\t', 3))
        if len(self) < _DESCRIBED_KEPT:
            self[rest] = meaning
        return meaning


def _exports_on(lines, symbols=None, meanings=None):
    """(symbol, line, Export) of each valid line of ``lines`` that exports one of ``symbols``
    (all when None), in order: a malformed line is skipped.

    This runs over every line of a symvers: the columns after the symbol, shared by all exports
    of one module, are read once (``meanings``: those of the lines read before).
    """
    meanings = _Meanings() if meanings is None else meanings
    for fields, separator, line in _cut(lines):
        symbol = fields[1]
        if symbols is not None and symbol not in symbols:
            continue
        try:
            crc = int(fields[0], 16) & 0xffffffff
        except ValueError:
            continue
        rest = None if len(fields) < 3 else fields[2] if separator else (fields[2],)
        yield symbol, line, _EXPORT_NEW(Export, (crc,) + meanings[rest])


def parse_symvers(text, symbols=None):
    """{symbol: Export} of a Module.symvers/symvers text, or of only those of the set ``symbols``
    it exports; a malformed line is skipped, so a symbol's last valid line counts."""
    return dict((symbol, export) for symbol, dummy, export in _exports_on(_lines(text), symbols))


_CRC, _SYMBOL, _REST = itemgetter(0), itemgetter(1), itemgetter(2)


def _tab_exports(lines, symbols, meanings):
    """(symbols, Exports) of the lines of ``lines`` that export one of ``symbols``, in order, as
    ``_exports_on`` finds them, each step taken for all the lines at once in the standard
    library's C code; None when a line may not be read as there: one without a tab (cut on
    whitespace there), or one of ``symbols`` without a third column or with a CRC not hex."""
    fields = list(map(str.split, lines, itertools.repeat('\t'), itertools.repeat(2)))
    try:
        wanted = list(itertools.compress(fields, map(symbols.__contains__, map(_SYMBOL, fields))))
        crcs = list(map(int, map(_CRC, wanted), itertools.repeat(16)))
        rests = list(map(_REST, wanted))
    except (IndexError, ValueError):
        return None
    if crcs and (min(crcs) < 0 or max(crcs) > 0xffffffff):
        crcs = list(map(and_, crcs, itertools.repeat(0xffffffff)))     # in a real symvers, none
    fields = None   # the lines not asked for, let go
    exports = map(add, zip(crcs), map(meanings.__getitem__, rests))
    return list(map(_SYMBOL, wanted)), list(map(_EXPORT_NEW, itertools.repeat(Export), exports))


# How many lines _search reads at once: what it holds beyond its answers (their columns cut, and
# the exports of those it looks for), however many lines a hostile symvers repeats a symbol on.
_LINES_READ = 256


def _search(text, symbols):
    """``parse_symvers(text, symbols)``, keyed by the strings of ``symbols``, and the set of those
    with a valid line more than once (the same line, or another).

    Lines are read ``_LINES_READ`` at a time, by ``_tab_exports`` or, where it cannot, as
    ``parse_symvers`` reads them. Only the valid lines found are counted: more of them than symbols
    found (never in a real symvers) has the text read again for those on more than one.
    """
    found = dict.fromkeys(symbols)
    meanings = _Meanings()
    valid_lines = 0
    for piece in _line_pieces(text):
        for start in range(0, len(piece), _LINES_READ):
            lines = piece[start:start + _LINES_READ]
            hits = _tab_exports(lines, found, meanings)
            if hits is None:
                exported = [(symbol, export) for symbol, dummy, export in _exports_on(lines, found, meanings)]
                hits = list(map(itemgetter(0), exported)), list(map(itemgetter(1), exported))
            named, exports = hits
            valid_lines += len(named)
            found.update(zip(named, exports))  # a symbol's last valid line counts
    found = _without_none(found)
    return found, _on_more_lines(text, found) if valid_lines > len(found) else set()


def _on_more_lines(text, symbols):
    """The set of those of ``symbols`` with more than one valid line in ``text``."""
    seen, ambiguous = set(), set()
    for symbol, dummy, dummy in _exports_on(_lines(text), symbols):
        if symbol in seen:
            ambiguous.add(symbol)
        seen.add(symbol)
    return ambiguous


def _without_none(found):
    """``found`` without the symbols it maps to None, taken out in place: they are told by the
    standard library's C code, not by a loop over every symbol."""
    for symbol in list(itertools.compress(found, map(is_, found.values(), itertools.repeat(None)))):
        del found[symbol]
    return found


# Where symvers texts are cut into pieces to be compared: before each line whose CRC starts
# with 0x0, one line in 16 of a kernel built with CONFIG_MODVERSIONS. The cuts depend only on
# the lines next to them, so a line changed, added or removed changes only its own piece.
_PIECE_START = '\n0x0'


def _pieces_apart(old, new, limit):
    """(pieces of ``old``, pieces of ``new``) that the other text lacks, as texts, the first
    piece of each always among them (it does not follow a cut, so it is never taken for one that
    does), and the number of pieces of ``new``; None when either text has more than ``limit``."""
    old_parts = old.split(_PIECE_START, limit)
    new_parts = new.split(_PIECE_START, limit)
    if len(old_parts) > limit or len(new_parts) > limit:
        return None
    shared = set(old_parts[1:]).intersection(new_parts[1:])
    old_apart, new_apart = ([parts[0]] + ['0x0' + part for part in itertools.islice(parts, 1, None)
                                          if part not in shared]
                            for parts in (old_parts, new_parts))
    return old_apart, new_apart, len(new_parts)


def _changed_lines(old_pieces, new_pieces, limit):
    """(lines of ``new_pieces`` that ``old_pieces`` lack, lines of ``old_pieces`` that
    ``new_pieces`` lack), as sets; None past ``limit`` lines, or when a line comes twice in
    ``new_pieces``.

    A line of a piece apart may also be in a piece both texts share: it then comes twice in one
    text. In the old one its symbol has the caller search the next text whole (``_search`` tells
    a symbol with two valid lines); in the new one it is in the first set, where it makes its
    symbol seem to have two different lines, which has the text searched whole.
    """
    lines = ([], [])
    for pieces, found in zip((old_pieces, new_pieces), lines):
        for piece in pieces:
            # A piece is a text, which may be as long as the whole symvers: cut a part at a time.
            for part in _line_pieces(piece):
                found += part
                if len(found) > limit:
                    return None
    old_lines, new_lines = lines
    added = set(new_lines)
    if len(added) < len(new_lines):
        return None
    return added.difference(old_lines), set(old_lines).difference(added)


# Whether the lines of the pieces apart are compared, rather than the text searched whole, is
# decided by what each costs, in units of what searching costs per line (measured on symvers of
# 25,000 and 40,000 lines, and checked with callgrind on the benchmark's drifting grid, where 70 %
# of the text is apart): comparing the lines of the pieces apart COMPARE_COST per line, and
# searching or parsing a changed line also EXPORT_COST for each symbol found.
COMPARE_COST = 2.0
EXPORT_COST = 7.5


def _worth_comparing(old_apart, new_apart, pieces, text, symbols):
    """Whether comparing the pieces apart of the last text and of ``text`` (of ``pieces`` in all),
    then parsing the lines that differ, costs less than searching ``text`` for ``symbols``.

    The share of lines that differ is estimated from the share of the text apart, as if each line
    had changed by chance: if a share g of the lines did, a piece of n lines is the same in both
    texts with the chance (1 - g) ** n.
    """
    lines = text.count('\n') + 1
    share = min(1.0, (sum(map(len, old_apart)) + sum(map(len, new_apart))) / (2.0 * (len(text) or 1)))
    changed = 1.0 if share >= 1 else min(share, -math.log(1 - share) * pieces / lines)
    per_line = 1 + EXPORT_COST * len(symbols) / lines
    return COMPARE_COST * share + 2 * changed * per_line < per_line


# A symvers of more pieces, or of more lines in the pieces that differ, than this is searched
# whole, never compared with the kernel's before: a distribution kernel's has 25,000 to 40,000 lines.
LINES_COMPARED = 100000


class SharedSymvers:
    """What the kernels of one run share when their symvers are searched.

    Kernels of one kABI stream (RHEL's z-stream updates, rebuilds of one release) have most
    symvers lines in common. The last text searched is kept with what was found in it, and the
    next kernel's text is compared with it, first piece by piece (see _PIECE_START), then as two
    sets of the lines of the pieces that differ: only the lines of one text and not the other are
    parsed, and every symbol on none of them keeps its answer. That holds for a symbol with one
    valid line, as in every real symvers; one with two (the last counts, so their order does,
    which sets of lines do not tell) has the text searched whole. A kernel whose text is the last
    kernel's, byte for byte, shares its Symvers and so every answer already found (see
    ``read_symvers``).
    """

    __slots__ = ('text', 'found', 'ambiguous', 'symbols', 'lines_compared', 'last')

    def __init__(self, lines_compared=LINES_COMPARED):
        self.text = None        # the last text searched
        self.symbols = frozenset()  # the symbols searched for in it
        self.found = {}         # {symbol: Export} of those it exports, handed out: never changed
        self.ambiguous = set()  # those of them with two valid lines in it or more
        self.lines_compared = lines_compared
        self.last = None    # the Symvers of the last symvers read

    def select(self, text, symbols):
        """``parse_symvers(text, symbols)`` of a set ``symbols``, from the last text's answers
        where the two texts agree; callers do not change the dict it returns."""
        symbols = symbols if isinstance(symbols, frozenset) else frozenset(symbols)
        if self.text is not None and symbols <= self.symbols and (text is self.text or text == self.text):
            # The same text, asked again for symbols it was searched for (fewer modules judged
            # again): answered as it is, what was found kept for the next kernel.
            return self.found if symbols == self.symbols else _answers(self.found, symbols)
        found = None
        if self.text is not None and symbols <= self.symbols and self.ambiguous.isdisjoint(symbols):
            found = self._carried(text, symbols)
        if found is None:
            found, self.ambiguous = _search(text, symbols)
        else:
            self.ambiguous = set()
        self.text, self.symbols, self.found = text, symbols, found
        return found

    def _carried(self, text, symbols):
        """{symbol: Export} of those of ``symbols`` that ``text`` exports, from the last text's,
        or None when the lines that differ leave a symbol with two valid lines, are too many, or
        would cost more than searching the text."""
        added = removed = ()
        if text != self.text:
            apart = _pieces_apart(self.text, text, self.lines_compared)
            self.text = None    # past its pieces, let go before the lines are compared
            if apart is None or not _worth_comparing(apart[0], apart[1], apart[2], text, symbols):
                return None
            old_apart, new_apart, dummy = apart
            apart = None
            changed = _changed_lines(old_apart, new_apart, self.lines_compared)
            old_apart = new_apart = None
            if changed is None:
                return None
            added, removed = changed
        found = self.found
        # Every symbol asked for had one valid line, once, at most: one of those removed was it.
        lost = set(symbol for symbol, dummy, dummy in _exports_on(removed, symbols))
        fresh = {}  # {symbol: {valid line the last text lacks: its Export}}
        for symbol, line, export in _exports_on(added, symbols):
            fresh.setdefault(symbol, {})[line] = export
        carried = dict(found) if symbols == self.symbols else _answers(found, symbols)
        for symbol in lost.union(fresh):
            kept = symbol in found and symbol not in lost
            exports = list(fresh.get(symbol, {}).values())
            if kept + len(exports) > 1:
                return None
            if exports:
                carried[symbol] = exports[0]
            elif not kept:
                carried.pop(symbol, None)
        return carried


def _answers(found, symbols):
    """A new dict of the answers in ``found`` ({symbol: Export}) for ``symbols``."""
    return dict((symbol, found[symbol]) for symbol in symbols if symbol in found)


def _newline_text(text):
    """``text`` with each of its lines (``str.splitlines``) ended by "\\n", a piece at a time."""
    return ''.join('\n'.join(piece) + '\n' for piece in _line_pieces(text))


# A symbol not asked for yet (None answers "not exported").
_UNSEEN = object()
# What Symvers._find answers for a symbol found in too many lines to cut them one by one.
_MANY_LINES = object()


class Symvers(Mapping):
    """{symbol: Export} of one symvers text, looked up one symbol at a time.

    A kernel exports some 25,000 symbols and its modules import from a few to thousands of
    them, the same ones over and over (``module_layout``, ``_printk``): every answer is kept.
    The first ``INDEX_AFTER`` symbols are searched in the text, each a scan of it (a symbol
    it lacks scans all of it) and a look at each line it occurs in as a column, up to
    ``FIND_LINES`` of them; past that one pass indexes every line by its symbol, about 30
    scans' worth, and only the lines asked for are parsed. Each way answers as
    ``parse_symvers`` does: by a symbol's last valid line.
    """

    INDEX_AFTER = 32
    FIND_LINES = 64
    FIND_OCCURRENCES = 4096

    def __init__(self, text, shared=None):
        self._read = text
        # The text search sees only newlines: other line ends are made newlines, which leaves the
        # lines parse_symvers sees as they are.
        self._text = _newline_text(text) if has_other_line_ends(text) else text
        self._shared = SharedSymvers() if shared is None else shared   # what the kernels of one run share
        self._answers = {}  # {symbol: Export or None} of every symbol asked for
        self._index = None  # {symbol: its last line}, once the text search gives way
        self._table = None  # the full parse, once iterated
        # The last select's symbols and its answer.
        self._selected = (None, None)

    @property
    def text(self):
        """The text as read (a copy of a kernel's symvers is told by it)."""
        return self._read

    def get(self, key, default=None):
        export = self._answers.get(key, _UNSEEN)
        if export is _UNSEEN:
            export = self._answer(key)
            self._answers[key] = export
        return default if export is None else export

    def _answer(self, symbol):
        if self._table is not None:
            return self._table.get(symbol)
        if self._index is None and len(self._answers) < self.INDEX_AFTER:
            found = self._find(symbol)
            if found is not _MANY_LINES:
                return found
        if self._index is None:
            self._index = dict(_symbol_lines(self._text))
        line = self._index.get(symbol)
        if line is None:
            return None
        try:
            return _line_export(line)
        except ValueError:
            # The last line of the symbol is malformed: an earlier one may count.
            return self._all().get(symbol)

    def select(self, symbols):
        """{symbol: Export} of those of the set ``symbols`` the kernel exports: many at once,
        in one pass over the text, or over the lines it does not share with the text searched
        before (see ``SharedSymvers``). The answer for the same symbols as the last call is that
        call's dict: callers do not change it."""
        symbols = symbols if isinstance(symbols, frozenset) else frozenset(symbols)
        # The kernels a weak link reaches ask with the very set: sets compare element by element.
        if symbols is self._selected[0] or symbols == self._selected[0]:
            return self._selected[1]
        selected = self._select(symbols)
        self._selected = (symbols, selected)
        return selected

    def _select(self, symbols):
        if self._table is not None or self._index is not None or len(symbols) < self.INDEX_AFTER:
            return dict((symbol, export) for symbol, export in ((symbol, self.get(symbol)) for symbol in symbols)
                        if export is not None)
        return self._shared.select(self._text, symbols)

    def _find(self, symbol):
        """The answer ``parse_symvers`` gives for ``symbol``, from only the lines it occurs in as
        a whole column (the text has no line end but newlines): ``_MANY_LINES`` when that is more
        than FIND_LINES lines, or it occurs anyhow more than FIND_OCCURRENCES times, where
        indexing every line costs less."""
        if not isinstance(symbol, str):
            return None     # every column is text
        if not symbol:
            return _MANY_LINES
        text = self._text
        found = None
        looked_at = occurrences = 0
        at = text.find(symbol)
        while at >= 0:
            occurrences += 1
            if occurrences > self.FIND_OCCURRENCES:
                return _MANY_LINES
            after = at + len(symbol)
            # A column starts the line or follows a separator, and ends the line or meets one.
            if (at and not text[at - 1].isspace()) or (after < len(text) and not text[after].isspace()):
                at = text.find(symbol, at + 1)
                continue
            looked_at += 1
            if looked_at > self.FIND_LINES:
                return _MANY_LINES
            start = text.rfind('\n', 0, at) + 1
            end = text.find('\n', at)
            end = len(text) if end < 0 else end
            # The line is cut as parse_symvers cuts it; a later valid line wins, as there.
            for fields, separator, dummy in _cut((text[start:end],)):
                if fields[1] == symbol:
                    try:
                        found = _fields_export(fields, separator)
                    except ValueError:
                        pass
            at = text.find(symbol, end + 1)
        return found

    def __getitem__(self, symbol):
        export = self.get(symbol)
        if export is None:
            raise KeyError(symbol)
        return export

    def __contains__(self, symbol):
        return self.get(symbol) is not None

    def _all(self):
        if self._table is None:
            self._table = parse_symvers(self._text)
        return self._table

    def __iter__(self):
        return iter(self._all())

    def __len__(self):
        return len(self._all())


def exports_of(exports, symbols):
    """{symbol: Export} of those of ``symbols`` in ``exports`` (a Symvers or any mapping)."""
    if isinstance(exports, Symvers):
        return exports.select(symbols)
    return dict((symbol, exports[symbol]) for symbol in symbols if symbol in exports)


def read_symvers(rootfs, path, shared=None):
    """The symvers file at the in-root ``path`` (plain, .gz or .xz) as a Symvers mapping
    (``shared``: the SharedSymvers of the run's kernels).

    At most SYMVERS_LIMIT bytes, compressed and decompressed; a file without a single export
    line is refused rather than read as a kernel that exports nothing.
    """
    shared = SharedSymvers() if shared is None else shared
    try:
        # A copy of the last kernel's symvers is never decoded: a plain one is compared with the last
        # text as it is read, a piece at a time (never held whole), a compressed one once decompressed.
        if shared.last is not None and rootfs.holds(path, _encoded(shared.last.text), SYMVERS_LIMIT):
            return shared.last
        raw = rootfs.read_bytes(path, SYMVERS_LIMIT)
        data = decompress(raw, path, SYMVERS_LIMIT)
        # Another text is decoded once the last one's Symvers is let go, with its answers and
        # index: only the text ``shared`` searched last is kept, to be compared with the next.
        if shared.last is not None:
            if data is not raw and _decodes_to(data, shared.last.text):
                return shared.last
            shared.last = None
        text = data.decode('utf-8', 'replace')
    except (OSError, RootPathError) as exc:
        raise SymversError('cannot read %s: %s' % (path, exc))
    except KoError as exc:
        raise SymversError(str(exc))
    except MemoryError:
        raise SymversError('cannot read %s: ran out of memory' % path)
    if not (text.startswith('0x') or '\n0x' in text):
        raise SymversError('%s: not a symvers file, no line exports a symbol' % path)
    shared.last = Symvers(text, shared)
    return shared.last


def _encoded(text, chunk=64 * 1024):
    """The UTF-8 bytes of ``text``, ``chunk`` characters at a time. (A text decoded with
    replacement characters encodes to other bytes than the invalid ones it replaced: a copy
    compared with it is decoded again.)"""
    for start in range(0, len(text), chunk):
        yield text[start:start + chunk].encode('utf-8', 'surrogatepass')


def _decodes_to(data, text, chunk=64 * 1024):
    """Whether the bytes ``data`` decode to ``text``: compared in place a chunk of the text at a
    time, so neither is copied whole."""
    at = 0
    for piece in _encoded(text, chunk):
        if not data.startswith(piece, at):
            return False
        at += len(piece)
    return at == len(data)


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
    # PREEMPT_BUILD (CONFIG_PREEMPT before 5.13) is asked first: a 6.12+ real-time kernel has both.
    if config.get('CONFIG_PREEMPT_BUILD') == 'y' or config.get('CONFIG_PREEMPT') == 'y':
        words.append('preempt')
    elif config.get('CONFIG_PREEMPT_RT') == 'y':
        words.append('preempt_rt')
    if config.get('CONFIG_MODULE_UNLOAD') == 'y':
        words.append('mod_unload')
    if config.get('CONFIG_MODVERSIONS') == 'y':
        words.append('modversions')
    return ' '.join(words) + ' '
