#!/usr/bin/env bash
# Mail loops (issue 17, finding 8): the headers that mark automatic mail
# (Auto-Submitted, Precedence, List-Id, X-Auto-Response-Suppress) reach the
# envelope, and a mail -> smtp reply route does not answer an out-of-office
# reply or list mail unless reply_to_auto is on (RFC 3834); its own replies
# say Auto-Submitted: auto-replied. Real aiosmtpd.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail_lib.sh"
B=$BACKPLANE
cd "$TMP"
PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || { echo "Bail out! python3-aiosmtpd is not installed"; exit 1; }
SMTP_PID=
trap '[ -n "$SMTP_PID" ] && { kill -TERM $SMTP_PID; wait $SMTP_PID; } 2>/dev/null; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT
PORT=$(free_port)
$PY -m aiosmtpd -n -l "127.0.0.1:$PORT" -c aiosmtpd.handlers.Mailbox "$TMP/stored" 2>smtpd.err &
SMTP_PID=$!
wait_port "$PORT" && ok "aiosmtpd up on $PORT" || { not_ok "aiosmtpd up"; cat smtpd.err; finish; exit 1; }

# seed DIR: six messages, four of them automatic in one way or another.
seed() {
    mkdir -p "$1/new" "$1/cur" "$1/tmp"
    $PY - "$1/new" <<'PY'
import sys
cases = [("normal", None),
         ("oof", "Auto-Submitted: auto-replied"),
         ("bulk", "Precedence: bulk"),
         ("list", "List-Id: Vendors <vendors.lists.example.org>"),
         ("suppress", "X-Auto-Response-Suppress: DR, OOF"),
         ("human", "Auto-Submitted: no")]
for i, (name, extra) in enumerate(cases):
    head = ["From: %s@vendor.example" % name, "To: ap@acme.example",
            "Subject: %s" % name, "Message-ID: <%s@vendor.example>" % name]
    if extra:
        head.append(extra)
    open("%s/%d-%s" % (sys.argv[1], i, name), "w").write("\r\n".join(head) + "\r\n\r\nhello\r\n")
PY
}
site() { # site NAME EXTRA-SMTP-OPTIONS
    cat >"$1.yaml" <<YAML
site: $1
state: $TMP/$1.db
connectors:
  mail: { plugin: maildir, path: $TMP/$1.md }
  out: { plugin: file, path: $TMP/$1.jsonl }
  smtp: { plugin: smtp, url: "smtp://127.0.0.1:$PORT", tls: { mode: none }, from: "AP Desk <ap-desk@acme.example>",
          to: "{data.from.address}", subject: "Re: {data.subject}", body: "Thanks.",
          in_reply_to: "{data.message_id}"$2 }
routes:
  r: { from: mail, to: [out, smtp] }
YAML
}
# stored: "To | Auto-Submitted | X-Auto-Response-Suppress" of each stored mail, sorted.
stored() {
    $PY - "$TMP/stored" <<'PY' | sort
import email, mailbox, sys
for m in mailbox.Maildir(sys.argv[1], create=False):
    print(m["To"], "|", m["Auto-Submitted"], "|", m["X-Auto-Response-Suppress"])
PY
}

seed loop.md
site loop ""
exit_is "mail -> smtp run" 0 "$B" run loop.yaml
cp "$ERR" loop.log
grep '"subject":"oof"' loop.jsonl >oof.json
contains "Auto-Submitted reaches the envelope" oof.json '"auto_submitted":"auto-replied"'
contains "Precedence too" loop.jsonl '"precedence":"bulk"'
contains "List-Id too" loop.jsonl '"list_id":"Vendors <vendors.lists.example.org>"'
contains "X-Auto-Response-Suppress too" loop.jsonl '"x_auto_response_suppress":"DR, OOF"'
stored >sent.txt
[ "$(wc -l <sent.txt)" -eq 2 ] && ok "only 2 replies sent (to the normal and the Auto-Submitted: no mail)" ||
    { not_ok "replies sent: $(wc -l <sent.txt) (want 2)"; sed 's/^/#   /' sent.txt; }
contains "the normal mail is answered" sent.txt "normal@vendor.example | auto-replied | All"
contains "Auto-Submitted: no is a person: answered" sent.txt "human@vendor.example | auto-replied | All"
lacks "the out-of-office reply is not answered" sent.txt "oof@"
contains "the skip is logged with the header" loop.log "not sent for oof@vendor.example: automatic mail (Auto-Submitted: auto-replied; reply_to_auto is off)"
contains "... the list mail's too" loop.log "automatic mail (List-Id: Vendors <vendors.lists.example.org>;"
[ "$(sqlite3 loop.db 'SELECT count(*) FROM dead_letters')" = 0 ] && ok "skipped, not dead-lettered" || not_ok "dead letters: $(sqlite3 loop.db 'SELECT count(*) FROM dead_letters')"
[ "$(find loop.md/new -type f | wc -l)" -eq 0 ] && ok "all six acked" || not_ok "left in new/: $(ls loop.md/new)"

# reply_to_auto: true answers them all.
seed all.md
site all ", reply_to_auto: true"
exit_is "run with reply_to_auto: true" 0 "$B" run all.yaml
[ "$(stored | wc -l)" -eq 8 ] && ok "reply_to_auto: true answers all six" || not_ok "reply_to_auto: $(( $(stored | wc -l) - 2 )) sent (want 6)"
finish
