# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's modules imported from a zip archive of sources, as Ansible ships them: each
compiled once, from the archive, and everything else left to the import system."""

from __future__ import annotations

import json
import py_compile
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ansible_collections.kabi.dkms.plugins.module_utils._zip_import import ZipSourceFinder

COLLECTION = Path(__file__).resolve().parents[4]
PACKAGE_DIRS = ('ansible_collections', 'ansible_collections/kabi', 'ansible_collections/kabi/dkms',
                'ansible_collections/kabi/dkms/plugins', 'ansible_collections/kabi/dkms/plugins/module_utils')

# Run in a fresh interpreter whose only copy of the collection is the archive: counts each
# compile of a source by its file name, the finder's (builtins.compile) and, from Python 3.8,
# zipimport's (its own function; before, zipimport is C and compiles unseen).
IMPORT_FROM_ARCHIVE = r'''
import builtins, collections, json, sys, traceback, zipimport
archive, names = sys.argv[1], sys.argv[2].split(',')
sys.path.insert(0, archive)
compiles = collections.Counter()
plain_compile = builtins.compile

def counting_compile(source, filename, *args, **kwargs):
    compiles[filename] += 1
    return plain_compile(source, filename, *args, **kwargs)

builtins.compile = counting_compile
if hasattr(zipimport, '_compile_source'):
    zip_compile = zipimport._compile_source

    def counting_zip_compile(pathname, source):
        compiles[pathname] += 1
        return zip_compile(pathname, source)
    zipimport._compile_source = counting_zip_compile
from ansible_collections.kabi.dkms.plugins.module_utils._zip_import import compiled_once
failure = None
with compiled_once():
    for name in names:
        try:
            __import__('ansible_collections.kabi.dkms.plugins.module_utils.' + name)
        except Exception:
            failure = traceback.format_exc()
modules = dict((name, module) for name, module in sys.modules.items() if name.startswith('ansible_collections.'))
print(json.dumps({
    'compiles': compiles,
    'files': dict((name, getattr(module, '__file__', None)) for name, module in modules.items()),
    'loaders': dict((name, type(module.__spec__.loader).__name__) for name, module in modules.items()),
    'failure': failure,
    'meta_path': [type(finder).__name__ for finder in sys.meta_path],
}))
'''


def archive(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    """A zip of the collection's module_utils sources and package markers, as AnsiballZ builds it."""
    path = tmp_path / 'payload.zip'
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as payload:
        for package in PACKAGE_DIRS:
            payload.writestr(package + '/__init__.py', '')
        for source in sorted((COLLECTION / 'plugins' / 'module_utils').glob('_*.py')):
            payload.write(source, 'ansible_collections/kabi/dkms/plugins/module_utils/' + source.name)
        for name, text in (extra or {}).items():
            payload.writestr('ansible_collections/kabi/dkms/plugins/module_utils/' + name, text)
    return path


def import_from(path: Path, tmp_path: Path, names: list[str]) -> dict:
    run = subprocess.run([sys.executable, '-c', IMPORT_FROM_ARCHIVE, str(path), ','.join(names)], cwd=tmp_path,
                         env={'PATH': '/usr/bin:/bin', 'PYTHONDONTWRITEBYTECODE': '1'},
                         capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def test_each_module_of_the_archive_is_compiled_once(tmp_path: Path) -> None:
    path = archive(tmp_path)
    seen = import_from(path, tmp_path, ['_coverage', '_dkms_cli'])
    assert seen['failure'] is None
    inside = str(path) + '/ansible_collections/kabi/dkms/plugins/module_utils/'
    imported = dict((name.rpartition('.')[2], file) for name, file in seen['files'].items()
                    if name.startswith('ansible_collections.kabi.dkms.plugins.module_utils._'))
    # Everything the fact module and dkms_module import, through the modules they import.
    assert {'_coverage', '_dkms_cli', '_dkms_tree', '_shell_vars', '_ko', '_loader', '_rootfs'} <= set(imported)
    for name, file in imported.items():
        assert file == inside + name + '.py'
        if name != '_zip_import':   # loaded by zipimport, before the finder exists
            assert seen['loaders']['ansible_collections.kabi.dkms.plugins.module_utils.' + name] == '_ZipSourceLoader'
            assert seen['compiles'][file] == 1, name
    # The package markers are zipimport's to load.
    assert seen['loaders']['ansible_collections.kabi.dkms.plugins.module_utils'] == 'zipimporter'
    assert 'ZipSourceFinder' not in seen['meta_path']


def test_a_failing_module_is_told_with_its_source_line(tmp_path: Path) -> None:
    path = archive(tmp_path, {'_failing.py': 'import os\n\nraise ValueError("nothing to see in %s" % os.sep)\n'})
    seen = import_from(path, tmp_path, ['_failing'])
    assert '/ansible_collections/kabi/dkms/plugins/module_utils/_failing.py", line 3' in seen['failure']
    assert 'raise ValueError("nothing to see in %s" % os.sep)' in seen['failure']
    assert 'ValueError: nothing to see in /' in seen['failure']
    assert 'ZipSourceFinder' not in seen['meta_path']


def test_a_module_with_a_syntax_error_fails_to_import(tmp_path: Path) -> None:
    path = archive(tmp_path, {'_broken.py': 'def broken(:\n'})
    seen = import_from(path, tmp_path, ['_broken', '_vercmp'])
    assert 'SyntaxError' in seen['failure'] and '_broken.py' in seen['failure']
    assert seen['loaders']['ansible_collections.kabi.dkms.plugins.module_utils._vercmp'] == '_ZipSourceLoader'


@pytest.mark.parametrize('source', [
    '# -*- coding: latin-1 -*-\nWORD = "caf\u00e9"\nassert len(WORD) == 4\n'.encode('latin-1'),
    # Declared latin-1, its bytes UTF-8: read as declared, as Python reads any source file.
    '# -*- coding: latin-1 -*-\nWORD = "caf\u00e9"\nassert len(WORD) == 5\n'.encode('utf-8'),
    b'\xef\xbb\xbfWORD = "cafe"\r\nassert WORD == "cafe"\rassert len(WORD) == 4\n',   # a BOM, CR LF and CR
])
def test_a_source_is_read_as_python_reads_a_source_file(tmp_path: Path, source: bytes) -> None:
    path = archive(tmp_path)
    with zipfile.ZipFile(path, 'a') as payload:
        payload.writestr('ansible_collections/kabi/dkms/plugins/module_utils/_encoded.py', source)
    seen = import_from(path, tmp_path, ['_encoded'])
    assert seen['failure'] is None
    assert seen['loaders']['ansible_collections.kabi.dkms.plugins.module_utils._encoded'] == '_ZipSourceLoader'


def test_bytecode_alone_is_left_to_zipimport(tmp_path: Path) -> None:
    path = archive(tmp_path)
    compiled = tmp_path / '_compiled.pyc'
    source = tmp_path / '_compiled.py'
    source.write_text('WORD = "compiled"\n')
    py_compile.compile(str(source), str(compiled), doraise=True)
    with zipfile.ZipFile(path, 'a') as payload:
        payload.write(compiled, 'ansible_collections/kabi/dkms/plugins/module_utils/_compiled.pyc')
    seen = import_from(path, tmp_path, ['_compiled'])
    assert seen['failure'] is None
    assert seen['loaders']['ansible_collections.kabi.dkms.plugins.module_utils._compiled'] == 'zipimporter'


@pytest.mark.parametrize('name', [
    'ansible_collections.kabi.dkms.plugins.module_utils._rootfs',    # its package is a directory here
    'ansible_collections.other.collection.plugins.module_utils.thing',
    'json',
])
def test_what_is_not_in_a_zip_archive_is_left_to_the_import_system(name: str) -> None:
    package_dir = str(COLLECTION / 'plugins' / 'module_utils')
    assert ZipSourceFinder().find_spec(name, [package_dir]) is None
    assert ZipSourceFinder().find_spec(name, None) is None
