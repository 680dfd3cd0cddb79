export interface RetryOptions {
  /**
   * Attempts in all, the first included.
   * @default 5
   */
  readonly attempts?: number;
  /**
   * Delay before the first retry; each retry doubles it, with full jitter.
   * @default 200
   */
  readonly baseDelayMs?: number;
  /**
   * Ceiling of the doubled delay, so a long retry budget does not end in minute-long pauses.
   * @default 20_000
   */
  readonly maxDelayMs?: number;
  /** Whether an error is worth retrying; others are thrown at once. */
  readonly isTransient: (error: unknown) => boolean;
  /**
   * Called before each retry (after failed attempt `attempt`), for progress output and for dropping
   * state the next attempt must not reuse, such as a dead connection.
   */
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Injected for tests. */
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Runs `action`, retrying transient failures with exponential backoff and full jitter: the pause
 * before retry n is uniform in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))], which spreads clients
 * that failed together (AWS Architecture Blog, "Exponential Backoff And Jitter").
 */
export async function withRetry<T>(
  action: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 200;
  const cap = options.maxDelayMs ?? 20_000;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await action(attempt);
    } catch (error) {
      if (attempt >= attempts || !options.isTransient(error)) throw error;
      const delay = Math.round(random() * Math.min(cap, base * 2 ** (attempt - 1)));
      options.onRetry?.(error, attempt, delay);
      await sleep(delay);
    }
  }
}
