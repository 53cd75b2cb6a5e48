#!/usr/bin/env bash
# Builds everything IT deploys into artifacts/packages/ (`make packages` runs this):
#
#   foureyes_V-R_amd64.deb, foureyes-V-R.x86_64.rpm         the daemon, host manifests, policy
#   foureyes-browser-policies_V-R_all.deb, ...noarch.rpm    the browser policies and the XPI
#   foureyes.crx, update.xml                                the extension for Chromium/Chrome/Edge
#   foureyes.xpi                                            the extension for Firefox ESR
#   browser-policies/                                       the policies as drop-in files
#   BUILD-INFO.txt                                          the extension ID and URLs everything pins
#
# Then installer/windows/build.sh and installer/macos/build.sh when they exist.
#
# Environment:
#   FOUREYES_CRX_KEY     the organisation's CRX signing key (PEM, readable by its owner only). Its
#                        public key decides the extension ID that the CRX, the native-messaging
#                        manifests, the managed policy and the browser policies all pin. Unset: a
#                        throwaway key is made and thrown away (a test build; the ID differs
#                        every build).
#   FOUREYES_UPDATE_URL  where update.xml and foureyes.crx will be served, a folder URL
#                        (default https://foureyes.example.org/extension/).
#   FOUREYES_VERSION     package version (default: the extension's manifest version);
#   FOUREYES_RELEASE     package release (default 1): raise it for a rebuild of one version.
#   FOUREYES_CHROMIUM    the Chromium that packs the CRX (default /usr/bin/chromium).
#   FOUREYES_DAEMON_PORT the daemon's port in the browser policies' managed configuration
#                        (default 47321, the policy's bridge_port default).
#   FOUREYES_PLATFORMS   which platforms to build (default "linux windows macos"; linux is always
#                        built): the other two run their build.sh when it exists.
#   FOUREYES_MASTODON    space-separated Mastodon hosts for the browser policies' managed
#                        configuration (default none: IT edits the files).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
out=artifacts/packages
chromium=${FOUREYES_CHROMIUM:-/usr/bin/chromium}
update_url=${FOUREYES_UPDATE_URL:-https://foureyes.example.org/extension/}
version=${FOUREYES_VERSION:-$(node -p 'require("./extension/unpacked/manifest.json").version')}
release=${FOUREYES_RELEASE:-1}

die() { echo "build: $*" >&2; exit 1; }
case $update_url in
	http://*|https://*) ;;
	*) die "FOUREYES_UPDATE_URL=$update_url: want an http:// or https:// folder URL" ;;
esac
[[ $update_url == */ ]] || update_url+=/
[[ $version =~ ^[0-9]+(\.[0-9]+){0,3}$ ]] || die "FOUREYES_VERSION=$version: want numbers and dots (e.g. 0.1.0)"
[[ $release =~ ^[0-9]+$ ]] || die "FOUREYES_RELEASE=$release: want a number"
[ -x "$chromium" ] || die "no Chromium at $chromium to pack the CRX (apt-get install chromium, or FOUREYES_CHROMIUM)"
for tool in go node openssl zip; do
	command -v "$tool" >/dev/null || die "$tool is missing (bash .ci/deps.sh test installs what the build needs)"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 700 "$tmp"
rm -rf "$out"
mkdir -p "$out"
stage=$tmp/stage
mkdir -p "$stage/usr/bin" "$stage/nm"

# --- the signing key and the ID it gives -------------------------------------------------------
if [ -n "${FOUREYES_CRX_KEY:-}" ]; then
	key=$FOUREYES_CRX_KEY
	[ -r "$key" ] || die "FOUREYES_CRX_KEY=$key cannot be read"
	# The key signs what every laptop installs: refuse one other users of this machine can read.
	mode=$(stat -c %a "$key")
	(( (8#$mode & 8#077) == 0 )) || die "FOUREYES_CRX_KEY=$key has mode $mode: other users can read the signing key (chmod 600 it)"
	key_note="signed with FOUREYES_CRX_KEY"
else
	key=$tmp/throwaway-key.pem
	openssl genrsa -out "$key" 2048 2>/dev/null
	key_note="signed with a THROWAWAY key (FOUREYES_CRX_KEY unset): a test build, its ID changes every build"
	echo "build: FOUREYES_CRX_KEY is unset: signing with a throwaway key, for tests only" >&2
fi
pub=$(openssl pkey -in "$key" -pubout -outform DER 2>/dev/null | base64 -w0) || die "$key is not a PEM private key"
[ -n "$pub" ] || die "$key is not a PEM private key"
id=$(node installer/crx.mjs key-id "$pub")
ext_version=$(node -p 'require("./extension/unpacked/manifest.json").version')

# --- the extension: a copy whose manifest "key" is the signing key's, so the ID a browser derives
# from the manifest equals the ID the CRX is signed for ---------------------------------------
ext=$tmp/foureyes
cp -r extension/unpacked "$ext"
rm -rf "$ext/_metadata"
node -e '
	const fs = require("fs"); const [file, key] = process.argv.slice(1);
	const m = JSON.parse(fs.readFileSync(file, "utf8")); m.key = key;
	fs.writeFileSync(file, JSON.stringify(m, null, 2) + "\n");' "$ext/manifest.json" "$pub"
mkdir -m 700 "$tmp/pack-home" "$tmp/pack-profile"
HOME=$tmp/pack-home "$chromium" --headless=new --no-sandbox --disable-gpu --user-data-dir="$tmp/pack-profile" \
	--pack-extension="$ext" --pack-extension-key="$key" >"$tmp/pack.log" 2>&1 || { cat "$tmp/pack.log" >&2; die "chromium --pack-extension failed"; }
[ -f "$tmp/foureyes.crx" ] || { cat "$tmp/pack.log" >&2; die "chromium --pack-extension wrote no CRX"; }
cp "$tmp/foureyes.crx" "$out/foureyes.crx"
crx_id=$(node installer/crx.mjs id "$out/foureyes.crx")
[ "$crx_id" = "$id" ] || die "the CRX is signed for $crx_id, the key gives $id"

cat >"$out/update.xml" <<XML
<?xml version='1.0' encoding='UTF-8'?>
<gupdate xmlns='http://www.google.com/update2/response' protocol='2.0'>
  <app appid='$id'>
    <updatecheck codebase='${update_url}foureyes.crx' version='$ext_version' />
  </app>
</gupdate>
XML

# Firefox: the unpacked extension as it is in the repository (Firefox ignores "key"; its ID is
# browser_specific_settings.gecko.id).
firefox_id=$(node -p 'require("./extension/unpacked/manifest.json").browser_specific_settings.gecko.id')
(cd "$ext" && node -e '
	const fs = require("fs"); const m = JSON.parse(fs.readFileSync("manifest.json", "utf8")); delete m.key;
	fs.writeFileSync("manifest.json", JSON.stringify(m, null, 2) + "\n");' && zip -q -X -r -9 "$root/$out/foureyes.xpi" . -x '.*')

# --- the daemon --------------------------------------------------------------------------------
case $(go env GOARCH) in
	amd64) arch=amd64 ;;
	arm64) arch=arm64 ;;
	*) die "unsupported architecture $(go env GOARCH)" ;;
esac
nice go build -trimpath -ldflags "-s -w -X main.version=$version-$release" -o "$stage/usr/bin/foureyes" ./daemon/cmd/foureyes
bin=$stage/usr/bin/foureyes
# The host manifests come from the daemon's own code, pinned to this build's IDs.
"$bin" extension manifest --browser chromium --binary /usr/bin/foureyes "$id" >"$stage/nm/chromium.json"
"$bin" extension manifest --browser firefox --binary /usr/bin/foureyes "$firefox_id" >"$stage/nm/firefox.json"
# The managed policy as installed: no approver named yet (see installer/README.md), this build's
# extension ID pinned. It must pass the managed check, or the package would ship a policy that
# refuses everything for the wrong reason.
sed "s/EXTENSION-ID/$id/" installer/linux/policy.json >"$stage/policy.json"
"$bin" policy check --managed "$stage/policy.json" >/dev/null || die "installer/linux/policy.json is not a valid managed policy"
"$bin" policy check --managed installer/linux/policy.example.json >/dev/null || die "installer/linux/policy.example.json is not a valid managed policy"

# --- browser policies --------------------------------------------------------------------------
mastodon_args=()
for h in ${FOUREYES_MASTODON:-}; do mastodon_args+=(--mastodon "$h"); done
node installer/browser-policies/generate.mjs --out "$stage/policies" --id "$id" --firefox-id "$firefox_id" --port "${FOUREYES_DAEMON_PORT:-47321}" \
	--update-url "${update_url}update.xml" "${mastodon_args[@]}" >/dev/null
cp -r "$stage/policies" "$out/browser-policies"
cp "$out/foureyes.xpi" "$stage/foureyes.xpi"

# --- packages ----------------------------------------------------------------------------------
nfpm=$(go env GOPATH)/bin/nfpm
# The pinned version, read from the binary's build information.
if ! go version -m "$nfpm" 2>/dev/null | grep -qE 'mod\s+github.com/goreleaser/nfpm/v2\s+v2\.45\.2\s'; then
	echo "build: go install $NFPM" >&2
	nice go install "$NFPM"
fi
for cfg in installer/nfpm.yaml installer/nfpm-browser-policies.yaml; do
	# nfpm expands the environment in a few fields only: fill in the variables here.
	sed -e "s|\${STAGE}|$stage|g" -e "s|\${FOUREYES_VERSION}|$version|g" \
		-e "s|\${FOUREYES_RELEASE}|$release|g" -e "s|\${FOUREYES_ARCH}|$arch|g" "$cfg" >"$tmp/nfpm.yaml"
	for p in deb rpm; do
		"$nfpm" package --config "$tmp/nfpm.yaml" --packager "$p" --target "$out/" >"$tmp/nfpm.log" 2>&1 || { cat "$tmp/nfpm.log" >&2; die "nfpm $p ($cfg) failed"; }
	done
done

cat >"$out/BUILD-INFO.txt" <<INFO
foureyes $version-$release
extension ID (Chromium, Chrome, Edge): $id ($key_note)
Firefox add-on ID: $firefox_id
extension version: $ext_version
update manifest: ${update_url}update.xml (serve update.xml and foureyes.crx there)
INFO

# --- the other platforms -----------------------------------------------------------------------
for platform in windows macos; do
	other=installer/$platform/build.sh
	if [[ " ${FOUREYES_PLATFORMS:-linux windows macos} " == *" $platform "* ]] && [ -f "$other" ]; then
		echo "build: $other"
		bash "$other"
	fi
done

echo "build: artifacts in $out:"
(cd "$out" && ls -l --time-style=+ | awk 'NR>1 {printf "  %-50s %8d bytes\n", $NF, $5}')
cat "$out/BUILD-INFO.txt"
