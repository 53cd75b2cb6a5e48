#!/usr/bin/env bash
# Prepares the macOS pieces that need no Mac: checks the LaunchAgent and the LaunchDaemon, fills
# in and checks the configuration profile and the app's Info.plist, writes the native-messaging
# host manifests with the daemon's own writer, and copies all of it to artifacts/packages/macos/.
# The .pkg itself is built on a Mac by build-pkg.sh (pkgbuild and productbuild exist only there),
# which runs this script first. Works on Linux and macOS.
#
# Environment (all optional; the same names as installer/windows/build.sh):
#   FOUREYES_VERSION        version (default: the extension's major.minor and the commit count)
#   FOUREYES_PACKAGES_DIR   output folder (default: artifacts/packages)
#   FOUREYES_EXTENSION_ID   Chrome/Edge/Chromium extension ID (default: this repository's)
#   FOUREYES_FIREFOX_ID     Firefox add-on ID (default: foureyes@foureyes.eu)
#   FOUREYES_UPDATE_URL     where Chrome, Chromium and Edge fetch the extension
#   FOUREYES_XPI_URL        where Firefox fetches the add-on
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

die() { echo "installer/macos/build.sh: $*" >&2; exit 1; }
command -v go >/dev/null || die "go is missing (Go 1.26 or newer)"
command -v python3 >/dev/null || die "python3 is missing (it checks the property lists)"

out=${FOUREYES_PACKAGES_DIR:-$repo/artifacts/packages}/macos
chrome_id=${FOUREYES_EXTENSION_ID:-khjidfhbpkegedbcgmbanfcppfhpdnkp}
firefox_id=${FOUREYES_FIREFOX_ID:-foureyes@foureyes.eu}
update_url=${FOUREYES_UPDATE_URL:-https://foureyes.example.org/extension/update.xml}
xpi_url=${FOUREYES_XPI_URL:-https://foureyes.example.org/extension/foureyes.xpi}
# Where the pkg puts the program; the LaunchAgent and the host manifests name it.
app_bin=/Applications/foureyes.app/Contents/MacOS/foureyes

[[ $chrome_id =~ ^[a-p]{32}$ ]] || die "FOUREYES_EXTENSION_ID \"$chrome_id\" is not a Chrome extension ID (32 letters a to p)"
[[ $firefox_id =~ ^[A-Za-z0-9._@{}-]+$ ]] || die "FOUREYES_FIREFOX_ID \"$firefox_id\" is not a Firefox add-on ID"
# Only plain URL characters: they go into XML and through sed unescaped.
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
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version \"$version\" is not three numbers (major.minor.build)"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

subst() {
  sed -e "s|@EXTENSION_ID@|$chrome_id|g" -e "s|@FIREFOX_ID@|$firefox_id|g" -e "s|@UPDATE_URL@|$update_url|g" \
      -e "s|@XPI_URL@|$xpi_url|g" -e "s|@VERSION@|$version|g" "$1"
}
subst "$here/foureyes.mobileconfig.in" > "$stage/foureyes.mobileconfig"
subst "$here/Info.plist.in" > "$stage/Info.plist"
cp "$here/eu.foureyes.daemon.plist" "$here/eu.foureyes.service.plist" "$stage/"

# The host manifests come from the daemon's own writer (`foureyes extension allow`, run into a
# scratch home), then name the installed program instead of the scratch one.
CGO_ENABLED=0 nice go build -tags headless -o "$stage/gen/foureyes" ./daemon/cmd/foureyes
HOME="$stage/gen/home" FOUREYES_HOME="$stage/gen/state" "$stage/gen/foureyes" extension allow "$chrome_id" --firefox "$firefox_id" >/dev/null \
  || die "foureyes extension allow refused the IDs"
python3 - "$stage" "$app_bin" <<'PY' || die "host manifests"
import json, os, sys
stage, app_bin = sys.argv[1:3]
gen = os.path.join(stage, "gen", "foureyes")
found = {}
for root, _, files in os.walk(os.path.join(stage, "gen", "home")):
    for f in files:
        if f != "org.foureyes.host.json":
            continue
        raw = open(os.path.join(root, f), encoding="utf-8").read()
        m = json.loads(raw)
        if m.get("path") != gen:
            sys.exit(f"unexpected path in {root}/{f}: {m.get('path')}")
        kind = "firefox" if "allowed_extensions" in m else "chromium"
        # Keep the daemon's own formatting: only the path string changes.
        text = raw.replace(json.dumps(gen), json.dumps(app_bin), 1)
        if found.setdefault(kind, text) != text:
            sys.exit(f"the {kind} manifests differ between browsers")
for kind in ("chromium", "firefox"):
    if kind not in found:
        sys.exit(f"no {kind} manifest was written")
    with open(os.path.join(stage, f"org.foureyes.host.{kind}.json"), "w", encoding="utf-8") as fh:
        fh.write(found[kind])
PY

# Every property list must parse, as launchd and the profile installer would read it.
python3 - "$stage" <<'PY' || die "a property list does not parse"
import plistlib, sys, os
for f in ("eu.foureyes.daemon.plist", "eu.foureyes.service.plist", "foureyes.mobileconfig", "Info.plist"):
    with open(os.path.join(sys.argv[1], f), "rb") as fh:
        plistlib.load(fh)
PY
if command -v plutil >/dev/null; then
  plutil -lint "$stage/eu.foureyes.daemon.plist" "$stage/eu.foureyes.service.plist" "$stage/foureyes.mobileconfig" "$stage/Info.plist" >/dev/null || die "plutil -lint"
fi

mkdir -p "$out"
for f in eu.foureyes.daemon.plist eu.foureyes.service.plist foureyes.mobileconfig Info.plist org.foureyes.host.chromium.json org.foureyes.host.firefox.json; do
  cp "$stage/$f" "$out/$f"
done
install -m 755 "$here/uninstall.sh" "$out/uninstall.sh"
echo "macos: $out (LaunchAgent, LaunchDaemon, profile, Info.plist, host manifests; version $version)"
