#!/usr/bin/env bash
# Mail that arrives while the bus runs (issue 17, finding 1): delivered by
# dovecot-lda, as an MTA does, into a Dovecot whose mailbox the source keeps
# selected, on a site set up as an operator would (move_to, parked_to,
# rejected_to, 1 s poll). Read within two poll intervals, and the source never
# asks STATUS of its selected mailbox (Dovecot's CLIENTBUG answer, seen in
# its raw protocol log).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail_lib.sh"
B=$BACKPLANE
cd "$TMP"
command -v dovecot >/dev/null || { echo "Bail out! dovecot is not installed"; exit 1; }
LDA=/usr/lib/dovecot/dovecot-lda
[ -x "$LDA" ] || { echo "Bail out! $LDA is not installed"; exit 1; }
trap 'dovecot_stop; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT
[ -n "${KEEP_TMP:-}" ] && echo "# kept: $TMP"
DV=$TMP/dv
MD=$DV/home/ap/Maildir
PORT=$(free_port)
dovecot_conf "$DV" "$PORT"
# Dovecot's raw protocol log: every line the server sent to the bus.
mkdir -p "$DV/rawlog"
chown nobody:nogroup "$DV/rawlog"
cat >>"$DV/dovecot.conf" <<CONF
protocol imap {
  rawlog_dir = $DV/rawlog
}
CONF
make_pdf inv.pdf
$SEED "$TMP/m" --pdf inv.pdf --bulk 6
cp "$TMP/m/00000000.bulk" "$MD/new/"
dovecot_start "$DV" "$PORT" && ok "dovecot up on 127.0.0.1:$PORT" || { not_ok "dovecot up"; cat "$DV/dovecot.err"; finish; exit 1; }

cat >live.yaml <<YAML
site: live
state: $TMP/live.db
connectors:
  mail: { plugin: imap, url: "imap://127.0.0.1:$PORT/INBOX", user: ap, password: "\${env:AP_PASS}",
          tls: { mode: none }, poll_interval: 1s, move_to: Processed, parked_to: Review, rejected_to: Rejected }
  out: { plugin: file, path: $TMP/live.jsonl }
routes:
  r:
    from: mail
    review: { when: 'data.subject == "never"' }
    to: out
YAML
export AP_PASS=s3cret-pass
"$B" run live.yaml --log-level debug 2>live.log &
pid=$!
for _ in $(seq 200); do [ "$(count_lines live.jsonl)" -ge 1 ] && break; sleep 0.05; done
[ "$(count_lines live.jsonl)" -eq 1 ] && ok "the mail there at the start is read" || not_ok "first mail ($(count_lines live.jsonl))"
sleep 1.5   # a few empty polls on the selected mailbox

# deliver N: message N of the bulk set through dovecot-lda; waits until it is
# read (at most 2 poll intervals + slack); prints the time taken in ms.
deliver() {
    local want=$(( $(count_lines live.jsonl) + 1 )) t0 t1
    "$LDA" -c "$DV/dovecot.conf" -d ap <"$TMP/m/0000000$1.bulk" || { echo "lda failed"; return 1; }
    t0=$(date +%s%N)
    for _ in $(seq 60); do [ "$(count_lines live.jsonl)" -ge "$want" ] && break; sleep 0.05; done
    t1=$(date +%s%N)
    [ "$(count_lines live.jsonl)" -ge "$want" ] && echo $(( (t1 - t0) / 1000000 ))
}
for n in 1 2 3; do
    ms=$(deliver $n)
    if [ -n "$ms" ] && [ "$ms" -le 2500 ]; then ok "mail $n delivered by dovecot-lda while the bus runs: read in $ms ms"
    else not_ok "mail $n delivered by dovecot-lda while the bus runs was not read within 2 poll intervals (${ms:-never})"; fi
    sleep 1.2
done
kill -TERM $pid; wait $pid
[ "$(count_lines live.jsonl)" -eq 4 ] && ok "4 records in all" || not_ok "records: $(count_lines live.jsonl)"
[ "$(find "$MD/.Processed" -type f -path '*/cur/*' -o -type f -path '*/new/*' 2>/dev/null | grep -c .Processed)" -eq 4 ] &&
    ok "all 4 moved to Processed" || not_ok "Processed holds $(find "$MD/.Processed" -type f 2>/dev/null | grep -c '/\(cur\|new\)/')"
cat "$DV"/rawlog/*.out >server.out 2>/dev/null
cat "$DV"/rawlog/*.in >client.in 2>/dev/null
[ -s client.in ] && ok "the raw protocol log was written" || not_ok "no raw protocol log in $DV/rawlog"
lacks "Dovecot never answered CLIENTBUG" server.out "CLIENTBUG"
grep -i ' STATUS "INBOX"' client.in >status.txt
[ ! -s status.txt ] && ok "no STATUS of the selected mailbox" || not_ok "STATUS of the selected mailbox sent $(wc -l <status.txt) times"
# A PDF time bomb arriving over IMAP, then SIGTERM (issue 17, finding 3): the
# bus stops at once, the message stays in the INBOX, unread, for the restart.
python3 "$BP_SOURCE_ROOT/tests/e2e/pdf_bomb.py" bomb.pdf 200 100000
python3 - bomb.pdf >bomb.eml <<'PY'
import base64, sys
data = base64.encodebytes(open(sys.argv[1], "rb").read()).decode()
print("\r\n".join(["From: v@example.org", "To: ap@acme.example", "Subject: bomb",
                   "Message-ID: <bomb@example.org>", "MIME-Version: 1.0",
                   'Content-Type: multipart/mixed; boundary="b"', "", "--b",
                   "Content-Type: application/pdf", "Content-Transfer-Encoding: base64",
                   'Content-Disposition: attachment; filename="x.pdf"', "", data, "--b--", ""]))
PY
sed -e 's/poll_interval: 1s,/poll_interval: 1s, pdf_timeout: 10m, pdf_message_timeout: 10m,/' \
    -e "s#$TMP/live#$TMP/bomb#g" live.yaml >bomb.yaml
"$LDA" -c "$DV/dovecot.conf" -d ap <bomb.eml
"$B" run bomb.yaml 2>bomb.log &
pid=$!
worker=
for _ in $(seq 100); do worker=$(pgrep -P $pid -f bp-pdf-text); [ -n "$worker" ] && break; sleep 0.05; done
[ -n "$worker" ] && ok "the bomb's PDF is being read (worker $worker)" || not_ok "no PDF worker"
t0=$(date +%s%N)
kill -TERM $pid
for _ in $(seq 200); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if kill -0 $pid 2>/dev/null; then not_ok "SIGTERM: still running after $ms ms"; kill -9 $pid; else ok "SIGTERM during the bomb: stopped in $ms ms"; fi
wait $pid
[ "$(count_lines bomb.jsonl)" -eq 0 ] && ok "nothing delivered" || not_ok "bomb.jsonl: $(count_lines bomb.jsonl)"
inbox=$(find "$MD/new" "$MD/cur" -type f | xargs -r grep -l 'bomb@example.org')
[ -n "$inbox" ] && ok "the bomb is still in the INBOX" || not_ok "the bomb left the INBOX"
case "$inbox" in *:2,*S*) not_ok "it was left marked \\Seen ($inbox)" ;; *) ok "and unread" ;; esac
finish
