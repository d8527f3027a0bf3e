# An HTTP push worker endpoint for the `emails` queue, in Python 3.9+ with the standard library only.
import base64, hashlib, hmac, json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEY = base64.b64decode(os.environ["HTTP_WORKER_SECRET"].removeprefix("whsec_"))

class Endpoint(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        signed = f"{self.headers['webhook-id']}.{self.headers['webhook-timestamp']}.".encode() + body
        expected = "v1," + base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest()).decode()
        if not any(hmac.compare_digest(expected, s) for s in self.headers.get("webhook-signature", "").split()):
            return self.send_error(401)  # any 4xx but 408/429 fails the job for good
        job = json.loads(body)  # {"id", "queue", "name", "data", "attempt"}
        print(f"{job['name']} e-mail to {job['data']['to']}, attempt {job['attempt']}", flush=True)
        answer = json.dumps({"messageId": f"<{job['id']}@example.com>", "transport": "smtp"}).encode()
        self.send_response(200)  # 2xx + JSON: the job's result; 408, 429, 5xx: retried
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer)

server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Endpoint)
print(f"listening on http://127.0.0.1:{server.server_port}/", flush=True)
server.serve_forever()
