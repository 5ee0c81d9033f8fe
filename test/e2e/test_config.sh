#!/bin/bash
# ternd --check: a good config passes; a bad one exits 2 naming file:line:col and the key.
. "$(dirname "$0")/lib.sh"

write_config
check check-good "$B/ternd" --config "$CONF" --check

cat >"$WORK/bad.yaml" <<'EOF2'
nodeName: n1
bpf:
  pinPath: /sys/fs/bpf/x
  maxInterfaces: lots
EOF2
"$B/ternd" --config "$WORK/bad.yaml" --check 2>"$WORK/err"
rc=$?
check bad-exits-2 test "$rc" = 2
check bad-names-place grep -q "$WORK/bad.yaml:4:18: bpf.maxInterfaces" "$WORK/err"

printf 'nodeName: n1\nbpf:\n  pinPth: /x\n' >"$WORK/typo.yaml"
"$B/ternd" --config "$WORK/typo.yaml" --check 2>"$WORK/err"
check unknown-key sh -c "[ $? = 2 ] && grep -q 'typo.yaml:3:3: bpf.pinPth' '$WORK/err'"

printf 'nodeName: [unclosed\n' >"$WORK/syntax.yaml"
"$B/ternd" --config "$WORK/syntax.yaml" --check 2>"$WORK/err"
check syntax-error sh -c "[ $? = 2 ] && grep -q 'syntax.yaml:[0-9]*:[0-9]*' '$WORK/err'"

"$B/ternd" --config "$WORK/missing.yaml" --check 2>"$WORK/err"
check missing-file sh -c "[ $? = 2 ] && grep -q 'missing.yaml' '$WORK/err'"
