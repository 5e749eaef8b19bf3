#!/usr/bin/env bash
# Builds an ASN database for `[geoip] asn_database` from an open data set: ip-location-db's
# ASN ranges (`@ip-location-db/asn` on npm: asn-ipv4.csv and asn-ipv6.csv, from RouteViews
# and DB-IP ASN Lite data; see the package's licence files), turned into a GeoLite2-ASN-shaped
# MMDB by examples/asn_mmdb.rs. Not shipped in the repository: build it where you serve.
#
# Usage: geoip/fetch-asn.sh [OUT.mmdb]   (default geoip/asn.mmdb; needs npm, tar, cargo)
#        VERSION=x.y.z geoip/fetch-asn.sh   pins a release (default: the latest); the sha256
#                                           of the package is printed so that it can be recorded.
set -euo pipefail
VERSION="${VERSION:-latest}"
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-${here}/asn.mmdb}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@ip-location-db/asn@${VERSION}" >/dev/null && tar xzf ./*.tgz)
sha256sum "$work"/*.tgz
csvs=()
for f in asn-ipv4.csv asn-ipv6.csv; do
    [ -f "${work}/package/${f}" ] && csvs+=("${work}/package/${f}")
done
if [ "${#csvs[@]}" -eq 0 ]; then
    echo "no asn-ipv4.csv or asn-ipv6.csv in the package; its files are:" >&2
    ls "${work}/package" >&2
    exit 1
fi
# The example writes OUT.mmdb.tmp and renames it: a reload reads the old file or the new one.
(cd "${here}/.." && cargo run --quiet --release --example asn_mmdb -- "$out" "${csvs[@]}")
echo "${out}: built from @ip-location-db/asn@${VERSION} (its licence: npm view @ip-location-db/asn license); reload Meridian (SIGHUP) to use it"
