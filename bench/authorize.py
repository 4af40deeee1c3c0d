#!/usr/bin/env python3
"""What an authorization request costs for a client ID metadata document client, against
a client an admin registered (BENCHMARKS.md).

    bench/authorize.py [--rounds 3] [--duration 10] [--connections 64] [--binary PATH]

Builds the release binary (as run.py does), starts it with `start-dev` on SQLite, and
makes one realm with two public clients that differ only in how Latchkey knows them: one
created through the admin API, one whose client_id is the URL of a metadata document this
script serves on loopback (`Cache-Control: max-age=3600`), fetched once by the first
request. Then, round after round, wrk sends each the same authorization request (code,
PKCE S256, no session, so each answer is the login page and a pending sign-in stored in
the database) for --duration seconds at --connections, the two alternating so that a
machine that speeds up or slows down affects both alike. It prints each round's
requests/s, p50 and p99, the medians, and how many times the document was fetched (one:
every other request was served from the cache).
"""

import argparse
import os
import statistics
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

REDIRECT = "http://127.0.0.1:9/callback"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def setup(server, document_url):
    a = server.admin()
    realm = "bench-authz"
    run.http("POST", server.base + "/admin/realms", {
        "realm": realm, "enabled": True,
        "attributes": {"clientIdMetadataDocumentEnabled": "true"}}, a)
    run.http("POST", f"{server.base}/admin/realms/{realm}/clients", {
        "clientId": "registered", "publicClient": True, "redirectUris": [REDIRECT],
        "attributes": {"pkce.code.challenge.method": "S256"}}, a)
    # The anonymous policy set applies to metadata-document clients: Trusted Hosts must
    # admit the host of their redirect URIs.
    _, _, comps = run.http("GET", f"{server.base}/admin/realms/{realm}/components?type="
                           "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy", None, a)
    th = next(c for c in comps if c["providerId"] == "trusted-hosts" and c["subType"] == "anonymous")
    th["config"]["trusted-hosts"] = ["127.0.0.1"]
    run.http("PUT", f"{server.base}/admin/realms/{realm}/components/{th['id']}", th, a)

    def url(client_id):
        q = urllib.parse.urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
                                    "state": "s", "code_challenge": CHALLENGE, "code_challenge_method": "S256"})
        return f"{server.base}/realms/{realm}/protocol/openid-connect/auth?{q}"

    return {"registered": url("registered"), "document": url(document_url)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--binary", help="a latchkey binary to measure instead of building the release one")
    args = ap.parse_args()
    run.ensure_wrk()
    if not args.binary:
        run.build_release()
    document_url, hits = run.serve_document(REDIRECT)
    server = run.Latchkey("sqlite", binary=args.binary)
    server.start()
    try:
        urls = setup(server, document_url)
        for name, u in urls.items():
            with urllib.request.urlopen(u, timeout=30) as r:  # the document's first fetch
                assert r.status == 200, f"{name}: {r.status}"
        script = run.lua("GET")
        for u in urls.values():
            run.wrk(u, script, 2, args.connections)  # warm-up
        results = {k: [] for k in urls}
        print("| Round | Client | req/s | p50 ms | p99 ms | errors |")
        print("|---|---|---|---|---|---|")
        for r in range(1, args.rounds + 1):
            order = list(urls) if r % 2 else list(reversed(urls))
            for name in order:
                m = run.wrk(urls[name], script, args.duration, args.connections)
                results[name].append(m)
                print(f"| {r} | {name} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['errors']} |", flush=True)
        print()
        print("| Client | req/s median (min–max) | p50 ms median | p99 ms median |")
        print("|---|---|---|---|")
        for name, ms in results.items():
            rps = [m["rps"] for m in ms]
            print(f"| {name} | {statistics.median(rps):,.0f} ({min(rps):,.0f}–{max(rps):,.0f}) "
                  f"| {statistics.median(m['p50'] for m in ms):.2f} | {statistics.median(m['p99'] for m in ms):.2f} |")
        ratios = [d["rps"] / g["rps"] for d, g in zip(results["document"], results["registered"])]
        print(f"\nmetadata document / registered, per round: {', '.join(f'{x:.2f}' for x in ratios)}"
              f" (median {statistics.median(ratios):.2f})")
        print(f"document fetched {len(hits)} time(s) for {sum(m['requests'] for m in results['document']):,} requests")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
