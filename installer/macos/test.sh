#!/usr/bin/env bash
# Checks the macOS pieces build.sh wrote to artifacts/packages/macos/, reading them as launchd
# and the profile installer would (python3 plistlib):
#   - the LaunchAgent: Label, the installed program with `daemon`, RunAtLoad, restarted after a
#     crash, only in the user's GUI session;
#   - service mode's LaunchDaemon: `service` as _foureyes with the folders the program's macOS
#     defaults name, installed disabled; the postinstall (run with stand-ins for dscl, launchctl
#     and the file commands) makes the hidden user with a free id, and its folders;
#   - the configuration profile: a System-scope profile whose payloads force-install the pinned
#     extension in Chrome, Chromium and Edge, close Incognito/InPrivate and Guest windows, set the
#     extension's managed storage (daemon_port) in <browser>.extensions.<ID>, and install, lock
#     and configure the Firefox add-on; UUIDs and identifiers unique;
#   - the host manifests name the program the LaunchAgent starts and allow only the pinned IDs;
#   - the app's Info.plist hides the Dock icon; the pkg scripts parse (they run only on a Mac);
#   - build.sh refuses a wrong extension ID or URL.
# Run build.sh first. Exits non-zero on the first failure; with CI=true a missing tool fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
out=${FOUREYES_PACKAGES_DIR:-$repo/artifacts/packages}/macos
chrome_id=${FOUREYES_EXTENSION_ID:-khjidfhbpkegedbcgmbanfcppfhpdnkp}
firefox_id=${FOUREYES_FIREFOX_ID:-foureyes@foureyes.eu}

fail() { echo "FAIL macos: $*" >&2; exit 1; }
ok() { echo "ok   macos: $*"; }
missing=()
for t in python3 go; do command -v "$t" >/dev/null || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; } && fail "missing tools: ${missing[*]}"
  echo "SKIP macos: missing tools: ${missing[*]}"
  [ -z "${FOUREYES_SKIPS:-}" ] || echo "macos: missing tools: ${missing[*]}" >>"$FOUREYES_SKIPS"
  exit 0
fi
[ -f "$out/foureyes.mobileconfig" ] || fail "no $out/foureyes.mobileconfig: run installer/macos/build.sh"

python3 - "$out" "$chrome_id" "$firefox_id" <<'PY' || fail "macOS files (above)"
import json, os, plistlib, re, sys
out, chrome_id, firefox_id = sys.argv[1:4]
errors = []
def want(cond, msg):
    if not cond:
        errors.append(msg)
def load(name):
    with open(os.path.join(out, name), "rb") as f:
        return plistlib.load(f)

agent = load("eu.foureyes.daemon.plist")
prog = "/Applications/foureyes.app/Contents/MacOS/foureyes"
want(agent.get("Label") == "eu.foureyes.daemon", f"LaunchAgent Label {agent.get('Label')!r}")
want(agent.get("ProgramArguments") == [prog, "daemon"], f"LaunchAgent ProgramArguments {agent.get('ProgramArguments')!r}")
want(agent.get("RunAtLoad") is True, "LaunchAgent does not run at login (RunAtLoad)")
want(agent.get("KeepAlive") == {"SuccessfulExit": False}, "LaunchAgent is not restarted after a crash (KeepAlive SuccessfulExit false)")
want(agent.get("LimitLoadToSessionType") == "Aqua", "LaunchAgent is not limited to the GUI session")

info = load("Info.plist")
want(info.get("LSUIElement") is True, "foureyes.app would show a Dock icon")
want(info.get("CFBundleExecutable") == "foureyes" and re.fullmatch(r"\d+\.\d+\.\d+", str(info.get("CFBundleVersion"))), "Info.plist executable or version")

for kind in ("chromium", "firefox"):
    with open(os.path.join(out, f"org.foureyes.host.{kind}.json"), encoding="utf-8") as f:
        m = json.load(f)
    want(m.get("name") == "org.foureyes.host" and m.get("type") == "stdio", f"{kind} manifest name/type")
    want(m.get("path") == prog, f"{kind} manifest path {m.get('path')!r} is not the program the LaunchAgent starts")
    if kind == "chromium":
        want(m.get("allowed_origins") == [f"chrome-extension://{chrome_id}/"] and "allowed_extensions" not in m, f"chromium manifest allows {m}")
    else:
        want(m.get("allowed_extensions") == [firefox_id] and "allowed_origins" not in m, f"firefox manifest allows {m}")

p = load("foureyes.mobileconfig")
want(p.get("PayloadType") == "Configuration" and p.get("PayloadScope") == "System", "profile is not a System-scope configuration profile")
content = p.get("PayloadContent", [])
uuid_re = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")
uuids = [p.get("PayloadUUID")] + [c.get("PayloadUUID") for c in content]
ids = [p.get("PayloadIdentifier")] + [c.get("PayloadIdentifier") for c in content]
want(all(isinstance(u, str) and uuid_re.fullmatch(u) for u in uuids) and len(set(uuids)) == len(uuids), "PayloadUUIDs missing, malformed or repeated")
want(all(ids) and len(set(ids)) == len(ids), "PayloadIdentifiers missing or repeated")
want(all(c.get("PayloadVersion") == 1 for c in content), "a payload lacks PayloadVersion 1")
by_type = {c.get("PayloadType"): c for c in content}
for domain, private in [("com.google.Chrome", "IncognitoModeAvailability"), ("org.chromium.Chromium", "IncognitoModeAvailability"),
                        ("com.microsoft.Edge", "InPrivateModeAvailability")]:
    c = by_type.get(domain)
    want(c is not None, f"no {domain} payload")
    if not c:
        continue
    fl = c.get("ExtensionInstallForcelist", [])
    want(len(fl) == 1 and re.fullmatch(re.escape(chrome_id) + r";https://\S+", fl[0]), f"{domain} forcelist {fl!r} does not name {chrome_id} with an https update URL")
    want(c.get(private) == 1, f"{domain} {private} is not 1 (private windows closed)")
    want(c.get("BrowserGuestModeEnabled") is False, f"{domain} allows Guest windows")
    want(c.get("DeveloperToolsAvailability") == 0, f"{domain} DeveloperToolsAvailability is not 0")
    want(c.get("BlockExternalExtensions") is True, f"{domain} does not block external extensions")
    ms = by_type.get(f"{domain}.extensions.{chrome_id}")
    want(ms is not None and ms.get("daemon_port") == 47321, f"{domain}.extensions.{chrome_id} lacks daemon_port 47321 (managed storage)")
ff = by_type.get("org.mozilla.firefox", {})
want(ff.get("EnterprisePoliciesEnabled") is True, "Firefox payload lacks EnterprisePoliciesEnabled")
want(ff.get("Extensions", {}).get("Locked") == [firefox_id], "Firefox payload does not lock the add-on")
inst = ff.get("Extensions", {}).get("Install", [])
want(len(inst) == 1 and inst[0].startswith("https://"), "Firefox payload has no https install URL")
want(ff.get("DisablePrivateBrowsing") is True, "Firefox private windows stay open")
want(ff.get("3rdparty", {}).get("Extensions", {}).get(firefox_id, {}).get("daemon_port") == 47321, "Firefox managed storage lacks daemon_port")
if errors:
    print("\n".join(errors), file=sys.stderr); sys.exit(1)
PY
ok "LaunchAgent, Info.plist, host manifests and profile parse and carry the pinned IDs, managed storage and closed private windows"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The policy in the README's MDM script must pass the check that script runs.
CGO_ENABLED=0 go build -tags headless -o "$tmp/foureyes" ./daemon/cmd/foureyes || fail "go build"
sed -n "/<<'JSON'/,/^ *JSON\$/p" "$here/README.md" | sed '1d;$d' > "$tmp/readme-policy.json"
[ -s "$tmp/readme-policy.json" ] || fail "no policy found in README.md's MDM script"
FOUREYES_HOME="$tmp/home" "$tmp/foureyes" policy check --managed "$tmp/readme-policy.json" >/dev/null \
  || fail "the README's example policy fails foureyes policy check --managed"
ok "the README's example policy passes policy check --managed"

# Service mode's LaunchDaemon: the program as _foureyes with the folders the Go defaults for macOS
# name (daemon/cmd/foureyes/service_paths_darwin.go), installed disabled, restarted after a crash.
python3 - "$out/eu.foureyes.service.plist" "$repo/daemon/cmd/foureyes/service_paths_darwin.go" <<'PY' || fail "LaunchDaemon (above)"
import plistlib, re, sys
with open(sys.argv[1], "rb") as f:
    d = plistlib.load(f)
src = open(sys.argv[2], encoding="utf-8").read()
state = re.search(r'defaultServiceState\s*=\s*"([^"]+)"', src).group(1)
sock = re.search(r'defaultServiceSocket\s*=\s*"([^"]+)"', src).group(1)
prog = "/Applications/foureyes.app/Contents/MacOS/foureyes"
errors = []
def want(cond, msg):
    if not cond:
        errors.append(msg)
want(d.get("Label") == "eu.foureyes.service", f"Label {d.get('Label')!r}")
want(d.get("ProgramArguments") == [prog, "service", "--state-dir", state, "--socket", sock], f"ProgramArguments {d.get('ProgramArguments')!r}, the Go defaults are {state}, {sock}")
want(d.get("UserName") == "_foureyes" and d.get("GroupName") == "_foureyes", f"runs as {d.get('UserName')!r}:{d.get('GroupName')!r}, not _foureyes")
want(d.get("Disabled") is True, "not installed disabled")
want(d.get("RunAtLoad") is True and d.get("KeepAlive") == {"SuccessfulExit": False}, "not started at load and restarted after a crash")
want(d.get("Umask") == 0o077, f"Umask {d.get('Umask')!r} is not 0077")
want(str(d.get("StandardErrorPath", "")).startswith("/var/log/foureyes/"), "its log is not in /var/log/foureyes")
want(not any(k in d for k in ("LimitLoadToSessionType", "EnvironmentVariables", "inetdCompatibility")), "a key that would change who runs it or what it reads")
want(state.startswith("/var/db/") and sock.startswith("/var/db/") and not sock.startswith(state + "/"), f"state {state} and socket {sock}: both must be in /var/db, the socket outside the 0700 state folder")
if errors:
    print("\n".join(errors), file=sys.stderr); sys.exit(1)
PY
ok "LaunchDaemon: foureyes service as _foureyes, disabled, the darwin defaults' folders"

# The postinstall, run with stand-ins for dscl, launchctl and the commands that would touch this
# computer: it makes _foureyes with the highest free id below 481 (ids 480 and 479 are taken
# here), hidden, without a shell, and the folders with their owners and modes.
stub=$tmp/stub
mkdir -p "$stub"
log=$tmp/calls
for c in launchctl chown chmod mkdir ln install stat find; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$c" "$log" >"$stub/$c"
done
cat >"$stub/dscl" <<STUB
#!/bin/sh
echo "dscl \$*" >>"$log"
case "\$*" in
  ". -read /Users/_foureyes UniqueID") exit 56 ;;
  ". -search /Users UniqueID 480") echo "someone UniqueID = (480)" ;;
  ". -search /Groups PrimaryGroupID 479") echo "somegroup PrimaryGroupID = (479)" ;;
esac
exit 0
STUB
echo 'echo 0' >>"$stub/stat" # nobody at the screen
echo '[ "$1" != print ] || exit 113 # service mode is off: nothing loaded' >>"$stub/launchctl"
chmod +x "$stub"/*
PATH="$stub:$PATH" sh "$here/scripts/postinstall" 2>"$tmp/err" || fail "postinstall failed with the stand-ins: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || fail "postinstall complained: $(cat "$tmp/err")"
for want in "dscl . -create /Users/_foureyes UniqueID 478" "dscl . -create /Users/_foureyes PrimaryGroupID 478" \
            "dscl . -create /Groups/_foureyes PrimaryGroupID 478" "dscl . -create /Users/_foureyes UserShell /usr/bin/false" \
            "dscl . -create /Users/_foureyes IsHidden 1" "dscl . -create /Users/_foureyes Password *" \
            "install -d -o _foureyes -g _foureyes -m 700 /var/db/foureyes" \
            "install -d -o _foureyes -g _foureyes -m 755 /var/db/foureyes-socket" \
            "chown root:wheel /Library/LaunchDaemons/eu.foureyes.service.plist"; do
  grep -qxF -- "$want" "$log" || fail "postinstall did not run \"$want\": $(cat "$log")"
done
! grep -q "launchctl bootstrap system\|launchctl enable" "$log" || fail "postinstall turns service mode on; it must stay off until IT turns it on"
# A second run (an upgrade) finds the user and makes no second one.
: >"$log"
printf '#!/bin/sh\necho "dscl $*" >>"%s"\n' "$log" >"$stub/dscl"
PATH="$stub:$PATH" sh "$here/scripts/postinstall" || fail "postinstall (upgrade) failed"
! grep -q "dscl . -create" "$log" || fail "postinstall made _foureyes again although it exists"
! grep -q "kickstart -k system/eu.foureyes.service" "$log" || fail "postinstall restarted a service that is not on"
# An upgrade where service mode is on: the service restarts on the new program and the staff's
# LaunchAgent is taken out again (here a copy stands for /Library/LaunchAgents).
: >"$log"
printf '#!/bin/sh\necho "launchctl $*" >>"%s"\ncase "$1 $2" in "print system/eu.foureyes.service") exit 0 ;; esac\nexit 0\n' "$log" >"$stub/launchctl"
printf '#!/bin/sh\necho 501\n' >"$stub/stat" # someone at the screen
printf '#!/bin/sh\necho "rm $*" >>"%s"\n' "$log" >"$stub/rm"
chmod +x "$stub"/*
PATH="$stub:$PATH" sh "$here/scripts/postinstall" || fail "postinstall (upgrade in service mode) failed"
grep -qxF "launchctl kickstart -k system/eu.foureyes.service" "$log" || fail "postinstall did not restart the running service: $(cat "$log")"
grep -qxF "rm -f /Library/LaunchAgents/eu.foureyes.daemon.plist" "$log" || fail "postinstall left the staff's LaunchAgent in service mode: $(cat "$log")"
! grep -q "gui/501" "$log" || fail "postinstall started the tray of the user at the screen in service mode: $(cat "$log")"
ok "postinstall makes the hidden user _foureyes (a free id), its folders, and leaves service mode off; an upgrade in service mode restarts it and keeps the LaunchAgent out"
grep -qF 'install -m 644 "$mac/eu.foureyes.service.plist" "$root/Library/LaunchDaemons/"' "$here/build-pkg.sh" || fail "build-pkg.sh does not install the LaunchDaemon"
grep -qF 'launchctl bootout system/eu.foureyes.service' "$here/uninstall.sh" || fail "uninstall.sh does not stop the service"

for s in "$here/build-pkg.sh"; do bash -n "$s" || fail "$s does not parse"; done
for s in "$here/scripts/preinstall" "$here/scripts/postinstall" "$here/uninstall.sh"; do
  sh -n "$s" || fail "$s does not parse"
  [ -x "$s" ] || fail "$s is not executable (pkgbuild keeps the mode)"
done
grep -qF 'app=$root/Applications/foureyes.app' "$here/build-pkg.sh" || fail "build-pkg.sh no longer installs /Applications/foureyes.app, which the LaunchAgent starts"
[ -x "$out/uninstall.sh" ] || fail "uninstall.sh is not in $out"
ok "pkg scripts parse (pkgbuild itself runs only on macOS)"

refuses() {
  local want=$1; shift
  if env "$@" FOUREYES_PACKAGES_DIR="$tmp/never" bash "$here/build.sh" >"$tmp/refusal" 2>&1; then fail "build.sh accepted $*"; fi
  grep -qF -- "$want" "$tmp/refusal" || fail "build.sh refused $* without naming it: $(cat "$tmp/refusal")"
  [ ! -e "$tmp/never" ] || fail "build.sh wrote output although it refused $*"
}
refuses FOUREYES_EXTENSION_ID FOUREYES_EXTENSION_ID=KHJIDFHBPKEGEDBCGMBANFCPPFHPDNKP
refuses FOUREYES_UPDATE_URL 'FOUREYES_UPDATE_URL=https://example.org/u.xml</string>'
refuses FOUREYES_FIREFOX_ID 'FOUREYES_FIREFOX_ID=a b'
ok "build.sh refuses a wrong extension ID, add-on ID or URL"
echo "macos: all checks passed"
