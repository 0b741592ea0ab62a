#!/usr/bin/env bash
# Snakemake (--sdm conda) runs this once, right after it created the env of the same
# name, with the env activated and the Snakemake working directory as current
# directory (the script itself is run from a copy in .snakemake/conda/). It makes the
# glassflow package of the workflow checkout importable: a .pth file in the env's
# site-packages puts $GLASSFLOW_SOURCE/src on sys.path, as `pip install -e` would,
# without a build step or a relative path. workflow/rules/common.smk sets
# GLASSFLOW_SOURCE to the workflow directory (absolute) before envs are created.
# The env is tied to that checkout: another checkout sharing --conda-prefix reuses
# the env with the first checkout's code (use a --conda-prefix per checkout).
set -euo pipefail
: "${GLASSFLOW_SOURCE:?not set: create glassflow envs through the workflow (snakemake --sdm conda)}"
src="$GLASSFLOW_SOURCE/src"
if [ ! -f "$src/glassflow/__init__.py" ]; then
  echo "post-deploy: no glassflow package in $src (GLASSFLOW_SOURCE=$GLASSFLOW_SOURCE)" >&2
  exit 1
fi
site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf '%s\n' "$src" >"$site/glassflow-workflow.pth"
python -c 'import glassflow; print("glassflow", glassflow.__version__, "from", glassflow.__file__)'
