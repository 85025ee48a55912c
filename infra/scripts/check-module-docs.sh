#!/usr/bin/env bash
# Every module has the four files and a README, and its README names every
# variable and output (the README tables are the module's documentation).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../modules"
status=0
for m in */; do
  m="${m%/}"
  for f in main.tf variables.tf outputs.tf versions.tf README.md; do
    [[ -f "$m/$f" ]] || { echo "$m: missing $f"; status=1; }
  done
  [[ -f "$m/README.md" ]] || continue
  for name in $(sed -nE 's/^(variable|output) "([^"]+)".*/\2/p' "$m/variables.tf" "$m/outputs.tf"); do
    grep -qF "\`$name\`" "$m/README.md" || { echo "$m/README.md: does not document \`$name\`"; status=1; }
  done
done
[[ $status -eq 0 ]] && echo "module docs: every variable and output documented"
exit $status
