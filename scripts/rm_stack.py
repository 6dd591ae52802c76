"""Zip the OCI Resource Manager stack: deploy/resource-manager with the module inside it.

The stack's main.tf uses `./modules/objstream`; in the repository the module lives in
deploy/terraform/modules/objstream, so the zip gets a copy of it there. The zip is
reproducible (sorted names, fixed timestamps): the same sources give the same bytes.

    python scripts/rm_stack.py [OUTPUT.zip]     # default dist/objstream-resource-manager.zip
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACK = ROOT / "deploy" / "resource-manager"
MODULE = ROOT / "deploy" / "terraform" / "modules" / "objstream"
DEFAULT_OUTPUT = ROOT / "dist" / "objstream-resource-manager.zip"
_EPOCH = (1980, 1, 1, 0, 0, 0)
_STACK_FILES = ("*.tf", "schema.yaml")


def stack_members() -> dict[str, Path]:
    """Name in the zip → file on disk."""
    members: dict[str, Path] = {}
    for pattern in _STACK_FILES:
        for path in STACK.glob(pattern):
            members[path.name] = path
    for path in MODULE.glob("*.tf"):
        members[f"modules/objstream/{path.name}"] = path
    return dict(sorted(members.items()))


def build(output: Path) -> list[str]:
    """Write the zip; return the names in it."""
    members = stack_members()
    if "schema.yaml" not in members or "main.tf" not in members:
        raise SystemExit(f"rm-stack: {STACK} lacks main.tf or schema.yaml")
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in members.items():
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return list(members)


def main(argv: list[str]) -> int:
    """Build the stack zip at the path given, or the default one."""
    output = Path(argv[0]).resolve() if argv else DEFAULT_OUTPUT
    names = build(output)
    print(f"rm-stack: {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    for name in names:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
