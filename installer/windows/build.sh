#!/usr/bin/env bash
# Builds the Windows installer on Linux: artifacts/packages/foureyes-VERSION-x64.msi, and the
# browser policy files for Group Policy in artifacts/packages/windows/.
#
# Needs Go, wixl and msibuild (Debian: msitools, wixl), iconv; osslsigncode when signing.
# Environment (all optional):
#   FOUREYES_VERSION        MSI version, three numbers (default: the extension's major.minor and
#                           the commit count, so every commit upgrades the one before)
#   FOUREYES_PACKAGES_DIR   output folder (default: artifacts/packages)
#   FOUREYES_EXTENSION_ID   Chrome/Edge extension ID the host manifest and policies allow
#                           (default: the ID of the extension in this repository)
#   FOUREYES_FIREFOX_ID     Firefox add-on ID (default: foureyes@foureyes.eu)
#   FOUREYES_UPDATE_URL     where Chrome and Edge fetch the extension (your CRX's update manifest)
#   FOUREYES_XPI_URL        where Firefox fetches the add-on (your signed XPI)
#   FOUREYES_SIGN_CERT      Authenticode certificate (PEM or DER, chain included) and
#   FOUREYES_SIGN_KEY       its private key (PEM or DER): sign both programs and the MSI
#   FOUREYES_SIGN_PASS_FILE a file holding the key's password, if it has one
#   FOUREYES_SIGN_TIMESTAMP a timestamp server URL (needs the network)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

die() { echo "installer/windows/build.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || die "$1 is missing ($2)"; }
need go "Go 1.26 or newer"
need wixl "apt-get install wixl"
need msibuild "apt-get install msitools"
need iconv "libc-bin"

out=${FOUREYES_PACKAGES_DIR:-$repo/artifacts/packages}
chrome_id=${FOUREYES_EXTENSION_ID:-khjidfhbpkegedbcgmbanfcppfhpdnkp}
firefox_id=${FOUREYES_FIREFOX_ID:-foureyes@foureyes.eu}
update_url=${FOUREYES_UPDATE_URL:-https://foureyes.example.org/extension/update.xml}
xpi_url=${FOUREYES_XPI_URL:-https://foureyes.example.org/extension/foureyes.xpi}
[[ $chrome_id =~ ^[a-p]{32}$ ]] || die "FOUREYES_EXTENSION_ID \"$chrome_id\" is not a Chrome extension ID (32 letters a to p)"
# Only plain URL characters: the URLs go into .reg strings and through sed unescaped.
url_re='^https://[A-Za-z0-9._~:/?#@!$+,=%-]+$'
for u in "FOUREYES_UPDATE_URL=$update_url" "FOUREYES_XPI_URL=$xpi_url"; do
  [[ ${u#*=} =~ $url_re ]] || die "${u%%=*} \"${u#*=}\" must be an https URL of letters, digits and ._~:/?#@!\$+,=%- only"
done

if [ -n "${FOUREYES_VERSION:-}" ]; then
  version=$FOUREYES_VERSION
else
  mm=$(sed -n 's/^ *"version": *"\([0-9]*\.[0-9]*\)[.0-9]*".*/\1/p' extension/unpacked/manifest.json | head -1)
  [ -n "$mm" ] || die "no version in extension/unpacked/manifest.json"
  version=$mm.$(git rev-list --count HEAD 2>/dev/null || echo 0)
fi
# Windows Installer compares the first three fields only: major and minor up to 255, build up to 65535.
if ! [[ $version =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || [ "${BASH_REMATCH[1]}" -gt 255 ] || [ "${BASH_REMATCH[2]}" -gt 255 ] || [ "${BASH_REMATCH[3]}" -gt 65535 ]; then
  die "version \"$version\" is not an MSI version (major.minor.build, at most 255.255.65535)"
fi

signing=no
if [ -n "${FOUREYES_SIGN_CERT:-}" ] || [ -n "${FOUREYES_SIGN_KEY:-}" ]; then
  [ -n "${FOUREYES_SIGN_CERT:-}" ] && [ -n "${FOUREYES_SIGN_KEY:-}" ] || die "signing needs both FOUREYES_SIGN_CERT and FOUREYES_SIGN_KEY"
  [ -r "$FOUREYES_SIGN_CERT" ] || die "FOUREYES_SIGN_CERT $FOUREYES_SIGN_CERT cannot be read"
  [ -r "$FOUREYES_SIGN_KEY" ] || die "FOUREYES_SIGN_KEY $FOUREYES_SIGN_KEY cannot be read"
  need osslsigncode "apt-get install osslsigncode"
  signing=yes
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
start=$(date +%s)

# Sign a file in place. The key's password comes from a file, never from the command line.
sign() {
  local f=$1 desc=$2
  local args=(-certs "$FOUREYES_SIGN_CERT" -key "$FOUREYES_SIGN_KEY" -h sha256 -n "$desc" -i https://foureyes.eu/)
  [ -z "${FOUREYES_SIGN_PASS_FILE:-}" ] || args+=(-readpass "$FOUREYES_SIGN_PASS_FILE")
  [ -z "${FOUREYES_SIGN_TIMESTAMP:-}" ] || args+=(-ts "$FOUREYES_SIGN_TIMESTAMP")
  osslsigncode sign "${args[@]}" -in "$f" -out "$f.signed" >/dev/null || die "signing $(basename "$f") failed"
  mv "$f.signed" "$f"
}

# The two programs: the same code, one with a console (command line, native-messaging host), one
# without (the tray at sign-in, which must not open a console window). The tray on Windows needs
# no cgo.
ldflags="-s -w -X main.version=$version"
echo "windows: go build foureyes.exe and foureyesw.exe ($version)"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 nice go build -trimpath -ldflags "$ldflags" -o "$stage/foureyes.exe" ./daemon/cmd/foureyes
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 nice go build -trimpath -ldflags "$ldflags -H=windowsgui" -o "$stage/foureyesw.exe" ./daemon/cmd/foureyes

# The host manifests come from the daemon's own writer (`foureyes extension allow`, run by a
# Linux build into a scratch home), so the installer cannot drift from what the daemon writes.
# Only "path" changes: on Windows it may be relative to the manifest, and the manifests sit next
# to foureyes.exe, so it is simply "foureyes.exe" wherever the MSI is installed.
echo "windows: host manifests from foureyes extension allow"
CGO_ENABLED=0 nice go build -tags headless -o "$stage/gen/foureyes" ./daemon/cmd/foureyes
HOME="$stage/gen/home" FOUREYES_HOME="$stage/gen/state" "$stage/gen/foureyes" extension allow "$chrome_id" --firefox "$firefox_id" >/dev/null \
  || die "foureyes extension allow refused the IDs"
gen_path="\"path\": \"$stage/gen/foureyes\","
relpath() { # $1 generated manifest, $2 output
  [ "$(grep -cF "$gen_path" "$1")" = 1 ] || die "unexpected host manifest format in $1"
  sed "s|$gen_path|\"path\": \"foureyes.exe\",|" "$1" > "$2"
}
relpath "$stage/gen/home/.config/google-chrome/NativeMessagingHosts/org.foureyes.host.json" "$stage/org.foureyes.host.chromium.json"
relpath "$stage/gen/home/.mozilla/native-messaging-hosts/org.foureyes.host.json" "$stage/org.foureyes.host.firefox.json"

if [ "$signing" = yes ]; then
  echo "windows: signing foureyes.exe and foureyesw.exe"
  sign "$stage/foureyes.exe" "foureyes"
  sign "$stage/foureyesw.exe" "foureyes"
fi

echo "windows: wixl"
cp "$here/foureyes.wxs" "$stage/"
(cd "$stage" && wixl -a x64 -D Version="$version" -o foureyes.msi foureyes.wxs) || die "wixl failed"
# wixl cannot list extra secure properties itself: without POLICYFILE and SERVICEMODE in
# SecureCustomProperties, Windows Installer drops them on the way to the elevated part of the install.
msibuild "$stage/foureyes.msi" -q "UPDATE \`Property\` SET \`Value\` = 'POLICYFILE;SERVICEMODE;WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED' WHERE \`Property\` = 'SecureCustomProperties'" \
  || die "msibuild could not set SecureCustomProperties"
if [ "$signing" = yes ]; then
  echo "windows: signing the MSI"
  sign "$stage/foureyes.msi" "foureyes installer"
fi

mkdir -p "$out/windows"
# One MSI per output folder: an older build's would be ambiguous to the checks and to IT.
rm -f "$out"/foureyes-*-x64.msi
msi="$out/foureyes-$version-x64.msi"
mv "$stage/foureyes.msi" "$msi"

# Group Policy registry files: written as regedit writes them (UTF-16LE with a byte-order mark,
# CRLF line ends), from the ASCII templates in gpo/.
for tmpl in "$here"/gpo/*.reg.in; do
  name=$(basename "$tmpl" .in)
  { printf '\xff\xfe'
    sed -e "s|@EXTENSION_ID@|$chrome_id|g" -e "s|@FIREFOX_ID@|$firefox_id|g" -e "s|@UPDATE_URL@|$update_url|g" -e "s|@XPI_URL@|$xpi_url|g" "$tmpl" \
      | sed 's/$/\r/' | iconv -f ASCII -t UTF-16LE
  } > "$out/windows/$name" || die "writing $name"
done
sed 's/$/\r/' "$here/gpo/README.txt" > "$out/windows/README.txt"
# The silent-install wrapper for Intune and ConfigMgr, with the CRLF line ends cmd.exe expects.
sed 's/$/\r/' "$here/install.cmd" > "$out/windows/install.cmd"

echo "windows: $msi ($(stat -c %s "$msi") bytes, signed: $signing) in $(( $(date +%s) - start )) s"
