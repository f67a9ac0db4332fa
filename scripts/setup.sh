#!/usr/bin/env bash
# Sets up .venv with everything distill needs, from this repository's own files.
# torch is installed first with an exact pin: a loose requirement lets pip pick a multi-GB CUDA build
# on a CPU-only machine. The `ray` extra (executor: {kind: ray}, ~11 s, ~285 MB) is installed so its tests run in
# CI on a local cluster; a user who never leaves one machine may install `-e ".[dev,ray]"` alone. bubblewrap (the code sandbox's preferred backend) is installed when we can.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "distill needs Python >= 3.11"'
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,ray]"
.venv/bin/python -m pip check >/dev/null || { .venv/bin/python -m pip check; exit 1; }
.venv/bin/python -c 'import distill, torch; assert torch.__version__.startswith("2.13.0"), torch.__version__'
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null) \
      || echo "note: could not install bubblewrap; the code sandbox will use its weaker fallback (see README)"
  else
    echo "note: bubblewrap not found; install it (apt-get install bubblewrap) for the strongest code sandbox"
  fi
fi
echo "setup done: .venv ready"
