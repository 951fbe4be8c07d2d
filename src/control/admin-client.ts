import { request } from "node:http";

/** A small client for the control plane's loopback admin API. */
export class AdminClient {
  constructor(private readonly address: string) {}

  call<T = Record<string, unknown>>(method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const [host, port] = [this.address.slice(0, this.address.lastIndexOf(":")), Number(this.address.slice(this.address.lastIndexOf(":") + 1))];
    return new Promise((resolve, reject) => {
      const req = request({ host, port, method, path, headers: { "content-type": "application/json" } }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: (data ? JSON.parse(data) : {}) as T }));
      });
      req.on("error", reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
}
