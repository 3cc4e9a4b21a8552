import pg from 'pg';

/** What the provider knows about one connection over its life. */
export interface ClientState {
  /** Resource id for events, unique in the process. */
  readonly id: number;
  /** When the connection attempt started. */
  readonly startedAt: number;
  /** When it was last returned to idle; undefined until its first return. */
  releasedAt: number | undefined;
  /** The first error the connection emitted; once set it is never lent again. */
  failure: Error | undefined;
  /** Why the provider removed it, for the destroy event. */
  destroyReason: string | undefined;
  /** pg-pool's `release` of the current checkout, which only the provider may call. */
  driverRelease: ((error?: Error) => void) | undefined;
}

/** Hooks the provider gives the client class. Successful connects arrive as pg-pool's `connect`. */
export interface ClientHooks {
  connectFailed(client: pg.Client, state: ClientState, error: Error): void;
  /** Any error the client emits, idle or lent; one broken connection may emit several. */
  failed(client: pg.Client, state: ClientState, error: Error): void;
}

let nextClientId = 1;

/**
 * The book of live connections and the pg `Client` class pg-pool builds them with. The class
 * adds what pg-pool lacks: its own connect timeout (pg-pool's single timeout would cover both
 * queue wait and connect), timing of each connect, and an error listener for the client's whole
 * life — pg-pool only listens while the client is idle, so an error on a lent client with no
 * other listener would crash the process.
 */
export class ClientBook {
  readonly #states = new WeakMap<object, ClientState>();
  /** Connection attempts in progress. */
  pending = 0;

  constructor(
    private readonly connectTimeoutMs: number,
    private readonly hooks: ClientHooks,
  ) {}

  /** The state of a client this book made; undefined for anything else. */
  stateOf(client: object): ClientState | undefined {
    return this.#states.get(client);
  }

  /** The class to hand pg-pool as its `Client` option. */
  clientClass(): typeof pg.Client {
    const book = this;
    return class ProviderClient extends pg.Client {
      constructor(config?: string | pg.ClientConfig) {
        super(withConnectTimeout(config, book.connectTimeoutMs));
        book.#track(this);
      }

      override connect(): Promise<pg.Client>;
      override connect(callback: (err: Error | null) => void): void;
      override connect(callback?: (err: Error | null) => void): Promise<pg.Client> | undefined {
        if (callback === undefined) {
          return new Promise((resolve, reject) => {
            this.connect((error) => (error ? reject(error) : resolve(this)));
          });
        }
        book.pending++;
        super.connect((error: Error | null) => {
          book.#connectSettled(this, error);
          callback(error);
        });
        return undefined;
      }
    } as typeof pg.Client;
  }

  #track(client: pg.Client): void {
    const state: ClientState = {
      id: nextClientId++,
      startedAt: Date.now(),
      releasedAt: undefined,
      failure: undefined,
      destroyReason: undefined,
      driverRelease: undefined,
    };
    this.#states.set(client, state);
    client.on('error', (error: Error) => this.hooks.failed(client, state, error));
  }

  #connectSettled(client: pg.Client, error: Error | null): void {
    this.pending--;
    const state = this.#states.get(client);
    if (state === undefined) return;
    if (error) this.hooks.connectFailed(client, state, error);
  }
}

// pg-pool hides the password as a non-enumerable property, so a spread alone would drop it.
function withConnectTimeout(config: string | pg.ClientConfig | undefined, timeoutMs: number) {
  if (typeof config !== 'object') return config;
  return { ...config, password: config.password, connectionTimeoutMillis: timeoutMs };
}
