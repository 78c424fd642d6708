#!/usr/bin/env bash
# The planner benchmark (JMH, src/test/java/io/ndif/operator/bench/PlannerBenchmark.java): one
# plan of 10,000 deployments over 100 pools, and one deployment added to a planned cluster of
# 1,000. Figures in docs/benchmarks.md.
#
#   bench/planner.sh           the full run (3 warm-up and 5 measured iterations of 2 s, one fork)
#   bench/planner.sh --quick   one short iteration of each, as CI runs it to keep it working
#   bench/planner.sh -- ARGS   JMH's own arguments instead
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
args=(-f 1 -wi 3 -w 2s -i 5 -r 2s)
case "${1:-}" in
  --quick) args=(-f 1 -wi 1 -w 1s -i 1 -r 1s) ;;
  --) shift; args=("$@") ;;
  "") ;;
  *) echo "usage: bench/planner.sh [--quick | -- JMH ARGS]" >&2; exit 2 ;;
esac
mvn -B -q -DskipTests test-compile
cp_file=target/bench-classpath.txt
mvn -B -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$cp_file" >/dev/null
java -cp "target/test-classes:target/classes:$(cat "$cp_file")" org.openjdk.jmh.Main \
  "${args[@]}" -rf text -rff target/planner-benchmark.txt 'io.ndif.operator.bench.PlannerBenchmark'
