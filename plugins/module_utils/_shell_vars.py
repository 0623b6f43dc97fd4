# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Static reading of shell variable assignments (dkms.conf, framework.conf).

dkms sources these files in bash. Running them to learn their values would execute
third-party code as root, so they are read as text: literal assignments and simple
``$VAR``/``${VAR}`` expansions are understood; anything that depends on shell logic
(conditionals, functions, command substitution, other expansions) makes the variable
*unknown*, which callers report as null rather than guess.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

UNKNOWN = object()

_ASSIGNMENT = re.compile(r'^(?:(?:export|readonly|typeset|declare|local)\s+(?:-[a-zA-Z]+\s+)*)?'
                         r'([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]*)\])?(\+?)=(.*)$')
_OPENERS = re.compile(r'^(if|case|for|while|until|select)\b|^\{|^\(|'
                      r'^(function\s+)?[A-Za-z_][A-Za-z0-9_]*\s*(\(\s*\))?\s*\{')
# A function header whose `{` comes on the next line: that line opens the block.
_FUNCTION_HEADER = re.compile(r'^(function\s+[A-Za-z_][A-Za-z0-9_]*\s*(\(\s*\))?|[A-Za-z_][A-Za-z0-9_]*\s*\(\s*\))\s*$')
_CLOSERS = re.compile(r'^(fi|esac|done|\}|\))\s*(;.*|#.*)?$')
# Commands that can change variables in ways a static reader cannot follow.
_OPAQUE_COMMANDS = re.compile(r'^((source|eval|set|unset|read|mapfile|readarray|let|shopt)\b|\.(\s|$))')
# Any NAME= or NAME[i]= a line may assign: at its start, after a separator or a case pattern.
_ANY_ASSIGNMENT = re.compile(r'(?:^|[\s;&|()])([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=')
_VARIABLE = re.compile(r'\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))')


class ShellVars:
    """Values of the scalar and array variables a shell fragment assigns."""

    def __init__(self, preset=None):
        self.scalars = dict(preset or {})
        self.arrays = {}
        # True once the file ran a command that may set any variable (source, eval...).
        self.opaque = False

    def get(self, name):
        """The value, None when never assigned, UNKNOWN when shell logic decides it."""
        if name in self.scalars:
            return self.scalars[name]
        if name in self.arrays and 0 in self.arrays[name]:
            value = self.arrays[name][0]
            return value
        return UNKNOWN if self.opaque else None

    def get_array(self, name):
        """{index: value} of an array, None when absent, UNKNOWN when not static."""
        if name in self.arrays:
            return self.arrays[name]
        if name in self.scalars:
            value = self.scalars[name]
            return value if value is UNKNOWN else {0: value}
        return UNKNOWN if self.opaque else None


def _split_value(text):
    """Split ``text`` into the assigned word and what follows it on the line.

    Returns (parts, rest) where parts is a list of (quote, chunk) with quote one of
    '', '"', "'"; or (None, text) when the word is not well formed.
    """
    parts = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in ' \t;&|':
            break
        if char == "'":
            end = text.find("'", i + 1)
            if end < 0:
                return None, text
            parts.append(("'", text[i + 1:end]))
            i = end + 1
        elif char == '"':
            j = i + 1
            chunk = []
            while j < len(text) and text[j] != '"':
                if text[j] == '\\' and j + 1 < len(text) and text[j + 1] in '"\\$`':
                    # An escaped character is literal: keep it out of the expansion.
                    parts.append(('"', ''.join(chunk)))
                    parts.append(("'", text[j + 1]))
                    chunk = []
                    j += 2
                    continue
                chunk.append(text[j])
                j += 1
            if j >= len(text):
                return None, text
            parts.append(('"', ''.join(chunk)))
            i = j + 1
        elif char == '\\' and i + 1 < len(text):
            parts.append(("'", text[i + 1]))
            i += 2
        else:
            j = i
            while j < len(text) and text[j] not in ' \t;&|\'"\\':
                j += 1
            parts.append(('', text[i:j]))
            i = j
    return parts, text[i:]


def _expand(parts, variables):
    """Join the word's parts, expanding simple variables; UNKNOWN when not static."""
    out = []
    for quote, chunk in parts:
        if quote == "'":
            out.append(chunk)
            continue
        if '`' in chunk or '$(' in chunk:
            return UNKNOWN
        if not quote and any(c in chunk for c in '*?[]{}~'):
            # Globbing and brace expansion depend on the file system or shell options.
            if not re.match(r'^[^*?\[\]~]*$', _VARIABLE.sub('', chunk)):
                return UNKNOWN
        pos = 0
        for match in _VARIABLE.finditer(chunk):
            out.append(chunk[pos:match.start()])
            value = variables.get(match.group(1) or match.group(2))
            if value is UNKNOWN or value is None:
                # An unset variable expands to '' in bash, but dkms.conf files rely on
                # variables dkms sets (kernelver...), so the value is not static.
                return UNKNOWN
            out.append(value)
            pos = match.end()
        rest = chunk[pos:]
        if '$' in rest:
            return UNKNOWN
        out.append(rest)
    return ''.join(out)


def _logical_lines(text):
    if text.startswith(u'\ufeff'):
        text = text[1:]
    text = text.replace('\r\n', '\n').replace('\r', '\n')
    pending = ''
    for line in text.split('\n'):
        is_comment = not pending and line.lstrip().startswith('#')
        if line.endswith('\\') and not line.endswith('\\\\') and not is_comment:
            pending += line[:-1]
            continue
        yield (pending + line).strip()
        pending = ''
    if pending:
        yield pending.strip()


def _parse_array_literal(body, variables):
    """Values of ``(a "b c" d)``; UNKNOWN when it is not a plain list of words."""
    values = []
    rest = body.strip()
    while rest:
        if rest.startswith('['):
            return UNKNOWN  # ([3]=x) explicit indices: rare, not worth guessing
        parts, rest = _split_value(rest)
        if parts is None or rest[:1] not in ('', ' ', '\t'):
            return UNKNOWN
        value = _expand(parts, variables)
        if value is UNKNOWN:
            return UNKNOWN
        values.append(value)
        rest = rest.strip()
    return dict(enumerate(values))


def parse_shell_vars(text, preset=None):
    """Read the static assignments of a shell fragment without executing anything."""
    variables = ShellVars(preset)
    depth = 0
    for line in _logical_lines(text):
        if not line or line.startswith('#'):
            continue
        if _CLOSERS.match(line):
            depth = max(depth - 1, 0)
            continue
        match = _ASSIGNMENT.match(line)
        if match and depth == 0 and _assign(variables, match):
            continue
        if _FUNCTION_HEADER.match(line):
            continue
        if _OPENERS.match(line):
            depth += 1
            # One-line blocks (`if ...; then X=1; fi`) open and close on one line.
            if re.search(r'(;|\s)(fi|esac|done|\})\s*(#.*)?$', line):
                depth -= 1
        elif _OPAQUE_COMMANDS.match(line):
            _make_opaque(variables)
            continue
        # Inside blocks, after `test &&`, beside other commands: what such a line assigns
        # depends on shell logic.
        for name in _ANY_ASSIGNMENT.findall(line):
            _forget(variables, name)
    return variables


def _make_opaque(variables):
    """After source/eval/set..., any variable may hold anything."""
    variables.opaque = True
    for name in list(variables.scalars) + list(variables.arrays):
        _forget(variables, name)


def _forget(variables, name):
    variables.scalars[name] = UNKNOWN
    variables.arrays.pop(name, None)


def _assign(variables, match):
    """Apply one ``NAME[i]=value`` line; False when the line holds more than that assignment."""
    name, index, append, raw = match.groups()
    raw = raw.strip()
    if raw.startswith('('):
        end = raw.rfind(')')
        if end < 0 or raw[end + 1:].strip()[:1] not in ('', '#'):
            return False
        values = UNKNOWN if append else _parse_array_literal(raw[1:end], variables)
        variables.scalars.pop(name, None)
        if values is UNKNOWN:
            _forget(variables, name)
        else:
            variables.arrays[name] = values
        return True
    parts, rest = _split_value(raw)
    rest = rest.strip()
    if parts is None or (rest and not rest.startswith('#')):
        return False
    value = UNKNOWN if append else _expand(parts, variables)
    if index is None:
        if name in variables.arrays:
            # bash: a plain assignment to an array sets element 0 and keeps the others.
            variables.arrays[name][0] = value
        else:
            variables.scalars[name] = value
        return True
    if not re.match(r'^[0-9]+$', index):
        _forget(variables, name)
        return True
    if variables.scalars.get(name) is UNKNOWN:
        return True
    array = variables.arrays.setdefault(name, {})
    if name in variables.scalars:
        # name=x then name[1]=y: the scalar is element 0 in bash.
        array[0] = variables.scalars.pop(name)
    array[int(index)] = value
    return True
