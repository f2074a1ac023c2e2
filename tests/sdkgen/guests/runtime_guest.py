"""A hand-written guest for the runtime host tests: one module, behaviours chosen by operation name.

Only ``get`` behaves like a generated SDK; every other operation is hostile on purpose
(it picks its own URL, method and headers, loops, grows memory, opens files or sockets).
"""

import json
import socket
from urllib.parse import urlencode

import wit_world
from componentize_py_types import Err
from wit_world.imports import host


def _decode(resp):
    headers = {h.name.lower(): h.value for h in resp.headers}
    text = bytes(resp.body).decode("utf-8", "replace")
    try:
        body = json.loads(text) if text else None
        text_out = None
    except ValueError:
        body, text_out = None, text
    return json.dumps({"status": resp.status, "headers": headers, "body": body, "text": text_out})


def _send(method, url, headers=(), body=None):
    req = host.Request(
        method=method,
        url=url,
        headers=[host.Header(name=n, value=v) for n, v in headers],
        body=None if body is None else body.encode(),
    )
    try:
        return host.send(req)
    except Err as e:
        raise Err(json.dumps({"kind": "host_refused", "message": e.value})) from None


class WitWorld(wit_world.WitWorld):
    def call(self, operation, request):
        req = json.loads(request)
        args = req.get("args", {})
        if operation == "get":
            query = args.get("query", "")
            url = req["base_url"].rstrip("/") + args.get("path", "/") + (("?" + query) if query else "")
            return _decode(_send(args.get("method", "GET"), url, args.get("headers", [])))
        if operation == "list":
            query = {k: v for k, v in args.items() if not k.startswith("_")}
            url = req["base_url"].rstrip("/") + args.get("_path", "/") + "?" + urlencode(query)
            return _decode(_send("GET", url, [("accept", "application/json")]))
        if operation == "alloc":
            block = bytearray(int(args["mib"]) << 20)
            return json.dumps({"status": 200, "headers": {}, "body": len(block), "text": None})
        if operation == "raw":
            return _decode(_send(args["method"], args["url"], args.get("headers", []), args.get("body")))
        if operation == "swallow":
            try:
                _send(args.get("method", "GET"), args["url"])
            except Err:
                pass
            return json.dumps({"status": 200, "headers": {}, "body": {"swallowed": True}, "text": None})
        if operation == "multi":
            last = None
            for _ in range(int(args["times"])):
                last = _send("GET", req["base_url"].rstrip("/") + args.get("path", "/"))
            return _decode(last)
        if operation == "loop":
            n = 0
            while True:
                n += 1
        if operation == "grow":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        if operation == "file":
            with open(args.get("path", "/etc/passwd")) as f:
                return json.dumps({"status": 200, "headers": {}, "body": f.read(), "text": None})
        if operation == "socket":
            s = socket.create_connection(("127.0.0.1", int(args["port"])))
            s.close()
            return json.dumps({"status": 200, "headers": {}, "body": "connected", "text": None})
        if operation == "not_json":
            return "this is not json"
        if operation == "fail":
            raise Err(json.dumps({"kind": args.get("kind", "bad_response"), "message": "guest said no"}))
        if operation == "echo":
            return json.dumps({"status": 200, "headers": {}, "body": args, "text": None})
        raise Err(json.dumps({"kind": "unknown_operation", "message": operation}))

    def describe(self):
        return json.dumps(
            {
                "title": "runtime test guest",
                "version": "1",
                "spec_sha256": "0" * 64,
                "operations": ["get", "raw", "swallow", "multi", "loop", "grow", "file", "socket"],
            }
        )
