#!/usr/bin/env bash
# Checks the Windows packages that build.sh wrote, by reading them back with the msitools:
#   - the MSI's tables: files, the Run key, the four native-messaging host keys, the custom
#     actions that check, lock and copy the managed policy, POLICYFILE a secure property, the
#     fixed UpgradeCode with its MajorUpgrade rows; the service of service mode registered
#     disabled and never started by the MSI (ServiceInstall, ServiceControl), its Event Log source,
#     and service mode kept across upgrades (SERVICEMODE read back from the registry: the tray at
#     sign-in and the Start menu entry service mode's tray, `foureyes service install --start`
#     run as LocalSystem);
#   - the extracted files: both programs are 64-bit Windows executables, foureyes.exe a console
#     program and foureyesw.exe a windowed one; the host manifests name the host and allow
#     exactly the pinned extension IDs;
#   - signing: a build signed with a throwaway certificate verifies against that certificate,
#     not against another one, and stops verifying once the MSI is changed;
#   - build.sh refuses bad input (a wrong extension ID, version, URL, half a signing setup);
#   - the .reg files: UTF-16LE with a byte-order mark and CRLF, regedit's format, the pinned ID.
# Run build.sh first. Exits non-zero on the first failure. With CI=true a missing tool fails;
# otherwise the test is skipped with a message.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
out=${FOUREYES_PACKAGES_DIR:-$repo/artifacts/packages}
chrome_id=${FOUREYES_EXTENSION_ID:-khjidfhbpkegedbcgmbanfcppfhpdnkp}
firefox_id=${FOUREYES_FIREFOX_ID:-foureyes@foureyes.eu}

fail() { echo "FAIL windows: $*" >&2; exit 1; }
ok() { echo "ok   windows: $*"; }

missing=()
for t in wixl msiinfo msiextract msibuild osslsigncode openssl python3 iconv go; do
  command -v "$t" >/dev/null || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
  { [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; } && fail "missing tools: ${missing[*]} (bash .ci/deps.sh test installs them)"
  echo "SKIP windows: missing tools: ${missing[*]} (apt-get install msitools wixl osslsigncode openssl python3)"
  [ -z "${FOUREYES_SKIPS:-}" ] || echo "windows: missing tools: ${missing[*]}" >>"$FOUREYES_SKIPS"
  exit 0
fi

shopt -s nullglob
msis=("$out"/foureyes-*-x64.msi)
[ ${#msis[@]} -eq 1 ] || fail "want exactly one $out/foureyes-*-x64.msi, found ${#msis[@]}: run installer/windows/build.sh (after removing old ones)"
msi=${msis[0]}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- tables ---
for t in File Registry Property CustomAction InstallExecuteSequence Directory Component Upgrade Shortcut ServiceInstall ServiceControl AppSearch RegLocator; do
  msiinfo export "$msi" "$t" > "$tmp/$t.idt" || fail "msiinfo export $t"
done
msiinfo suminfo "$msi" > "$tmp/suminfo" || fail "msiinfo suminfo"
python3 - "$tmp" <<'PY' || fail "MSI tables (above)"
import sys, os
d = sys.argv[1]
def table(name):
    lines = open(os.path.join(d, name + ".idt"), encoding="utf-8").read().split("\r\n" if "\r\n" in open(os.path.join(d, name + ".idt"), encoding="utf-8").read() else "\n")
    cols = lines[0].split("\t")
    return [dict(zip(cols, l.split("\t"))) for l in lines[3:] if l]
errors = []
def want(cond, msg):
    if not cond:
        errors.append(msg)

suminfo = open(os.path.join(d, "suminfo")).read()
want("x64;1033" in suminfo, "summary template is not x64;1033")

files = {r["File"]: r for r in table("File")}
comps = {r["Component"]: r for r in table("Component")}
for fid, name in [("FoureyesExe", "foureyes.exe"), ("FoureyeswExe", "foureyesw.exe"),
                  ("HostChromiumJson", "org.foureyes.host.chromium.json"), ("HostFirefoxJson", "org.foureyes.host.firefox.json")]:
    f = files.get(fid)
    want(f is not None and f["FileName"] == name, f"File table lacks {name}")
    if f:
        c = comps[f["Component_"]]
        want(c["Directory_"] == "INSTALLDIR", f"{name} not in INSTALLDIR")
        want(int(c["Attributes"]) & 256, f"{name}'s component is not 64-bit")

dirs = {r["Directory"]: r for r in table("Directory")}
want(dirs["INSTALLDIR"]["Directory_Parent"] == "ProgramFiles64Folder" and dirs["INSTALLDIR"]["DefaultDir"] == "foureyes",
     "INSTALLDIR is not ProgramFiles64Folder\\foureyes")
# policy.ManagedPath on Windows: %ProgramData%\foureyes\policy.json
want(dirs["POLICYDIR"]["Directory_Parent"] == "CommonAppDataFolder" and dirs["POLICYDIR"]["DefaultDir"] == "foureyes",
     "POLICYDIR is not CommonAppDataFolder\\foureyes")

reg = table("Registry")
def regval(key, name=""):
    rows = [r for r in reg if r["Root"] == "2" and r["Key"] == key and r["Name"] == name]
    return rows[0]["Value"] if len(rows) == 1 else None
want(regval(r"Software\foureyes", "Version") == "[ProductVersion]", "no HKLM\\Software\\foureyes Version value for detection rules")
want(regval(r"Software\Microsoft\Windows\CurrentVersion\Run", "foureyes") == '"[INSTALLDIR]foureyesw.exe" [TRAYARGS]',
     "HKLM Run value foureyes is not \"[INSTALLDIR]foureyesw.exe\" [TRAYARGS]")
for key, manifest in [(r"Software\Google\Chrome", "chromium"), (r"Software\Microsoft\Edge", "chromium"),
                      (r"Software\Chromium", "chromium"), (r"Software\Mozilla", "firefox")]:
    k = key + r"\NativeMessagingHosts\org.foureyes.host"
    want(regval(k) == f"[INSTALLDIR]org.foureyes.host.{manifest}.json", f"HKLM\\{k} does not point at the {manifest} manifest")

props = {r["Property"]: r["Value"] for r in table("Property")}
want(props.get("UpgradeCode") == "{D485CD4B-4AD7-4210-A1D2-6D8B64A86BB2}", "UpgradeCode changed: new versions would no longer replace old ones")
want("POLICYFILE" in props.get("SecureCustomProperties", "").split(";"), "POLICYFILE is not a secure property")
want(props.get("ALLUSERS") == "1", "not a per-machine install")
parts = props.get("ProductVersion", "").split(".")
want(len(parts) == 3 and all(p.isdigit() for p in parts), "ProductVersion is not major.minor.build")
ups = table("Upgrade")
want(any(u["UpgradeCode"] == props.get("UpgradeCode") and u["ActionProperty"] == "WIX_UPGRADE_DETECTED" for u in ups), "no MajorUpgrade row")
want(any(u["ActionProperty"] == "WIX_DOWNGRADE_DETECTED" for u in ups), "no downgrade guard")

cas = {r["Action"]: r for r in table("CustomAction")}
seq = {r["Action"]: r for r in table("InstallExecuteSequence")}
for name in ("CheckPolicy", "LockPolicyDir", "CopyPolicy"):
    ca = cas.get(name)
    want(ca is not None, f"custom action {name} missing")
    if not ca:
        continue
    t = int(ca["Type"])
    # deferred (0x400), as LocalSystem (0x800), result checked (no 0x40), synchronous (no 0x80)
    want(t & 0x400 and t & 0x800 and not t & 0x40 and not t & 0x80, f"{name} is not deferred, elevated and checked (type {t})")
    s = seq.get(name)
    want(s is not None and int(seq["InstallFiles"]["Sequence"]) < int(s["Sequence"]) < int(seq["InstallFinalize"]["Sequence"]),
         f"{name} is not between InstallFiles and InstallFinalize")
want(cas["CheckPolicy"]["Source"] == "FoureyesExe" and cas["CheckPolicy"]["Target"] == 'policy check --managed "[POLICYFILE]"',
     "CheckPolicy does not run foureyes.exe policy check --managed on POLICYFILE")
want('copy /y "[POLICYFILE]" "[POLICYDIR]policy.json"' in cas["CopyPolicy"]["Target"], "CopyPolicy does not copy POLICYFILE to POLICYDIR\\policy.json")
want(int(seq["CheckPolicy"]["Sequence"]) < int(seq["LockPolicyDir"]["Sequence"]) < int(seq["CopyPolicy"]["Sequence"]),
     "the policy is not checked, then its folder locked, then copied")
for name in ("CheckPolicy", "CopyPolicy"):
    want(seq[name]["Condition"] == "POLICYFILE AND NOT REMOVE", f"{name} does not run only when POLICYFILE is given")
lock = cas["LockPolicyDir"]["Target"]
for part in ("/setowner *S-1-5-32-544", "/inheritance:r", "*S-1-5-32-545:(OI)(CI)RX"):
    want(part in lock, f"LockPolicyDir lacks {part}")
want("S-1-5-32-545:(OI)(CI)F" not in lock and "S-1-5-32-545:(OI)(CI)M" not in lock, "users may write the policy folder")
want(props.get("FOUREYES_CMD") is None and cas["SetCmdExe"]["Target"] == "[System64Folder]cmd.exe", "cmd.exe is not taken from System64Folder")

# The tray at sign-in: each user's own daemon (TRAYARGS daemon), or with service mode on the tray
# of the service (tray --if-service), chosen before the registry is written.
run = [r for r in reg if r["Key"] == r"Software\Microsoft\Windows\CurrentVersion\Run" and r["Name"] == "foureyes"]
want(len(run) == 1 and comps[run[0]["Component_"]]["KeyPath"] == run[0]["Registry"], "the Run value is not its component's key path")
want(props.get("TRAYARGS") == "daemon", "TRAYARGS is not daemon by default: user mode is not the default")
ta = cas.get("SetTrayArgs")
want(ta is not None and int(ta["Type"]) & 0x3f == 51 and ta["Source"] == "TRAYARGS" and ta["Target"] == "tray --if-service",
     "SetTrayArgs does not set TRAYARGS to tray --if-service")
st = seq.get("SetTrayArgs")
want(st is not None and st["Condition"] == 'SERVICEMODE="1"', "SetTrayArgs does not run only in service mode")
want(st is not None and int(seq["AppSearch"]["Sequence"]) < int(st["Sequence"]) < int(seq["InstallInitialize"]["Sequence"]),
     "SetTrayArgs is not between AppSearch and InstallInitialize (before the registry is written)")
want("SERVICEMODE" in props.get("SecureCustomProperties", "").split(";"), "SERVICEMODE is not a secure property")

# Service mode: registered by the MSI, off (disabled, never started by it) until IT turns it on.
svcs = table("ServiceInstall")
want(len(svcs) == 1, f"want one ServiceInstall row, got {len(svcs)}")
if len(svcs) == 1:
    s = svcs[0]
    want(s["Name"] == "foureyes", f"service name {s['Name']!r}, want foureyes (what foureyes service install and the docs name)")
    want(int(s["ServiceType"]) == 0x10, f"service type {s['ServiceType']}, want 16 (its own process, not interactive)")
    want(int(s["StartType"]) == 4, f"start type {s['StartType']}, want 4 (disabled): user mode stays the default")
    want(int(s["ErrorControl"]) & 0x8000 == 0 and int(s["ErrorControl"]) & 0xff == 1, f"error control {s['ErrorControl']}, want 1 (normal), not vital to boot")
    want(s["StartName"] == "LocalSystem" and s["Password"] == "", f"account {s['StartName']!r}, want LocalSystem without a password")
    want(s["Arguments"] == "service", f"arguments {s['Arguments']!r}, want service")
    c = comps.get(s["Component_"])
    # Windows Installer registers the key file of the service's component as its program.
    want(c is not None and c["KeyPath"] == "FoureyesExe", "the service's component's key file is not foureyes.exe")
    want(s["DisplayName"] == "foureyes (four-eyes rule)", f"display name {s['DisplayName']!r} differs from foureyes service install's")
ctl = table("ServiceControl")
want(len(ctl) == 1, f"want one ServiceControl row, got {len(ctl)}")
if len(ctl) == 1:
    ev = int(ctl[0]["Event"])
    # msidbServiceControlEvent: Start 0x1/0x10, Stop 0x2/0x20, Delete 0x8/0x80 (install/uninstall).
    want(ctl[0]["Name"] == "foureyes" and len(svcs) == 1 and ctl[0]["Component_"] == svcs[0]["Component_"], "ServiceControl is not for the service foureyes of the same component")
    want(ev & 0x11 == 0, f"ServiceControl event {ev} starts the service: the MSI must leave it off")
    want(ev & 0x22 == 0x22, f"ServiceControl event {ev} does not stop the service at install and uninstall")
    want(ev & 0x88 == 0x88, f"ServiceControl event {ev} does not remove the service at install (one registered by hand) and uninstall")
    want(ctl[0]["Wait"] == "1", "ServiceControl does not wait for the service to stop")
for a in ("InstallServices", "StopServices", "DeleteServices"):
    want(a in seq, f"{a} is not in the InstallExecuteSequence")
src = r"SYSTEM\CurrentControlSet\Services\EventLog\Application\foureyes"
want(regval(src, "EventMessageFile") == r"[System64Folder]EventCreate.exe", "no Event Log source foureyes with EventCreate.exe as its message file")
want(regval(src, "TypesSupported") == "#7", "the Event Log source does not support error, warning and information entries")
srcrows = [r for r in reg if r["Key"] == src]
want(all(r["Component_"] == "Cli" for r in srcrows), "the Event Log source is not in foureyes.exe's component")
# Kept across upgrades: SERVICEMODE comes from HKLM\Software\foureyes ServiceMode (64-bit view).
locs = {r["Signature_"]: r for r in table("RegLocator")}
apps = [r for r in table("AppSearch") if r["Property"] == "SERVICEMODE"]
want(len(apps) == 1 and apps[0]["Signature_"] in locs, "SERVICEMODE is not read from the registry (AppSearch)")
if apps and apps[0]["Signature_"] in locs:
    l = locs[apps[0]["Signature_"]]
    want(l["Root"] == "2" and l["Key"] == r"Software\foureyes" and l["Name"] == "ServiceMode" and int(l["Type"]) & 16,
         "SERVICEMODE's RegLocator is not HKLM\\Software\\foureyes ServiceMode in the 64-bit view")
want("AppSearch" in seq and int(seq["AppSearch"]["Sequence"]) < int(seq["CostFinalize"]["Sequence"]), "AppSearch does not run before component conditions are evaluated")
on = cas.get("ServiceModeOn")
want(on is not None and on["Source"] == "FoureyesExe" and on["Target"] == "service install --start",
     "ServiceModeOn does not run foureyes.exe service install --start")
if on:
    t = int(on["Type"])
    want(t & 0x400 and t & 0x800 and not t & 0x40 and not t & 0x80, f"ServiceModeOn is not deferred, as LocalSystem and checked (type {t})")
    s = seq.get("ServiceModeOn")
    want(s is not None and s["Condition"] == 'SERVICEMODE="1" AND NOT REMOVE', "ServiceModeOn does not run only in service mode")
    want(s is not None and int(seq["InstallServices"]["Sequence"]) < int(s["Sequence"]) < int(seq["InstallFinalize"]["Sequence"]),
         "ServiceModeOn is not between InstallServices and InstallFinalize")

sc = table("Shortcut")
want(any(s["Target"] == "[INSTALLDIR]foureyesw.exe" and s["Arguments"] == "[TRAYARGS]" for s in sc), "no Start menu shortcut for the tray (of the mode in force, [TRAYARGS])")

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
PY
ok "MSI tables: files, Run key, Chrome/Edge/Chromium/Firefox host keys, POLICYFILE actions, upgrade code"
ok "MSI service: foureyes as LocalSystem, disabled, never started by the MSI, stopped and removed at uninstall; Event Log source; SERVICEMODE kept across upgrades"

# --- the MSI's policy check, run with this machine's build of the same program ---
# The custom action's own command line, with POLICYFILE filled in: it must refuse a missing file
# and a policy that would let anyone enrolled approve, and accept the README's Windows policy.
CGO_ENABLED=0 go build -tags headless -o "$tmp/foureyes" ./daemon/cmd/foureyes || fail "go build"
check_cmd=$(awk -F'\t' '$1 == "CheckPolicy" {print $4}' "$tmp/CustomAction.idt")
policy_check() { # $1 policy file; runs CheckPolicy's command line as msiexec would
  local args
  args=${check_cmd//\[POLICYFILE\]/$1}
  eval "set -- $args"
  FOUREYES_HOME="$tmp/home" "$tmp/foureyes" "$@" >"$tmp/check.out" 2>&1
}
if policy_check "$tmp/absent.json"; then fail "CheckPolicy accepts a missing POLICYFILE"; fi
echo '{"version": 1}' > "$tmp/lax.json"
if policy_check "$tmp/lax.json"; then fail "CheckPolicy accepts a policy without named approvers"; fi
grep -q "default_approvers" "$tmp/check.out" || fail "CheckPolicy's refusal does not name default_approvers: $(cat "$tmp/check.out")"
echo '{"version": 1, "default_approvers": ["anna.schmidt", "ben.meier"], "audit": {"syslog": false}}' > "$tmp/win.json"
policy_check "$tmp/win.json" || fail "CheckPolicy refuses a valid Windows policy: $(cat "$tmp/check.out")"
ok "the MSI's policy check refuses a missing file and a policy without named approvers, accepts a valid one"

# --- extracted files ---
mkdir "$tmp/x"
msiextract -C "$tmp/x" "$msi" >/dev/null || fail "msiextract"
inst=$tmp/x/foureyes
[ -f "$inst/foureyes.exe" ] || fail "msiextract did not produce foureyes.exe"
python3 - "$inst" "$chrome_id" "$firefox_id" <<'PY' || fail "extracted files (above)"
import sys, os, json, struct
inst, chrome_id, firefox_id = sys.argv[1:4]
errors = []
def pe_subsystem(path):
    b = open(path, "rb").read(4096)
    if b[:2] != b"MZ":
        return None, None
    off = struct.unpack_from("<I", b, 0x3C)[0]
    if b[off:off+4] != b"PE\0\0":
        return None, None
    machine = struct.unpack_from("<H", b, off + 4)[0]
    magic, = struct.unpack_from("<H", b, off + 24)
    subsystem, = struct.unpack_from("<H", b, off + 24 + 68)
    return (machine, magic), subsystem
for name, want_sub in [("foureyes.exe", 3), ("foureyesw.exe", 2)]:
    kind, sub = pe_subsystem(os.path.join(inst, name))
    if kind != (0x8664, 0x20B):
        errors.append(f"{name} is not a 64-bit x86 Windows program")
    elif sub != want_sub:
        errors.append(f"{name} subsystem {sub}, want {want_sub} ({'console' if want_sub == 3 else 'windowed'})")
def manifest(name):
    with open(os.path.join(inst, name), encoding="utf-8") as f:
        return json.load(f)
c = manifest("org.foureyes.host.chromium.json")
f = manifest("org.foureyes.host.firefox.json")
for m, which in [(c, "chromium"), (f, "firefox")]:
    if m.get("name") != "org.foureyes.host": errors.append(f"{which} manifest name {m.get('name')!r}")
    if m.get("type") != "stdio": errors.append(f"{which} manifest type {m.get('type')!r}")
    if m.get("path") != "foureyes.exe": errors.append(f"{which} manifest path {m.get('path')!r}, want foureyes.exe beside it")
if c.get("allowed_origins") != [f"chrome-extension://{chrome_id}/"] or "allowed_extensions" in c:
    errors.append(f"chromium manifest allows {c.get('allowed_origins')} {c.get('allowed_extensions')}")
if f.get("allowed_extensions") != [firefox_id] or "allowed_origins" in f:
    errors.append(f"firefox manifest allows {f.get('allowed_extensions')} {f.get('allowed_origins')}")
if errors:
    print("\n".join(errors), file=sys.stderr); sys.exit(1)
PY
ok "msiextract: foureyes.exe (console) and foureyesw.exe (windowed), x64; host manifests allow only $chrome_id and $firefox_id"

# --- build.sh refuses bad input, before building anything ---
refuses() { # $1 expected message part, rest: env assignments
  local want=$1; shift
  if env "$@" FOUREYES_PACKAGES_DIR="$tmp/never" bash "$here/build.sh" >"$tmp/refusal" 2>&1; then
    fail "build.sh accepted $*"
  fi
  grep -qF -- "$want" "$tmp/refusal" || fail "build.sh refused $* without naming it: $(cat "$tmp/refusal")"
  [ ! -e "$tmp/never" ] || fail "build.sh wrote output although it refused $*"
}
refuses "FOUREYES_EXTENSION_ID" FOUREYES_EXTENSION_ID=khjidfhbpkegedbcgmbanfcppfhpdnkz
refuses "is not an MSI version" FOUREYES_VERSION=1.2
refuses "is not an MSI version" FOUREYES_VERSION=256.0.1
refuses "FOUREYES_UPDATE_URL" 'FOUREYES_UPDATE_URL=http://example.org/update.xml'
refuses "FOUREYES_XPI_URL" 'FOUREYES_XPI_URL=https://example.org/a"b.xpi'
refuses "needs both" FOUREYES_SIGN_CERT=/dev/null
ok "build.sh refuses a bad extension ID, version, URL and half a signing setup"

# --- signing with a throwaway certificate ---
# The key is encrypted and its password read from a file, as build.sh is meant to be used.
umask 077
printf 'throwaway-%s' "$RANDOM$RANDOM" > "$tmp/pass"
openssl req -x509 -newkey rsa:2048 -days 2 -subj "/CN=foureyes test signing" \
  -addext "extendedKeyUsage=codeSigning" -addext "keyUsage=digitalSignature" \
  -keyout "$tmp/key.pem" -passout "file:$tmp/pass" -out "$tmp/cert.pem" 2>/dev/null || fail "openssl could not make a test certificate"
openssl req -x509 -newkey rsa:2048 -days 2 -subj "/CN=someone else" -nodes -keyout "$tmp/other.key" -out "$tmp/other.pem" 2>/dev/null
FOUREYES_PACKAGES_DIR="$tmp/signed" FOUREYES_SIGN_CERT="$tmp/cert.pem" FOUREYES_SIGN_KEY="$tmp/key.pem" \
  FOUREYES_SIGN_PASS_FILE="$tmp/pass" bash "$here/build.sh" >"$tmp/signed.log" 2>&1 || { cat "$tmp/signed.log" >&2; fail "signed build"; }
smsi=$(ls "$tmp"/signed/foureyes-*-x64.msi)
osslsigncode verify -CAfile "$tmp/cert.pem" -in "$smsi" >"$tmp/verify" 2>&1 || { cat "$tmp/verify" >&2; fail "the signed MSI does not verify"; }
# (osslsigncode's exit status is the verdict; its wording differs between versions.)
grep -q "CN *= *foureyes test signing\|CN=foureyes test signing" "$tmp/verify" || fail "the MSI is not signed by the test certificate"
if osslsigncode verify -CAfile "$tmp/other.pem" -in "$smsi" >/dev/null 2>&1; then fail "the signed MSI verifies against an unrelated certificate"; fi
if osslsigncode verify -CAfile "$tmp/cert.pem" -in "$msi" >/dev/null 2>&1; then fail "the unsigned MSI verifies"; fi
mkdir "$tmp/sx"
msiextract -C "$tmp/sx" "$smsi" >/dev/null || fail "msiextract of the signed MSI"
for exe in foureyes.exe foureyesw.exe; do
  osslsigncode verify -CAfile "$tmp/cert.pem" -in "$tmp/sx/foureyes/$exe" >/dev/null 2>&1 || fail "$exe inside the signed MSI is not signed"
done
cp "$smsi" "$tmp/changed.msi"
msibuild "$tmp/changed.msi" -q "UPDATE \`Property\` SET \`Value\` = 'changed' WHERE \`Property\` = 'ARPCOMMENTS'" || fail "msibuild"
if osslsigncode verify -CAfile "$tmp/cert.pem" -in "$tmp/changed.msi" >/dev/null 2>&1; then fail "a changed signed MSI still verifies"; fi
ok "signed build: MSI and both programs verify against the throwaway certificate; not against another one; not once changed"

# --- .reg files ---
python3 - "$out/windows" "$chrome_id" "$firefox_id" <<'PY' || fail ".reg files (above)"
import sys, os, re
d, chrome_id, firefox_id = sys.argv[1:4]
errors = []
key_re = re.compile(r'^\[-?HKEY_LOCAL_MACHINE\\[A-Za-z0-9 _.@\\-]+\]$')
str_re = re.compile(r'^"((?:[^"\\]|\\.)*)"="((?:[^"\\]|\\.)*)"$')
dword_re = re.compile(r'^"((?:[^"\\]|\\.)*)"=dword:([0-9a-f]{8})$')
def parse(name):
    raw = open(os.path.join(d, name), "rb").read()
    if raw[:2] != b"\xff\xfe":
        errors.append(f"{name}: no UTF-16LE byte-order mark"); return {}
    text = raw[2:].decode("utf-16-le")
    if not text.endswith("\r\n") or "\n" in text.replace("\r\n", ""):
        errors.append(f"{name}: lines do not all end with CRLF")
    lines = text.split("\r\n")
    if lines[0] != "Windows Registry Editor Version 5.00":
        errors.append(f"{name}: first line is {lines[0]!r}")
    keys, cur = {}, None
    for i, l in enumerate(lines[1:], 2):
        if l == "" or l.startswith(";"):
            continue
        if key_re.match(l):
            cur = l[1:-1]; keys.setdefault(cur, {}); continue
        m = str_re.match(l) or dword_re.match(l)
        if not m or cur is None:
            errors.append(f"{name}:{i}: not regedit syntax: {l!r}"); continue
        keys[cur][m.group(1)] = int(m.group(2), 16) if "=dword:" in l else m.group(2)
    return keys
def want(keys, key, name, value, file):
    got = keys.get(key, {}).get(name)
    if got != value:
        errors.append(f"{file}: [{key}] {name} = {got!r}, want {value!r}")
P = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies"
for file, base, private in [("foureyes-chrome.reg", P + r"\Google\Chrome", "IncognitoModeAvailability"),
                            ("foureyes-edge.reg", P + r"\Microsoft\Edge", "InPrivateModeAvailability")]:
    k = parse(file)
    fl = k.get(base + r"\ExtensionInstallForcelist", {}).get("1", "")
    if not re.fullmatch(chrome_id + r";https://\S+", fl):
        errors.append(f"{file}: forcelist entry {fl!r} does not name {chrome_id} with an https update URL")
    want(k, base, private, 1, file)
    want(k, base, "BrowserGuestModeEnabled", 0, file)
    want(k, base, "DeveloperToolsAvailability", 0, file)
    want(k, base, "BlockExternalExtensions", 1, file)
    want(k, base + r"\3rdparty\extensions" + "\\" + chrome_id + r"\policy", "daemon_port", 47321, file)
k = parse("foureyes-firefox.reg")
F = P + r"\Mozilla\Firefox"
want(k, F + r"\Extensions\Locked", "1", firefox_id, "foureyes-firefox.reg")
if not k.get(F + r"\Extensions\Install", {}).get("1", "").startswith("https://"):
    errors.append("foureyes-firefox.reg: no https install URL")
want(k, F, "DisablePrivateBrowsing", 1, "foureyes-firefox.reg")
want(k, F + r"\3rdparty\Extensions" + "\\" + firefox_id, "daemon_port", 47321, "foureyes-firefox.reg")
if errors:
    print("\n".join(errors), file=sys.stderr); sys.exit(1)
PY
cmd=$out/windows/install.cmd
[ -f "$cmd" ] || fail "no $cmd"
python3 - "$cmd" <<'PY' || fail "install.cmd (above)"
import sys
raw = open(sys.argv[1], "rb").read()
text = raw.decode("ascii")
lines = text.split("\r\n")
assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), "install.cmd lines do not all end with CRLF"
run = [l for l in lines if l.startswith("msiexec ")]
assert len(run) == 1 and "/qn" in run[0] and 'POLICYFILE="%~dp0policy.json"' in run[0], f"install.cmd does not run a silent install with the policy beside it: {run}"
PY
ok "install.cmd: CRLF, silent msiexec with POLICYFILE beside it"
ok ".reg files: UTF-16LE with BOM and CRLF, regedit syntax, force-install of $chrome_id, private windows and guest closed, managed storage"
echo "windows: all checks passed ($(basename "$msi"), $(stat -c %s "$msi") bytes)"
