/**
 * An in-memory stand-in for the jupyter-jobs REST API, plugged into `ServerConnection` through
 * its `fetch` setting. It answers like the contract (docs/CONTRACT.md) and records every request,
 * so tests can assert on what the frontend asked for.
 */
import { ServerConnection } from '@jupyterlab/services';

import { IJob, STATUSES } from '../tokens';

export interface IRecorded {
  method: string;
  path: string;
  query: URLSearchParams;
  body: any;
  contentType?: string | null;
}

export class FakeJobsServer {
  jobs: IJob[] = [];
  requests: IRecorded[] = [];
  /** Answer the next POST jobs with this error (status, body). */
  submitError: { status: number; body: Record<string, unknown> } | null = null;
  backends = {
    backends: [
      {
        name: 'local',
        display_name: 'This machine',
        available: true,
        reason: null,
        supports_kernels: false,
        default_profile: 'default',
        profiles: [
          {
            name: 'default',
            display_name: 'Default',
            description: 'Runs on the Jupyter server',
            resources: { cpus: 1 },
            max_resources: { cpus: 2, memory: 4 * 1024 ** 3 },
            kernels: false
          }
        ]
      },
      {
        name: 'slurm',
        display_name: 'SLURM',
        available: false,
        reason: 'sbatch not found',
        supports_kernels: true,
        default_profile: null,
        profiles: []
      }
    ],
    default_backend: 'local'
  };
  log = '';
  /** `GET api/kernelspecs` (JupyterLab's own API): name → spec. */
  kernelspecs: Record<string, Record<string, unknown>> = {
    python3: kernelSpec('python3', 'Python 3')
  };
  /** When set, `GET api/kernelspecs` waits for it (to hold a refresh in flight). */
  kernelspecsGate: Promise<void> | null = null;

  settings(): ServerConnection.ISettings {
    return ServerConnection.makeSettings({
      baseUrl: 'http://localhost:8888/',
      wsUrl: 'ws://localhost:8888/',
      token: '',
      fetch: ((input: RequestInfo, init?: RequestInit) => this.fetch(input, init)) as any,
      Request: FakeRequest as any,
      Headers: Headers
    } as any);
  }

  /** `GET jobs` as the contract says (docs/CONTRACT.md, "Listing jobs"), over `jobs`. */
  listJobs(query: URLSearchParams): Record<string, unknown> {
    const list = (name: string) =>
      query
        .getAll(name)
        .flatMap(v => v.split(','))
        .filter(Boolean);
    const kinds = list('kind');
    const statuses = list('status');
    const backends = list('backend');
    const q = (query.get('q') ?? '').toLowerCase();
    const limit = Number(query.get('limit') ?? 100);
    const inScope = (j: IJob) => !kinds.length || kinds.includes(j.kind);
    const narrowed = (j: IJob) =>
      inScope(j) &&
      (!statuses.length || statuses.includes(j.status)) &&
      (!backends.length || backends.includes(j.backend)) &&
      (!q || `${j.name}\n${j.path ?? ''}`.toLowerCase().includes(q));
    const sorted = [...this.jobs].sort((a, b) =>
      a.created_at !== b.created_at ? (a.created_at < b.created_at ? 1 : -1) : a.id < b.id ? 1 : -1
    );
    const counts: Record<string, number> = {};
    for (const s of STATUSES) {
      counts[s] = 0;
    }
    for (const j of sorted.filter(inScope)) {
      counts[j.status]++;
    }
    const since = query.get('changed_since');
    const sinceSeq = since !== null ? Number(since.split('-')[1]) : null;
    const reload = sinceSeq !== null && (!since!.startsWith(this.epoch) || sinceSeq < this.floor);
    let rows: IJob[];
    let deleted: string[] = [];
    if (sinceSeq !== null && !reload) {
      rows = sorted.filter(j => inScope(j) && (this.changedAt.get(j.id) ?? 0) > sinceSeq);
      deleted = this.deletions.filter(([seq]) => seq > sinceSeq).map(([, id]) => id);
    } else {
      rows = sorted.filter(narrowed);
    }
    const cursor = query.get('cursor');
    if (cursor) {
      rows = rows.slice(Number(cursor));
    }
    const page = rows.slice(0, limit);
    const offset = Number(cursor ?? 0);
    return {
      jobs: page,
      next_cursor: rows.length > limit ? String(offset + limit) : null,
      total: sorted.filter(narrowed).length,
      counts,
      change_token: `${this.epoch}-${this.seq}`,
      deleted,
      reload
    };
  }

  /** Record a change of the store (as the index does): `changed_since` answers with it. */
  touch(id: string): void {
    this.seq++;
    this.changedAt.set(id, this.seq);
  }

  /** Delete a job as another client would: the next `changed_since` reports it. */
  forget(id: string): void {
    this.jobs = this.jobs.filter(j => j.id !== id);
    this.seq++;
    this.deletions.push([this.seq, id]);
  }

  epoch = 'abcd0123';
  seq = 0;
  /** Tokens older than this get `reload`. */
  floor = 0;
  changedAt = new Map<string, number>();
  deletions: [number, string][] = [];

  count(method: string, path: string): number {
    return this.requests.filter(r => r.method === method && r.path === path).length;
  }

  async fetch(input: RequestInfo, init?: RequestInit): Promise<Response> {
    const request = input as unknown as FakeRequest;
    const url = new URL(request.url);
    const method = (request.method ?? init?.method ?? 'GET').toUpperCase();
    const path = url.pathname.replace(/^\/jupyter-jobs\/api\//, '');
    const body = request.body ? JSON.parse(request.body) : undefined;
    this.requests.push({
      method,
      path,
      query: url.searchParams,
      body,
      contentType: request.headers?.get('Content-Type') ?? null
    });
    const json = (status: number, data: unknown, headers: Record<string, string> = {}) =>
      new Response(data === undefined ? null : JSON.stringify(data), {
        status,
        headers: { 'Content-Type': 'application/json', ...headers }
      });
    if (method === 'GET' && path === '/api/kernelspecs') {
      if (this.kernelspecsGate) {
        await this.kernelspecsGate;
      }
      return json(200, { default: 'python3', kernelspecs: { ...this.kernelspecs } });
    }
    if (method === 'GET' && path === 'jobs') {
      return json(200, this.listJobs(url.searchParams));
    }
    if (method === 'GET' && path === 'backends') {
      return json(200, this.backends);
    }
    if (method === 'POST' && path === 'jobs') {
      if (this.submitError) {
        const { status, body: errorBody } = this.submitError;
        this.submitError = null;
        return json(status, errorBody);
      }
      const job = makeJob({ id: `job${this.jobs.length + 1}`, name: body.name, path: body.path });
      this.jobs.unshift(job);
      this.touch(job.id);
      return json(201, job);
    }
    const m = /^jobs\/([^/]+)(?:\/(\w+))?$/.exec(path);
    const job = m ? this.jobs.find(j => j.id === m[1]) : undefined;
    if (m && !job) {
      return json(404, { message: `no job ${m[1]}` });
    }
    if (job && method === 'DELETE' && !m![2]) {
      this.forget(job.id);
      return new Response(null, { status: 204 });
    }
    if (job && method === 'GET' && m![2] === 'log') {
      const bytes = new TextEncoder().encode(this.log);
      const offset = Number(url.searchParams.get('offset') ?? 0);
      const limit = Number(url.searchParams.get('limit') ?? bytes.length);
      return new Response(bytes.slice(offset, offset + limit), {
        status: 200,
        headers: { 'Content-Type': 'text/plain', 'X-Log-Size': String(bytes.length) }
      });
    }
    if (job && method === 'POST' && m![2] === 'cancel') {
      const cancelled = { ...job, status: 'cancelled' as const };
      this.jobs = this.jobs.map(j => (j === job ? cancelled : j));
      this.touch(job.id);
      return json(202, cancelled);
    }
    if (job && method === 'GET' && !m![2]) {
      return json(200, job);
    }
    return json(404, { message: `not found: ${method} ${path}` });
  }
}

/** `ServerConnection.makeRequest` builds a `Request`; keep what it carries readable. */
class FakeRequest {
  constructor(
    readonly url: string,
    init: RequestInit = {}
  ) {
    this.method = init.method ?? 'GET';
    this.body = (init.body as string) ?? null;
    this.headers = new Headers(init.headers ?? {});
  }
  method: string;
  body: string | null;
  headers: Headers;
}

let counter = 0;

export function makeJob(overrides: Partial<IJob> = {}): IJob {
  counter++;
  return {
    id: `j${counter}`,
    name: `job ${counter}`,
    kind: 'script',
    path: `job${counter}.py`,
    command: ['python', `job${counter}.py`],
    args: [],
    env: {},
    cwd: null,
    backend: 'local',
    profile: 'default',
    resources: {},
    parameters: {},
    status: 'running',
    exit_code: null,
    reason: null,
    created_at: new Date(Date.now() + counter).toISOString(),
    started_at: new Date().toISOString(),
    finished_at: null,
    backend_ref: null,
    host: 'localhost',
    progress: null,
    log_size: 0,
    outputs: [],
    expected_start: null,
    ...overrides
  };
}

/** One entry of `GET api/kernelspecs`. */
export function kernelSpec(name: string, displayName: string): Record<string, unknown> {
  return {
    name,
    resources: {},
    spec: {
      argv: ['python', '-m', 'ipykernel_launcher'],
      display_name: displayName,
      language: 'python'
    }
  };
}
