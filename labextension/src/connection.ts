/**
 * Is the jupyter events websocket connected?
 *
 * `EventManager` (from `@jupyterlab/services`) does not say: it keeps its socket private and
 * reconnects silently. This monitor watches that socket's `open`/`close` events; while it is
 * closed it checks once a second (a local check, no request) whether the manager opened a new one.
 * When the private field is missing (a future JupyterLab), it reports "disconnected" and the model
 * falls back to polling, which is correct if slower.
 */
import type { Event } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

export interface IConnectionMonitor {
  readonly connected: boolean;
  /** Emits the new state on every change. */
  readonly connectionChanged: ISignal<IConnectionMonitor, boolean>;
  dispose(): void;
}

export class EventsConnectionMonitor implements IConnectionMonitor {
  constructor(
    private _events: Event.IManager,
    private _checkInterval = 1000
  ) {
    this._check();
  }

  get connected(): boolean {
    return this._connected;
  }

  get connectionChanged(): ISignal<this, boolean> {
    return this._connectionChanged;
  }

  dispose(): void {
    this._disposed = true;
    window.clearTimeout(this._timer);
    this._detach();
    Signal.clearData(this);
  }

  private _check = (): void => {
    if (this._disposed) {
      return;
    }
    const socket = (this._events as unknown as { _socket?: WebSocket | null })._socket;
    if (socket && socket !== this._socket) {
      this._detach();
      this._socket = socket;
      socket.addEventListener('open', this._onOpen);
      socket.addEventListener('close', this._onClose);
    }
    if (socket && socket.readyState === socket.OPEN) {
      this._set(true);
      return;
    }
    this._set(false);
    this._timer = window.setTimeout(this._check, this._checkInterval);
  };

  private _onOpen = (): void => {
    this._set(true);
  };

  private _onClose = (): void => {
    this._set(false);
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(this._check, this._checkInterval);
  };

  private _detach(): void {
    if (this._socket) {
      this._socket.removeEventListener('open', this._onOpen);
      this._socket.removeEventListener('close', this._onClose);
      this._socket = null;
    }
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
  private _connectionChanged = new Signal<this, boolean>(this);
}
