/**
 * The jupyter events stream, on a websocket of our own, and whether it is connected.
 *
 * JupyterLab's `EventManager` (`serviceManager.events`) reconnects silently and does not say when
 * its socket was down, so a list that follows it cannot know that it missed events. This opens
 * its own subscription to the same server endpoint (`api/events/subscribe`), built from the
 * public `ServerConnection.ISettings` (URL, token, WebSocket class) exactly as `EventManager`
 * builds its own, and reports every open and close: the model asks the server what changed after
 * each reconnect (`GET jobs?changed_since=`) and polls only while it is down.
 */
import { URLExt } from '@jupyterlab/coreutils';
import type { Event, ServerConnection } from '@jupyterlab/services';
import { ISignal, Signal, Stream } from '@lumino/signaling';

export interface IConnectionMonitor {
  readonly connected: boolean;
  /** Emits the new state on every change. */
  readonly connectionChanged: ISignal<IConnectionMonitor, boolean>;
  dispose(): void;
}

export namespace EventsSocket {
  export interface IOptions {
    /** Milliseconds before each reconnect attempt (the last one repeats). */
    retryDelays?: number[];
  }
}

export class EventsSocket implements IConnectionMonitor {
  constructor(
    readonly serverSettings: ServerConnection.ISettings,
    options: EventsSocket.IOptions = {}
  ) {
    this._retryDelays = options.retryDelays ?? [500, 1000, 2000, 5000, 10000];
    this._connect();
  }

  /** Every emission of the server's event bus, as `EventManager.stream` gives them. */
  get stream(): ISignal<this, Event.Emission> {
    return this._stream;
  }

  get connected(): boolean {
    return this._connected;
  }

  get connectionChanged(): ISignal<this, boolean> {
    return this._connectionChanged;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    window.clearTimeout(this._timer);
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onopen = socket.onclose = socket.onerror = socket.onmessage = null;
      socket.close();
    }
    this._stream.stop();
    Signal.clearData(this);
  }

  /** The subscription URL (with the token when the settings append it, as EventManager does). */
  get url(): string {
    const { appendToken, token, wsUrl } = this.serverSettings;
    let url = URLExt.join(wsUrl, 'api/events/subscribe');
    if (appendToken && token !== '') {
      url += `?token=${encodeURIComponent(token)}`;
    }
    return url;
  }

  private _connect(): void {
    if (this._disposed) {
      return;
    }
    let socket: WebSocket;
    try {
      socket = new this.serverSettings.WebSocket(this.url);
    } catch {
      this._retry();
      return;
    }
    this._socket = socket;
    socket.onopen = () => {
      this._attempt = 0;
      this._set(true);
    };
    socket.onmessage = (message: MessageEvent) => {
      if (!message.data) {
        return;
      }
      let emission: Event.Emission;
      try {
        emission = JSON.parse(message.data);
      } catch {
        return; // not an event
      }
      this._stream.emit(emission);
    };
    socket.onclose = () => {
      if (this._socket === socket) {
        this._socket = null;
        this._set(false);
        this._retry();
      }
    };
  }

  private _retry(): void {
    if (this._disposed) {
      return;
    }
    const delays = this._retryDelays;
    const delay = delays[Math.min(this._attempt, delays.length - 1)];
    this._attempt++;
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => this._connect(), delay);
  }

  private _set(connected: boolean): void {
    if (connected !== this._connected) {
      this._connected = connected;
      this._connectionChanged.emit(connected);
    }
  }

  private _connected = false;
  private _disposed = false;
  private _socket: WebSocket | null = null;
  private _timer = 0;
  private _attempt = 0;
  private _retryDelays: number[];
  private _stream = new Stream<this, Event.Emission>(this);
  private _connectionChanged = new Signal<this, boolean>(this);
}
