#!/bin/bash
# Run test layers and print one summary line: "N passed, N failed".
# Usage: test/run.sh [all|unit|bpf|e2e] [e2e test name filter]
# Every test prints "ok <name>" or "FAIL <name>[: why]" on stdout.
set -u
cd "$(dirname "$0")/.."
layer=${1:-all}
filter=${2:-}
B=build
out=$(mktemp)
trap 'rm -f "$out"' EXIT

run() { # name, command...: its output goes to the screen and into $out
	local name=$1 one rc
	shift
	one=$(mktemp)
	"$@" 2>&1 | tee "$one" | sed -u 's/^/  /' >&2
	rc=${PIPESTATUS[0]}
	grep -E '^(ok|FAIL) ' "$one" >>"$out"
	if [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$one"; then
		echo "FAIL $name: exited $rc without reporting a failure" | tee -a "$out" >&2
	fi
	rm -f "$one"
}

if [ "$layer" = all ] || [ "$layer" = unit ]; then
	echo "== unit" >&2
	for t in "$B"/test/unit/test_*; do
		[ -x "$t" ] && run "unit/$(basename "$t")" "$t"
	done
fi
if [ "$layer" = all ] || [ "$layer" = bpf ]; then
	echo "== bpf" >&2
	run bpf "$B/test/bpf_tests"
fi
if [ "$layer" = all ] || [ "$layer" = e2e ]; then
	echo "== e2e" >&2
	for t in test/e2e/test_*.sh; do
		case "$t" in *"$filter"*) ;; *) continue ;; esac
		run "e2e/$(basename "$t" .sh)" timeout 600 bash "$t"
	done
fi

passed=$(grep -c '^ok ' "$out")
failed=$(grep -c '^FAIL ' "$out")
if [ "$failed" != 0 ]; then
	echo "failed:" >&2
	grep '^FAIL ' "$out" >&2
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
