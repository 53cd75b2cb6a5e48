#!/bin/sh
# Chromium as the staff member's own OS user, for the service-mode scenarios: playwright-core
# starts this instead of the browser (FOUREYES_CHROMIUM), and it becomes FOUREYES_BROWSER_USER
# and runs FOUREYES_CHROMIUM_AS with playwright's arguments. The unpacked extension is loaded
# from FOUREYES_EXTENSION_COPY, a copy that user owns (Chromium writes its indexed rulesets into
# an unpacked extension's folder; the checkout's is root's). exec keeps the process playwright
# started, so it stops the browser as usual; the pipes it talks over are inherited.
set -eu
: "${FOUREYES_BROWSER_USER:?chromium-as.sh: set FOUREYES_BROWSER_USER to the OS user to run Chromium as}"
: "${FOUREYES_CHROMIUM_AS:?chromium-as.sh: set FOUREYES_CHROMIUM_AS to the Chromium to run}"
: "${FOUREYES_EXTENSION_COPY:?chromium-as.sh: set FOUREYES_EXTENSION_COPY to the copy of extension/unpacked to load}"
for a; do
	shift
	case $a in
	--load-extension=* | --disable-extensions-except=*) a="${a%%=*}=$FOUREYES_EXTENSION_COPY" ;;
	esac
	set -- "$@" "$a"
done
exec setpriv --reuid "$FOUREYES_BROWSER_USER" --regid "$(id -g "$FOUREYES_BROWSER_USER")" --clear-groups -- "$FOUREYES_CHROMIUM_AS" "$@"
