#!/usr/bin/env bash
# backplane check on text templates (options flagged BP_OPT_TEMPLATE, such as
# the SMTP sink's subject): a path that names nothing the route's records
# carry is a warning with file:line:col (exit 0); a broken template is an
# error, as `run` would refuse it; routes whose records are not declared
# (a file source) are not guessed at.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
mkdir -p Maildir/new Maildir/cur Maildir/tmp
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got:  '$2'"; echo "#   want: '$3'"; fi; }

cat >t.yaml <<'YAML'
site: t
state: ./t.db
connectors:
  inbox: { plugin: maildir, path: ./Maildir }
  jsonl: { plugin: file, path: ./in.jsonl }
  reply:
    plugin: smtp
    url: "smtp://127.0.0.1:2525"
    from: "Desk <desk@example.com>"
    to: "{data.from.address}"
    subject: "Re: {data.subjcet} [{subject}]"
routes:
  answer:
    from: inbox
    through:
      - set: { set: { data.ticket: 1 } }
      - policy: { rules: { big: { when: "data.ticket > 0" } } }
    to:
      - reply:
          body: "Ticket {data.ticket} ({flags}) for {data.text}: {ticket_no}, {data.subjcet}"
  files:
    from: jsonl
    to:
      - reply: { subject: "{data.anything} {whatever}" }
YAML
exit_is "warnings keep exit 0" 0 "$B" check t.yaml
cp "$ERR" t.err
eq "three warnings, nothing else on stderr" "$(grep -c . t.err)" 4
contains "subject typo: file:line:col, the path, a suggestion" t.err \
  "t.yaml:11:19: warning: route 'answer', to 'reply', option 'subject': {data.subjcet} names nothing the route's records carry here: no stage before it gives data.subjcet (did you mean {data.subject}?); it renders as \"\""
contains "an unknown top-level name in a per-use option" t.err \
  "t.yaml:20:66: warning: route 'answer', to 'reply', option 'body': {ticket_no} names nothing the route's records carry here: no stage before it gives ticket_no; it renders as \"\""
contains "the second placeholder of one text has its own column" t.err \
  "t.yaml:20:79: warning: route 'answer', to 'reply', option 'body': {data.subjcet} names nothing"
contains "the count" t.err "t.yaml: 3 warning(s)"
lacks "a field a transform's options name is known" t.err "{data.ticket}"
lacks "an extension a transform declares is known" t.err "{flags}"
lacks "mail fields are known" t.err "{data.text}"
lacks "an attribute is known" t.err "{subject}"
lacks "a file source's records are not guessed at" t.err "route 'files'"
contains "still ok" "$OUT" "t.yaml: ok (3 connector(s), 2 route(s))"

sed -e 's/subject: "Re: {data.subjcet} \[{subject}\]"/subject: "Re: {data.subject"/' t.yaml >bad.yaml
exit_is "a '{' without '}' is an error" 1 "$B" check bad.yaml
contains "error text with position" "$ERR" \
  "bad.yaml:11:19: route 'answer', to 'reply', option 'subject': '{' without a closing '}' (write {{ for a brace)"
sed -e 's/subject: "Re: {data.subjcet} \[{subject}\]"/subject: "Re: {data..x}"/' t.yaml >bad2.yaml
exit_is "a placeholder that is no path is an error" 1 "$B" check bad2.yaml
contains "error names the bad path" "$ERR" \
  "bad2.yaml:11:19: route 'answer', to 'reply', option 'subject': 'data..x' is not an envelope path"
finish
