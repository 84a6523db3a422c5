#!/usr/bin/env bash
# Makes a Python venv with moto's server (the local S3 / CloudWatch / CloudWatch Logs stand-in)
# and cbor2 (the CloudWatch RPC v2 CBOR translator in the tests); prints moto_server's path.
set -euo pipefail
venv="${PODSIZER_TOOLS:-$HOME/.cache/podsizer-tools}/moto-venv"
if [ ! -x "$venv/bin/moto_server" ] || ! "$venv/bin/python" -c 'import cbor2, moto' 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6' 'cbor2>=5' >&2
fi
echo "$venv/bin/moto_server"
