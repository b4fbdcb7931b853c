#!/usr/bin/env bash
# issue 21: the man page generator refuses a site-file key that the loader
# accepts but backplane-site(5) does not describe (and one it describes that
# the loader no longer accepts), so the build fails instead of shipping a
# page that drifted. BP_MAN_WRAPPED is the CLI's own objects linked with a
# bp_site_known_keys that adds routes.*.zz_undocumented and drops
# audit.checkpoint_every (man_keys_wrap.c).
. "$(dirname "$0")/lib.sh"
exit_is "__man backplane-site.5 with the real tables" 0 "$BACKPLANE" __man backplane-site.5
exit_is "... with a key the page does not describe: exit 1" 1 "$BP_MAN_WRAPPED" __man backplane-site.5
contains "... naming the key and where to describe it" "$ERR" \
    "backplane __man: the site loader accepts routes.*.zz_undocumented, which backplane-site(5) does not describe (core/cli/cmd_man.c)"
contains "... and the described key the loader lost" "$ERR" \
    "backplane __man: backplane-site(5) describes audit.checkpoint_every, which the site loader does not accept"
[ -s "$OUT" ] && not_ok "... and prints no page" || ok "... and prints no page"
finish
