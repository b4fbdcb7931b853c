#!/usr/bin/env bash
# Log and terminal injection (issue 16 #6): a newline or an escape sequence in
# record data (a Subject, a policy reason) is shown escaped in text logs and in
# the CLI's tables (review list/show, dlq list/show): no forged line, no ESC,
# BEL or C1 control reaches the terminal.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
cat >in.jsonl <<'J'
{"ref": "a\n2026-12-01T00:00:00.000Z info  [r] forged line", "note": "x\u001b[2Jhidden", "action": "reject"}
{"ref": "b\u001b]0;title\u0007", "note": "c1 \u009b31m red\r\nFORGED ROW", "action": "review"}
J
cat >s.yaml <<YAML
site: t
state: $TMP/t.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/out.jsonl }
routes:
  r:
    from: in
    through:
      - set: { copy: { subject: data.ref } }
      - policy:
          rules:
            rej: { when: "data.action == 'reject'", reason: "bad {data.note} {data.ref}", action: reject }
            rev: { when: "data.action == 'review'", reason: "look {data.note}", action: review }
    to: out
YAML
exit_is "run" 0 "$B" run s.yaml
cp "$ERR" run.log
ctl() { # FILE: count of lines holding ESC, BEL, CR or a UTF-8 C1 control
    LC_ALL=C grep -c $'[\x1b\x07\r]\|\xc2[\x80-\x9f]' "$1"
}
[ "$(ctl run.log)" -eq 0 ] && ok "no control character in the text log" || not_ok "control characters in the log: $(cat -v run.log)"
[ "$(grep -c '^2026-12-01T00:00:00.000Z' run.log)" -eq 0 ] && ok "the forged timestamp starts no line" || not_ok "forged line"
contains "the dead-letter warning shows the escapes" run.log 'bad x\x1b[2Jhidden a\n2026-12-01T00:00:00.000Z info  [r] forged line'

exit_is "dlq list" 0 "$B" dlq list s.yaml
cp "$OUT" dl.txt
[ "$(ctl dl.txt)" -eq 0 ] && ok "dlq list: no control character" || not_ok "dlq list: $(cat -v dl.txt)"
[ "$(wc -l <dl.txt)" -eq 2 ] && ok "dlq list: one row per entry" || not_ok "dlq list rows: $(cat -v dl.txt)"
contains "dlq list: the reason escaped" dl.txt 'reject: rej: bad x\x1b[2Jhidden a\n2026-12-01T00:00:00.000Z info  [r] forged line'
exit_is "dlq show" 0 "$B" dlq show s.yaml 1
cp "$OUT" dls.txt
[ "$(ctl dls.txt)" -eq 0 ] && ok "dlq show: no control character" || not_ok "dlq show: $(cat -v dls.txt)"
contains "dlq show: the reason escaped" dls.txt 'reason: reject: rej: bad x\x1b[2Jhidden'

exit_is "review list" 0 "$B" review list s.yaml
cp "$OUT" rl.txt
[ "$(ctl rl.txt)" -eq 0 ] && ok "review list: no control character" || not_ok "review list: $(cat -v rl.txt)"
[ "$(wc -l <rl.txt)" -eq 2 ] && ok "review list: no forged row" || not_ok "review list rows: $(cat -v rl.txt)"
contains "review list: subject escaped" rl.txt 'b\x1b]0;title\x07'
contains "review list: reason escaped" rl.txt 'rev: look c1 \u009b31m red\r\nFORGED ROW'
seq=$(sqlite3 t.db "SELECT min(seq) FROM review_queue")
exit_is "review show" 0 "$B" review show s.yaml "$seq"
cp "$OUT" rs.txt
[ "$(ctl rs.txt)" -eq 0 ] && ok "review show: no control character" || not_ok "review show: $(cat -v rs.txt)"
contains "review show: subject escaped" rs.txt 'subject:    b\x1b]0;title\x07'
finish
