#!/usr/bin/env bash
# engram across machines: installs Ray into the test environment that scripts/test.sh built
# (target/pyvenv, with the engram package) and runs the distributed tests, which start a
# real two-node Ray cluster on loopback. Its own CI step: Ray is a large install and the
# cluster takes a minute to start on a small machine.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/pyvenv
if ! "$venv/bin/python" -c "import engram._engram" 2>/dev/null; then
    echo "scripts/test-ray.sh: run scripts/test.sh first (it builds engram into $venv)" >&2
    exit 1
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "ray[default]>=2.40,<3"
"$venv/bin/python" -m pytest -q python/tests/distributed
