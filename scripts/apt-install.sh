#!/bin/sh
# Installs Debian packages the tests need (redis-server, prometheus, ...) without
# starting or enabling the system services they ship: the tests and `pnpm start`
# run their own servers on free ports. Used by scripts/jobfleet.mjs and .ci/run.
set -eu
[ "$#" -gt 0 ] || exit 0

# policy-rc.d answering 101 ("action forbidden") stops the packages' maintainer
# scripts from starting services, with or without systemd. Any policy already in
# place comes back afterwards.
policy=/usr/sbin/policy-rc.d
saved=
if [ -e "$policy" ]; then
  saved="$(mktemp)"
  cp -p "$policy" "$saved"
fi
restore() {
  if [ -n "$saved" ]; then mv "$saved" "$policy"; else rm -f "$policy"; fi
}
trap restore EXIT
trap 'exit 130' INT TERM HUP
printf '#!/bin/sh\nexit 101\n' >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "$@"

# The policy stops the start, not the enabling at boot: undo that for the units
# these packages just installed (a unit the machine had before is left alone).
for pkg in "$@"; do
  for unit in $(dpkg -L "$pkg" 2>/dev/null | sed -n 's#^/\(usr/\)\{0,1\}lib/systemd/system/\([^/@]*\.service\)$#\2#p'); do
    if command -v systemctl >/dev/null 2>&1; then
      systemctl disable --quiet "$unit" >/dev/null 2>&1 || true
    elif command -v deb-systemd-helper >/dev/null 2>&1; then
      deb-systemd-helper disable "$unit" >/dev/null 2>&1 || true
    fi
  done
  for script in $(dpkg -L "$pkg" 2>/dev/null | sed -n 's#^/etc/init\.d/\([^/]*\)$#\1#p'); do
    if command -v update-rc.d >/dev/null 2>&1; then update-rc.d "$script" disable >/dev/null 2>&1 || true; fi
  done
done
