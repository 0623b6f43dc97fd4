# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's module_utils imported from Ansible's zipped payload, each source compiled once.

Ansible runs a module with its module_utils in a zip archive of sources (AnsiballZ), so the
target compiles every one of them on every run, and Python's zipimport compiles each source
twice: once to tell the module's file name, once to run it (CPython issue gh-141276). For this
collection's code that is most of a run on a host with few modules. While ``compiled_once()``
is active, a finder ahead of zipimport takes the collection's plain modules that zipimport
would load: it gets their source through zipimport's public ``get_source`` and compiles it
once. Whatever else is imported, or a module outside a zip archive (an installed collection,
the tests), is left to the import system as it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.abc
import importlib.util
import sys
import zipimport
from contextlib import contextmanager

COLLECTION = 'ansible_collections.kabi.dkms.'


class _ZipSourceLoader(importlib.abc.InspectLoader):
    """Runs one module's source, compiled once under the file name zipimport would give it;
    tracebacks read their lines from ``get_source``."""

    def __init__(self, source, origin):
        self.source = source
        self.origin = origin

    def get_source(self, fullname):
        return self.source

    def is_package(self, fullname):
        return False

    def get_code(self, fullname):
        return compile(self.source, self.origin, 'exec', dont_inherit=True)


class ZipSourceFinder:
    """A meta path finder for the collection's plain modules whose package zipimport loaded."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        package = fullname.rpartition('.')[0]
        if not fullname.startswith(COLLECTION) or not path or len(path) != 1:
            return None
        loader = getattr(getattr(sys.modules.get(package), '__spec__', None), 'loader', None)
        if not isinstance(loader, zipimport.zipimporter):
            return None
        try:
            importer = zipimport.zipimporter(path[0])
            if importer.is_package(fullname):
                return None
            source = importer.get_source(fullname)
        except (ImportError, OSError, ValueError):
            return None     # not there, unreadable or not UTF-8: zipimport tells it as it does
        if source is None:
            return None     # bytecode only: zipimport loads it without compiling
        origin = '%s/%s.py' % (path[0].rstrip('/'), fullname.rpartition('.')[2])
        spec = importlib.util.spec_from_loader(fullname, _ZipSourceLoader(source, origin), origin=origin)
        spec.has_location = True    # __file__, as zipimport sets it
        return spec


@contextmanager
def compiled_once():
    """The collection's modules imported in this context from a zip archive are compiled once."""
    finder = ZipSourceFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
