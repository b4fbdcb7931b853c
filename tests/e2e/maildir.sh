#!/usr/bin/env bash
# The maildir source: the MIME test set (plain, alternative, HTML only, PDF
# invoice, ISO-8859-1 and UTF-8 headers, malformed, oversized, an oversized
# attachment) read from new/, acked into cur/, dead letters with reasons;
# follow mode; kill -9 mid-run and restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail_lib.sh"
B=$BACKPLANE
cd "$TMP"
make_pdf inv.pdf && ok "a PDF invoice made with groff + ps2pdf" || not_ok "PDF made"
mkdir -p md/new md/cur md/tmp
$SEED md/new --pdf inv.pdf
cat >md.yaml <<YAML
site: md
state: $TMP/md.db
connectors:
  mail: { plugin: maildir, path: $TMP/md, max_message_size: 256KiB, max_attachment_size: 100KiB }
  out: { plugin: file, path: $TMP/out.jsonl, format: cloudevents }
routes:
  r: { from: mail, to: out }
YAML
exit_is "check" 0 "$B" check md.yaml
exit_is "a run reads new/ and ends" 0 "$B" run md.yaml
[ "$(count_lines out.jsonl)" -eq 7 ] && ok "7 messages became envelopes" || not_ok "7 envelopes (got $(count_lines out.jsonl))"
grep '"plain-1@' out.jsonl >plain.json
contains "id is the Message-ID" plain.json '"id":"plain-1@example.org"'
contains "time from Date:" plain.json '"time":"2026-11-20T10:00:00+01:00"'
contains "CloudEvents subject is the mail subject" plain.json '"subject":"Plain hello"'
contains "from as name + address" plain.json '"from":{"name":"Alice Example","address":"alice@example.org"}'
contains "to, several" plain.json '"to":[{"name":"","address":"ap@acme.example"},{"name":"Bob B.","address":"bob@acme.example"}]'
contains "cc" plain.json '"cc":[{"name":"","address":"audit@acme.example"}]'
contains "in-reply-to" plain.json '"in_reply_to":"orig-7@acme.example"'
contains "references in order" plain.json '"references":["root-1@acme.example","orig-7@acme.example"]'
contains "body text, CRLF made LF" plain.json '"text":"Hello AP team,\nplease find our statement.","text_type":"text/plain"'
grep '"alt-1@' out.jsonl >alt.json
contains "alternative: the plain part wins, quoted-printable UTF-8 decoded" alt.json '"text":"Grüße from the plain part","text_type":"text/plain"'
lacks "alternative: the HTML part is not taken" alt.json 'must not win'
grep '"html-1@' out.jsonl >html.json
contains "HTML only: readable text, entities decoded, script/style gone" html.json '"text":"Order & delivery\n\nLine one\nLine two\n\nQty 3","text_type":"text/html"'
lacks "HTML only: no script text" html.json 'alert'
grep '"inv-42@' out.jsonl >inv.json
contains "PDF attachment listed with name, type, size" inv.json "\"name\":\"INV-2026-0042.pdf\",\"media_type\":\"application/pdf\",\"size\":$(stat -c %s inv.pdf)"
contains "PDF text extracted, page 1" inv.json '"page_count":2,"pages":["ACME Supplies Ltd\nInvoice number: INV-2026-0042\nDate: 2026-11-20\nTotal due: 1,234.56 EUR"'
contains "PDF text extracted, page 2" inv.json '"Page two: payment terms 30 days"]'
grep '"latin1-1@' out.jsonl >l1.json
contains "ISO-8859-1 encoded-word subject decoded" l1.json '"subject":"Rechnung für März"'
contains "ISO-8859-1 display name decoded" l1.json '"name":"Jürgen Müller"'
contains "ISO-8859-1 8-bit body decoded" l1.json 'die Rechnung. Grüße"'
grep '"raw-1@' out.jsonl >raw.json
contains "raw 8-bit header without charset read as windows-1252" raw.json '"subject":"Café bill"'
contains "8-bit body without charset read as windows-1252" raw.json '"text":"Total été"'
grep '"utf8-1@' out.jsonl >u8.json
contains "UTF-8 encoded-word subject" u8.json '"subject":"Счёт № 7 — 東京"'
contains "UTF-8 sender name" u8.json '"name":"東京商事"'
contains "UTF-8 body" u8.json '"text":"Оплата до 30.11 — спасибо"'
sqlite3 md.db "SELECT reason FROM dead_letters ORDER BY seq" >dl.txt
contains "malformed message dead-lettered with a reason" dl.txt "md/new/1763600000.08malformed.seed: malformed message: not RFC 5322 (no header block)"
contains "oversized message dead-lettered unread" dl.txt "09oversized.seed: message is 300110 bytes, over max_message_size (262144)"
contains "oversized attachment dead-lettered" dl.txt "10bigatt.seed: attachment 'scan.png' is 150004 bytes, over max_attachment_size (102400)"
sqlite3 md.db "SELECT length(payload) FROM dead_letters ORDER BY seq" >dlraw.txt
[ "$(sed -n 2p dlraw.txt)" = 65536 ] && ok "the oversized dead letter keeps the first 64 KiB" || not_ok "oversized raw kept ($(sed -n 2p dlraw.txt))"
ls md/cur >cur.txt
[ "$(ls md/new | wc -l)" -eq 0 ] && ok "new/ is empty after the acks" || not_ok "new/ empty"
contains "delivered: moved to cur/ as seen" cur.txt "1763600000.04invoice.seed:2,S"
contains "dead-lettered: moved to cur/ as seen + flagged" cur.txt "1763600000.08malformed.seed:2,FS"
[ "$(grep -c ':2,S$' cur.txt)" -eq 7 ] && [ "$(grep -c ':2,FS$' cur.txt)" -eq 3 ] && ok "7 seen + 3 flagged in cur/" || not_ok "cur/ flags: $(tr '\n' ' ' <cur.txt)"
exit_is "a second run finds nothing new" 0 "$B" run md.yaml
[ "$(count_lines out.jsonl)" -eq 7 ] && ok "nothing read twice" || not_ok "nothing read twice ($(count_lines out.jsonl))"

# What became of the record decides the flags: parked for review -> flagged and
# unseen (F), dead-lettered by the route -> FS, delivered -> S.
mkdir -p md3/new md3/cur md3/tmp
$SEED md3/new --pdf inv.pdf
cat >fate.yaml <<YAML
site: fate
state: $TMP/fate.db
connectors:
  mail: { plugin: maildir, path: $TMP/md3, max_message_size: 256KiB, max_attachment_size: 100KiB }
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
exit_is "a route that parks one mail and dead-letters another" 0 "$B" run fate.yaml
ls md3/cur >fate-cur.txt
grep -F 'plain' fate-cur.txt >fate-plain.txt
grep -F 'html' fate-cur.txt >fate-html.txt
contains "parked for review: flagged, not seen" fate-plain.txt ":2,F"
lacks "... and not marked seen" fate-plain.txt ":2,FS"
contains "dead-lettered by the route: seen + flagged" fate-html.txt ":2,FS"
contains "delivered: seen" fate-cur.txt "1763600000.04invoice.seed:2,S"

# Not a maildir: start-up fails with the reason.
sed "s#path: $TMP/md#path: $TMP/nowhere#" md.yaml >bad.yaml
exit_is "a missing maildir fails the run" 1 "$B" run bad.yaml
contains "and says why" "$ERR" "$TMP/nowhere is not a maildir: no new/ directory"

# Follow mode: a message delivered while the bus runs (tmp/ then rename, as an MDA does).
cat >follow.yaml <<YAML
site: follow
state: $TMP/follow.db
connectors:
  mail: { plugin: maildir, path: $TMP/md, follow: true, poll_interval: 50ms }
  out: { plugin: file, path: $TMP/follow.jsonl, format: cloudevents }
routes:
  r: { from: mail, to: out }
YAML
"$B" run follow.yaml 2>follow.log &
pid=$!
sleep 0.5
$SEED md/tmp --pdf inv.pdf --bulk 3
for f in md/tmp/*.bulk; do mv "$f" md/new/; done
for _ in $(seq 100); do [ "$(count_lines follow.jsonl)" -ge 3 ] && break; sleep 0.05; done
kill -TERM $pid; wait $pid
[ "$(count_lines follow.jsonl)" -eq 3 ] && ok "follow: mail delivered while running is read" || not_ok "follow: got $(count_lines follow.jsonl)"
[ "$(ls md/new | wc -l)" -eq 0 ] && ok "follow: and acked into cur/" || not_ok "follow: new/ still has $(ls md/new | wc -l)"

# kill -9 mid-run, restart: every message once (ledger file sink), all in cur/.
rm -rf md2 && mkdir -p md2/new md2/cur md2/tmp
$SEED md2/new --pdf inv.pdf --bulk 1500
cat >crash.yaml <<YAML
site: crash
state: $TMP/crash.db
connectors:
  mail: { plugin: maildir, path: $TMP/md2 }
  out: { plugin: file, path: $TMP/crash.jsonl }
routes:
  r: { from: mail, to: out, batch: 50 }
YAML
for i in 1 2; do
    before=$(count_lines crash.jsonl)
    "$B" run crash.yaml >>crash.log 2>&1 &
    pid=$!
    for _ in $(seq 200); do [ "$(count_lines crash.jsonl)" -gt "$before" ] && break; sleep 0.02; done
    sleep "0.$(( RANDOM % 3 ))"
    kill -9 $pid; wait $pid 2>/dev/null
    echo "# kill $i: $(count_lines crash.jsonl) lines, $(ls md2/new | wc -l) left in new/"
done
"$B" run crash.yaml >>crash.log 2>&1
python3 - >crash.txt <<'PY'
import json
ids = [json.loads(l)["message_id"] for l in open("crash.jsonl")]
print("lines", len(ids), "distinct", len(set(ids)))
PY
contains "after kill -9 twice: 1500 messages, each once" crash.txt "lines 1500 distinct 1500"
[ "$(ls md2/new | wc -l)" -eq 0 ] && [ "$(ls md2/cur | wc -l)" -eq 1500 ] && ok "all 1500 acked into cur/" || not_ok "cur/ has $(ls md2/cur | wc -l)"
finish
