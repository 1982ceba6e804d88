#!/usr/bin/env bash
# The one way to run a job:  ./spark-submit.sh [spark-submit options] JOB [job options]
#   JOB is a file in jobs/ without .py (pipeline, demo, simulate, ...).
#   Local mode by default (the profile's master); pass --master URL for a cluster.
#   The Delta jars and the lakehouse library travel with the job, so executors on other
#   machines need neither this folder nor network access.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ ! -x "$here/.venv/bin/spark-submit" ] || ! ls "$here"/.cache/jars/*.jar >/dev/null 2>&1; then
  echo "spark-submit.sh: not set up yet; run scripts/setup.sh first" >&2
  exit 1
fi

spark_opts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --verbose|-v|--supervise) spark_opts+=("$1"); shift ;;
    --*=*) spark_opts+=("$1"); shift ;;
    --*) [ $# -ge 2 ] || { echo "spark-submit.sh: $1 needs a value" >&2; exit 2; }
         spark_opts+=("$1" "$2"); shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; echo "jobs: $(cd "$here/jobs" && ls *.py | sed 's/\.py$//' | tr '\n' ' ')"; exit 2; }
job=$1; shift
job_file="$here/jobs/$job.py"
[ -f "$job_file" ] || { echo "spark-submit.sh: no job '$job' (looked for $job_file)" >&2; exit 2; }

driver_memory=(--driver-memory "${LAKEHOUSE_DRIVER_MEMORY:-4g}")  # Spark's 1g is too small for gold
for opt in "${spark_opts[@]+"${spark_opts[@]}"}"; do
  case "$opt" in
    --master|--master=*) export LAKEHOUSE_MASTER_FROM_CLI=1 ;;
    --driver-memory|--driver-memory=*) driver_memory=() ;;
  esac
done

# The library as a zip for --py-files: executors import lakehouse from it. Named by content
# and written by rename, so concurrent submits never see a half-written or changed zip.
lib_zip=$("$here/.venv/bin/python" - "$here" <<'PY'
import hashlib, os, sys, tempfile, zipfile
from pathlib import Path
root = Path(sys.argv[1])
files = sorted((root / "lib").rglob("*.py"))
digest = hashlib.sha1()
for f in files:
    digest.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
target = root / "build" / f"lakehouse-{digest.hexdigest()[:12]}.zip"
if not target.exists():
    target.parent.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".lakehouse-", suffix=".zip")
    with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            # fixed timestamps: the same sources give the same bytes
            info = zipfile.ZipInfo(str(f.relative_to(root / "lib")), (2020, 1, 1, 0, 0, 0))
            z.writestr(info, f.read_bytes(), zipfile.ZIP_DEFLATED)
    os.replace(tmp, target)
print(target)
PY
)

export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$here/.venv/bin/python}"
export PYSPARK_DRIVER_PYTHON="${PYSPARK_DRIVER_PYTHON:-$here/.venv/bin/python}"
export LAKEHOUSE_CONF="${LAKEHOUSE_CONF:-$here/conf/lakehouse.yaml}"
export LAKEHOUSE_JARS_DIR="${LAKEHOUSE_JARS_DIR:-$here/.cache/jars}"
export PATH="$here/.venv/bin:$PATH"

jars=$(ls "$here"/.cache/jars/*.jar | paste -sd, -)
# The metastore's JDBC driver must be on the driver's system class path (DataNucleus loads it
# there), not only in --jars.
pg_driver=$(ls "$here"/.cache/jars/org.postgresql_postgresql-*.jar | tail -1)
exec "$here/.venv/bin/spark-submit" \
  --jars "$jars" \
  --driver-class-path "$pg_driver" \
  --py-files "$lib_zip" \
  "${driver_memory[@]+"${driver_memory[@]}"}" \
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
  --conf "spark.driver.extraJavaOptions=-Dlog4j2.configurationFile=file:$here/conf/log4j2.properties" \
  "${spark_opts[@]+"${spark_opts[@]}"}" \
  "$job_file" "$@"
