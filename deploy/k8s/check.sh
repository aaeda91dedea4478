#!/bin/sh
# Check the Kubernetes manifests (python3 standard library only, no cluster,
# no kubectl): see deploy/k8s/check.py. Exit non-zero on any problem.
set -eu
exec python3 "$(dirname "$0")/check.py" "$@"
