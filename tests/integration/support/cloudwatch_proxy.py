"""CloudWatch protocol translator in front of moto's server, for tests.

The current AWS SDKs call CloudWatch with Smithy RPC v2 CBOR
(POST /service/GraniteServiceVersion20100801/operation/<Op>); moto's server speaks the
JSON 1.0 protocol for CloudWatch but answers 404 to CBOR. This proxy decodes the CBOR
request (gunzipping compressed PutMetricData bodies), replays it to moto as JSON 1.0 with
the caller's Authorization header (moto picks region and service from it), and encodes the
answer back into CBOR (timestamps as tag 1, values as floats). Everything else, CloudWatch
Logs' JSON 1.1 included, passes through unchanged.

Where moto does less than AWS, the proxy does it, so the client's handling is really exercised:
- GetMetricData: moto ignores MaxDatapoints and NextToken; the proxy pages the full answer at
  min(MaxDatapoints, --page-datapoints) datapoints, with a NextToken to continue.
- ListMetrics and FilterLogEvents: pages of --page-metrics / --page-log-events entries
  (moto lists a metric once per datum: the client has to de-duplicate).
- Dimensions go to moto in name order (moto compares them as ordered lists; AWS as a set).

IAM-style failures are injected by the proxy (moto's own IAM enforcement is off on the shared
server), keyed on the access key id of the request, so tests running in parallel do not meet:
- key containing DENY: every call answers AccessDenied (HTTP 400, as AWS does);
- key containing THROTTLE<n>: the first n calls answer Throttling;
- key containing CUT<n>: after n data calls (GetMetricData, FilterLogEvents), ExpiredToken,
  as when credentials expire in the middle of an import.

GET /_proxy/calls returns the operations seen per access key id, as JSON.
Prints "PORT <n>" on its first line once listening.
"""

import argparse
import datetime
import gzip
import hashlib
import json
import re
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cbor2

CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
TIMESTAMP_KEYS = {"Timestamp", "StartTime", "EndTime"}
UTC = datetime.timezone.utc

lock = threading.Lock()
calls = {}  # access key id -> {operation: count}
cache = {}  # request key -> flattened moto answer


def to_json(value):
    """CBOR-decoded request -> JSON-ready values (datetimes as epoch seconds).

    Dimensions are put in name order: moto matches GetMetricData dimensions as ordered lists
    (its Dimension sort key is broken), while AWS treats them as a set."""
    if isinstance(value, datetime.datetime):
        ts = value.timestamp()
        return int(ts) if ts == int(ts) else ts
    if isinstance(value, dict):
        out = {k: to_json(v) for k, v in value.items()}
        if isinstance(out.get("Dimensions"), list):
            out["Dimensions"] = sorted(out["Dimensions"], key=lambda d: str(d.get("Name")))
        return out
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return value.decode()
    return value


def epoch(v):
    return datetime.datetime.fromtimestamp(float(v), tz=UTC)


def to_cbor_ready(value, key=None):
    """moto's JSON answer -> values the SDK's CBOR decoder expects."""
    if isinstance(value, dict):
        return {k: to_cbor_ready(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if key == "Timestamps":
            return [epoch(v) for v in value]
        if key == "Values":
            return [float(v) for v in value]
        return [to_cbor_ready(v) for v in value]
    if key in TIMESTAMP_KEYS and isinstance(value, (int, float)):
        return epoch(value)
    return value


def access_key(headers):
    m = re.search(r"Credential=([^/]+)/", headers.get("Authorization", ""))
    return m.group(1) if m else ""


def count(key, op):
    with lock:
        ops = calls.setdefault(key, {})
        ops[op] = ops.get(op, 0) + 1
        return ops


def injected(key, op, data_ops=("GetMetricData", "FilterLogEvents")):
    """(code, query code, message) of a failure to inject, or None."""
    ops = count(key, op)
    if "DENY" in key:
        return (
            "AccessDeniedException",
            "AccessDenied",
            f"User: arn:aws:iam::123456789012:user/test is not authorized to perform: {op} "
            "because no identity-based policy allows the action",
        )
    m = re.search(r"THROTTLE(\d+)", key)
    if m and sum(ops.values()) <= int(m.group(1)):
        return ("ThrottlingException", "Throttling", "Rate exceeded")
    m = re.search(r"CUT(\d+)", key)
    if m and op in data_ops and sum(ops.get(o, 0) for o in data_ops) > int(m.group(1)):
        return ("ExpiredTokenException", "ExpiredToken", "The security token included in the request is expired")
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    moto = ""
    page_datapoints = 100800
    page_metrics = 500
    page_log_events = 10000

    def log_message(self, *args):
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            data = gzip.decompress(data)
        return data

    def reply(self, status, body, headers):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def moto_call(self, path, body, headers):
        req = urllib.request.Request(self.moto + path, data=body, method=self.command, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def do_GET(self):
        if self.path == "/_proxy/calls":
            with lock:
                body = json.dumps(calls).encode()
            return self.reply(200, body, {"Content-Type": "application/json"})
        return self.passthrough(b"")

    def do_POST(self):
        data = self.body()
        if self.path.startswith(CBOR_PREFIX):
            return self.cbor(self.path[len(CBOR_PREFIX):], data)
        return self.passthrough(data)

    do_PUT = do_POST
    do_DELETE = do_GET
    do_HEAD = do_GET

    # -- CloudWatch Logs and anything else: JSON straight through -------------------------------

    def passthrough(self, data):
        target = self.headers.get("X-Amz-Target", "")
        op = target.split(".")[-1]
        key = access_key(self.headers)
        if target.startswith("Logs_"):
            fail = injected(key, op)
            if fail:
                body = json.dumps({"__type": fail[0], "message": fail[2]}).encode()
                return self.reply(400, body, {"Content-Type": "application/x-amz-json-1.1"})
            if op == "FilterLogEvents" and data:
                req = json.loads(data)
                req["limit"] = min(int(req.get("limit") or 10000), self.page_log_events)
                data = json.dumps(req).encode()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "content-encoding")}
        status, body, rheaders = self.moto_call(self.path, data, headers)
        keep = {k: v for k, v in rheaders.items() if k.lower() in ("content-type", "x-amzn-requestid", "x-amzn-query-error")}
        self.reply(status, body, keep)

    # -- CloudWatch: RPC v2 CBOR <-> JSON 1.0 ------------------------------------------------------

    def cbor_reply(self, status, obj, extra=None):
        headers = {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}
        headers.update(extra or {})
        self.reply(status, cbor2.dumps(obj, datetime_as_timestamp=True, timezone=UTC), headers)

    def cbor_error(self, code, query_code, message):
        self.cbor_reply(400, {"__type": code, "message": message}, {"x-amzn-query-error": f"{query_code};Sender"})

    def moto_json(self, op, req):
        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"GraniteServiceVersion20100801.{op}",
            "Authorization": self.headers.get("Authorization", ""),
        }
        status, body, rheaders = self.moto_call("/", json.dumps(req).encode(), headers)
        answer = json.loads(body) if body.strip() else {}
        return status, answer, rheaders

    def cbor(self, op, data):
        key = access_key(self.headers)
        fail = injected(key, op)
        if fail:
            return self.cbor_error(*fail)
        req = to_json(cbor2.loads(data)) if data else {}
        if op == "GetMetricData":
            return self.get_metric_data(req)
        if op == "ListMetrics":
            return self.list_metrics(req)
        status, answer, rheaders = self.moto_json(op, req)
        self.relay(status, answer, rheaders)

    def relay(self, status, answer, rheaders):
        if status >= 300:
            code = str(answer.get("__type") or answer.get("Code") or "InternalFailure")
            query = rheaders.get("x-amzn-query-error", f"{code.split('#')[-1]};Sender")
            return self.cbor_reply(status, {"__type": code, "message": answer.get("message", "")}, {"x-amzn-query-error": query})
        self.cbor_reply(status, to_cbor_ready(answer))

    def cached(self, op, req, fetch):
        """The whole moto answer for a request (NextToken aside), fetched once."""
        ident = json.dumps({k: v for k, v in req.items() if k not in ("NextToken", "MaxDatapoints")}, sort_keys=True)
        rkey = op + ":" + hashlib.sha256(ident.encode()).hexdigest()[:16]
        with lock:
            hit = cache.get(rkey)
        if hit is None:
            hit = fetch()
            if isinstance(hit, tuple):
                return rkey, hit
            with lock:
                cache[rkey] = hit
        return rkey, hit

    def offset(self, req, rkey):
        token = req.get("NextToken")
        if not token:
            return 0
        prefix, _, n = token.rpartition(":")
        return int(n) if prefix == rkey else None

    def get_metric_data(self, req):
        def fetch():
            status, answer, rheaders = self.moto_json("GetMetricData", req)
            if status >= 300:
                return (status, answer, rheaders)
            flat = []
            for r in answer.get("MetricDataResults", []):
                pairs = sorted(zip(r.get("Timestamps", []), r.get("Values", [])))
                flat.append((r["Id"], r.get("Label", ""), pairs))
            return flat

        rkey, flat = self.cached("GetMetricData", req, fetch)
        if isinstance(flat, tuple):
            return self.relay(*flat)
        start = self.offset(req, rkey)
        if start is None:
            return self.cbor_error("InvalidNextToken", "InvalidNextToken", "NextToken is not valid for this request")
        page = min(int(req.get("MaxDatapoints") or 100800), self.page_datapoints)
        total = sum(len(p) for _, _, p in flat)
        end = min(start + page, total)
        results, seen = [], 0
        for qid, label, pairs in flat:
            lo, hi = max(start - seen, 0), min(end - seen, len(pairs))
            part = pairs[lo:hi] if lo < hi else []
            seen += len(pairs)
            results.append({
                "Id": qid,
                "Label": label,
                "Timestamps": [epoch(t) for t, _ in part],
                "Values": [float(v) for _, v in part],
                "StatusCode": "Complete" if seen <= end else "PartialData",
            })
        answer = {"MetricDataResults": results, "Messages": []}
        if end < total:
            answer["NextToken"] = f"{rkey}:{end}"
        self.cbor_reply(200, answer)

    def list_metrics(self, req):
        def fetch():
            listed, token = [], None
            while True:
                q = {k: v for k, v in req.items() if k != "NextToken"}
                if token:
                    q["NextToken"] = token
                status, answer, rheaders = self.moto_json("ListMetrics", q)
                if status >= 300:
                    return (status, answer, rheaders)
                listed += answer.get("Metrics", [])
                token = answer.get("NextToken")
                if not token:
                    return listed

        rkey, listed = self.cached("ListMetrics", req, fetch)
        if isinstance(listed, tuple):
            return self.relay(*listed)
        start = self.offset(req, rkey)
        if start is None:
            return self.cbor_error("InvalidParameterValue", "InvalidParameterValue", "NextToken is not valid")
        end = min(start + self.page_metrics, len(listed))
        answer = {"Metrics": listed[start:end]}
        if end < len(listed):
            answer["NextToken"] = f"{rkey}:{end}"
        else:
            # A listing changes as data arrives: the next one must ask moto again.
            with lock:
                cache.pop(rkey, None)
        self.cbor_reply(200, answer)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--moto", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--page-datapoints", type=int, default=100800)
    p.add_argument("--page-metrics", type=int, default=500)
    p.add_argument("--page-log-events", type=int, default=10000)
    a = p.parse_args()
    Handler.moto = a.moto.rstrip("/")
    Handler.page_datapoints = a.page_datapoints
    Handler.page_metrics = a.page_metrics
    Handler.page_log_events = a.page_log_events
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    # Stop with the test process: it holds our stdin open.
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
