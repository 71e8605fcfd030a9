#!/usr/bin/env bash
# test_package: builds the Debian package (scripts/package), lints it, installs it on this
# machine with apt-get, checks what it installed and what its maintainer scripts did, upgrades
# it in place (the postinst's migrate path), purges it and checks what purge removes. Runs as
# root; refuses to run when aamp-milter is already installed (it would purge someone's
# package). Cleans up even on failure: the package is purged, and the aamp-milter account is
# removed when this test created it. scripts/test runs it as its own phase.
#
#   tests/package/test_package.sh             build, then test
#   tests/package/test_package.sh --no-build  test the dist/ .deb of the current version
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=1
[[ "${1:-}" == "--no-build" ]] && build=0

[[ $(id -u) -eq 0 ]] || { echo "test_package: run as root (it installs and purges the package)" >&2; exit 2; }
if dpkg-query -W -f='${db:Status-Status}' aamp-milter 2>/dev/null | grep -qv '^not-installed$'; then
  echo "test_package: aamp-milter is already installed here; purge it first" >&2
  exit 2
fi

conf=/etc/aamp-milter/aamp-milter.conf
user_existed=0
getent passwd aamp-milter >/dev/null && user_existed=1
daemon_pid=
failures=0
checks=0
ok()   { checks=$((checks + 1)); echo "  ok: $*"; }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "  FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@" >/tmp/aamp-test-package.out 2>&1; then ok "$what"; else fail "$what"; sed 's/^/    /' /tmp/aamp-test-package.out | tail -20; fi
}
cleanup() {
  [[ -n "$daemon_pid" ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  if dpkg-query -W -f='${db:Status-Status}' aamp-milter 2>/dev/null | grep -qv '^not-installed$'; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq aamp-milter >/dev/null 2>&1 || dpkg --purge aamp-milter >/dev/null 2>&1 || true
  fi
  if [[ $user_existed -eq 0 ]] && getent passwd aamp-milter >/dev/null; then
    deluser --system aamp-milter >/dev/null 2>&1 || true
    getent group aamp-milter >/dev/null && delgroup --system aamp-milter >/dev/null 2>&1 || true
  fi
  rm -f /tmp/aamp-test-package.out
}
trap cleanup EXIT

version=$(sed -n 's/^project(aamp-milter VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
deb=dist/aamp-milter_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).deb
if [[ $build -eq 1 ]]; then
  echo "== scripts/package"
  out=$(scripts/package)
  [[ "$out" == "$deb" ]] || { echo "test_package: scripts/package printed '$out', expected '$deb'" >&2; exit 1; }
fi
[[ -f $deb ]] || { echo "test_package: no $deb (run scripts/package)" >&2; exit 1; }

echo "== lintian"
check "lintian --fail-on error $deb" lintian --fail-on error "$deb"
lintian "$deb" 2>&1 | grep -v 'running with root privileges' | sed 's/^/    /' || true

echo "== install: apt-get install ./$deb"
install_log=$(mktemp /tmp/aamp-test-package-install.XXXXXX)
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "./$deb" >"$install_log" 2>&1 ||
  { cat "$install_log"; rm -f "$install_log"; echo "test_package: apt-get install failed" >&2; exit 1; }
check "postinst ran aampctl init" grep -q 'initialised at schema version' "$install_log"
rm -f "$install_log"
check "dpkg says installed, version $version" \
  test "$(dpkg-query -W -f='${db:Status-Status} ${Version}' aamp-milter)" = "installed $version"

unit=/lib/systemd/system/aamp-milter.service
[[ -e $unit ]] || unit=/usr/lib/systemd/system/aamp-milter.service
for f in /usr/sbin/aamp-milter /usr/sbin/aampctl; do check "$f is an executable" test -x "$f"; done
for f in "$conf" "$unit" /usr/lib/tmpfiles.d/aamp-milter.conf \
         /usr/share/doc/aamp-milter/README.md /usr/share/doc/aamp-milter/operations.md \
         /usr/share/doc/aamp-milter/configuration.md /usr/share/doc/aamp-milter/cli.md \
         /usr/share/doc/aamp-milter/copyright; do
  check "$f is installed" test -f "$f"
done
check "the unit is deploy/aamp-milter.service" cmp "$unit" deploy/aamp-milter.service
check "the unit's Documentation= files are installed" bash -c \
  "grep '^Documentation=' '$unit' | tr ' =' '\n\n' | sed -n 's|^file://||p' | xargs -r -n1 test -f"
check "the configuration is a conffile" bash -c \
  "dpkg-query -W -f='\${Conffiles}\n' aamp-milter | grep -q '^ $conf '"
check "aamp-milter -n accepts the shipped configuration" /usr/sbin/aamp-milter -n -c "$conf"
check "aamp-milter -V prints version $version" bash -c "/usr/sbin/aamp-milter -V | grep -qF '$version'"
for page in "8 aamp-milter" "5 aamp-milter.conf" "8 aampctl"; do
  # shellcheck disable=SC2086
  check "man -w $page finds the page" man -w $page
  # shellcheck disable=SC2086
  check "man $page renders without warnings" bash -c \
    "out=\$(MANWIDTH=80 man --warnings $page 2>&1 >/dev/null); [[ -z \$out ]] || { echo \"\$out\"; false; }"
done

check "the account aamp-milter is a system account with no login shell" bash -c \
  "e=\$(getent passwd aamp-milter); u=\$(cut -d: -f3 <<<\"\$e\"); [[ \$u -lt 1000 && \$(cut -d: -f7 <<<\"\$e\") == /usr/sbin/nologin ]]"
check "/var/lib/aamp-milter is 0750 aamp-milter:aamp-milter" \
  test "$(stat -c '%a %U:%G' /var/lib/aamp-milter)" = "750 aamp-milter:aamp-milter"
check "tmpfiles made /run/aamp-milter" test "$(stat -c '%U' /run/aamp-milter)" = aamp-milter
if getent group postfix >/dev/null; then
  check "tmpfiles made /var/spool/postfix/aamp-milter (group postfix)" \
    test "$(stat -c '%a %U:%G' /var/spool/postfix/aamp-milter)" = "750 aamp-milter:postfix"
fi
db=/var/lib/aamp-milter/aamp.db
check "postinst created the database $db, owned by aamp-milter" test "$(stat -c '%U' "$db")" = aamp-milter
check "the database is at the program's schema version (migrate has nothing to do)" bash -c \
  "runuser -u aamp-milter -- aampctl -c '$conf' --json migrate | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d[\"from\"] != d[\"to\"])'"
check "aampctl as aamp-milter manages the policy" \
  runuser -u aamp-milter -- aampctl -c "$conf" mailbox add agent@example.com

# The daemon starts as the account on the shipped configuration and database, on a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# setpriv execs: $! is the daemon itself, which gets the SIGTERM below.
setpriv --reuid=aamp-milter --regid=aamp-milter --init-groups -- /usr/sbin/aamp-milter -f -c "$conf" -p "inet:$port@127.0.0.1" >/tmp/aamp-test-package.daemon 2>&1 &
daemon_pid=$!
listening=0
for _ in $(seq 1 300); do
  if ss -Hltn "sport = :$port" | grep -q .; then listening=1; break; fi
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ $listening -eq 1 ]]; then ok "aamp-milter runs as aamp-milter on the shipped configuration (listening on $port)"
else fail "aamp-milter did not start"; sed 's/^/    /' /tmp/aamp-test-package.daemon; fi
kill "$daemon_pid" 2>/dev/null || true
rc=0; wait "$daemon_pid" || rc=$?
daemon_pid=
check "aamp-milter stops with exit 0 on SIGTERM (exit $rc)" test "$rc" -eq 0
[[ $rc -eq 0 ]] || sed "s/^/    /" /tmp/aamp-test-package.daemon
rm -f /tmp/aamp-test-package.daemon

echo "== upgrade in place (dpkg -i of the same package: the postinst's upgrade path)"
echo "# changed by test_package" >>"$conf"
upgrade_log=$(mktemp /tmp/aamp-test-package-upgrade.XXXXXX)
check "dpkg -i over the installed package succeeds" bash -c "dpkg -i '$deb' >'$upgrade_log' 2>&1 || { cat '$upgrade_log'; false; }"
check "postinst ran aampctl migrate on the upgrade" grep -q 'schema version [0-9]*, up to date' "$upgrade_log"
rm -f "$upgrade_log"
check "the changed conffile is kept" grep -q '^# changed by test_package$' "$conf"
check "the policy survived the upgrade" bash -c \
  "runuser -u aamp-milter -- aampctl -c '$conf' mailbox list | grep -q agent@example.com"

echo "== purge"
check "apt-get purge succeeds" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq aamp-milter
check "dpkg no longer knows aamp-milter" bash -c \
  "! dpkg-query -W -f='\${db:Status-Status}' aamp-milter 2>/dev/null | grep -qv '^not-installed\$'"
for f in /usr/sbin/aamp-milter /usr/sbin/aampctl "$unit" /etc/aamp-milter /var/lib/aamp-milter \
         /usr/share/doc/aamp-milter /usr/lib/tmpfiles.d/aamp-milter.conf /run/aamp-milter \
         /var/spool/postfix/aamp-milter; do
  check "purge removed $f" test ! -e "$f"
done
check "purge keeps the aamp-milter account (Debian practice)" getent passwd aamp-milter

echo "== $checks checks, $failures failed"
[[ $failures -eq 0 ]]
