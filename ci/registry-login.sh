#!/usr/bin/env bash
# Writes a registry login where baker (and docker) read it, $DOCKER_CONFIG/config.json (default
# ~/.docker), as `docker login` does, without a Docker engine:  ci/registry-login.sh HOST USER PASSWORD
# Nothing is printed but the host.  An empty HOST (no registry for this job) does nothing.
set -euo pipefail
host=$1 user=$2 password=$3
[ -n "$host" ] || exit 0
dir=${DOCKER_CONFIG:-$HOME/.docker}
mkdir -p "$dir"
umask 077
HOST=$host AUTH_USER=$user AUTH_PASSWORD=$password python3 - "$dir/config.json" <<'PY'
import base64, json, os, sys
from pathlib import Path

path = Path(sys.argv[1])
config = json.loads(path.read_text()) if path.exists() else {}
token = base64.b64encode(f"{os.environ['AUTH_USER']}:{os.environ['AUTH_PASSWORD']}".encode()).decode()
config.setdefault("auths", {})[os.environ["HOST"]] = {"auth": token}
path.write_text(json.dumps(config, indent=2))
PY
echo "logged in to $host (for baker)"
