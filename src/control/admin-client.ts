import { request } from "node:http";
import { signAdminRequest } from "./admin-credential.js";

/** A small client for the control plane's loopback admin API (and the proxies' stats endpoints). */
export class AdminClient {
  /**
   * `token`: the admin credential (admin-credential.ts). It is never sent: each request first asks the endpoint for a
   * challenge, checks the endpoint's proof that it holds the same credential, and is signed over that challenge.
   * None for a proxy's stats endpoint, which asks for none.
   */
  constructor(private readonly address: string, private readonly token?: string) {}

  async call<T = Record<string, unknown>>(method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const r = await this.text(method, path, body === undefined ? undefined : JSON.stringify(body));
    return { status: r.status, body: (r.body ? JSON.parse(r.body) : {}) as T };
  }

  /** The answer as text (a proxy's stats endpoint speaks Prometheus, not JSON). */
  async text(method: "GET" | "POST", path: string, body?: string): Promise<{ status: number; body: string }> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.token) {
      const offered = await this.raw("GET", "/v1/challenge", {});
      headers.authorization = signAdminRequest(this.token, offered.status === 200 ? (JSON.parse(offered.body) as object) : {}, method, path, body ?? "");
    }
    return this.raw(method, path, headers, body);
  }

  private raw(method: "GET" | "POST", path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
    const [host, port] = [this.address.slice(0, this.address.lastIndexOf(":")), Number(this.address.slice(this.address.lastIndexOf(":") + 1))];
    return new Promise((resolve, reject) => {
      const req = request({ host, port, method, path, headers }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data }));
      });
      req.on("error", reject);
      req.end(body);
    });
  }
}
