"""Asks the Python SDK (authgent 0.3.4) what it says, for the Rust cross-checks.

Reads one JSON request on stdin, writes one JSON answer on stdout. Requests:

  {"op": "verify_dpop", "claims": {...}, "proof": "...", "method": "GET", "uri": "..."}
      -> {"ok": true, "jkt": "..."} | {"ok": false, "error": "..."}
  {"op": "dpop_token", "server": URL, "client_id": ..., "client_secret": ..., "scope": ...,
   "method": "GET", "uri": "..."}
      -> a DPoP-bound token from the real server for a Python DPoPClient key, and that key's
         proof for one resource request: {"token", "token_type", "jkt", "proof"}
  {"op": "identities", "issuer": URL, "tokens": [...]}
      -> [{"subject", "scopes", "depth", "actors", "human_root"} | {"error": "..."}]
  {"op": "scope_challenges", "headers": [...]}
      -> [the required_scope the SDK's parse_scope_challenge finds, or null]
"""

import asyncio
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from authgent.dpop import DPoPClient, verify_dpop_proof
from authgent.middleware.scope_challenge import parse_scope_challenge
from authgent.verify import verify_token


def verify_dpop(req):
    try:
        payload = verify_dpop_proof(req["claims"], req["proof"], req["method"], req["uri"])
        return {"ok": True, "jkt": payload["jkt"]}
    except Exception as e:  # the SDK raises DPoPError; anything else is a failure too
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}


def dpop_token(req):
    client = DPoPClient()
    token_url = req["server"].rstrip("/") + "/token"
    form = urllib.parse.urlencode({
        "grant_type": "client_credentials",
        "client_id": req["client_id"],
        "client_secret": req["client_secret"],
        "scope": req["scope"],
    }).encode()
    request = urllib.request.Request(token_url, data=form, method="POST", headers={
        "content-type": "application/x-www-form-urlencoded",
        "dpop": client.create_proof("POST", token_url),
    })
    try:
        body = json.load(urllib.request.urlopen(request))
    except urllib.error.HTTPError as e:
        return {"error": f"{e.code}: {e.read().decode(errors='replace')}"}
    token = body["access_token"]
    return {
        "token": token,
        "token_type": body["token_type"],
        "jkt": client.jkt,
        "proof": client.create_proof(req["method"], req["uri"], access_token=token),
    }


async def identities(req):
    out = []
    for token in req["tokens"]:
        try:
            identity = await verify_token(token, issuer=req["issuer"])
        except Exception as e:
            out.append({"error": f"{type(e).__name__}: {e}"})
            continue
        chain = identity.delegation_chain
        out.append({
            "subject": identity.subject,
            "scopes": identity.scopes,
            "depth": chain.depth,
            "actors": [a["sub"] for a in chain.actors],
            "human_root": chain.human_root,
        })
    return out


def main():
    req = json.load(sys.stdin)
    op = req["op"]
    if op == "verify_dpop":
        answer = verify_dpop(req)
    elif op == "dpop_token":
        answer = dpop_token(req)
    elif op == "identities":
        answer = asyncio.run(identities(req))
    elif op == "scope_challenges":
        answer = [
            (c.required_scope if c else None)
            for c in map(parse_scope_challenge, req["headers"])
        ]
    else:
        answer = {"error": f"unknown op {op}"}
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
