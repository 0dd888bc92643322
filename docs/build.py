"""Builds the HTML API reference of the Python package with pdoc (`make docs`).

    python docs/build.py OUTPUT_FOLDER

The pages come from the docstrings: the C extension's (python/_core/), whose
signatures pdoc reads from each function's text signature, and the Python
modules'. The extension's types come from its stub, python/rusted_ring/_core.pyi:
pdoc looks for a stub beside each module it documents, and the package's page
shows the extension's classes and functions under `rusted_ring`, so it is
pointed at _core.pyi for that page (names the stub does not have keep what the
interpreter says). Documented: `rusted_ring`, `rusted_ring.prometheus` (imported
on its own; it needs prometheus_client), `rusted_ring.bridge` (needs nats-py)
and the command line, `rusted_ring.__main__`.

Any warning pdoc gives (a docstring it cannot render, a stub it cannot read, a
module it cannot import, a link it cannot resolve) fails the build: each is
printed and the exit status is 1.
"""
import sys
import warnings
from pathlib import Path

import pdoc
import pdoc.doc_pyi

MODULES = ["rusted_ring", "rusted_ring.prometheus", "rusted_ring.bridge", "rusted_ring.__main__"]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])

    find = pdoc.doc_pyi.find_stub_file

    def find_stub_file(module_name: str) -> Path | None:
        return find("rusted_ring._core" if module_name == "rusted_ring" else module_name)

    pdoc.doc_pyi.find_stub_file = find_stub_file
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*MODULES, output_directory=out)
    for w in caught:
        print(f"docs/build.py: pdoc warned: {w.category.__name__}: {w.message}", file=sys.stderr)
    if caught:
        return 1
    pages = sorted(str(p.relative_to(out)) for p in out.rglob("*.html"))
    print(f"API reference: {out / 'index.html'} ({len(pages)} pages: {', '.join(pages)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
