#!/bin/sh
# the invoice model's training set: gen_invoices.py (layouts) + gen_ai_data.py invoices (text lines)
set -e
cd "$(dirname "$0")/../../.."
rm -rf "${WORK:-/tmp/bp-invoices}"/mix "${WORK:-/tmp/bp-invoices}"/genheld "${WORK:-/tmp/bp-invoices}"/oldinv
python3 plugins/extract/models/gen_invoices.py "${WORK:-/tmp/bp-invoices}"/mix 2000 2026
python3 plugins/extract/models/gen_invoices.py "${WORK:-/tmp/bp-invoices}"/genheld 300 7
python3 tests/e2e/gen_ai_data.py invoices "${WORK:-/tmp/bp-invoices}"/oldinv 400 2026
mkdir -p "${WORK:-/tmp/bp-invoices}"/mix/text; cp "${WORK:-/tmp/bp-invoices}"/oldinv/text/* "${WORK:-/tmp/bp-invoices}"/mix/text/; cp "${WORK:-/tmp/bp-invoices}"/oldinv/key/* "${WORK:-/tmp/bp-invoices}"/mix/key/
build/core/backplane train extract --format sroie --data "${WORK:-/tmp/bp-invoices}"/mix --out "${WORK:-/tmp/bp-invoices}"/inv.model --name invoices-v3 --quiet
build/core/backplane eval extract --format sroie --model "${WORK:-/tmp/bp-invoices}"/inv.model --data "${WORK:-/tmp/bp-invoices}"/genheld --quiet | grep -E "^(company|date|total|invoice_number|po_number|currency|overall) "
build/core/backplane eval extract --format sroie --model "${WORK:-/tmp/bp-invoices}"/inv.model --data "${WORK:-/tmp/bp-invoices}"/real --errors "${WORK:-/tmp/bp-invoices}"/err --quiet >/dev/null
python3 plugins/extract/models/score_invoices.py "${WORK:-/tmp/bp-invoices}"/real "${WORK:-/tmp/bp-invoices}"/err
