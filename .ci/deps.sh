#!/usr/bin/env bash
# Installs what building, running and testing foureyes needs on Debian/Ubuntu: Debian packages
# (with apt-get, as root or through sudo) and the npm test tools from extension/package-lock.json.
# Usage: .ci/deps.sh run|test
set -euo pipefail
cd "$(dirname "$0")/.."

want=${1:-test}
# The daemon: keyring client libraries at run time, GTK and AppIndicator for the tray build,
# notify-send for the tray's notifications.
pkgs=(gcc pkg-config libayatana-appindicator3-dev libgtk-3-dev gnome-keyring dbus dbus-x11 libsecret-tools libnotify-bin)
if [ "$want" = test ]; then
  # Tests: an independent TOTP implementation, FreeRADIUS (an OTP server over RADIUS), a QR decoder, the real browsers, a virtual display
  # with a tray host for screenshots, openssl for test certificates; zip for the XPI and rpm to
  # read the .rpm back (make packages, installer/test/packages.sh).
  pkgs+=(oathtool freeradius zbar-tools chromium firefox-esr xvfb trayer imagemagick x11-utils xauth xdotool openssl ca-certificates keepassxc fonts-dejavu-core zip rpm)
  # A real syslog collector with its TLS input, for the audit collector's tests.
  pkgs+=(rsyslog rsyslog-gnutls)
  # Service mode: systemd-analyze checks its unit, systemd-creds seals its key (no systemd as
  # PID 1 needed); useradd (passwd) makes the second OS user the tests play staff with.
  pkgs+=(systemd passwd)
fi
if [ "$want" = test ]; then
  # The Windows installer built and read back on Linux (wixl, msiinfo, msiextract, msibuild),
  # Authenticode signing, and python3 for the package checks (plists, manifests, .reg files).
  pkgs+=(msitools wixl osslsigncode python3)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  # Another apt (an unattended upgrade, a package manager window) may hold the lock on a fresh
  # machine: wait for it, up to 10 minutes, instead of failing at once.
  lock=(-o DPkg::Lock::Timeout=600)
  echo "deps: apt-get update (waits for another package manager to finish)"
  $SUDO apt-get "${lock[@]}" update -qq
  echo "deps: apt-get install (a few minutes on a fresh machine)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null; then
  echo "deps: Go 1.26 or newer is needed (https://go.dev/dl/); it is not in Debian 12's archive" >&2
  exit 1
fi

# Go linters for .ci/test.sh, pinned, from the module proxy (into $(go env GOPATH)/bin).
if [ "$want" = test ]; then
  gobin=$(go env GOPATH)/bin
  for tool in honnef.co/go/tools/cmd/staticcheck@v0.8.2 github.com/kisielk/errcheck@v1.30.0; do
    name=$(basename "${tool%@*}") version=${tool#*@}
    if ! "$gobin/$name" -version 2>/dev/null | grep -q "${version#v}"; then
      echo "deps: go install $tool"
      go install "$tool"
    fi
  done
fi

if [ "$want" = test ] && [ -f extension/package-lock.json ]; then
  if ! command -v npm >/dev/null; then
    echo "deps: Node.js 20 and npm are needed for the extension's tests" >&2
    exit 1
  fi
  # Reinstall only when the lock file changed since the last install.
  stamp=extension/node_modules/.foureyes-lock.sha256
  sum=$(sha256sum extension/package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
    echo "deps: npm ci"
    PUPPETEER_SKIP_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm --prefix extension ci --no-audit --no-fund --loglevel=error
    echo "$sum" > "$stamp"
  fi
fi
