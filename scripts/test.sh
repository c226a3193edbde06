#!/usr/bin/env bash
# engram's whole test suite: the Rust tests (cargo test), then the Python package built into a
# virtual environment (target/pyvenv) and its pytest suite. Needs python3 >= 3.9 with venv.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
venv=target/pyvenv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check numpy gymnasium pytest onnxruntime tensorboard "maturin>=1.5,<2"
# The release build without debug info (profile `pyext` in Cargo.toml).
VIRTUAL_ENV="$PWD/$venv" PATH="$PWD/$venv/bin:$PATH" maturin develop --profile pyext
# The distributed tests (a Ray cluster) are their own CI step: scripts/test-ray.sh.
"$venv/bin/python" -m pytest -q python/tests --ignore=python/tests/distributed
