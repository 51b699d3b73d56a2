#!/usr/bin/env bash
# The Debian package as a user gets it: scripts/package.sh on the tested build
# directory (built already, so it only packs), then the .deb unpacked with dpkg-deb -x
# into a temporary directory and read. Nothing is installed on this machine.
#   EG_BUILD_DIR  the build directory under test
#   EG_VERSION    the project's version, which the package and the binary must carry
set -uo pipefail
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
: "${EG_BUILD_DIR:?the build directory under test}" "${EG_VERSION:?the project version}"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/eg-deb-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# 1. package.sh builds (a no-op here) and packs, and prints the path of the .deb.
started=$SECONDS
if ! deb=$(EG_BUILD_DIR=$EG_BUILD_DIR EG_PACKAGE_DIR=$tmp/out \
           timeout 150 "$source_dir/scripts/package.sh" 2>"$tmp/package.log"); then
  cat "$tmp/package.log"
  echo "FAIL: scripts/package.sh failed"
  exit 1
fi
if [ ! -f "$deb" ] || [[ "$deb" != *.deb ]]; then
  cat "$tmp/package.log"
  echo "FAIL: scripts/package.sh printed '$deb', which is not a .deb file"
  exit 1
fi
pass "scripts/package.sh made $(basename "$deb") in $((SECONDS - started)) s"

# 2. The control fields.
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = event-gateway ] && pass "Package: event-gateway" ||
  fail "Package is '$(field Package)', not event-gateway"
[ "$(field Version)" = "$EG_VERSION" ] && pass "Version: $EG_VERSION" ||
  fail "Version is '$(field Version)', not the project's $EG_VERSION"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] && pass "Architecture: $(field Architecture)" ||
  fail "Architecture is '$(field Architecture)', not $(dpkg --print-architecture)"
for f in Maintainer Description Section; do
  [ -n "$(field "$f")" ] && pass "$f is set" || fail "no $f field"
done

# 3. Depends (as dpkg-deb -I lists it) names the package of every shared library the
#    binary needs, as dpkg-shlibdeps found them: libsqlite3 and libssl among them.
dpkg-deb -I "$deb" >"$tmp/info" || fail "dpkg-deb -I failed"
depends=$(sed -n 's/^ Depends: //p' "$tmp/info")
if [ -z "$depends" ]; then
  fail "dpkg-deb -I lists no Depends line"
else
  echo "Depends: $depends"
fi
has_dep() { tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/[ (].*//' | grep -qx "$1"; }
for want in 'libsqlite3-0' 'libssl3' 'libc6' 'libstdc++6' 'adduser'; do
  has_dep "$want" && pass "Depends names $want" || fail "Depends does not name $want"
done

# 4. The tree: dpkg-deb -x into a temporary root.
root=$tmp/root
dpkg-deb -x "$deb" "$root" || fail "dpkg-deb -x failed"
bin=$root/usr/bin/event-gateway
if [ -x "$bin" ]; then
  pass "usr/bin/event-gateway is there and executable"
  # Every library it needs comes from a package that Depends names (or a name that
  # package provides: libspdlog1.10 provides libspdlog1.10-fmt9).
  needed=$(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }')
  [ -n "$needed" ] || fail "objdump found no NEEDED libraries in the binary"
  resolved=$(ldd "$bin")
  for lib in $needed; do
    path=$(awk -v l="$lib" '$1 == l && $2 == "=>" { print $3 }' <<<"$resolved")
    owner=
    # dpkg knows a file by the path its package ships, /lib or /usr/lib (merged /usr).
    for candidate in "$path" "$(readlink -f "$path")" "${path#/usr}" "/usr$path"; do
      [ -n "$path" ] || break
      owner=$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$owner" ] && break
    done
    if [ -z "$owner" ]; then
      fail "$lib (${path:-not found by ldd}): no Debian package on this machine holds it"
      continue
    fi
    names=("$owner")
    provides=$(dpkg-query -W -f='${Provides}' "$owner" 2>/dev/null | tr ',' '\n' | sed 's/^ *//; s/[ (].*//')
    [ -n "$provides" ] && names+=($provides)
    covered=
    for n in "${names[@]}"; do has_dep "$n" && covered=$n && break; done
    if [ -n "$covered" ]; then
      pass "$lib comes from $owner, which Depends names ($covered)"
    else
      fail "$lib comes from $owner, which Depends does not name"
    fi
  done
  if [ -n "$(objdump -h "$bin" | awk '$2 ~ /^\.debug_/')" ]; then
    fail "the packaged binary keeps its debug sections"
  else
    pass "the packaged binary is stripped"
  fi
  # The unpacked binary runs and says its version.
  version=$(timeout 10 "$bin" -version 2>&1)
  status=$?
  if [ $status -eq 0 ] && [ "$version" = "Event Gateway version $EG_VERSION" ]; then
    pass "usr/bin/event-gateway -version: $version"
  else
    fail "usr/bin/event-gateway -version exited $status and printed '$version'"
  fi
else
  fail "usr/bin/event-gateway is missing or not executable"
fi

# 5. The unit, the defaults file, the data directory, the docs.
unit=$root/lib/systemd/system/event-gateway.service
if [ -f "$unit" ]; then
  pass "lib/systemd/system/event-gateway.service is there"
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  [[ "$exec_start" == "/usr/bin/event-gateway "* ]] && pass "ExecStart runs /usr/bin/event-gateway" ||
    fail "ExecStart is '$exec_start', not /usr/bin/event-gateway"
  # The flags the unit passes are flags the binary accepts: -help lists each one.
  if [ -x "$bin" ]; then
    help=$(timeout 10 "$bin" -help 2>&1)
    for flag in $(grep -oE '(^| )-[a-z][a-z-]*' <<<"$exec_start" | tr -d ' '); do
      grep -qE -- "^  $flag( |\$)" <<<"$help" && pass "the unit's flag $flag is one the binary knows" ||
        fail "the unit passes $flag, which event-gateway -help does not list"
    done
  fi
  for directive in 'User=event-gateway' 'StateDirectory=event-gateway' \
                   'EnvironmentFile=-/etc/default/event-gateway' 'Restart=on-failure' \
                   'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes'; do
    grep -qx "$directive" "$unit" && pass "unit: $directive" || fail "the unit lacks $directive"
  done
  if command -v systemd-analyze >/dev/null; then
    # The unit as shipped, but for ExecStart's path, which points at the unpacked binary
    # (verify checks that the command exists). verify exits 0 on directives it ignores
    # with a warning, so any output fails too.
    mkdir -p "$tmp/verify"
    sed "s|^ExecStart=/usr/bin/event-gateway |ExecStart=$bin |" "$unit" >"$tmp/verify/event-gateway.service"
    if timeout 30 systemd-analyze verify "$tmp/verify/event-gateway.service" >"$tmp/verify.log" 2>&1 &&
       [ ! -s "$tmp/verify.log" ]; then
      pass "systemd-analyze verify accepts the unit"
    else
      cat "$tmp/verify.log"
      fail "systemd-analyze verify rejects the unit"
    fi
  else
    echo "skip: systemd-analyze is not installed; the unit was not verified"
  fi
else
  fail "lib/systemd/system/event-gateway.service is missing"
fi

defaults=$root/etc/default/event-gateway
if [ -f "$defaults" ]; then
  # Only comments: every setting is the admin's choice.
  grep -qv '^\(#.*\)\?$' "$defaults" && fail "etc/default/event-gateway sets something: $(grep -v '^\(#.*\)\?$' "$defaults")" ||
    pass "etc/default/event-gateway holds only commented defaults"
else
  fail "etc/default/event-gateway is missing"
fi
[ -d "$root/var/lib/event-gateway" ] && pass "var/lib/event-gateway is there" ||
  fail "var/lib/event-gateway is missing"
for doc in usr/share/doc/event-gateway/README.md usr/share/doc/event-gateway/docs/operations.md \
           usr/share/event-gateway/grafana/event-gateway.json; do
  [ -f "$root/$doc" ] && pass "$doc is there" || fail "$doc is missing"
done
# Files belong to root in the archive, not to whoever built it.
owners=$(dpkg-deb -c "$deb" | awk '{ print $2 }' | sort -u)
[ "$owners" = root/root ] && pass "every file is owned by root/root" ||
  fail "files are owned by: $owners"

# 6. Maintainer scripts and conffiles.
control=$tmp/control
dpkg-deb -e "$deb" "$control" || fail "dpkg-deb -e failed"
grep -qx /etc/default/event-gateway "$control/conffiles" 2>/dev/null &&
  pass "conffiles lists /etc/default/event-gateway" || fail "conffiles does not list /etc/default/event-gateway"
for script in postinst prerm postrm; do
  if [ -x "$control/$script" ] && sh -n "$control/$script"; then
    pass "$script is there, executable, and parses"
  else
    fail "$script is missing, not executable, or does not parse"
  fi
done
grep -q 'adduser --system' "$control/postinst" 2>/dev/null && pass "postinst makes the system user" ||
  fail "postinst does not make a system user"
grep -q 'deluser --system' "$control/postrm" 2>/dev/null && pass "postrm removes the system user on purge" ||
  fail "postrm does not remove the system user"

if [ $failures -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "every check passed"
