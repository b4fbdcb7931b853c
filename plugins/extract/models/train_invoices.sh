#!/bin/sh
# Rebuilds the training set of the shipped invoice model and trains it:
# gen_invoices.py (2,000 invoices with layout, seed 2026) + gen_ai_data.py
# invoices (400 invoice mails without positions, seed 2026), in one DIR (box/
# and text/). Scores the model on 300 other generated invoices (seed 7) and,
# when $WORK/real holds the real set as box lines (see README.md), on it.
# Deterministic: the model it writes ($WORK/inv.model) is byte for byte the
# shipped one. Run from anywhere after building (build/).
set -e
cd "$(dirname "$0")/../../.."
W=${WORK:-/tmp/bp-invoices}
B=build/core/backplane
export BP_PLUGIN_PATH=${BP_PLUGIN_PATH:-build/plugins}
rm -rf "$W/mix" "$W/genheld" "$W/oldinv"
python3 plugins/extract/models/gen_invoices.py "$W/mix" 2000 2026
python3 plugins/extract/models/gen_invoices.py "$W/genheld" 300 7
python3 tests/e2e/gen_ai_data.py invoices "$W/oldinv" 400 2026
mkdir -p "$W/mix/text"
cp "$W"/oldinv/text/* "$W/mix/text/"
cp "$W"/oldinv/key/* "$W/mix/key/"
$B train extract --format sroie --data "$W/mix" --out "$W/inv.model" --name invoices-v3 --quiet
$B eval extract --format sroie --model "$W/inv.model" --data "$W/genheld" --quiet
if [ -d "$W/real/key" ]; then
    $B eval extract --format sroie --model "$W/inv.model" --data "$W/real" --errors "$W/real.err" --quiet >/dev/null
    python3 plugins/extract/models/score_invoices.py "$W/real" "$W/real.err"
fi
