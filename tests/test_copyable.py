"""The core modules are meant to be copied into other projects: copy them with only the
sibling files they import into a folder outside the package, import them there in a fresh
interpreter, and check that they compute what the package computes."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

import vcl_core
from vcl_core.losses import info_nce
from vcl_core.models import create_fast_slow

PKG = Path(vcl_core.__file__).parent

# what a user copies: each module with the siblings it imports, nothing else
COPIES = {"mylosses": ["losses/infonce.py", "losses/hard_negatives.py"],
          "mymodels": ["models/fastslow.py", "models/blocks.py", "models/fusion.py"]}

SCRIPT = r"""
import json, sys
sys.path.insert(0, ".")  # the folder holding the copies
import torch
from mylosses.infonce import info_nce
from mymodels.fastslow import create_fast_slow

g = torch.Generator().manual_seed(0)
q, k = torch.randn(6, 16, generator=g), torch.randn(6, 16, generator=g)
loss = info_nce(q, k, temperature=0.2)
torch.manual_seed(0)
enc = create_fast_slow(widths=(8, 16), depths=(1, 1), slow_kt=(1, 3)).eval()
x = torch.randn(2, 3, 8, 32, 32, generator=g)
with torch.no_grad():
    z = enc(x)
assert not any(m.startswith("vcl_core") for m in sys.modules), "a copied module imported vcl_core"
print(json.dumps({"loss": loss.item(), "z_sum": z.sum().item(), "z_shape": list(z.shape)}))
"""


def test_copied_modules_run_outside_the_package(tmp_path: Path):
    for folder, files in COPIES.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
        for f in files:
            shutil.copy(PKG / f, tmp_path / folder / Path(f).name)
    # -I: isolated mode, so the repository is not on sys.path (the script adds the copies' folder)
    out = subprocess.run([sys.executable, "-I", "-c", SCRIPT], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])

    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(6, 16, generator=g), torch.randn(6, 16, generator=g)
    assert abs(got["loss"] - info_nce(q, k, temperature=0.2).item()) < 1e-6
    torch.manual_seed(0)
    enc = create_fast_slow(widths=(8, 16), depths=(1, 1), slow_kt=(1, 3)).eval()
    x = torch.randn(2, 3, 8, 32, 32, generator=g)
    with torch.no_grad():
        z = enc(x)
    assert got["z_shape"] == list(z.shape)
    assert abs(got["z_sum"] - z.sum().item()) < 1e-4 * max(1.0, abs(z.sum().item()))
