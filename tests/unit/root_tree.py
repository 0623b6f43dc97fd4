# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small trees under a test root, written with in-root paths; the readers' warnings kept."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.kabi.dkms.plugins.module_utils._rootfs import RootFS


class RootTree:
    """Files and links under ``root``, and a RootFS that reads them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fs = RootFS(str(root))
        self.warnings: list[str] = []

    def path(self, in_root: str) -> Path:
        return self.root / in_root.lstrip('/')

    def write(self, in_root: str, text: str | bytes = 'ELF') -> Path:
        path = self.path(in_root)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def link(self, in_root: str, target: str) -> None:
        path = self.path(in_root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
