# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's module_utils imported from Ansible's zipped payload, each source compiled once.

Ansible runs a module with its module_utils in a zip archive of sources (AnsiballZ), so the
target compiles every one of them on every run, and Python's zipimport compiles each source
twice: once to tell the module's file name, once to run it (CPython issue gh-141276). For this
collection's code that is most of a run on a host with few modules. While ``compiled_once()``
is active, a finder ahead of zipimport takes the collection's plain modules that zipimport
would load and loads them as Python loads a source file, compiled once, its bytes read through
zipimport's public ``get_data``. The modules keep it active around their imports and their
``main()``, where a few module_utils are imported only on the hosts that need them. Whatever else
is imported, or anything outside a zip archive (an installed collection, the tests), is left to
the import system as it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.machinery
import importlib.util
import sys
import zipimport
from contextlib import contextmanager

COLLECTION = 'ansible_collections.kabi.dkms.'


class _ZipSourceLoader(importlib.machinery.SourceFileLoader):
    """Python's own loader of a source file, given the file's bytes from the zip archive (its
    encoding declaration, byte order mark and line ends read as for any source file)."""

    def __init__(self, fullname, path, archive, source):
        super(_ZipSourceLoader, self).__init__(fullname, path)
        self.archive = archive
        self.source = source

    def get_data(self, path):
        return self.source if path == self.path else self.archive.get_data(path)

    def path_stats(self, path):
        raise OSError('%s: a source in a zip archive has no bytecode cache' % path)


class ZipSourceFinder:
    """A meta path finder for the collection's plain modules whose package zipimport loaded."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        package, dummy, name = fullname.rpartition('.')
        if not fullname.startswith(COLLECTION) or not path or len(path) != 1:
            return None
        loader = getattr(getattr(sys.modules.get(package), '__spec__', None), 'loader', None)
        if not isinstance(loader, zipimport.zipimporter):
            return None
        origin = '%s/%s.py' % (path[0].rstrip('/'), name)
        try:
            archive = zipimport.zipimporter(path[0])
            if archive.is_package(fullname):
                return None
            source = archive.get_data(origin)   # there as a source, not only as bytecode
        except (ImportError, OSError):
            return None     # zipimport tells it as it does
        return importlib.util.spec_from_file_location(
            fullname, origin, loader=_ZipSourceLoader(fullname, origin, archive, source))


@contextmanager
def compiled_once():
    """The collection's modules imported in this context from a zip archive are compiled once."""
    finder = ZipSourceFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
