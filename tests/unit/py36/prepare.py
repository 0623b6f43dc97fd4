# Copyright: kabi.dkms contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A copy of the collection whose unit tests Python 3.6 can run: the module-side code as it is,
the tests without their type annotations.

The module-side code (modules, module_utils) runs on targets with Python 3.6 (RHEL 8's
platform-python), which ansible-core 2.16 still manages; the unit tests are written for the
controller's Python, with annotations such as ``dict[str, int] | None`` that 3.6 evaluates and
refuses. This removes every annotation from the tests (they never change what a test does) and
checks that each test file then parses as Python 3.6 (scripts/test.sh's compile stage checks the
plugins). It runs with the controller's Python:

    python tests/unit/py36/prepare.py COLLECTION DESTINATION

DESTINATION gets ``ansible_collections/kabi/dkms`` (plugins and tests/unit) and a link to the
EFI programs scripts/bootstrap.sh unpacked beside COLLECTION's copy (see boot_fixtures.py).
"""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path


class _WithoutAnnotations(ast.NodeTransformer):
    """Drops annotations and ``from __future__ import annotations`` (3.7 on)."""

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        self.generic_visit(node)
        node.returns = None
        arguments = node.args
        for argument in arguments.posonlyargs + arguments.args + arguments.kwonlyargs + [arguments.vararg, arguments.kwarg]:
            if argument is not None:
                argument.annotation = None
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        # ``x: int`` alone declares nothing at run time; ``x: int = 1`` assigns.
        if node.value is None:
            return ast.copy_location(ast.Pass(), node)
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST | None:
        if node.module == '__future__':
            node.names = [alias for alias in node.names if alias.name != 'annotations']
            if not node.names:
                return None
        return node


def without_annotations(source: str, filename: str) -> str:
    """``source`` with no annotations, as Python 3.6 can run it; SyntaxError when it cannot."""
    tree = ast.fix_missing_locations(_WithoutAnnotations().visit(ast.parse(source, filename)))
    text = ast.unparse(tree) + '\n'
    ast.parse(text, filename, feature_version=(3, 6))
    return text


def prepare(collection: Path, destination: Path) -> int:
    """Write the copy; the number of test files rewritten."""
    copy = destination / 'ansible_collections' / 'kabi' / 'dkms'
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(collection / 'plugins', copy / 'plugins')
    shutil.copytree(collection / 'tests' / 'unit', copy / 'tests' / 'unit')
    rewritten = 0
    for path in sorted((copy / 'tests' / 'unit').rglob('*.py')):
        path.write_text(without_annotations(path.read_text(), str(path)))
        rewritten += 1
    programs = destination / 'efi-programs'
    if not programs.is_symlink():
        programs.symlink_to(collection.parent.parent.parent / 'efi-programs')
    return rewritten


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit('usage: prepare.py COLLECTION DESTINATION')
    count = prepare(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
    print('py36: %d test files without annotations in %s' % (count, sys.argv[2]))


if __name__ == '__main__':
    main()
