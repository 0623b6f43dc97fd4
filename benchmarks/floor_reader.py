# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reading floor: floor_reader.py ROOT [--signatures] reads what a kABI verdict needs from a benchmark tree, and no more.

Every distinct module file a weak-updates link points at or dkms installed into updates/dkms, and
one in-tree module per kernel (its vermagic), is read once, decompressed when it is xz or gzip, and
the bytes of its .modinfo, __versions and __ksymtab_strings sections are taken from its section
table; with --signatures (a tree booted under Secure Boot, where the kernel checks every module's
signature) the bytes each installed module's signature covers are hashed with SHA-256, as checking it
needs (the tree's modules are signed with it, so the hash is not read from the signature); the
Module.symvers of each kernel with such modules is read once. Nothing is parsed or judged, no Ansible is imported:
this is what any tool that gives the same verdicts must at least do, in one Python process.
It prints the counts as JSON. benchmarks/run.py times it next to the fact module, and also
imports ``sections`` to pick the Debian modules by their number of imports.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
import struct
import sys
from pathlib import Path

WANTED = (b'.modinfo', b'__versions', b'__ksymtab_strings')
# What ends a signed module: struct module_signature (its big-endian sig_len last), then the magic.
SIGNATURE_MAGIC = b'~Module signature appended~\n'
SIGNATURE_INFO = 12


def sections(data: bytes, wanted: tuple[bytes, ...] = WANTED) -> dict[bytes, bytes]:
    """{name: bytes} of the wanted sections of a little- or big-endian ELF32/ELF64 image."""
    is64 = data[4] == 2
    order = '<' if data[5] == 1 else '>'
    if is64:
        shoff, = struct.unpack_from(order + 'Q', data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(order + 'HHH', data, 0x3A)
        header = order + 'IIQQQQIIQQ'
    else:
        shoff, = struct.unpack_from(order + 'I', data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(order + 'HHH', data, 0x2E)
        header = order + 'IIIIIIIIII'
    table = [struct.unpack_from(header, data, shoff + index * shentsize) for index in range(shnum)]
    names_offset = table[shstrndx][4]
    found = {}
    for name_at, _type, _flags, _addr, offset, size, *_rest in table:
        start = names_offset + name_at
        name = data[start:data.index(b'\0', start)]
        if name in wanted:
            found[name] = data[offset:offset + size]
    return found


def read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if data.startswith(b'\xfd7zXZ\x00'):
        return lzma.decompress(data)
    if data.startswith(b'\x1f\x8b'):
        return gzip.decompress(data)
    return data


def signed_size(data: bytes) -> int | None:
    """How many of a module file's first bytes its appended signature covers, None when unsigned."""
    if not data.endswith(SIGNATURE_MAGIC):
        return None
    end = len(data) - len(SIGNATURE_MAGIC)
    signature_size, = struct.unpack_from('>I', data, end - 4)
    return end - SIGNATURE_INFO - signature_size


def inside(root: Path, link: Path) -> Path:
    """Host path of an absolute in-root weak link's target (the trees' links are one hop)."""
    return root / os.readlink(link).lstrip('/')


def main() -> int:
    root = Path(sys.argv[1])
    signatures = sys.argv[2:] == ['--signatures']
    targets: set[Path] = set()
    symvers: list[Path] = []
    in_tree: list[Path] = []
    for kernel in sorted((root / 'lib/modules').iterdir()):
        links = [Path(directory) / name for directory, _dirs, names in os.walk(kernel / 'weak-updates')
                 for name in names]
        installed = sorted((kernel / 'updates/dkms').glob('*.ko*'))
        targets.update([inside(root, link) for link in links] + installed)
        if links or installed:
            symvers.append(kernel / 'build/Module.symvers')
        order = kernel / 'modules.order'
        if order.is_file():
            in_tree.append(kernel / order.read_text().split('\n', 1)[0])
    section_bytes = signed = 0
    for path in sorted(targets) + in_tree:
        data = read_module(path)
        section_bytes += sum(len(data) for data in sections(data).values())
        # The kernel's own module is read for its vermagic, not loaded: its signature is no verdict's.
        size = signed_size(data) if signatures and path in targets else None
        if size is not None:
            hashlib.sha256(memoryview(data)[:size]).digest()    # what checking the signature hashes
            signed += 1
    symvers_bytes = sum(len(path.read_bytes()) for path in symvers)
    json.dump({'modules': len(targets) + len(in_tree), 'section_bytes': section_bytes, 'signed': signed,
               'symvers': len(symvers), 'symvers_bytes': symvers_bytes}, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
