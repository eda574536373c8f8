"""The Python SDK's verify_token on the bench fixture's tokens, for `cargo xtask bench`.

Usage: python sdk_bench.py FIXTURE.json SECONDS
Prints one JSON object: {"ES256/0": {"median_us": ..., "runs": [...]}, ...}. The SDK verifies
ES256 only (authgent 0.3.4 hard-codes algorithms=["ES256"]). Its JWKS fetcher is given the
fixture's key up front, so no HTTP is measured: the same work as the Rust cold verify.
"""

import asyncio
import json
import statistics
import sys
import time

from authgent.jwks import JWKSFetcher
from authgent.verify import verify_token


class PreloadedFetcher(JWKSFetcher):
    def __init__(self, issuer, keys):
        super().__init__(issuer, cache_ttl=10**9)
        self._keys = keys
        self._last_fetch = time.monotonic()


async def main():
    fixture = json.load(open(sys.argv[1]))
    seconds = float(sys.argv[2])
    issuer, audience = fixture["issuer"], fixture["audience"]
    results = {}
    for entry in fixture["algorithms"]:
        if entry["alg"] != "ES256":
            continue
        jwk = entry["public_jwk"]
        fetcher = PreloadedFetcher(issuer, {jwk["kid"]: jwk})
        for hops, token in zip(fixture["hops"], entry["tokens"]):
            identity = await verify_token(token, issuer, audience, jwks_fetcher=fetcher)
            assert identity is not None
            batch, runs = 200, []
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline or len(runs) < 5:
                start = time.perf_counter()
                for _ in range(batch):
                    await verify_token(token, issuer, audience, jwks_fetcher=fetcher)
                runs.append((time.perf_counter() - start) / batch * 1e6)
            results[f"ES256/{hops}"] = {"median_us": statistics.median(runs), "runs": len(runs)}
    print(json.dumps(results))


asyncio.run(main())
