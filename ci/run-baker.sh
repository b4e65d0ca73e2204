#!/usr/bin/env bash
# action.yml's run step: the baker command line from the action's inputs (each passed in the
# environment, never pasted into the script, so no input can inject shell), then baker itself, which
# writes its outputs (digest, tags, rebaked, stale) to $GITHUB_OUTPUT.
set -euo pipefail
read -r -a command <<<"${BAKER_COMMAND:-build}"
argv=("${command[@]}")
while IFS= read -r file; do
  [ -n "$file" ] && argv+=(-f "$file")
done <<<"${BAKER_FILES:-}"
for tag in ${BAKER_TAGS:-}; do # one per line or separated by blanks (a tag holds no blank)
  argv+=(--tag "$tag")
done
[ -n "${BAKER_IMAGE:-}" ] && argv+=(--image "$BAKER_IMAGE")
[ "${BAKER_IN_REGISTRY:-false}" = "true" ] && argv+=(--in-registry)
[ "${BAKER_IF_STALE:-false}" = "true" ] && argv+=(--if-stale)
[ "${BAKER_PUSH:-false}" = "true" ] && argv+=(--push)
if [ -n "${BAKER_ARGS:-}" ]; then # split as a shell would, without running a shell on it
  mapfile -d '' extra < <(python3 -c 'import os, shlex, sys
sys.stdout.write("".join(a + "\0" for a in shlex.split(os.environ["BAKER_ARGS"])))')
  argv+=("${extra[@]}")
fi
echo "baker ${argv[*]}"
status=0
baker "${argv[@]}" || status=$?
if [ "$status" = 3 ] && [ "${BAKER_FAIL_WHEN_STALE:-true}" != "true" ]; then
  echo "a re-bake is due (exit 3); fail-when-stale is false: the step passes, its output stale=true says it"
  status=0
fi
exit "$status"
