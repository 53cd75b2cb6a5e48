#!/usr/bin/env bash
# RUN ON macOS ONLY. Builds artifacts/packages/foureyes-VERSION.pkg: a universal (Apple silicon
# and Intel) foureyes.app, the LaunchAgent, service mode's LaunchDaemon (disabled), the native-messaging host manifests for Chrome,
# Chromium, Edge and Firefox, and optionally the managed policy. pkgbuild, productbuild, lipo and
# codesign exist only on macOS (Xcode command line tools), so CI on Linux runs build.sh and
# test.sh instead and this script is not run there.
#
# Environment, besides those of build.sh:
#   FOUREYES_POLICY              a foureyes policy to install as /Library/Application
#                                Support/foureyes/policy.json (checked with `foureyes policy check --managed`)
#   FOUREYES_MAC_APP_IDENTITY    "Developer ID Application: ..." to sign the app (hardened runtime)
#   FOUREYES_MAC_PKG_IDENTITY    "Developer ID Installer: ..." to sign the pkg
#   FOUREYES_NOTARY_PROFILE      a notarytool keychain profile: notarise and staple the pkg
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
die() { echo "installer/macos/build-pkg.sh: $*" >&2; exit 1; }
[ "$(uname -s)" = Darwin ] || die "runs on macOS only (pkgbuild and productbuild); on Linux use installer/macos/build.sh"
for t in go pkgbuild productbuild lipo codesign; do command -v "$t" >/dev/null || die "$t is missing (Xcode command line tools, Go)"; done

bash "$here/build.sh"
pk=${FOUREYES_PACKAGES_DIR:-$repo/artifacts/packages}
mac=$pk/macos
version=$(/usr/libexec/PlistBuddy -c "Print :CFBundleVersion" "$mac/Info.plist")

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
app=$root/Applications/foureyes.app

# The tray needs cgo on macOS (AppKit); one binary for both processor families.
mkdir -p "$app/Contents/MacOS"
for arch in arm64 amd64; do
  GOOS=darwin GOARCH=$arch CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$stage/foureyes-$arch" ./daemon/cmd/foureyes
done
lipo -create -output "$app/Contents/MacOS/foureyes" "$stage/foureyes-arm64" "$stage/foureyes-amd64"
cp "$mac/Info.plist" "$app/Contents/Info.plist"
if [ -n "${FOUREYES_MAC_APP_IDENTITY:-}" ]; then
  codesign --force --options runtime --timestamp --sign "$FOUREYES_MAC_APP_IDENTITY" "$app"
fi

install -d -m 755 "$root/Library/LaunchAgents"
install -m 644 "$mac/eu.foureyes.daemon.plist" "$root/Library/LaunchAgents/"
# Service mode's LaunchDaemon, installed disabled (the postinstall makes its user and folders).
install -d -m 755 "$root/Library/LaunchDaemons"
install -m 644 "$mac/eu.foureyes.service.plist" "$root/Library/LaunchDaemons/"
while IFS=: read -r dir kind; do
  install -d -m 755 "$root$dir"
  install -m 644 "$mac/org.foureyes.host.$kind.json" "$root$dir/org.foureyes.host.json"
done <<'DIRS'
/Library/Google/Chrome/NativeMessagingHosts:chromium
/Library/Application Support/Chromium/NativeMessagingHosts:chromium
/Library/Microsoft/Edge/NativeMessagingHosts:chromium
/Library/Application Support/Mozilla/NativeMessagingHosts:firefox
DIRS

if [ -n "${FOUREYES_POLICY:-}" ]; then
  "$app/Contents/MacOS/foureyes" policy check --managed "$FOUREYES_POLICY" || die "FOUREYES_POLICY $FOUREYES_POLICY is not a valid policy"
  install -d -m 755 "$root/Library/Application Support/foureyes"
  install -m 644 "$FOUREYES_POLICY" "$root/Library/Application Support/foureyes/policy.json"
fi

# Ownership root:wheel for everything in the payload; the scripts stop and start the tray.
pkgbuild --root "$root" --scripts "$here/scripts" --identifier eu.foureyes.pkg --version "$version" \
  --install-location / --ownership recommended "$stage/foureyes-component.pkg"
sign=()
[ -z "${FOUREYES_MAC_PKG_IDENTITY:-}" ] || sign=(--sign "$FOUREYES_MAC_PKG_IDENTITY")
out=$pk/foureyes-$version.pkg
productbuild --package "$stage/foureyes-component.pkg" "${sign[@]}" "$out"
if [ -n "${FOUREYES_NOTARY_PROFILE:-}" ]; then
  xcrun notarytool submit "$out" --keychain-profile "$FOUREYES_NOTARY_PROFILE" --wait
  xcrun stapler staple "$out"
fi
pkgutil --payload-files "$stage/foureyes-component.pkg" | grep -q 'foureyes.app/Contents/MacOS/foureyes' || die "the pkg lacks the program"
echo "macos: $out ($(stat -f %z "$out") bytes)"
