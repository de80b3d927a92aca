#!/usr/bin/env bash
# Makes the test certificates of vouch's `tls` tests against a real nginx,
# with the openssl command line, into DIR (created; nothing is committed):
#
#   ca.pem                                a private root CA (10 years)
#   valid.pem / valid.key                 leaf for localhost + 127.0.0.1, 90 days
#   expired.pem / expired.key             leaf that expired 3 days ago
#   soon.pem / soon.key                   leaf that expires in 10 days
#   wronghost.pem / wronghost.key         leaf for wrong.example only, 90 days
#   selfsigned.pem / selfsigned.key       self-signed leaf (CA:FALSE), 90 days
#   shortchain.pem / shortchain.key       60-day leaf + its intermediate CA,
#                                         which expires in 5 days (leaf first)
#   extrachain.pem / extrachain.key       the valid leaf + an expired CA
#                                         certificate ("vouch nginx old root",
#                                         signed by ca.pem) not on its path
#
#   scripts/tls-certs.sh DIR
#
# Keys are EC P-256. Every leaf but `selfsigned` is signed by ca.pem (or by
# the intermediate, for `shortchain`).
set -euo pipefail

(($# == 1)) || {
    printf 'usage: %s DIR\n' "$0" >&2
    exit 2
}
command -v openssl >/dev/null 2>&1 ||
    {
        echo "tls-certs.sh: openssl not found (apt-get install -y --no-install-recommends openssl)" >&2
        exit 1
    }
dir=$1
mkdir -p "$dir"
cd "$dir"

leaf_ext() { # SAN...
    local san=$1
    printf '%s\n' "subjectAltName=$san" \
        "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth"
}

ca_ext() {
    printf '%s\n' "basicConstraints=critical,CA:TRUE" \
        "keyUsage=critical,keyCertSign,cRLSign" \
        "subjectKeyIdentifier=hash" \
        "authorityKeyIdentifier=keyid:always"
}

newkey() { # NAME
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
    chmod 600 "$1.key"
}

csr() { # NAME CN
    newkey "$1"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
}

# Signs NAME.csr with ISSUER (ISSUER.pem/.key) for DAYS, extensions from stdin.
sign() { # NAME ISSUER DAYS
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "0x$(openssl rand -hex 8)" \
        -days "$3" -sha256 -extfile /dev/stdin -out "$1.pem" 2>/dev/null
}

# The root CA.
newkey ca
ca_ext >ca.ext
openssl req -new -x509 -key ca.key -subj "/CN=vouch nginx test CA" -days 3650 -sha256 \
    -extensions v3_ca -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3_ca]\n' && cat ca.ext) \
    -out ca.pem

csr valid localhost
leaf_ext "DNS:localhost,IP:127.0.0.1" | sign valid ca 90

csr soon localhost
leaf_ext "DNS:localhost,IP:127.0.0.1" | sign soon ca 10

csr wronghost wrong.example
leaf_ext "DNS:wrong.example" | sign wronghost ca 90

# Expired: OpenSSL 3.0's `x509` cannot set a start date, `ca` can.
csr expired localhost
mkdir -p ca-db
: >ca-db/index.txt
openssl rand -hex 8 >ca-db/serial
leaf_ext "DNS:localhost,IP:127.0.0.1" >expired.ext
cat >ca-db/ca.cnf <<EOF
[ca]
default_ca = test_ca
[test_ca]
database = ca-db/index.txt
new_certs_dir = ca-db
serial = ca-db/serial
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = any
email_in_dn = no
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
EOF
# Both dates from one clock reading: exactly 27 days apart.
now=$(date -u +%s)
openssl ca -batch -notext -config ca-db/ca.cnf -extfile expired.ext \
    -startdate "$(date -u -d "@$((now - 30 * 86400))" +%Y%m%d%H%M%SZ)" \
    -enddate "$(date -u -d "@$((now - 3 * 86400))" +%Y%m%d%H%M%SZ)" \
    -in expired.csr -out expired.pem 2>ca-db/ca.log || {
    cat ca-db/ca.log >&2
    exit 1
}

# An old CA certificate that expired 30 days ago, as servers still send
# after a CA migration: the valid leaf's path does not use it.
csr oldroot "vouch nginx old root"
ca_ext >oldroot.ext
openssl ca -batch -notext -config ca-db/ca.cnf -extfile oldroot.ext \
    -startdate "$(date -u -d "@$((now - 400 * 86400))" +%Y%m%d%H%M%SZ)" \
    -enddate "$(date -u -d "@$((now - 30 * 86400))" +%Y%m%d%H%M%SZ)" \
    -in oldroot.csr -out oldroot.pem 2>ca-db/ca.log || {
    cat ca-db/ca.log >&2
    exit 1
}
cat valid.pem oldroot.pem >extrachain.pem
cp valid.key extrachain.key
rm -f oldroot.pem oldroot.key

# Self-signed leaf: not a CA, so rustls reads it as a leaf (not CaUsedAsEndEntity).
newkey selfsigned
openssl req -new -x509 -key selfsigned.key -subj "/CN=localhost" -days 90 -sha256 \
    -extensions leaf -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[leaf]\n' &&
        leaf_ext "DNS:localhost,IP:127.0.0.1") \
    -out selfsigned.pem

# An intermediate that expires (5 days) before the leaf it signs (60 days).
csr intermediate "vouch nginx test intermediate"
ca_ext | sign intermediate ca 5
csr shortchain-leaf localhost
leaf_ext "DNS:localhost,IP:127.0.0.1" | sign shortchain-leaf intermediate 60
cat shortchain-leaf.pem intermediate.pem >shortchain.pem
mv shortchain-leaf.key shortchain.key

rm -rf ./*.csr ./*.ext ca-db shortchain-leaf.pem
chmod 644 ./*.pem
