/**
 * The REST helper: every call to `{base_url}jupyter-jobs/api/` goes through `requestAPI`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export const API_PATH = 'jupyter-jobs/api';

/**
 * An error answered by the server: `message` is the server's text, `field` the request field at
 * fault (`name`, `resources.cpus`, …) when the server named one.
 */
export class JobsAPIError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field: string | null = null
  ) {
    super(message);
    this.name = 'JobsAPIError';
  }
}

/**
 * Call the jupyter-jobs REST API and decode its JSON answer.
 *
 * Throws `JobsAPIError` carrying the server's `message` and `field` for any non-2xx answer, and
 * for network failures (status 0).
 */
export async function requestAPI<T>(
  endpoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_PATH, endpoint);
  const headers = new Headers(init.headers);
  if (init.body !== undefined && init.body !== null && !headers.has('Content-Type')) {
    // the server takes JSON bodies only as JSON (a string body would go as text/plain)
    headers.set('Content-Type', 'application/json');
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, { ...init, headers }, settings);
  } catch (error) {
    throw new JobsAPIError(0, `cannot reach the Jupyter server: ${String(error)}`);
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text || response.statusText || `HTTP ${response.status}`;
    let field: string | null = null;
    try {
      const body = JSON.parse(text);
      if (body && typeof body.message === 'string') {
        message = body.message;
      }
      if (body && typeof body.field === 'string') {
        field = body.field;
      }
    } catch {
      // not JSON (a proxy's error page): keep the text
    }
    throw new JobsAPIError(response.status, message, field);
  }
  if (!text) {
    return undefined as T;
  }
  const contentType = response.headers.get('Content-Type') ?? '';
  if (contentType.includes('application/json') || /^[[{]/.test(text)) {
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as unknown as T;
    }
  }
  return text as unknown as T;
}
