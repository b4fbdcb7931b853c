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

# Dovecot (Debian dovecot-imapd) in the foreground for user "ap" (password
# "s3cret-pass"), mail in $DOVE/home/ap/Maildir, owned by nobody.
# dovecot_conf DIR PORT [SSLPORT]: writes DIR/dovecot.conf (and a self-signed
# cert for the imaps listener when SSLPORT is given).
dovecot_conf() {
    local d=$1 port=$2 sslport=${3:-}
    # Dovecot's auth and mail processes run as other users: they must reach
    # into the (mktemp -d, mode 0700) test directory.
    chmod o+x "$(dirname "$d")"
    mkdir -p "$d/base" "$d/state" "$d/home/ap/Maildir/new" "$d/home/ap/Maildir/cur" "$d/home/ap/Maildir/tmp"
    echo 'ap:{PLAIN}s3cret-pass::::::' >"$d/passwd"
    local ssl="ssl = no"
    if [ -n "$sslport" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
            -addext subjectAltName=IP:127.0.0.1 -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
        ssl="ssl = yes
ssl_cert = <$d/cert.pem
ssl_key = <$d/key.pem"
    fi
    cat >"$d/dovecot.conf" <<CONF
base_dir = $d/base
state_dir = $d/state
log_path = $d/dovecot.log
protocols = imap
listen = 127.0.0.1
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
$ssl
passdb {
  driver = passwd-file
  args = scheme=PLAIN $d/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/home/%u
}
service imap-login {
  inet_listener imap {
    port = $port
  }
  inet_listener imaps {
    port = ${sslport:-0}
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
CONF
}

# dovecot_start DIR PORT: starts it (child of this shell, pid in $DOVECOT_PID)
# and waits for the port. Right after a stop, the old login processes may
# hold the port a moment: then it is started again.
dovecot_start() {
    local try i
    chown -R nobody:nogroup "$1/home"
    for try in $(seq 30); do
        rm -rf "$1/base" && mkdir -p "$1/base"
        dovecot -F -c "$1/dovecot.conf" 2>>"$1/dovecot.err" &
        DOVECOT_PID=$!
        for i in $(seq 100); do
            (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
            kill -0 "$DOVECOT_PID" 2>/dev/null || break
            sleep 0.05
        done
        wait "$DOVECOT_PID" 2>/dev/null
        sleep 0.2
    done
    return 1
}

dovecot_stop() {
    [ -n "${DOVECOT_PID:-}" ] || return 0
    kill -TERM "$DOVECOT_PID" 2>/dev/null
    wait "$DOVECOT_PID" 2>/dev/null
    DOVECOT_PID=
}
