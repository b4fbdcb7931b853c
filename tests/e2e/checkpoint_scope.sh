#!/usr/bin/env bash
# Checkpoint scopes survive renames (ABI 1.3): renaming a route or a connector,
# or inserting a transform before one that remembers (dedupe), kept the
# checkpoints' meaning but used to reset them silently, so the file source
# re-read everything and dedupe forgot what it had seen.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
for i in 1 2 3 4 5; do
    echo "{\"ref\": \"r$i\", \"vendor\": \"Vendor $i\", \"invoice_no\": \"INV-$i\", \"total\": ${i}00, \"date\": \"2024-03-0$i\"}"
done >in.jsonl

site() {   # ROUTE CONNECTOR THROUGH [SOURCE-EXTRA]
    cat >s.yaml <<YAML
site: scopes
state: $TMP/state.db
connectors:
  $2: { plugin: file, path: $TMP/in.jsonl ${4:-} }
  out: { plugin: file, path: $TMP/out.jsonl }
routes:
  $1:
    from: $2
    through: $3
    to: out
YAML
}
lines() { wc -l <out.jsonl; }

site invoices in "[ dedupe: {} ]"
exit_is "first run" 0 "$B" run s.yaml
[ "$(lines)" -eq 5 ] && ok "first run delivers 5 records" || not_ok "first run delivers 5 records (got $(lines))"

site ap-invoices in "[ dedupe: {} ]"
exit_is "run after renaming the route" 0 "$B" run s.yaml
[ "$(lines)" -eq 5 ] && ok "renamed route: nothing re-read (5 lines)" \
    || not_ok "renamed route: nothing re-read (got $(lines) lines, the source started over)"
contains "the move is logged" "$ERR" "the checkpoints of 'invoices/in' now belong to 'ap-invoices/in'"

site ap-invoices mailbox "[ dedupe: {} ]"
exit_is "run after renaming the connector" 0 "$B" run s.yaml
[ "$(lines)" -eq 5 ] && ok "renamed connector: nothing re-read (5 lines)" \
    || not_ok "renamed connector: nothing re-read (got $(lines) lines)"

# A transform inserted before dedupe moves it from #1 to #2; the same
# invoices arriving again must still be recognised as duplicates.
site ap-invoices mailbox "[ { set: { set: { data.seen: true } } }, dedupe: {} ]"
sed 's/"ref": "r/"ref": "again-r/' in.jsonl >>in.jsonl.new && cat in.jsonl.new >>in.jsonl && rm in.jsonl.new
exit_is "run after inserting a transform before dedupe" 0 "$B" run s.yaml
[ "$(lines)" -eq 10 ] && ok "only the 5 new records are read" || not_ok "only the 5 new records are read (got $(lines) lines)"
dups=$(grep -c '"again-r.*possible_duplicate' out.jsonl || true)
[ "$dups" -eq 5 ] && ok "dedupe kept its memory across the insertion (5 duplicates flagged)" \
    || not_ok "dedupe kept its memory across the insertion ($dups of 5 duplicates flagged)"
contains "dedupe's move is logged" "$ERR" "the checkpoints of 'ap-invoices/dedupe#1' now belong to 'ap-invoices/dedupe#2'"

# Renamed AND given other options: not the same identity, so it starts over,
# but never silently: the warning names the old scope and the way back.
site renamed-again mailbox "[ { set: { set: { data.seen: true } } }, dedupe: {} ]" ", max_line: 2MiB"
exit_is "run after a rename with other options" 0 "$B" run s.yaml
contains "the reset is warned about, naming the old scope" "$ERR" \
    "route 'renamed-again': source 'mailbox': scope 'renamed-again/mailbox' has no checkpoints, so it starts from the beginning; the state store holds checkpoints that nothing in this site uses, of another file source (or from before 1.3): 'ap-invoices/mailbox'. If 'renamed-again/mailbox' is one of them renamed, rename it back to resume there, or move them before the next run: UPDATE checkpoints SET scope='renamed-again/mailbox' WHERE scope='OLD' (sqlite3 on the state file, bus stopped)"
lacks "a stateless transform's empty scope is not warned about" "$ERR" "transform 'set'"

# A state store from before 1.3 has no identities: a renamed source is then
# not recognised, but its old scope is still named in the warning.
sqlite3 state.db "DELETE FROM checkpoint_scopes"
site legacy mailbox "[ { set: { set: { data.seen: true } } }, dedupe: {} ]" ", max_line: 2MiB"
exit_is "run after a rename on a pre-1.3 state store" 0 "$B" run s.yaml
contains "the old source scope is named" "$ERR" \
    "route 'legacy': source 'mailbox': scope 'legacy/mailbox' has no checkpoints, so it starts from the beginning; the state store holds checkpoints that nothing in this site uses, of another file source (or from before 1.3): 'ap-invoices/mailbox', 'renamed-again/mailbox', 'renamed-again/out'."
lacks "no noise for the other kinds" "$ERR" "transform 'set'"
finish
