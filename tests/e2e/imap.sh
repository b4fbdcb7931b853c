#!/usr/bin/env bash
# The IMAP source against a real Dovecot started here (TEST-PEERS.md): the
# MIME test set seeded as maildir files, write-back by move and by flags,
# UIDVALIDITY resync, imaps and STARTTLS with certificate checks, a refused
# login, kill -9 mid-poll, and a Dovecot restart while the bus runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail_lib.sh"
B=$BACKPLANE
cd "$TMP"
command -v dovecot >/dev/null || { echo "Bail out! dovecot is not installed"; exit 1; }
trap 'dovecot_stop; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT
DV=$TMP/dv
[ -n "${KEEP_TMP:-}" ] && echo "# kept: $TMP"
MD=$DV/home/ap/Maildir
PORT=$(free_port)
SPORT=$(free_port)
dovecot_conf "$DV" "$PORT" "$SPORT"
make_pdf inv.pdf
$SEED "$MD/new" --pdf inv.pdf
# A second mailbox for the flags-only write-back.
mkdir -p "$MD/.Other/new" "$MD/.Other/cur" "$MD/.Other/tmp"
$SEED "$MD/.Other/new" --pdf inv.pdf --bulk 3
dovecot_start "$DV" "$PORT" && ok "dovecot up on 127.0.0.1:$PORT" || { not_ok "dovecot up"; cat "$DV/dovecot.err"; finish; exit 1; }

# in_folder FOLDER: message files of a Maildir++ folder ("" = INBOX), one per line.
in_folder() { local d=$MD${1:+/.$1}; find "$d/new" "$d/cur" -type f 2>/dev/null; }
# ids_in FOLDER: the Message-IDs of a folder's messages, sorted.
ids_in() { in_folder "$1" | xargs -r grep -h -i -m1 '^Message-ID:' | sed 's/.*<\(.*\)>.*/\1/' | sort; }

site() { # site NAME EXTRA-OPTIONS [SINK-OPTIONS]
    cat >"$1.yaml" <<YAML
site: $1
state: $TMP/$1.db
connectors:
  mail: { plugin: imap, url: "imap://127.0.0.1:$PORT/INBOX", user: ap, password: "\${env:AP_PASS}",
          tls: { mode: none }, poll_interval: 100ms, max_message_size: 256KiB, max_attachment_size: 100KiB, $2 }
  out: { plugin: file, path: $TMP/$1.jsonl, format: ${3:-cloudevents} }
routes:
  r: { from: mail, to: out }
YAML
}
export AP_PASS=s3cret-pass

# run_until NAME LINES: runs site NAME until its output has LINES lines (or 20 s), then SIGTERM.
run_until() {
    "$B" run "$1.yaml" --log-level debug 2>>"$1.log" &
    local pid=$! i
    for i in $(seq 400); do [ "$(count_lines "$1.jsonl")" -ge "$2" ] && break; sleep 0.05; done
    sleep 0.3
    kill -TERM $pid; wait $pid
}

# 1. The test set: 7 envelopes, 3 dead letters, moved to Processed / Rejected.
site move "move_to: Processed, rejected_to: Rejected"
exit_is "check" 0 "$B" check move.yaml
run_until move 7
[ "$(count_lines move.jsonl)" -eq 7 ] && ok "7 messages read over IMAP" || not_ok "7 messages (got $(count_lines move.jsonl))"
grep '"inv-42@' move.jsonl >inv.json
contains "PDF text from the attachment fetched over IMAP" inv.json 'Total due: 1,234.56 EUR'
contains "origin: mailbox, UID, UIDVALIDITY" inv.json '"origin":{"mailbox":"INBOX","uid":4,"uidvalidity":'
contains "ISO-8859-1 subject over IMAP" move.jsonl '"subject":"Rechnung für März"'
contains "UTF-8 subject over IMAP" move.jsonl '"subject":"Счёт № 7 — 東京"'
sqlite3 move.db "SELECT reason FROM dead_letters ORDER BY seq" >dl.txt
contains "malformed: dead-lettered with mailbox and UID" dl.txt "INBOX UID 8: malformed message: not RFC 5322 (no header block)"
contains "oversized: dead-lettered, judged by RFC822.SIZE" dl.txt "INBOX UID 9: message is 300110 bytes, over max_message_size (262144)"
contains "oversized attachment: dead-lettered" dl.txt "INBOX UID 10: attachment 'scan.png' is 150004 bytes"
[ "$(sqlite3 move.db "SELECT length(payload) FROM dead_letters WHERE reason LIKE '%UID 9:%'")" -lt 1000 ] &&
    ok "the oversized message was not fetched whole (its header is the dead letter)" || not_ok "oversized payload size"
[ -z "$(in_folder)" ] && ok "INBOX is empty after the acks" || not_ok "INBOX still holds $(in_folder | wc -l)"
[ "$(in_folder Processed | wc -l)" -eq 7 ] && ok "7 moved to Processed" || not_ok "Processed holds $(in_folder Processed | wc -l)"
[ "$(in_folder Rejected | wc -l)" -eq 3 ] && ok "3 moved to Rejected" || not_ok "Rejected holds $(in_folder Rejected | wc -l)"
in_folder Processed | sed 's/.*:2,//' | sort -u >pflags.txt
kw=$(grep -n '' "$MD/dovecot-keywords" 2>/dev/null)
contains "processed mail carries \\Seen and the keyword (a = \$Processed)" pflags.txt "Sa"
contains "keyword slot a is \$Processed" "$MD/dovecot-keywords" '0 $Processed'
lacks "the password never reaches the log" move.log "s3cret-pass"
contains "connected" move.log "connected to imap://127.0.0.1:$PORT/"
# A second run finds nothing.
run_until move 8
[ "$(count_lines move.jsonl)" -eq 7 ] && ok "a restart reads nothing twice" || not_ok "restart re-read ($(count_lines move.jsonl))"

# 2. Flags-only write-back (no move): the mail stays, flagged; a restart skips it.
site flags "mailboxes: [Other]"
run_until flags 3
[ "$(count_lines flags.jsonl)" -eq 3 ] && ok "flags mode: 3 read from Other" || not_ok "flags mode read $(count_lines flags.jsonl)"
[ "$(in_folder Other | grep -c ':2,Sa$')" -eq 3 ] && ok "flags mode: all 3 stay, with \\Seen + \$Processed" ||
    not_ok "flags: $(in_folder Other | sed 's/.*:2,/:2,/' | tr '\n' ' ')"

# 3. UIDVALIDITY changes (mailbox rebuilt): resync, flagged messages skipped, new ones read.
dovecot_stop
rm -f "$MD/.Other/dovecot-uidlist" "$MD/.Other/"dovecot.index*
$SEED "$TMP/more" --pdf inv.pdf --bulk 5
for i in 3 4; do cp "$TMP/more/0000000$i.bulk" "$MD/.Other/new/"; done
sleep 1   # UIDVALIDITY is a timestamp
dovecot_start "$DV" "$PORT" || not_ok "dovecot restarted"
run_until flags 5
contains "the change is logged as a resync" flags.log "Other: UIDVALIDITY changed from"
[ "$(count_lines flags.jsonl)" -eq 5 ] && ok "after the resync only the 2 new messages are read" || not_ok "resync read $(( $(count_lines flags.jsonl) - 3 )) (want 2)"
python3 -c "
import json
ids=[json.loads(l)['id'] for l in open('flags.jsonl')]
print('distinct', len(set(ids)), 'of', len(ids))" >fl.txt
contains "no duplicates after the resync" fl.txt "distinct 5 of 5"

# 4. TLS: imaps with a self-signed certificate is refused unless its CA is given; STARTTLS.
mkdir -p "$MD/.Tls/new" "$MD/.Tls/cur" "$MD/.Tls/tmp"
cp "$TMP/more/00000000.bulk" "$MD/.Tls/new/"; chown -R nobody:nogroup "$MD"
sed -e "s#imap://127.0.0.1:$PORT/INBOX#imaps://127.0.0.1:$SPORT/Tls#" -e 's/tls: { mode: none }, //' flags.yaml |
    sed -e "s#$TMP/flags#$TMP/tls#g" >tls.yaml
"$B" run tls.yaml 2>tls.log &
pid=$!; sleep 1.5; kill -TERM $pid; wait $pid
contains "imaps: the self-signed certificate is refused by default" tls.log "SSL certificate problem"
[ "$(count_lines tls.jsonl)" -eq 0 ] && ok "and nothing is read" || not_ok "read over unverified TLS"
sed -i "s#mailboxes: \[Other\]#mailboxes: [Tls], tls: { ca_file: $DV/cert.pem }#" tls.yaml
run_until tls 1
[ "$(count_lines tls.jsonl)" -eq 1 ] && ok "imaps with ca_file: read" || not_ok "imaps with ca_file ($(count_lines tls.jsonl))"
cp "$TMP/more/00000001.bulk" "$MD/.Tls/new/"; chown -R nobody:nogroup "$MD"
sed -e "s#imaps://127.0.0.1:$SPORT/Tls#imap://127.0.0.1:$PORT/Tls#" -e "s#$TMP/tls#$TMP/stls#g" tls.yaml >stls.yaml
run_until stls 1
[ "$(count_lines stls.jsonl)" -eq 1 ] && ok "imap:// with STARTTLS required (the default) and ca_file: read" || not_ok "starttls ($(count_lines stls.jsonl))"

# 5. A refused login: logged, nothing read, no password shown, retried.
sed -e 's/AP_PASS/BAD_PASS/' -e "s#$TMP/move#$TMP/bad#g" move.yaml >bad.yaml
export BAD_PASS=wrong-pass-123
"$B" run bad.yaml 2>bad.log &
pid=$!; sleep 1.5; kill -TERM $pid; wait $pid
# The rule (connectors/common/fault.h): not connected, quoting the server.
contains "a refused login is not connected, quoting Dovecot" bad.log "not connected: credentials refused: NO [AUTHENTICATIONFAILED] Authentication failed."
contains "the route waits as not connected (was: retry)" bad.log "not connected: waiting for the source (not connected)"
lacks "the bad password is not shown" bad.log "wrong-pass-123"
n=$(grep -c "INBOX: not connected: credentials refused" bad.log)
if [ "$n" -ge 2 ]; then ok "and retried with backoff ($n attempts in 1.5 s)"; else not_ok "and retried with backoff ($n attempts in 1.5 s)"; fi

# 6. kill -9 mid-poll, restart: every message once (ledger), moves only for processed ones.
$SEED "$TMP/bulk" --pdf inv.pdf --bulk 600
mv "$TMP"/bulk/*.bulk "$MD/new/"; chown -R nobody:nogroup "$MD"
site crash "move_to: Done" jsonl
for i in 1 2 3; do
    before=$(count_lines crash.jsonl)
    "$B" run crash.yaml 2>>crash.log &
    pid=$!
    for _ in $(seq 400); do [ "$(count_lines crash.jsonl)" -gt "$before" ] && break; sleep 0.02; done
    sleep "0.$(( RANDOM % 4 ))"
    kill -9 $pid; wait $pid 2>/dev/null
    python3 -c "
import json
print('\n'.join(sorted(json.loads(l)['message_id'] for l in open('crash.jsonl'))))" >seen.txt
    ids_in Done >done.txt
    echo "# kill $i: $(count_lines crash.jsonl) written, $(count_lines done.txt) moved"
    if [ -n "$(comm -23 done.txt seen.txt)" ]; then not_ok "kill $i: a message was moved before it was processed"; else ok "kill $i: only processed messages were moved"; fi
done
# The last run goes on until the INBOX is empty: messages written before a
# kill but not acked are re-read, found in the ledger, acked and moved now.
"$B" run crash.yaml 2>>crash.log &
pid=$!
for _ in $(seq 600); do [ -z "$(in_folder)" ] && break; sleep 0.05; done
sleep 0.3
kill -TERM $pid; wait $pid
python3 -c "
import json
ids=[json.loads(l)['message_id'] for l in open('crash.jsonl')]
print('lines', len(ids), 'distinct', len(set(ids)))" >crash.txt
contains "after 3 kill -9s: 600 messages, each once" crash.txt "lines 600 distinct 600"
[ "$(ids_in Done | wc -l)" -eq 600 ] && [ -z "$(in_folder)" ] && ok "all 600 moved to Done, INBOX empty" ||
    not_ok "Done holds $(ids_in Done | wc -l), INBOX $(in_folder | wc -l)"

# 7. Dovecot restarted while the bus runs: it reconnects and goes on.
site live "move_to: Processed"
"$B" run live.yaml 2>live.log &
pid=$!
sleep 0.5
dovecot_stop
cp "$TMP"/more/0000000[0-2].bulk "$MD/new/"
sleep 0.5
dovecot_start "$DV" "$PORT" || not_ok "dovecot restarted"
for _ in $(seq 200); do [ "$(count_lines live.jsonl)" -ge 3 ] && break; sleep 0.05; done
kill -TERM $pid; wait $pid
[ "$(count_lines live.jsonl)" -eq 3 ] && ok "after a Dovecot restart the new mail is read" || not_ok "after restart got $(count_lines live.jsonl)"
[ "$(grep -c 'connected to' live.log)" -ge 2 ] && ok "the connector reconnected" || not_ok "reconnect not logged"
# 8. A message expunged by another client after the search, before its fetch:
#    skipped (not dead-lettered), the source searches again and reads the rest.
#    UID 18: beyond the route's in-flight window (batch 1 x 5) when the first
#    record reaches the slow sink, so it is certainly not fetched yet.
mkdir -p "$MD/.Gone/new" "$MD/.Gone/cur" "$MD/.Gone/tmp"
$SEED "$TMP/gone" --pdf inv.pdf --bulk 20
mv "$TMP"/gone/*.bulk "$MD/.Gone/new/"; chown -R nobody:nogroup "$MD"
cat >gone.yaml <<YAML
site: gone
state: $TMP/gone.db
connectors:
  mail: { plugin: imap, url: "imap://127.0.0.1:$PORT/Gone", user: ap, password: "\${env:AP_PASS}",
          tls: { mode: none }, poll_interval: 100ms }
  slow: { plugin: fx_sink, path: $TMP/gone.jsonl, delay: 150ms }
routes:
  r: { from: mail, to: slow, batch: 1 }
YAML
"$B" run gone.yaml --plugin-dir "$BP_TEST_FIXTURES" 2>gone.log &
pid=$!
for _ in $(seq 200); do [ "$(count_lines gone.jsonl)" -ge 1 ] && break; sleep 0.02; done
python3 - "$PORT" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("ap", "s3cret-pass")
m.select("Gone")
m.uid("STORE", "18", "+FLAGS.SILENT", "(\\Deleted)")
m.expunge()
m.logout()
PY
for _ in $(seq 300); do [ "$(count_lines gone.jsonl)" -ge 19 ] && break; sleep 0.05; done
sleep 0.5
kill -TERM $pid; wait $pid
[ "$(count_lines gone.jsonl)" -eq 19 ] && ok "the 19 messages left were all read" || not_ok "gone: read $(count_lines gone.jsonl) (want 19)"
contains "the expunged one was noticed" gone.log "Gone UID 18 is gone: searching again"
[ "$(sqlite3 gone.db 'SELECT count(*) FROM dead_letters')" = 0 ] && ok "and not dead-lettered" || not_ok "gone: dead letters"

# 9. What became of the record decides where its mail goes: parked for review
#    -> parked_to, unseen; dead-lettered by the route -> rejected_to; delivered
#    -> move_to.
mkdir -p "$MD/.Fate/new" "$MD/.Fate/cur" "$MD/.Fate/tmp" "$TMP/fate"
$SEED "$TMP/fate" --pdf inv.pdf
mv "$TMP"/fate/* "$MD/.Fate/new/"; chown -R nobody:nogroup "$MD"
cat >fate.yaml <<YAML
site: fate
state: $TMP/fate.db
connectors:
  mail: { plugin: imap, url: "imap://127.0.0.1:$PORT/Fate", user: ap, password: "\${env:AP_PASS}",
          tls: { mode: none }, poll_interval: 100ms, max_message_size: 256KiB, max_attachment_size: 100KiB,
          move_to: FateDone, rejected_to: FateRejected, parked_to: FateReview }
  out: { plugin: file, path: $TMP/fate.jsonl }
routes:
  r:
    from: mail
    through:
      # an object is not a valid subject: this record is dead-lettered by the route
      - set: { when: 'data.message_id == "html-1@vendor.example"', copy: { subject: data.from } }
    review: { when: 'data.subject == "Plain hello"' }
    to: out
YAML
run_until fate 5
ids_in FateReview >fate-review.txt
ids_in FateRejected >fate-rejected.txt
ids_in FateDone >fate-done.txt
[ "$(wc -l <fate-review.txt)" = 1 ] && contains "parked for review: moved to parked_to" fate-review.txt "plain-1@example.org" ||
    not_ok "parked_to holds: $(tr '\n' ' ' <fate-review.txt)"
in_folder FateReview | grep -q ':2,S' && not_ok "parked mail was marked seen" || ok "parked mail stays unseen"
contains "dead-lettered by the route: moved to rejected_to" fate-rejected.txt "html-1@vendor.example"
lacks "... not to move_to" fate-done.txt "html-1@vendor.example"
[ "$(wc -l <fate-done.txt)" = 5 ] && ok "the 5 delivered ones in move_to" || not_ok "move_to holds $(wc -l <fate-done.txt)"
[ "$(in_folder FateRejected | wc -l)" = 4 ] && ok "rejected_to: the route's dead letter and the source's 3" ||
    not_ok "rejected_to holds $(in_folder FateRejected | wc -l)"
[ -z "$(in_folder Fate)" ] && ok "the Fate mailbox is empty" || not_ok "Fate still holds $(in_folder Fate | wc -l)"
finish
