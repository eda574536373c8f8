"""Drives an MCP server with the official MCP Python SDK (`mcp`), for the Rust interop tests.

Reads one JSON request on stdin, writes one JSON answer on stdout:

  {"endpoint": MCP URL, "server": authorization server URL,
   "client_id": ..., "client_secret": ...}

It does what a Python MCP client does, with the SDK's own helpers wherever it has them:

  discovery  the 401's challenge read by mcp.client.auth.utils (resource_metadata, error), the
             RFC 9728 document found through build_protected_resource_metadata_discovery_urls,
             the RFC 8414 metadata through build_oauth_authorization_server_metadata_discovery_urls
             with validate_metadata_issuer;
  bearer     a token for the endpoint (RFC 8707 resource), then a ClientSession over
             streamable_http_client: initialize, list_tools, call_tool whoami / search /
             delete_records (the last lacks its scope);
  challenge  the 403 of that call read by extract_scope_from_www_auth / extract_field_from_www_auth;
  dpop       a DPoP-bound token (a proof from the authgent Python SDK's DPoPClient) and a
             ClientSession whose every request carries a fresh proof (an httpx2.Auth flow);
  modern     the SDK's Client pinned to protocol 2026-07-28 (single exchange: no initialize, no
             session, the SEP-2243 headers the SDK adds): list_tools, call_tool whoami,
             get_prompt summary, read_resource notes://private (which the token's scope does not
             cover: the SDK surfaces the refusal, and the 403's challenge is read with the SDK's
             helpers from inside the request flow).
"""

import asyncio
import json
import sys
import urllib.parse

import httpx2
from authgent.dpop import DPoPClient
from mcp import ClientSession
from mcp.client.client import Client
from mcp.client.auth import utils
from mcp.client.streamable_http import streamable_http_client

HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def call(i, tool, arguments):
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                       "params": {"name": tool, "arguments": arguments}})


async def discover(http, endpoint, server):
    out = {}
    r = await http.post(endpoint, content="{}", headers=HEADERS)
    out["status"] = r.status_code
    hint = utils.extract_resource_metadata_from_www_auth(r)
    out["resource_metadata"] = hint
    out["error"] = utils.extract_field_from_www_auth(r, "error")
    metadata = None
    for url in utils.build_protected_resource_metadata_discovery_urls(hint, endpoint):
        metadata = await utils.handle_protected_resource_response(await http.get(url))
        if metadata is not None:
            break
    out["resource"] = str(metadata.resource) if metadata else None
    servers = [str(s).rstrip("/") for s in (metadata.authorization_servers if metadata else [])]
    out["authorization_servers"] = servers
    as_url = servers[0] if servers else server
    for url in utils.build_oauth_authorization_server_metadata_discovery_urls(as_url, endpoint):
        ok, asm = await utils.handle_auth_metadata_response(await http.get(url))
        if asm is not None:
            utils.validate_metadata_issuer(asm, as_url)
            out["issuer"] = str(asm.issuer).rstrip("/")
            out["token_endpoint"] = str(asm.token_endpoint)
            break
        if not ok:
            break
    return out


async def token(http, req, scope, dpop=None):
    token_url = req["server"].rstrip("/") + "/token"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if dpop is not None:
        headers["dpop"] = dpop.create_proof("POST", token_url)
    form = urllib.parse.urlencode({
        "grant_type": "client_credentials", "client_id": req["client_id"],
        "client_secret": req["client_secret"], "scope": scope, "resource": req["endpoint"],
    })
    r = await http.post(token_url, content=form, headers=headers)
    r.raise_for_status()
    return r.json()


def structured(result):
    return result.structured_content if result is not None else None


async def session_run(endpoint, client, calls):
    out = {}
    async with streamable_http_client(endpoint, http_client=client) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["server"] = init.server_info.name
            tools = await session.list_tools()
            out["tools"] = sorted(t.name for t in tools.tools)
            for name, tool, arguments in calls:
                try:
                    result = await session.call_tool(tool, arguments)
                    out[name] = {"ok": not result.is_error, "structured": structured(result)}
                except Exception as e:  # the SDK raises MCPError for an HTTP refusal
                    out[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    return out


class ChallengeRecorder(httpx2.Auth):
    """Bearer auth that reads every 403's challenge with the SDK's helpers, as its OAuth flow
    does before stepping up."""

    def __init__(self, access_token):
        self.access_token = access_token
        self.challenges = []

    def auth_flow(self, request):
        request.headers["authorization"] = f"Bearer {self.access_token}"
        response = yield request
        if response.status_code == 403:
            self.challenges.append({
                "status": response.status_code,
                "mcp_method": request.headers.get("mcp-method"),
                "error": utils.extract_field_from_www_auth(response, "error"),
                "scope": utils.extract_scope_from_www_auth(response),
                "resource_metadata": utils.extract_resource_metadata_from_www_auth(response),
            })


async def modern_run(endpoint, client):
    out = {}
    transport = streamable_http_client(endpoint, http_client=client)
    async with Client(transport, mode="2026-07-28") as c:
        out["protocol_version"] = c.protocol_version
        tools = await c.list_tools()
        out["tools"] = sorted(t.name for t in tools.tools)
        result = await c.call_tool("whoami", {})
        out["whoami"] = {"ok": not result.is_error, "structured": structured(result)}
        prompt = await c.get_prompt("summary")
        out["prompt"] = prompt.messages[0].content.text
        try:
            await c.read_resource("notes://private")
            out["resource"] = {"ok": True}
        except Exception as e:  # the HTTP refusal, as the SDK reports it
            out["resource"] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    return out


class DPoPAuth(httpx2.Auth):
    """A fresh DPoP proof (htm, htu, ath) on every request the SDK sends."""

    def __init__(self, dpop, access_token):
        self.dpop = dpop
        self.access_token = access_token

    def auth_flow(self, request):
        url = str(request.url).split("?")[0]
        request.headers["authorization"] = f"DPoP {self.access_token}"
        request.headers["dpop"] = self.dpop.create_proof(
            request.method, url, access_token=self.access_token)
        yield request


async def main(req):
    endpoint = req["endpoint"]
    out = {}
    async with httpx2.AsyncClient() as http:
        out["discovery"] = await discover(http, endpoint, req["server"])
        bearer = (await token(http, req, "search:execute"))["access_token"]
        r = await http.post(endpoint, content=call(9, "delete_records", {"table": "t"}),
                            headers={**HEADERS, "authorization": f"Bearer {bearer}"})
        out["challenge"] = {
            "status": r.status_code,
            "error": utils.extract_field_from_www_auth(r, "error"),
            "scope": utils.extract_scope_from_www_auth(r),
            "resource_metadata": utils.extract_resource_metadata_from_www_auth(r),
        }
    recorder = ChallengeRecorder(bearer)
    async with httpx2.AsyncClient(auth=recorder) as client:
        out["modern"] = await modern_run(endpoint, client)
    out["modern"]["challenges"] = recorder.challenges
    async with httpx2.AsyncClient(headers={"authorization": f"Bearer {bearer}"}) as client:
        out["bearer"] = await session_run(endpoint, client, [
            ("whoami", "whoami", {}),
            ("search", "search", {"query": "from python"}),
            ("delete", "delete_records", {"table": "t"}),
        ])
    dpop = DPoPClient()
    async with httpx2.AsyncClient() as http:
        bound = await token(http, req, "search:execute", dpop)
    out["dpop_token_type"] = bound["token_type"]
    out["jkt"] = dpop.jkt
    async with httpx2.AsyncClient(auth=DPoPAuth(dpop, bound["access_token"])) as client:
        out["dpop"] = await session_run(endpoint, client, [("whoami", "whoami", {})])
    return out


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.load(sys.stdin)))))
