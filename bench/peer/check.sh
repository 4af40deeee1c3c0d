#!/usr/bin/env bash
# Smoke test of the benchmark peer: for ALG=ES256 and ALG=RS256, start server.mjs on a free
# port, register a client with the initial access token, get a client_credentials token
# with client_secret_basic, check it is a JWT signed with ALG, read the registration back
# with the registration access token, stop the server. Exits 0 when all of it works.
#   bench/peer/check.sh
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -d node_modules/oidc-provider ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

IAT=check-initial-access-token
LOG=$(mktemp)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -f "$LOG"
}
trap cleanup EXIT

fail() { echo "FAIL ($ALG): $*" >&2; echo "--- server output:" >&2; cat "$LOG" >&2; exit 1; }

# json FIELD: read a JSON object on stdin, print one member (empty if absent).
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];console.log(v===undefined?"":v)})' "$1"; }

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

for ALG in ES256 RS256; do
  PORT=$(free_port)
  BASE=http://127.0.0.1:$PORT
  PORT=$PORT ALG=$ALG IAT=$IAT node server.mjs >"$LOG" 2>&1 &
  PID=$!
  for _ in $(seq 1 200); do
    grep -q "^listening on $BASE\$" "$LOG" && break
    kill -0 "$PID" 2>/dev/null || fail "server exited"
    sleep 0.05
  done
  grep -q "^listening on $BASE\$" "$LOG" || fail "server not ready"

  # Discovery.
  DISC=$(curl -sS -f "$BASE/.well-known/openid-configuration") || fail "discovery"
  [ "$(echo "$DISC" | json issuer)" = "$BASE" ] || fail "issuer: $DISC"
  [ "$(echo "$DISC" | json registration_endpoint)" = "$BASE/reg" ] || fail "registration_endpoint"
  [ "$(echo "$DISC" | json token_endpoint)" = "$BASE/token" ] || fail "token_endpoint"

  # Registration without the initial access token is refused.
  CODE=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$BASE/reg" -H 'Content-Type: application/json' \
    -d '{"grant_types":["client_credentials"],"response_types":[],"token_endpoint_auth_method":"client_secret_basic"}')
  [ "$CODE" = 401 ] || fail "registration without IAT: HTTP $CODE (want 401)"

  # Registration with it.
  REG=$(curl -sS -X POST "$BASE/reg" -H "Authorization: Bearer $IAT" -H 'Content-Type: application/json' \
    -d '{"grant_types":["client_credentials"],"response_types":[],"token_endpoint_auth_method":"client_secret_basic"}' \
    -w '\n%{http_code}')
  [ "$(echo "$REG" | tail -n1)" = 201 ] || fail "registration: $REG"
  REG=$(echo "$REG" | sed '$d')
  CID=$(echo "$REG" | json client_id)
  CSECRET=$(echo "$REG" | json client_secret)
  RAT=$(echo "$REG" | json registration_access_token)
  RCU=$(echo "$REG" | json registration_client_uri)
  [ -n "$CID" ] && [ -n "$CSECRET" ] && [ -n "$RAT" ] && [ -n "$RCU" ] || fail "registration response: $REG"

  # client_credentials with client_secret_basic, no resource parameter.
  TOK=$(curl -sS -f -u "$CID:$CSECRET" -d grant_type=client_credentials "$BASE/token") || fail "token request"
  AT=$(echo "$TOK" | json access_token)
  [ "$(echo "$TOK" | json token_type)" = Bearer ] || fail "token_type: $TOK"
  [ "$(echo "$AT" | awk -F. '{print NF}')" = 3 ] || fail "access token is not a 3-part JWT: $AT"
  HDR=$(echo "$AT" | cut -d. -f1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(Buffer.from(s.trim(),"base64url").toString()))')
  [ "$(echo "$HDR" | json alg)" = "$ALG" ] || fail "JWT header alg: $HDR"
  # The signature checks out against the published JWKS.
  JWKS=$(curl -sS -f "$BASE/jwks") || fail "jwks"
  node -e '
    const crypto = require("crypto");
    const [h, p, s] = process.argv[1].split(".");
    const { kid, alg } = JSON.parse(Buffer.from(h, "base64url"));
    const jwk = JSON.parse(process.argv[2]).keys.find((k) => k.kid === kid);
    if (!jwk || jwk.d) process.exit(1);
    const key = crypto.createPublicKey({ key: jwk, format: "jwk" });
    const opts = alg === "ES256" ? { key, dsaEncoding: "ieee-p1363" } : key;
    const ok = crypto.verify("sha256", Buffer.from(h + "." + p), opts, Buffer.from(s, "base64url"));
    process.exit(ok ? 0 : 1);
  ' "$AT" "$JWKS" || fail "JWT signature does not verify against /jwks"

  # Registration read with the registration access token.
  CODE=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $RAT" "$RCU")
  [ "$CODE" = 200 ] || fail "registration read: HTTP $CODE"
  # Reads do not rotate the token: a second read with the same one works too.
  READ=$(curl -sS -f -H "Authorization: Bearer $RAT" "$RCU") || fail "second registration read"
  [ "$(echo "$READ" | json client_id)" = "$CID" ] || fail "registration read body: $READ"

  kill -TERM "$PID"
  wait "$PID" || fail "server exit status $? after SIGTERM"
  PID=
  echo "ok: $ALG (port $PORT)"
done
echo "peer check passed"
