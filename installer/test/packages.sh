#!/usr/bin/env bash
# Proof that the Linux packages do what installer/README.md says, on this machine, as root (CI):
#
#   1. builds twice from a clean clone of HEAD (release 1 and 2) with one signing key, the update
#      URL on loopback, and once without a key (a throwaway one); a signing key other users can
#      read is refused; the Linux packages only (FOUREYES_PLATFORMS=linux);
#   2. checks the artefacts: rpm -qlp lists the files, the CRX's signed ID is the ID the browser
#      policies, update.xml and the native-messaging manifests pin, every JSON parses, and the
#      committed drop-in policies are the generator's output;
#   3. installs release 1 with dpkg, edits /etc/foureyes/policy.json as IT would, upgrades to
#      release 2 (the edit stays, without a question), runs the forced install
#      end to end (installer/test/forced-install.mjs) against the installed files, and purges:
#      the file lists of /etc, /usr and /opt before and after must be the same.
#
# It installs packages and browser policies for the whole machine, so it refuses to run where
# foureyes is already installed, takes /tmp/foureyes-e2e.lock (other browser tests must not see
# the policies), and purges on every exit. Figures (sizes, install time) go to
# artifacts/packages-figures.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

fail() { echo "packages: FAIL: $*" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
	# Without root nothing can be installed: a skip on a developer's machine, a failure in CI.
	why="installer/test/packages.sh needs root (it installs the packages with dpkg)"
	if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then fail "$why; with CI=true that fails the run"; fi
	echo "SKIP $why"
	[ -z "${FOUREYES_SKIPS:-}" ] || echo "packages: $why" >>"$FOUREYES_SKIPS"
	exit 0
fi
for tool in dpkg rpm git node go flock; do
	command -v "$tool" >/dev/null || fail "$tool is missing (bash .ci/deps.sh test)"
done
[ -d extension/node_modules/playwright-core ] || fail "extension/node_modules is missing: npm --prefix extension ci"

if [ -z "${FOUREYES_PACKAGES_LOCKED:-}" ]; then
	exec env FOUREYES_PACKAGES_LOCKED=1 flock /tmp/foureyes-e2e.lock bash "$0" "$@"
fi

if dpkg-query -W -f='${Status}' foureyes 2>/dev/null | grep -q installed || [ -e /etc/foureyes ]; then
	fail "foureyes is already installed on this machine (or /etc/foureyes exists): this test installs and purges it, so it runs only where it is not"
fi

tmp=$(mktemp -d)
installed=
cleanup() {
	if [ -n "$installed" ]; then
		dpkg --purge foureyes-browser-policies foureyes >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p artifacts
figures=artifacts/packages-figures.txt
: >"$figures"

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
update_port=$(free_port)
bridge_port=$(free_port)

# --- 1. build twice from a clean checkout -----------------------------------------------------
git clone -q --no-hardlinks "$root" "$tmp/src"
echo "packages: building $(git -C "$tmp/src" rev-parse --short HEAD) from a clean clone (uncommitted changes are not in it)"
# The organisation signs every release with its own key (FOUREYES_CRX_KEY): a test key here.
key=$tmp/signing-key.pem
openssl genrsa -out "$key" 2048 2>/dev/null
chmod 644 "$key"
if (cd "$tmp/src" && FOUREYES_PLATFORMS=linux FOUREYES_CRX_KEY=$key bash installer/build.sh >"$tmp/build0.log" 2>&1); then
	fail "installer/build.sh accepted a signing key other users can read"
fi
grep -q "other users can read the signing key" "$tmp/build0.log" || { cat "$tmp/build0.log"; fail "installer/build.sh did not say why it refused a readable key"; }
chmod 600 "$key"
for rel in 1 2; do
	(cd "$tmp/src" && FOUREYES_PLATFORMS=linux FOUREYES_CRX_KEY=$key FOUREYES_RELEASE=$rel FOUREYES_UPDATE_URL="http://127.0.0.1:$update_port/" \
		FOUREYES_MASTODON=social.example FOUREYES_DAEMON_PORT=$bridge_port bash installer/build.sh >"$tmp/build$rel.log" 2>&1) ||
		{ cat "$tmp/build$rel.log"; fail "installer/build.sh (release $rel) failed"; }
	mv "$tmp/src/artifacts/packages" "$tmp/b$rel"
done
b1=$tmp/b1 b2=$tmp/b2
main1=$(ls "$b1"/foureyes_*.deb) main2=$(ls "$b2"/foureyes_*.deb)
pol1=$(ls "$b1"/foureyes-browser-policies_*.deb) pol2=$(ls "$b2"/foureyes-browser-policies_*.deb)
id1=$(node installer/crx.mjs id "$b1/foureyes.crx") id2=$(node installer/crx.mjs id "$b2/foureyes.crx")
key_id=$(node installer/crx.mjs key-id "$(openssl pkey -in "$key" -pubout -outform DER | base64 -w0)")
[ "$id1" = "$key_id" ] && [ "$id2" = "$key_id" ] || fail "the CRXs are signed for $id1 and $id2, the key gives $key_id"
echo "packages: both releases signed for $id2, the ID of FOUREYES_CRX_KEY"

# Without FOUREYES_CRX_KEY (a plain `make packages`) the build signs with a throwaway key: the ID
# is then that key's, and still one ID everywhere.
(cd "$tmp/src" && FOUREYES_PLATFORMS=linux bash installer/build.sh >"$tmp/build-t.log" 2>&1) || { cat "$tmp/build-t.log"; fail "installer/build.sh without FOUREYES_CRX_KEY failed"; }
bt=$tmp/src/artifacts/packages
idt=$(node installer/crx.mjs id "$bt/foureyes.crx") || fail "the throwaway build's CRX: signed ID and manifest key disagree"
grep -q "extension ID (Chromium, Chrome, Edge): $idt (signed with a THROWAWAY key" "$bt/BUILD-INFO.txt" || fail "BUILD-INFO.txt of a build without FOUREYES_CRX_KEY does not say the key was a throwaway one"
grep -q "appid='$idt'" "$bt/update.xml" || fail "the throwaway build's update.xml does not name $idt"
node -e 'const p = JSON.parse(require("fs").readFileSync(process.argv[1])); if (Object.keys(p.ExtensionSettings).join() !== process.argv[2]) process.exit(1)' \
	"$bt/browser-policies/chromium/foureyes.json" "$idt" || fail "the throwaway build's Chromium policy does not pin $idt"
echo "packages: without FOUREYES_CRX_KEY the build signs with a throwaway key; its CRX, update.xml and policies pin that key's ID $idt"

# --- 2. the artefacts ---------------------------------------------------------------------------
for b in "$b1" "$b2"; do
	id=$(node installer/crx.mjs id "$b/foureyes.crx")
	grep -q "extension ID (Chromium, Chrome, Edge): $id " "$b/BUILD-INFO.txt" || fail "BUILD-INFO.txt does not name the CRX's ID $id"
	grep -q "appid='$id'" "$b/update.xml" || fail "update.xml does not name $id"
	grep -q "version='$(node installer/crx.mjs version "$b/foureyes.crx")'" "$b/update.xml" || fail "update.xml's version is not the CRX's"
	grep -q "codebase='http://127.0.0.1:$update_port/foureyes.crx'" "$b/update.xml" || fail "update.xml's codebase is not FOUREYES_UPDATE_URL/foureyes.crx"
done
# Every JSON the build wrote parses, and each browser policy pins the CRX's ID.
node - "$b2" "$id2" "$update_port" "$bridge_port" <<'JS' || fail "browser policies"
const fs = require('fs'), path = require('path');
const [dir, id, port, bridge] = process.argv.slice(2);
const all = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? all(path.join(d, e.name)) : [path.join(d, e.name)]);
const files = all(path.join(dir, 'browser-policies')).filter((f) => f.endsWith('.json'));
if (files.length !== 4) throw new Error(`want 4 policy files, got ${files}`);
for (const f of files) {
  const p = JSON.parse(fs.readFileSync(f, 'utf8'));
  if (f.includes('firefox')) {
    const e = p.policies.ExtensionSettings['foureyes@foureyes.eu'];
    if (e.installation_mode !== 'force_installed' || e.install_url !== 'file:///usr/share/foureyes/foureyes.xpi') throw new Error(`${f}: ${JSON.stringify(e)}`);
    if (p.policies['3rdparty'].Extensions['foureyes@foureyes.eu'].daemon_port !== Number(bridge)) throw new Error(`${f}: daemon_port`);
  } else {
    const ids = Object.keys(p.ExtensionSettings);
    if (ids.join() !== id || Object.keys(p['3rdparty'].extensions).join() !== id) throw new Error(`${f} pins ${ids}, the CRX is ${id}`);
    const e = p.ExtensionSettings[id];
    if (e.installation_mode !== 'force_installed' || e.update_url !== `http://127.0.0.1:${port}/update.xml`) throw new Error(`${f}: ${JSON.stringify(e)}`);
    const m = p['3rdparty'].extensions[id];
    if (m.daemon_port !== Number(bridge) || m.mastodon_instances.join() !== 'social.example') throw new Error(`${f}: managed ${JSON.stringify(m)}`);
  }
  console.log(`packages: ${path.relative(dir, f)} parses and pins the CRX's ID`);
}
JS
# The drop-in files in the repository are the generator's output with its defaults.
node installer/browser-policies/generate.mjs --out "$tmp/defaults" >/dev/null
for f in chromium/foureyes.json chrome/foureyes.json edge/foureyes.json firefox/policies.json; do
	cmp -s "$tmp/defaults/$f" "installer/browser-policies/$f" || fail "installer/browser-policies/$f differs from generate.mjs's output: run node installer/browser-policies/generate.mjs --out installer/browser-policies"
	node -e 'JSON.parse(require("fs").readFileSync(process.argv[1]))' "installer/browser-policies/$f" || fail "installer/browser-policies/$f is not JSON"
done
# The rpm lists what the deb holds.
want_main="/etc/chromium/native-messaging-hosts/org.foureyes.host.json
/etc/foureyes/policy.json
/etc/opt/chrome/native-messaging-hosts/org.foureyes.host.json
/etc/opt/edge/native-messaging-hosts/org.foureyes.host.json
/etc/xdg/autostart/foureyes-autostart.desktop
/etc/xdg/autostart/foureyes-tray-autostart.desktop
/usr/bin/foureyes
/usr/lib/mozilla/native-messaging-hosts/org.foureyes.host.json
/usr/lib/systemd/system/foureyes.service
/usr/lib/systemd/user/foureyes.service
/usr/share/doc/foureyes/README.md
/usr/share/doc/foureyes/policy.example.json
/usr/share/doc/foureyes/policy.schema.json"
got=$(rpm -qlp "$b2"/foureyes-[0-9]*.rpm 2>/dev/null | sort)
[ "$got" = "$want_main" ] || { diff <(echo "$want_main") <(echo "$got"); fail "rpm -qlp foureyes lists other files"; }
rpm -qp --configfiles "$b2"/foureyes-[0-9]*.rpm 2>/dev/null | grep -x /etc/foureyes/policy.json >/dev/null || fail "the rpm does not mark /etc/foureyes/policy.json as a config file"
rpm -qlp "$b2"/foureyes-browser-policies-*.rpm 2>/dev/null | grep -x /etc/chromium/policies/managed/foureyes.json >/dev/null || fail "rpm -qlp foureyes-browser-policies has no Chromium policy"
got_deb=$(dpkg-deb -c "$main2" | awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $6}' | sort)
[ "$got_deb" = "$want_main" ] || { diff <(echo "$want_main") <(echo "$got_deb"); fail "the .deb holds other files"; }
echo "packages: rpm -qlp and dpkg-deb -c list the same $(echo "$want_main" | wc -l) files"

# --- 3. install, upgrade, forced install, purge ---------------------------------------------------
snapshot() { find /etc /usr /opt -xdev 2>/dev/null | grep -E 'foureyes|native-messaging-hosts|/policies/|/xdg/autostart|systemd/user' | sort; }
snapshot >"$tmp/before.txt"
# dpkg takes ownership of an existing empty directory a package installs into, and removes it at
# the purge when it is empty again (standard dpkg behaviour, e.g. /etc/chromium/policies/managed
# left empty by an earlier test): such directories are not counted as left behind or removed.
emptydirs() { while read -r d; do if [ -d "$d" ] && [ -z "$(ls -A "$d" 2>/dev/null)" ]; then echo "$d"; fi; done <"$1"; }
emptydirs "$tmp/before.txt" >"$tmp/empty-before.txt"
installed=1
t0=$(date +%s%N)
DEBIAN_FRONTEND=noninteractive dpkg -i "$main1" </dev/null >"$tmp/dpkg1.log" 2>&1 || { cat "$tmp/dpkg1.log"; fail "dpkg -i release 1"; }
t1=$(date +%s%N)
dpkg -i "$pol1" </dev/null >>"$tmp/dpkg1.log" 2>&1 || { cat "$tmp/dpkg1.log"; fail "dpkg -i foureyes-browser-policies release 1"; }
echo "packages: dpkg -i foureyes (release 1) took $(( (t1 - t0) / 1000000 )) ms"
/usr/bin/foureyes policy check --managed /etc/foureyes/policy.json >/dev/null || fail "the installed /etc/foureyes/policy.json is not a valid managed policy"
grep -q '"default_approvers": \[\]' /etc/foureyes/policy.json || fail "the installed policy names an approver: it must name none until IT edits it"
grep -q "chrome-extension://$id1/" /etc/chromium/native-messaging-hosts/org.foureyes.host.json || fail "the Chromium host manifest does not allow $id1"
grep -q '"foureyes@foureyes.eu"' /usr/lib/mozilla/native-messaging-hosts/org.foureyes.host.json || fail "the Firefox host manifest does not allow foureyes@foureyes.eu"
# Service mode: its OS user and unit are there, the unit is not enabled (user mode stays the
# default), systemd reads the unit without a complaint, and the sealing key is a credential
# only root can read, wired in by a drop-in.
getent passwd foureyes >/dev/null || fail "the package made no foureyes system user for service mode"
[ -e /etc/systemd/system/multi-user.target.wants/foureyes.service ] && fail "the package enabled service mode: it must stay off until IT enables it"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify /usr/lib/systemd/system/foureyes.service >"$tmp/verify.log" 2>&1 || { cat "$tmp/verify.log"; fail "systemd-analyze verify foureyes.service"; }
	if grep foureyes "$tmp/verify.log"; then fail "systemd-analyze verify complains about the installed foureyes.service"; fi
fi
if command -v systemd-creds >/dev/null; then
	cred=/etc/credstore.encrypted/foureyes-secrets.key
	[ "$(stat -c '%U %a' "$cred" 2>/dev/null)" = "root 600" ] || fail "$cred: $(stat -c '%U %a' "$cred" 2>&1), want root 600"
	[ "$(systemd-creds decrypt --name=secrets.key "$cred" - 2>/dev/null | wc -c)" = 32 ] || fail "$cred does not decrypt to a 32-byte key"
	grep -qx "LoadCredentialEncrypted=secrets.key:$cred" /etc/systemd/system/foureyes.service.d/credential.conf || fail "no drop-in passes $cred to foureyes.service"
fi
echo "packages: service mode installed and off: the foureyes user, the unit (verified), the sealing key as a credential"
# IT's edit: the approver, this test's ports, the organisation's extension ID.
cat >/etc/foureyes/policy.json <<JSON
{"version":1,"description":"edited by IT","default_approvers":["anna"],"extension_ids":["$id2"],
 "bridge_port":$bridge_port,"audit":{"syslog":false}}
JSON
cp /etc/foureyes/policy.json "$tmp/edited.json"
DEBIAN_FRONTEND=noninteractive dpkg -i "$main2" "$pol2" </dev/null >"$tmp/dpkg2.log" 2>&1 || { cat "$tmp/dpkg2.log"; fail "dpkg -i release 2 (upgrade)"; }
[ "$(dpkg-query -W -f='${Version}' foureyes)" = 0.1.0-2 ] || fail "after the upgrade foureyes is $(dpkg-query -W -f='${Version}' foureyes), want 0.1.0-2"
cmp -s /etc/foureyes/policy.json "$tmp/edited.json" || fail "the upgrade replaced IT's /etc/foureyes/policy.json"
/usr/bin/foureyes version | grep -q -- '-2' || fail "after the upgrade /usr/bin/foureyes says $(/usr/bin/foureyes version), want release 2"
echo "packages: upgraded to 0.1.0-2 without a question; IT's /etc/foureyes/policy.json kept"

# The autostart entry becomes a unit on systemd desktops, and Hidden=true (installer/README.md,
# for sites that enable the systemd unit instead) turns it off.
gen=/usr/lib/systemd/user-generators/systemd-xdg-autostart-generator
[ -x "$gen" ] || fail "$gen is missing (systemd)"
mkdir -p "$tmp/gen1" "$tmp/gen2" "$tmp/xdg/autostart"
XDG_CONFIG_DIRS=/etc/xdg XDG_CONFIG_HOME=$tmp/none "$gen" "$tmp/gen1" "$tmp/gen1" "$tmp/gen1" 2>/dev/null
grep -rlx 'ExecStart=:/usr/bin/foureyes daemon' "$tmp/gen1" >/dev/null || { grep -r . "$tmp/gen1" | head; fail "systemd makes no unit that starts the daemon from /etc/xdg/autostart/foureyes-autostart.desktop"; }
grep -rlx 'ExecStart=:/usr/bin/foureyes tray --if-service' "$tmp/gen1" >/dev/null || { grep -r . "$tmp/gen1" | head; fail "systemd makes no unit that starts the service-mode tray from /etc/xdg/autostart/foureyes-tray-autostart.desktop"; }
{ cat /etc/xdg/autostart/foureyes-autostart.desktop; echo Hidden=true; } >"$tmp/xdg/autostart/foureyes-autostart.desktop"
XDG_CONFIG_DIRS=$tmp/xdg XDG_CONFIG_HOME=$tmp/none "$gen" "$tmp/gen2" "$tmp/gen2" "$tmp/gen2" 2>/dev/null
if grep -rl foureyes "$tmp/gen2" >/dev/null; then fail "Hidden=true did not turn the autostart entry off"; fi
echo "packages: the autostart entry starts the daemon on systemd desktops; Hidden=true turns it off"

echo "packages: forced install end to end"
bash .ci/with-keyring.sh node installer/test/forced-install.mjs --dir "$b2" --id "$id2" --update-port "$update_port" 2>&1 |
	grep --line-buffered -vE '^dbus-daemon\[' || fail "the forced install end to end"
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "the forced install end to end"

dpkg --purge foureyes-browser-policies foureyes >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; fail "dpkg --purge"; }
installed=
snapshot >"$tmp/after.txt"
grep -vxF -f "$tmp/empty-before.txt" "$tmp/before.txt" >"$tmp/before-cmp.txt" || true
grep -vxF -f "$tmp/empty-before.txt" "$tmp/after.txt" >"$tmp/after-cmp.txt" || true
if ! diff "$tmp/before-cmp.txt" "$tmp/after-cmp.txt"; then
	fail "the purge left files behind (or removed others): diff above"
fi
dpkg-query -W foureyes >/dev/null 2>&1 && fail "dpkg still knows foureyes after the purge"
echo "packages: purged; /etc, /usr and /opt hold the same foureyes, policy, host-manifest and autostart files as before ($(wc -l <"$tmp/before.txt") paths)"

{
	echo "artefact sizes (bytes), release 2:"
	(cd "$b2" && for f in *.deb *.rpm foureyes.crx foureyes.xpi; do printf '  %-48s %9d\n' "$f" "$(stat -c %s "$f")"; done)
	echo "installed size (dpkg Installed-Size): $(dpkg-deb -f "$main2" Installed-Size) KiB"
	echo "dpkg -i foureyes (fresh install, release 1): $(( (t1 - t0) / 1000000 )) ms"
} | tee "$figures"
