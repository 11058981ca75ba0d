#!/bin/sh
# Certificates for the county broker and its stations, with openssl (EC P-256).
#
#   make-certs.sh ca                                  -> ca.key (0600), ca.crt          (once per county; keep ca.key offline)
#   make-certs.sh server HOSTNAME [IP]                -> server.key (0600), server.crt  (the broker; SAN = HOSTNAME and IP)
#   make-certs.sh station COUNTY/TOWN/VILLAGE/STATION -> stations/C-T-V-S.key (0600), .crt
#
# A station certificate's Common Name is the station's path (e.g. 410421/xiaoqi/zhuwa/pond-01).
# mosquitto takes it as the user name (use_identity_as_username), and the ACL's patterns let that
# user publish only under vs/v1/<its path>/ and read only vs/v1/<its path>/cmd/#: the CA, by
# signing the certificate, decides which station a device may speak for.
#
# Files go to $VS_PKI_DIR (default: the current folder). Private keys are created mode 0600.
set -eu
DIR=${VS_PKI_DIR:-.}
DAYS_CA=${VS_CA_DAYS:-3650}
DAYS=${VS_CERT_DAYS:-825}
mkdir -p "$DIR"
umask 077

fail() { echo "make-certs.sh: $*" >&2; exit 2; }

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

# A request config with the CN as one value: openssl -subj would split a CN at its slashes.
reqconf() {
    cat <<CONF
[req]
prompt = no
distinguished_name = dn
[dn]
CN = $1
CONF
}

sign() { # sign <name> <csr> <extfile>
    openssl x509 -req -in "$2" -CA "$DIR/ca.crt" -CAkey "$DIR/ca.key" -CAcreateserial -days "$DAYS" -sha256 \
        -extfile "$3" -out "$DIR/$1.crt" 2>/dev/null
}

cmd=${1:-}
case "$cmd" in
ca)
    [ -e "$DIR/ca.key" ] && fail "$DIR/ca.key exists; refusing to replace the CA"
    newkey "$DIR/ca.key"
    reqconf "village stations CA" > "$DIR/ca.cnf"
    printf '[v3]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n' >> "$DIR/ca.cnf"
    openssl req -x509 -new -key "$DIR/ca.key" -config "$DIR/ca.cnf" -extensions v3 -days "$DAYS_CA" -sha256 -out "$DIR/ca.crt"
    rm -f "$DIR/ca.cnf"
    chmod 644 "$DIR/ca.crt"
    ;;
server)
    host=${2:-}; ip=${3:-}
    [ -n "$host" ] || fail "usage: make-certs.sh server HOSTNAME [IP]"
    newkey "$DIR/server.key"
    reqconf "$host" > "$DIR/server.cnf"
    openssl req -new -key "$DIR/server.key" -config "$DIR/server.cnf" -out "$DIR/server.csr"
    san="DNS:$host"; [ -n "$ip" ] && san="$san,IP:$ip"
    printf 'basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = %s\n' "$san" > "$DIR/server.ext"
    sign server "$DIR/server.csr" "$DIR/server.ext"
    rm -f "$DIR/server.cnf" "$DIR/server.csr" "$DIR/server.ext"
    chmod 644 "$DIR/server.crt"
    ;;
station)
    path=${2:-}
    echo "$path" | grep -Eq '^[A-Za-z0-9][A-Za-z0-9_-]*(/[A-Za-z0-9][A-Za-z0-9_-]*){3}$' \
        || fail "usage: make-certs.sh station COUNTY/TOWN/VILLAGE/STATION"
    name=stations/$(echo "$path" | tr / -)
    mkdir -p "$DIR/stations"
    newkey "$DIR/$name.key"
    reqconf "$path" > "$DIR/$name.cnf"
    openssl req -new -key "$DIR/$name.key" -config "$DIR/$name.cnf" -out "$DIR/$name.csr"
    printf 'basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n' > "$DIR/$name.ext"
    sign "$name" "$DIR/$name.csr" "$DIR/$name.ext"
    rm -f "$DIR/$name.cnf" "$DIR/$name.csr" "$DIR/$name.ext"
    chmod 644 "$DIR/$name.crt"
    ;;
*)
    fail "usage: make-certs.sh ca | server HOSTNAME [IP] | station COUNTY/TOWN/VILLAGE/STATION"
    ;;
esac
