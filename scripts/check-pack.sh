#!/usr/bin/env bash
# The production install, as docs/operations.md describes it: the packed package installed with --omit=dev in an
# empty folder must start, serve the dashboard and deliver an event to the built-in emulator, without any dev
# dependency. Run after a build (npm test builds); .ci/run runs it after npm test.
set -euo pipefail
cd "$(dirname "$0")/.."
clone=$(pwd)
fail() { echo "check-pack: FAILED: $*" >&2; exit 1; }
[ -f dist/cli/index.js ] && [ -f dist/ui/index.html ] || fail "dist/ is not built: run npm run build first"

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# --ignore-scripts: dist/ is built already; prepare would build it again.
tarball="$work/$(npm pack --ignore-scripts --silent --pack-destination "$work" | tail -1)"
listing=$(tar -tzf "$tarball")
for f in package/dist/cli/index.js package/dist/index.js package/dist/ui/index.html package/README.md; do
  grep -qx "$f" <<<"$listing" || fail "$f is not in the package"
done
grep -q '^package/dist/ui/assets/.*\.js$' <<<"$listing" || fail "the dashboard's built assets (dist/ui/assets) are not in the package"
if grep -Eq '^package/(test|bench|src|web)/' <<<"$listing"; then fail "the package carries development folders"; fi

mkdir "$work/app" && cd "$work/app"
echo '{"name":"check-pack","private":true}' > package.json
# better-sqlite3 is the one runtime dependency with an install script: it downloads a prebuilt binary, or compiles
# SQLite when it cannot (minutes on a small machine, which is what happens where GitHub is out of reach). By default
# the check takes the binary the clone built for this same version and platform, so it stays fast;
# CHECK_PACK_NATIVE=build installs exactly as a user does, scripts and all.
if [ "${CHECK_PACK_NATIVE:-reuse}" = build ]; then
  npm install --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error "$tarball" >/dev/null || fail "npm install --omit=dev of the tarball"
else
  npm install --omit=dev --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error "$tarball" >/dev/null || fail "npm install --omit=dev of the tarball"
  v() { node -p "require('$1/package.json').version"; }
  [ "$(v "$PWD/node_modules/better-sqlite3")" = "$(v "$clone/node_modules/better-sqlite3")" ] || fail "better-sqlite3 differs from the clone's: run with CHECK_PACK_NATIVE=build"
  cp -r "$clone/node_modules/better-sqlite3/build" node_modules/better-sqlite3/
fi
for dev in vitest typescript vite @stryker-mutator/core playwright-core; do
  [ ! -e "node_modules/$dev" ] || fail "dev dependency $dev was installed"
done

token=check-pack-admin-token-0123
# The bin itself (not through npx), so the signal below reaches the service.
node_modules/.bin/klaviyo-destination start --port 0 --admin-token "$token" > start.log 2>&1 &
pid=$!
url=
for _ in $(seq 1 150); do
  url=$(node -e 'for (const l of require("fs").readFileSync("start.log","utf8").split("\n")) { try { const o = JSON.parse(l); if (o.url) { console.log(o.url); break; } } catch {} }')
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat start.log >&2; fail "start exited"; }
  sleep 0.2
done
[ -n "$url" ] || { cat start.log >&2; fail "start did not listen within 30 s"; }

key=$(npx klaviyo-destination credentials --write-key)
curl -sf -u "$key:" "$url/v1/track" -H 'Content-Type: application/json' \
  -d '{"userId":"u1","event":"Pack Check","context":{"traits":{"email":"pack@example.com"}}}' >/dev/null || fail "POST /v1/track"
curl -sf "$url/ui/" | grep -q '<script' || fail "the dashboard is not served at /ui/"
for _ in $(seq 1 100); do
  curl -sf -H "Authorization: Bearer $token" "$url/admin/emulator" | grep -q '"Pack Check"' && break
  sleep 0.2
done
curl -sf -H "Authorization: Bearer $token" "$url/admin/emulator" | grep -q '"Pack Check"' || { cat start.log >&2; fail "the event did not reach the emulator"; }

kill -TERM "$pid"
wait "$pid" || { cat start.log >&2; fail "start did not stop cleanly (exit $?)"; }
pid=
grep -q 'every in-flight delivery settled' start.log || fail "no final line on stop"
echo "check-pack: ok ($(basename "$tarball"), $(du -sh node_modules | cut -f1) installed with --omit=dev)"
