"""Writes a reference file the way every generate_*.py here does: a header naming the script
and the library versions, then one case per line, so that diffs stay readable."""

import json
from pathlib import Path

import numpy as np
import scipy


def write(script, name, cases, extra_versions=None):
    """Writes `cases` to `name` next to this file; `script` is the generator's file name and
    `extra_versions` the versions of any other library it used."""
    out = Path(__file__).with_name(name)
    header = {"generated_by": f"tests/reference/{script}",
              "versions": {"scipy": scipy.__version__, "numpy": np.__version__,
                           **(extra_versions or {})}}
    lines = [json.dumps(case, ensure_ascii=False, allow_nan=False) for case in cases]
    head = json.dumps(header, ensure_ascii=False)[:-1]
    text = head + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"
    json.loads(text)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {len(lines)} cases, {len(text.encode())} bytes to {out}")
