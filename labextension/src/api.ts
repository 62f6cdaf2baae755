/**
 * A typed client of the jupyter-jobs REST API (docs/CONTRACT.md).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { API_PATH, JobsAPIError, requestAPI } from './handler';
import { IBackendsReply, IJob, IJobsReply, ISubmitRequest, IUsageSample } from './tokens';

export interface ILogChunk {
  bytes: Uint8Array;
  offset: number;
  /** Byte offset after this chunk. */
  nextOffset: number;
  /** Size of the whole log when it was read. */
  size: number;
}

/** What a `GET jobs` asks for; empty or missing parts mean no filter. */
export interface IJobsQuery {
  /** Name or path contains this, ignoring case. */
  q?: string;
  status?: string[];
  backend?: string[];
  /** The scope: page, total, counts and changes. */
  kind?: string[];
  /** Page size (1 to 1000; the server's default is 100). */
  limit?: number;
  cursor?: string | null;
  /** A `change_token` of an earlier answer. */
  changedSince?: string | null;
}

export class JobsClient {
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  backends(): Promise<IBackendsReply> {
    return this._request<IBackendsReply>('backends');
  }

  /** One page of `GET jobs` (docs/CONTRACT.md, "Listing jobs"): filtered and searched by the server. */
  listPage(query: IJobsQuery = {}): Promise<IJobsReply> {
    const params: Record<string, string | number> = {};
    if (query.q) {
      params.q = query.q;
    }
    for (const key of ['status', 'backend', 'kind'] as const) {
      const values = query[key];
      if (values && values.length) {
        params[key] = values.join(',');
      }
    }
    if (query.limit) {
      params.limit = query.limit;
    }
    if (query.cursor) {
      params.cursor = query.cursor;
    }
    if (query.changedSince) {
      params.changed_since = query.changedSince;
    }
    return this._request<IJobsReply>(`jobs${URLExt.objectToQueryString(params)}`);
  }

  getJob(id: string): Promise<IJob> {
    return this._request<IJob>(`jobs/${encodeURIComponent(id)}`);
  }

  submit(body: ISubmitRequest): Promise<IJob> {
    return this._request<IJob>('jobs', { method: 'POST', body: JSON.stringify(body) });
  }

  cancel(id: string): Promise<IJob> {
    return this._request<IJob>(`jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  }

  rerun(id: string, overrides: Partial<ISubmitRequest> = {}): Promise<IJob> {
    return this._request<IJob>(`jobs/${encodeURIComponent(id)}/rerun`, {
      method: 'POST',
      body: JSON.stringify(overrides)
    });
  }

  async remove(id: string): Promise<void> {
    await this._request<void>(`jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  async usage(id: string): Promise<IUsageSample[]> {
    const reply = await this._request<{ samples: IUsageSample[] }>(
      `jobs/${encodeURIComponent(id)}/usage`
    );
    return reply?.samples ?? [];
  }

  /** Bytes `offset .. offset+limit` of the job's log (`X-Log-Size` gives the whole size). */
  async log(id: string, offset: number, limit: number): Promise<ILogChunk> {
    const settings = this.serverSettings;
    const url =
      URLExt.join(settings.baseUrl, API_PATH, 'jobs', encodeURIComponent(id), 'log') +
      URLExt.objectToQueryString({ offset, limit });
    const response = await ServerConnection.makeRequest(url, {}, settings);
    const buffer = new Uint8Array(await response.arrayBuffer());
    if (!response.ok) {
      let message = new TextDecoder().decode(buffer);
      try {
        message = JSON.parse(message).message ?? message;
      } catch {
        // plain text
      }
      throw new JobsAPIError(response.status, message);
    }
    const size = Number(response.headers.get('X-Log-Size') ?? offset + buffer.length);
    return {
      bytes: buffer,
      offset,
      nextOffset: offset + buffer.length,
      size
    };
  }

  /** The websocket URL that follows a job's log from `offset`. */
  followURL(id: string, offset: number): string {
    const settings = this.serverSettings;
    const query: Record<string, string | number> = { offset };
    if (settings.appendToken && settings.token) {
      query.token = settings.token;
    }
    return (
      URLExt.join(settings.wsUrl, API_PATH, 'jobs', encodeURIComponent(id), 'log', 'follow') +
      URLExt.objectToQueryString(query)
    );
  }

  private _request<T>(endpoint: string, init: RequestInit = {}): Promise<T> {
    return requestAPI<T>(endpoint, init, this.serverSettings);
  }
}
