#!/usr/bin/env python3
"""Write N invoice-like JSON records, one per line, deterministically.

    gen_invoices.py N OUTPUT [--seed S]

Each record is one JSON object of about 200 bytes (1-3 nested line items),
for example:

  {"invoice_no":"INV-0000001","vendor":"Globex Corp","currency":"EUR",
   "issued":"2024-03-14","total":1234.50,
   "lines":[{"sku":"A-1023","qty":3,"price":12.5},{"sku":"K-77","qty":1,"price":99.00}]}

The same N and seed always give the same bytes (own LCG, no dependence on the
Python version's `random` implementation). Prints the record count and average
size to stderr.
"""
import sys

VENDORS = ["ACME GmbH", "Globex Corp", "Initech Ltd", "Umbrella SA", "Stark Industries",
           "Wayne Enterprises", "Soylent AB", "Hooli Inc", "Vandelay Industries",
           "Jörg Ümlaut KG"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "SEK"]
SKU_PREFIX = "ABCDEFGHJKLMNPQRSTUVWXYZ"


class Lcg:
    """64-bit LCG (Knuth MMIX constants); the top 31 bits are used."""

    def __init__(self, seed):
        self.s = (seed * 2862933555777941757 + 3037000493) & 0xFFFFFFFFFFFFFFFF

    def below(self, n):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        return (self.s >> 33) % n


def main(argv):
    args = [a for a in argv[1:]]
    seed = 42
    if "--seed" in args:
        i = args.index("--seed")
        seed = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.stderr.write("usage: gen_invoices.py N OUTPUT [--seed S]\n")
        return 2
    n = int(args[0])
    if n < 1:
        sys.stderr.write("gen_invoices.py: N must be >= 1\n")
        return 2
    rng = Lcg(seed)
    total_bytes = 0
    with open(args[1], "w", encoding="utf-8", newline="\n") as out:
        buf = []
        for k in range(1, n + 1):
            lines = []
            total_cents = 0
            for _ in range(1 + rng.below(3)):
                qty = 1 + rng.below(20)
                price_cents = 100 + rng.below(49900)
                total_cents += qty * price_cents
                lines.append('{"sku":"%s-%d","qty":%d,"price":%d.%02d}' % (
                    SKU_PREFIX[rng.below(len(SKU_PREFIX))], 100 + rng.below(9900),
                    qty, price_cents // 100, price_cents % 100))
            rec = ('{"invoice_no":"INV-%07d","vendor":"%s","currency":"%s",'
                   '"issued":"2024-%02d-%02d","total":%d.%02d,"lines":[%s]}\n') % (
                k, VENDORS[rng.below(len(VENDORS))], CURRENCIES[rng.below(len(CURRENCIES))],
                1 + rng.below(12), 1 + rng.below(28),
                total_cents // 100, total_cents % 100, ",".join(lines))
            buf.append(rec)
            total_bytes += len(rec.encode("utf-8"))
            if len(buf) >= 10000:
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))
    sys.stderr.write("gen_invoices.py: %d records, %.0f bytes/record average\n"
                     % (n, total_bytes / n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
