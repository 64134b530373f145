#!/usr/bin/env bash
# Builds the DNS test estate for tests/it/plugins.rs in DIR, served by BIND's named on PORT:
#   good.test   signed (ECDSA P-256 KSK + ZSK), CAA `issue "letsencrypt.org"`, www.good.test without
#               CAA of its own (RFC 8659 climbs to good.test); its DS goes in DIR/anchors.txt
#   bare.test   unsigned, no CAA
#   stale.test  signed, CAA present, but every signature expired in 2020 (DS in anchors.txt too)
#   wrongds.test signed, CAA present, but the anchor given for it is another zone's key digest
# Usage: dns-zones.sh DIR PORT; then: named -g -c DIR/named.conf
set -euo pipefail
dir=$1 port=$2
mkdir -p "$dir/keys"
cd "$dir"
zone() { # name, extra records
  cat > "$1.zone" <<Z
\$TTL 300
@   IN SOA ns.$1. hostmaster.$1. 1 3600 600 86400 300
@   IN NS  ns.$1.
ns  IN A   127.0.0.1
www IN A   127.0.0.1
$2
Z
}
sign() { # name, extra dnssec-signzone args
  local ksk zsk
  ksk=$(dnssec-keygen -q -K keys -a ECDSAP256SHA256 -f KSK "$1")
  zsk=$(dnssec-keygen -q -K keys -a ECDSAP256SHA256 "$1")
  cat "keys/$ksk.key" "keys/$zsk.key" >> "$1.zone"
  dnssec-signzone -q -K keys -d . -o "$1" -f "$1.zone.signed" "${@:2}" "$1.zone" \
    "$ksk" "$zsk" >/dev/null
}
zone good.test '@ IN CAA 0 issue "letsencrypt.org"'
zone bare.test ''
zone stale.test '@ IN CAA 0 issue "letsencrypt.org"'
zone wrongds.test '@ IN CAA 0 issue "letsencrypt.org"'
sign good.test
# -P: skip the post-signing check, which (rightly) refuses expired signatures.
sign stale.test -P -s 20200101000000 -e 20200201000000
sign wrongds.test
cp bare.test.zone bare.test.zone.signed
# The parent, so RFC 8659's climb from a name without CAA ends in an answer, not REFUSED.
zone test ''
cp test.zone test.zone.signed
{
  sed 's/\s\+/ /g' dsset-good.test.
  sed 's/\s\+/ /g' dsset-stale.test.
  # wrongds.test's anchor: good.test's digest under wrongds.test's name.
  sed 's/\s\+/ /g; s/^good\.test\./wrongds.test./' dsset-good.test.
} | grep ' DS ' > anchors.txt
cat > named.conf <<C
options {
  directory "$dir";
  pid-file "$dir/named.pid";
  session-keyfile "$dir/session.key";
  listen-on port $port { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
};
C
for z in test good.test bare.test stale.test wrongds.test; do
  printf 'zone "%s" { type primary; file "%s/%s.zone.signed"; };\n' "$z" "$dir" "$z" >> named.conf
done
