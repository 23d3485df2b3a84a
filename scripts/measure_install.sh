#!/bin/bash
# pip install time and installed size of one checkout's wheel, as the GitHub Action installs it (issue 16).
#   scripts/measure_install.sh NAME SRC_DIR [WORK_DIR]
# Builds SRC_DIR's wheel (no deps), then installs it into fresh venvs: twice with --no-cache-dir (cold), twice
# from a pip cache filled by one install before (warm). Prints seconds per run, site-packages size and the list.
set -euo pipefail
name=$1; src=$(realpath "$2"); m=${3:-/tmp/gitops-check-install}
mkdir -p "$m"; cd "$m"
rm -rf "w-$name" v-"$name"-* v-empty; mkdir "w-$name"
python3 -m pip wheel -q --no-deps -w "w-$name" "$src" >/dev/null
whl=$(ls "w-$name"/*.whl)
timed() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
for run in cold1 cold2; do
  python3 -m venv "v-$name-$run"
  echo "$name $run install_s=$(timed "v-$name-$run/bin/pip" install -q --no-cache-dir "$whl")"
done
export PIP_CACHE_DIR=$m/cache-$name; rm -rf "$PIP_CACHE_DIR"
python3 -m venv "v-$name-fill"; "v-$name-fill/bin/pip" install -q "$whl"
for run in warm1 warm2; do
  python3 -m venv "v-$name-$run"
  echo "$name $run install_s=$(timed "v-$name-$run/bin/pip" install -q "$whl")"
done
python3 -m venv v-empty
echo "$name site-packages: $(du -sm "v-$name-warm2/lib/python3.11/site-packages" | cut -f1) MiB;" \
  "empty venv: $(du -sm v-empty/lib/python3.11/site-packages | cut -f1) MiB"
"v-$name-warm2/bin/pip" list --format=freeze | tr '\n' ' '; echo
