# Shell functions shared by the scripts of the test command (sourced, never run).

# apt_install PKG...: install the Debian packages that are missing, without starting their daemons
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or install them)"; return 1
  fi
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # keep maintainer scripts from starting system daemons
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 install -y \
    --no-install-recommends "${missing[@]}" >/dev/null
  local rc=$?
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return $rc
}
