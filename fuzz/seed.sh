#!/usr/bin/env bash
# Seeds the loader targets' corpora (fuzz/corpus/{control,inventory,waiver,attestation}_file/) with
# the repository's own TOML files: the built-in library, the examples and the test fixtures, plus
# the waiver example of docs/evidence.md (the repository ships no waivers file). Each target gets
# every file: a control file is a near miss for the inventory reader and the other way round.
# Idempotent; the corpora stay out of git (.gitignore).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
corpus=fuzz/corpus
waiver_example=$(sed -n '/^\[\[waiver\]\]/,/^```/p' docs/evidence.md | grep -v '^```')
for target in control_file inventory_file waiver_file attestation_file; do
  mkdir -p "$corpus/$target"
  find controls examples fixtures -name '*.toml' -print0 |
    while IFS= read -r -d '' f; do
      cp "$f" "$corpus/$target/seed-$(printf '%s' "$f" | tr '/' '_')"
    done
  printf '%s\n' "$waiver_example" > "$corpus/$target/seed-docs_evidence.md-waiver.toml"
done
ls "$corpus"/*_file | grep -c '^seed-' | sed 's/^/seed files: /'
