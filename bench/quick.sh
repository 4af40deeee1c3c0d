#!/usr/bin/env bash
# A quick local throughput check (not the benchmark, bench/run.py): start the release binary on
# the given database, register clients with one initial access token, then fetch
# client_credentials tokens, each for 10 s at 16 connections with wrk (apt: wrk).
#   bench/quick.sh target/release/latchkey sqlite://data/latchkey.db 18091
#   bench/quick.sh target/release/latchkey postgres://postgres@127.0.0.1:5432/lk_bench 18092
set -e
BIN=$(realpath "$1"); DB=$2; PORT=$3
D=$(mktemp -d); cd $D
LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD=pw $BIN start-dev --http-port $PORT --db-url "$DB" > out.log 2>&1 &
PID=$!
sleep 1.5
BASE=http://127.0.0.1:$PORT
ADMIN_TOKEN=$(curl -s -d grant_type=password -d client_id=admin-cli -d username=admin -d password=pw $BASE/realms/master/protocol/openid-connect/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -s -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d '{"realm": "bench", "enabled": true}' $BASE/admin/realms
IAT=$(curl -s -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' -d '{"expiration": 0, "count": 100000000}' $BASE/admin/realms/bench/clients-initial-access | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
cat > reg.lua <<LUA
wrk.method = "POST"
wrk.body = '{"grant_types":["client_credentials"],"client_name":"bench"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $IAT"
LUA
wrk -t2 -c16 -d2s -s reg.lua $BASE/realms/bench/clients-registrations/openid-connect > /dev/null
echo "registration (c=16, 10 s):"
wrk -t2 -c16 -d10s --latency -s reg.lua $BASE/realms/bench/clients-registrations/openid-connect 2>&1 | grep -E "Requests/sec|  50%|  99%|Non-2xx"
SECRET=$(curl -s -X POST -H "Authorization: Bearer $IAT" -H 'Content-Type: application/json' -d '{"grant_types":["client_credentials"]}' $BASE/realms/bench/clients-registrations/openid-connect | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["client_id"]+":"+d["client_secret"])')
AUTH=$(printf '%s' "$SECRET" | base64 -w0)
cat > cc.lua <<LUA
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $AUTH"
LUA
wrk -t2 -c16 -d2s -s cc.lua $BASE/realms/bench/protocol/openid-connect/token > /dev/null
echo "client_credentials RS256 (c=16, 10 s):"
wrk -t2 -c16 -d10s --latency -s cc.lua $BASE/realms/bench/protocol/openid-connect/token 2>&1 | grep -E "Requests/sec|  50%|  99%|Non-2xx"
echo "peak RSS kB: $(grep VmHWM /proc/$PID/status | awk '{print $2}')"
kill $PID; wait $PID 2>/dev/null || true
