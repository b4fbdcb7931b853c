# Helpers shared by the mail tests (source after lib.sh).
SEED="/usr/bin/python3 $BP_SOURCE_ROOT/tests/e2e/mail_seed.py"

# make_pdf FILE: a two-page invoice PDF made by Debian's groff and ghostscript.
make_pdf() {
    printf '%s\n' '.ps 14' '\fBACME Supplies Ltd\fP' '.ps 10' '.sp' \
        'Invoice number: INV-2026-0042' '.br' 'Date: 2026-11-20' '.sp' \
        'Total due: 1,234.56 EUR' '.bp' 'Page two: payment terms 30 days' |
        groff -Tps | ps2pdf - "$1"
}

# count_lines FILE: lines in FILE, 0 when it does not exist.
count_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# free_port: a TCP port nothing listens on now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT [TRIES]: until something accepts on 127.0.0.1:PORT.
wait_port() {
    local i
    for i in $(seq "${2:-100}"); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
